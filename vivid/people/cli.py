"""``vivid people``: the boxes of the people in an image, or their tracks through a video."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from vivid.core.errors import VividError

IMAGE_OVERLAYS = (".jpg", ".jpeg", ".png")
VIDEO_OVERLAYS = (".mp4", ".m4v", ".mov", ".mkv")


def run_people(
    inp: Path,
    out: Path,
    *,
    overlay: Path | None = None,
    model: str = "people-default",
    hog: bool = False,
    threshold: float | None = None,
    device: str = "auto",
    max_gap: int = 5,
    overwrite: bool = False,
    quiet: bool = False,
) -> dict:
    """Detect (and on video, track) the people of ``inp``; write the JSON report to ``out``.

    The report holds per frame the people found, largest box first (``box`` x0, y0, x1, y1 in
    pixels, x1/y1 exclusive; ``score``); on a video or a folder of frames also each person's
    track ``id`` and the track list. Video frames show only people of kept tracks (flickers
    shorter than 3 frames are dropped), with boxes interpolated over gaps (``detected`` false).
    """
    from vivid.core.cli_utils import progress, resolve_device
    from vivid.core.fileio import atomic_write, check_output_file, write_image
    from vivid.core.video import VideoWriter, open_frames

    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise VividError(f"--threshold must be in [0, 1], got {threshold}")
    check_output_file(out, suffixes=[".json"], inputs=[inp], overwrite=overwrite)
    source = open_frames(inp)  # VividError for a missing, unreadable or unsupported input
    # The model code (torch) loads only once the paths are known to be good.
    from vivid.people.apply import draw_boxes, make_detector
    from vivid.people.detector import Detection, sort_by_area
    from vivid.people.tracker import IoUTracker

    is_clip = source.kind != "image"
    if overlay is not None:
        allowed = VIDEO_OVERLAYS if is_clip else IMAGE_OVERLAYS
        check_output_file(overlay, suffixes=allowed, inputs=[inp], overwrite=overwrite, what="--overlay")
    detector = make_detector(model, hog=hog, device=str(resolve_device(device)), score_threshold=threshold)
    tracker = IoUTracker(max_gap=max_gap)

    per_frame: list[tuple[int, float, list[Detection]]] = []
    with progress(source.info.n_frames, "people", quiet=quiet, unit="frame") as bar:
        for frame in source:
            dets = detector(frame.image)
            per_frame.append((frame.index, frame.time, dets))
            if is_clip:
                tracker.update(frame.index, [d.box for d in dets], [d.score for d in dets])
            bar.advance()
    if not per_frame:
        raise VividError(f"{inp} holds no frames")

    frames, drawn = [], {}
    if is_clip:
        tracks = tracker.tracks()
        for index, time, _ in per_frame:
            people = []
            for t in tracks:
                box = t.box_at(index)
                if box is not None:
                    k = index - t.first
                    people.append((Detection(box, t.scores[k]), t.id, t.detected[k]))
            people.sort(key=lambda p: (-p[0].area, p[1]))
            frames.append({"index": index, "time": round(time, 4),
                           "people": [{**d.to_dict(), "id": tid, "detected": det} for d, tid, det in people]})  # fmt: skip
            drawn[index] = ([p[0] for p in people], [p[1] for p in people])
    else:
        tracks = []
        index, time, dets = per_frame[0]
        frames.append({"index": index, "time": round(time, 4), "people": [d.to_dict() for d in sort_by_area(dets)]})
        drawn[index] = (sort_by_area(dets), None)

    report = {
        "input": str(inp),
        "kind": source.kind,
        "detector": "hog" if hog else model,
        "score_threshold": None if hog else detector.score_threshold,
        "width": source.info.width,
        "height": source.info.height,
        "fps": float(source.info.fps),
        "units": {"box": "pixels x0, y0, x1, y1 (x1, y1 exclusive)"},
        "frames": frames,
    }
    if is_clip:
        report["tracks"] = [t.to_dict() for t in tracks]
    if overlay is not None:
        if is_clip:
            with VideoWriter(overlay, fps=source.info.fps) as writer:
                for frame in source:
                    dets, ids = drawn.get(frame.index, ([], []))
                    writer.write(draw_boxes(frame.image, dets, ids), time=frame.time)
        else:
            image = next(iter(source)).image
            dets, _ = drawn[per_frame[0][0]]
            write_image(overlay, draw_boxes(image, dets))
    with atomic_write(out) as tmp:
        tmp.write_text(json.dumps(report, indent=1) + "\n")
    return report


def summary(report: dict) -> str:
    """One line: what was found."""
    if report["kind"] == "image":
        n = len(report["frames"][0]["people"])
        return "no person found" if n == 0 else f"{n} {'person' if n == 1 else 'people'} found"
    n, k = len(report["frames"]), len(report["tracks"])
    return f"{n} frame{'s' if n != 1 else ''}, {k} track{'s' if k != 1 else ''}" + ("" if k else " (no person found)")


def register(app: typer.Typer) -> None:
    @app.command("people")
    def people_cmd(
        inp: Path = typer.Argument(..., help="An image, a folder of images or a video."),
        out: Path = typer.Option(..., "--out", "-o", help="Output JSON: boxes per frame (and track ids on video)."),
        overlay: Optional[Path] = typer.Option(None, "--overlay", help="Also draw the boxes: .jpg/.png for an image, .mp4 for a video."),
        model: str = typer.Option("people-default", "--model", help="Bundled checkpoint name or .safetensors path."),
        hog: bool = typer.Option(False, "--hog", help="Use OpenCV's HOG people detector instead of the trained one."),
        threshold: Optional[float] = typer.Option(None, "--threshold", help="Score threshold (default: the checkpoint's own)."),
        device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
        max_gap: int = typer.Option(5, "--max-gap", help="Frames a person may go undetected and keep their track id."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing output files."),
        quiet: bool = typer.Option(False, "--quiet", "-q"),
    ) -> None:
        """Find the people in an image or a video: boxes with scores, largest first; one track id per person on video."""
        report = run_people(inp, out, overlay=overlay, model=model, hog=hog, threshold=threshold, device=device,
                            max_gap=max_gap, overwrite=overwrite, quiet=quiet)  # fmt: skip
        if not quiet:
            typer.echo(f"wrote {out} ({summary(report)})")
