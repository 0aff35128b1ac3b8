"""``vivid pose``: 3D joints (and coaching prompts) from an image, a folder of images or a video."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np
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
    person: int | None = None,
    box: str | None = None,
    smooth: bool = True,
    detect: bool = False,
    person_threshold: float | None = None,
) -> dict:
    """Estimate every person's pose in every frame of ``inp`` and write the JSON to ``out``.

    Each frame lists its people (box, track id on video, joints, angles), largest first, and an
    empty list when it shows no person. ``person``: keep only the N-th (0: the largest); ``box``:
    ``"x0,y0,x1,y1"``, the person to estimate instead of detecting; ``smooth``: the 1-euro filter
    over time on video; ``person_threshold``: replaces the model's person-confidence threshold.
    Without :mod:`vivid.people` (or its checkpoint) each frame has at most one person, found
    from the whole frame; the report's ``people.note`` says so.
    """
    from vivid.core.cli_utils import progress, resolve_device
    from vivid.core.fileio import atomic_write, check_output_file
    from vivid.core.video import open_frames

    check_output_file(out, suffixes=[".json"], inputs=[inp], overwrite=overwrite)
    if overlay is not None:
        videos = [".mp4", ".m4v", ".mov", ".mkv"]
        check_output_file(overlay, suffixes=videos, inputs=[inp], overwrite=overwrite, what="--overlay")
    source = open_frames(inp)  # raises VividError for a missing, unreadable or unsupported input
    # The model code (torch) loads only once the paths are known to be good.
    from vivid.pose3d.angles import MEASURES, angles_to_floats, joint_angles
    from vivid.pose3d.apply import PoseEstimator, camera_matrix
    from vivid.pose3d.bones import JOINT_NAMES
    from vivid.pose3d.coach import coach_pose, coach_sequence, load_rules
    from vivid.pose3d.people import DETECTOR_NAME, choose, load_detector, parse_box
    from vivid.pose3d.smoothing import SMOOTHING

    camera_matrix(64, 64, fov_deg=fov, focal=focal)
    given = parse_box(box) if box is not None else None
    choose([], person)  # validates --person
    exercise = load_rules(coach) if coach else None
    dev = resolve_device(device)
    estimator = PoseEstimator(model, device=dev, fov_deg=fov, focal=focal, person_threshold=person_threshold)
    if given is not None:
        detector, note = None, "the person box was given (--box); on video the crop then follows the joints"
    elif not detect:
        # Off by default while the bundled people-default is under-trained: on held-out renders it
        # makes single-person results worse than the whole-frame crop (tests/pose3d/test_pose3d_apply.py).
        detector, note = None, "person detector off (--detect uses people-default): one person per frame, found from the whole frame"
    else:
        detector, note = load_detector(str(dev))
    video = source.kind == "video"

    with progress(source.info.n_frames, "pose", quiet=quiet) as bar:
        times, found = estimate_people(source, estimator, detector, given, bar.advance)
    if not times:
        raise VividError(f"{inp} holds no frames")
    tracked = video and detector is not None
    smoothed = video and smooth
    if smoothed:
        found = smooth_people(found, times)
    found = [select(people, person, tracked) for people in found]

    frames, series, present = [], {}, []
    coached_id = (person or 0) if video else None
    for t, (time, people) in enumerate(zip(times, found)):
        entries = []
        for pb, pred in people:
            values = angles_to_floats(joint_angles(pred.joints3d))
            entry = {"id": pb.id, "box": [round(v, 1) for v in pb.box], "box_source": pb.source, **pred.to_dict(), "angles": values}
            if exercise is not None and source.kind == "image":
                prompts = coach_pose(exercise, {k: v for k, v in values.items() if v is not None})
                entry["prompts"] = [{"rule": p.rule, "message": p.message, "severity": p.severity} for p in prompts]
            entries.append(entry)
        frames.append({"index": t, "time": round(time, 4), "people": entries})
        coached = next((e for e in entries if e["id"] == coached_id), None) if video else (entries[0] if entries else None)
        present.append(coached is not None)
        for k in MEASURES:
            v = coached["angles"].get(k) if coached is not None else None
            series.setdefault(k, []).append(float("nan") if v is None else v)
    if overlay is not None:
        write_overlay(open_frames(inp), overlay, found, frames, fps=source.info.fps)
    report = {
        "input": str(inp),
        "kind": source.kind,
        "model": model,
        "joint_names": list(JOINT_NAMES),
        "units": {"joints2d": "pixels (x, y)", "joints3d": "metres, camera frame (x right, y down, z forward)", "angles": "degrees",
                  "box": "pixels (x0, y0, x1, y1)"},
        "camera": {"K": estimator_camera(estimator, source), "fov_deg": fov, "focal": focal},
        "fps": float(source.info.fps),
        "people": {
            "detector": DETECTOR_NAME if detector is not None else None,
            "note": note,
            "person_threshold": round(estimator.person_threshold, 4),
            "person": person,
            "smoothing": {"filter": "one-euro", **SMOOTHING} if smoothed else None,
        },
        "frames_without_person": sum(not f["people"] for f in frames),
        "frames": frames,
    }
    if exercise is not None:
        if source.kind == "image":
            first = frames[0]["people"]
            report["coach"] = {"exercise": exercise.name, "prompts": first[0]["prompts"] if first else [], "ignored_frames": int(not first)}
        else:
            report["coach"] = coach_sequence(exercise, series, np.array(present)).to_dict()
    with atomic_write(out) as tmp:
        tmp.write_text(json.dumps(report, indent=1) + "\n")
    return report


def estimate_people(source, estimator, detector, given, advance) -> tuple[list[float], list[list]]:
    """Every frame's people as (PersonBox, PosePrediction) pairs, largest first, only those whose
    person confidence reaches the estimator's threshold. Returns (frame times, people per frame).

    With a detector, images get its boxes and videos its tracks (all frames are read first, since
    the tracker links boxes over the whole clip); with a given box, that box (on video, the first
    frame's; later frames follow the joints); otherwise one person found from the whole frame,
    followed by its joints on video.
    """
    from vivid.pose3d.people import PersonBox, box_area, detect, tracked_boxes

    video = source.kind == "video"
    times, found = [], []

    def keep(pairs):
        pairs = [(pb, pred) for pb, pred in pairs if estimator.is_person(pred)]
        found.append(sorted(pairs, key=lambda pair: -box_area(pair[0].box)))
        advance()

    if video and detector is not None:
        clip = list(source)
        for frame, boxes in zip(clip, tracked_boxes([f.image for f in clip], detector)):
            times.append(frame.time)
            keep([(pb, estimator.predict_box(frame.image, pb.box, pb.score)) for pb in boxes])
        return times, found
    previous = None
    for frame in source:
        times.append(frame.time)
        if detector is not None:
            keep([(pb, estimator.predict_box(frame.image, pb.box, pb.score)) for pb in detect(detector, frame.image)])
            continue
        if given is not None and (not video or frame.index == 0):
            pred, src = estimator.predict_box(frame.image, given), "given"
        else:
            pred, src = estimator.predict(frame.image, previous if video else None), "joints"
        previous = pred
        keep([(PersonBox(given if src == "given" else pred.joints_box(), src, id=0 if video else None), pred)])
    return times, found


def smooth_people(found: list[list], times: list[float]) -> list[list]:
    """The 1-euro filter along each person id's run of consecutive frames (:mod:`vivid.pose3d.smoothing`)."""
    import dataclasses

    from vivid.pose3d.smoothing import smooth_track

    runs: dict[int, list[list[tuple[int, int]]]] = {}
    for t, people in enumerate(found):
        for k, (pb, _) in enumerate(people):
            segments = runs.setdefault(pb.id, [])
            if segments and segments[-1][-1][0] == t - 1:
                segments[-1].append((t, k))
            else:
                segments.append([(t, k)])
    out = [list(people) for people in found]
    for segments in runs.values():
        for seg in segments:
            preds = smooth_track([found[t][k][1] for t, k in seg], [times[t] for t, _ in seg])
            for (t, k), pred in zip(seg, preds):
                pb = found[t][k][0]
                out[t][k] = (dataclasses.replace(pb, box=pred.joints_box()) if pb.source == "joints" else pb, pred)
    return out


def select(people: list, person: int | None, tracked: bool) -> list:
    """``--person N``: on a tracked video the track ranked N (by size over the clip), else the
    N-th largest person of each frame."""
    from vivid.pose3d.people import choose

    if person is not None and tracked:
        return [pair for pair in people if pair[0].id == person]
    return choose(people, person)


def write_overlay(source, path: Path, found: list[list], frames: list[dict], *, fps) -> None:
    """Every person's skeleton over the input (and prompts on images) as a video."""
    from vivid.core.video import VideoWriter
    from vivid.pose3d.apply import draw_skeleton

    with VideoWriter(path, fps=fps) as writer:
        for frame, people, entry in zip(source, found, frames):
            image = frame.image
            for (_, pred), person in zip(people, entry["people"]):
                lines = [f"[{p['severity']}] {p['message']}" for p in person.get("prompts", [])]
                image = draw_skeleton(image, pred.joints2d, pred.confidence, lines)
            writer.write(image, time=frame.time)


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
        person: Optional[int] = typer.Option(None, "--person", help="Only the N-th person, largest first (0: the largest; on video: the N-th largest track)."),
        box: Optional[str] = typer.Option(None, "--box", help="The person's box x0,y0,x1,y1 in pixels, instead of detecting people."),
        smooth: bool = typer.Option(True, "--smooth/--no-smooth", help="On video: a one-euro filter over time on the joints."),
        detect: bool = typer.Option(False, "--detect", help="Find every person with the people-default detector (and track them on video)."),
        person_threshold: Optional[float] = typer.Option(None, "--person-threshold", help="Person confidence below which a frame has no person (default: the model's)."),
    ) -> None:
        """3D human pose of every person in each frame: 2D and 3D joints with confidence, joint angles, coaching prompts."""
        report = run_pose(inp, out, coach=coach, overlay=overlay, model=model, device=device, fov=fov, focal=focal, overwrite=overwrite,
                          quiet=quiet, person=person, box=box, smooth=smooth, person_threshold=person_threshold, detect=detect)  # fmt: skip
        if not quiet:
            n = len(report["frames"])
            empty = [f["index"] for f in report["frames"] if not f["people"]]
            if report["kind"] == "image" and empty:
                typer.echo(f"{inp.name}: no person found")
            elif empty:
                typer.echo(f"no person in {len(empty)} of {n} frames ({'frame' if len(empty) == 1 else 'frames'} {_ranges(empty)})")
            extra = ""
            if "coach" in report:
                c = report["coach"]
                extra = f"; {c.get('rep_count', 0)} reps, {len(c['prompts'])} prompts" if "rep_count" in c else f"; {len(c['prompts'])} prompts"
                if c.get("ignored_frames"):
                    extra += f", {c['ignored_frames']} frame{'s' if c['ignored_frames'] != 1 else ''} without a person ignored"
            typer.echo(f"wrote {out} ({n} frame{'s' if n != 1 else ''}{extra})")


def _ranges(indices: list[int]) -> str:
    """[0, 1, 2, 5, 7, 8] -> "0-2, 5, 7-8"."""
    parts, start = [], None
    for i, v in enumerate(indices):
        if start is None:
            start = v
        if i + 1 == len(indices) or indices[i + 1] != v + 1:
            parts.append(str(start) if start == v else f"{start}-{v}")
            start = None
    return ", ".join(parts)
