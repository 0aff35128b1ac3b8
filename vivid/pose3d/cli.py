"""``vivid pose``: 3D joints (and coaching prompts) from an image, a folder of images or a video."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from vivid.core.errors import VividError


def run_pose(
    inp: Path,
    out: Path,
    *,
    coach: str | None = None,
    overlay: Path | None = None,
    model: str = "pose3d-default",
    device: str = "auto",
    fov: float | None = None,
    focal: float | None = None,
    overwrite: bool = False,
    quiet: bool = False,
) -> dict:
    """Estimate the pose in every frame of ``inp`` and write the JSON to ``out`` (see :func:`build_report`)."""
    from vivid.core.cli_utils import progress, resolve_device
    from vivid.core.fileio import atomic_write, check_output_file
    from vivid.core.video import VideoWriter, open_frames
    from vivid.pose3d.angles import angles_to_floats, joint_angles
    from vivid.pose3d.apply import PoseEstimator, camera_matrix, draw_skeleton
    from vivid.pose3d.bones import JOINT_NAMES
    from vivid.pose3d.coach import coach_pose, coach_sequence, load_rules

    check_output_file(out, suffixes=[".json"], inputs=[inp], overwrite=overwrite)
    if overlay is not None:
        videos = [".mp4", ".m4v", ".mov", ".mkv"]
        check_output_file(overlay, suffixes=videos, inputs=[inp], overwrite=overwrite, what="--overlay")
    camera_matrix(64, 64, fov_deg=fov, focal=focal)
    exercise = load_rules(coach) if coach else None
    source = open_frames(inp)  # raises VividError for a missing, unreadable or unsupported input
    estimator = PoseEstimator(model, device=resolve_device(device), fov_deg=fov, focal=focal)

    frames, series = [], {}
    previous = None
    writer = VideoWriter(overlay, fps=source.info.fps) if overlay is not None else None
    try:
        if writer is not None:
            writer.__enter__()
        with progress(source.info.n_frames, "pose", quiet=quiet) as bar:
            for frame in source:
                pred = estimator.predict(frame.image, previous if source.kind == "video" else None)
                previous = pred
                angles = joint_angles(pred.joints3d)
                values = angles_to_floats(angles)
                entry = {"index": frame.index, "time": round(frame.time, 4), **pred.to_dict(), "angles": values}
                lines = []
                if exercise is not None and source.kind == "image":
                    prompts = coach_pose(exercise, {k: v for k, v in values.items() if v is not None})
                    entry["prompts"] = [{"rule": p.rule, "message": p.message, "severity": p.severity} for p in prompts]
                    lines = [f"[{p.severity}] {p.message}" for p in prompts]
                for k, v in values.items():
                    series.setdefault(k, []).append(float("nan") if v is None else v)
                frames.append(entry)
                if writer is not None:
                    writer.write(draw_skeleton(frame.image, pred.joints2d, pred.confidence, lines), time=frame.time)
                bar.advance()
        if writer is not None:
            writer.__exit__(None, None, None)
    except BaseException as err:
        if writer is not None:
            writer.__exit__(type(err), err, err.__traceback__)
        raise
    if not frames:
        raise VividError(f"{inp} holds no frames")
    report = {
        "input": str(inp),
        "kind": source.kind,
        "model": model,
        "joint_names": list(JOINT_NAMES),
        "units": {"joints2d": "pixels (x, y)", "joints3d": "metres, camera frame (x right, y down, z forward)", "angles": "degrees"},
        "camera": {"K": estimator_camera(estimator, source), "fov_deg": fov, "focal": focal},
        "fps": float(source.info.fps),
        "frames": frames,
    }
    if exercise is not None:
        if source.kind == "image":
            report["coach"] = {"exercise": exercise.name, "prompts": frames[0].get("prompts", [])}
        else:
            report["coach"] = coach_sequence(exercise, series).to_dict()
    with atomic_write(out) as tmp:
        tmp.write_text(json.dumps(report, indent=1) + "\n")
    return report


def estimator_camera(estimator, source) -> list:
    from vivid.pose3d.apply import camera_matrix

    K = camera_matrix(source.info.width, source.info.height, fov_deg=estimator.fov_deg, focal=estimator.focal)
    return [[round(float(v), 3) for v in row] for row in K.tolist()]


def register(app: typer.Typer) -> None:
    @app.command("pose")
    def pose_cmd(
        inp: Path = typer.Argument(..., help="An image, a folder of images or a video."),
        out: Path = typer.Option(..., "--out", "-o", help="Output JSON with 2D/3D joints, confidence, angles."),
        coach: Optional[str] = typer.Option(None, "--coach", help="Coaching rules: squat, pushup, lunge, raise_hands or a .yaml file."),
        overlay: Optional[Path] = typer.Option(None, "--overlay", help="Also write the skeleton drawn over the input as .mp4."),
        model: str = typer.Option("pose3d-default", "--model", help="Bundled checkpoint name or .safetensors path."),
        device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
        fov: Optional[float] = typer.Option(None, "--fov", help="Camera field of view across the larger side, degrees (default 55)."),
        focal: Optional[float] = typer.Option(None, "--focal", help="Camera focal length in pixels (instead of --fov)."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing output files."),
        quiet: bool = typer.Option(False, "--quiet", "-q"),
    ) -> None:
        """3D human pose from one image per frame: 2D and 3D joints with confidence, joint angles, coaching prompts."""
        report = run_pose(inp, out, coach=coach, overlay=overlay, model=model, device=device, fov=fov, focal=focal, overwrite=overwrite, quiet=quiet)
        if not quiet:
            n = len(report["frames"])
            extra = ""
            if "coach" in report:
                c = report["coach"]
                extra = f"; {c.get('rep_count', 0)} reps, {len(c['prompts'])} prompts" if "rep_count" in c else f"; {len(c['prompts'])} prompts"
            typer.echo(f"wrote {out} ({n} frame{'s' if n != 1 else ''}{extra})")
