"""The people section of ``vivid demo``: boxes on a real photo, tracks through a real clip."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from vivid.core.report import Report

log = logging.getLogger(__name__)


def run_demo(out_dir: Path, report: Report, *, device: str = "cpu", quick: bool = False) -> None:
    """Add the people section; ``quick``: 4 frames of the clip instead of 30."""
    from vivid.core.assets import demo_input
    from vivid.core.fileio import read_image
    from vivid.core.hub import is_bundled
    from vivid.core.video import VideoWriter, iter_frames
    from vivid.people.apply import draw_boxes
    from vivid.core.errors import VividError
    from vivid.people.detector import Detection, PersonDetector, hog_detector
    from vivid.people.tracker import track_video

    photo, clip = demo_input("basketball1.png"), demo_input("vtest_clip.mp4")
    report.section(
        "People in images and video (vivid people)",
        "people-default (a small CenterNet-style detector trained only on synthetic composites: rendered people pasted "
        "over real background photos) on a real photo and a real clip; on the clip its boxes are linked into tracks, one "
        "colour and id per person. Sources: " + "; ".join(d.credit() for d in (photo, clip)) + ".",
    )
    if not is_bundled("people-default"):
        report.text("The bundled checkpoint people-default is missing from this installation; nothing to show.")
        return
    detector = PersonDetector("people-default", device=device)
    image = read_image(photo.path)
    dets = detector(image)
    panels, rows = [draw_boxes(image, dets)], [{"detector": "people-default", "people found": len(dets),
                                               "scores": ", ".join(f"{d.score:.2f}" for d in dets)}]  # fmt: skip
    try:
        hog_dets = hog_detector()(image)
        panels.append(draw_boxes(image, hog_dets))
        rows.append({"detector": "OpenCV HOG", "people found": len(hog_dets), "scores": ", ".join(f"{d.score:.2f}" for d in hog_dets)})
    except VividError as err:
        rows.append({"detector": "OpenCV HOG", "people found": "not available", "scores": str(err)})
    report.image(np.concatenate(panels, axis=1), f"{photo.name}: people-default" + (" (left) and OpenCV HOG (right)" if len(panels) > 1 else ""))
    report.table(rows, f"{photo.name}: boxes found")

    n = 4 if quick else 30
    frames = []
    for f in iter_frames(clip.path):
        if f.index >= n:
            break
        frames.append(f.image)
    tracks = track_video(frames, detector, min_length=2 if quick else 3)
    video_path = Path(out_dir) / "people_tracks.mp4"
    shown = []
    with VideoWriter(video_path, fps=10) as writer:
        for t, image in enumerate(frames):
            here = [(Detection(tr.box_at(t), tr.scores[t - tr.first]), tr.id) for tr in tracks if tr.box_at(t) is not None]
            drawn = draw_boxes(image, [d for d, _ in here], [i for _, i in here], [f"frame {t}"])
            writer.write(drawn)
            if t in (0, len(frames) - 1):
                shown.append(drawn)
    report.image(np.concatenate(shown, axis=1), f"{clip.name}: frames 0 and {len(frames) - 1} (tracks video {video_path.name})")
    report.table([{**tr.to_dict()} for tr in tracks] or [{"id": "none", "first_frame": "", "last_frame": ""}],
                 f"{clip.name}: {len(tracks)} tracks over {len(frames)} frames")  # fmt: skip
