"""The bodyvid section of ``vivid demo``: ``vivid body`` on the bundled real clip (vtest_clip.mp4,
people walking), the mesh overlay as pictures, and the GLB and BVH written next to the report."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from vivid.core.report import Report

log = logging.getLogger(__name__)

# A box around the man standing left of the lamp post in vtest_clip.mp4 (x0, y0, x1, y1), so that the demo shows
# one person without a person detector.
VTEST_BOX = "220,200,315,320"


def _short_clip(src: Path, dst: Path, frames: int) -> None:
    from vivid.core.video import VideoWriter, iter_frames, probe

    with VideoWriter(dst, fps=probe(src).fps) as writer:
        for frame in iter_frames(src):
            if frame.index >= frames:
                break
            writer.write(frame.image, time=frame.time)


def run_demo(out_dir: Path, report: Report, *, device: str = "cpu", quick: bool = False) -> None:
    """Add the bodyvid section to ``report`` (8 frames, quick or not: seconds on a CPU)."""
    from vivid.core.assets import demo_input
    from vivid.core.hub import is_bundled
    from vivid.core.video import iter_frames
    from vivid.bodyvid.cli import run_body

    out_dir = Path(out_dir)
    report.section(
        "Smooth 3D bodies from video (vivid body)",
        "bodyvid-default (per-frame CNN, motion and spatial enhancement across the frames of 8-frame sequences, "
        "iterative regressor of Anny body parameters, velocity loss) on a real clip. Anny is free for commercial use "
        "(Apache-2.0), unlike SMPL. The model has seen only synthetic renders; the pictures show what it makes of real "
        "video. The GLB (skinned, animated Anny mesh with root motion) and the BVH are written next to this report.",
    )
    clip = demo_input("vtest_clip.mp4")
    model = "bodyvid-default"
    if not is_bundled(model):
        report.text("The bundled checkpoint bodyvid-default is missing from this installation; nothing to show.")
        return
    # The box holds the man for the first second of the clip (he then walks out of it).
    frames = 8
    short = out_dir / "bodyvid_input.mp4"
    out_dir.mkdir(parents=True, exist_ok=True)
    _short_clip(clip.path, short, frames)
    result_dir = out_dir / "bodyvid"
    record = run_body(short, result_dir, glb=True, bvh=True, overlay=True, model=model, device=device, box=VTEST_BOX,
                      overwrite=True, quiet=True)  # fmt: skip
    shown = [f.image for f in iter_frames(result_dir / "overlay.mp4") if f.index in (0, frames // 2, frames - 1)]
    report.image(np.concatenate(shown, axis=1), f"{clip.name}: mesh overlay, frames 0, {frames // 2} and {frames - 1}")
    report.text(f"Input: {clip.credit()}. Person box: {record['person_box']}. Written: "
                + ", ".join(f"bodyvid/{w}" for w in record["written"]) + ".")  # fmt: skip
    report.table([{"frames": len(record["frames"]), "fps": record["fps"], "sequence length": record["sequence_length"],
                   "mean phenotype": record["phenotype_mean"]}], "vivid body on the real clip")  # fmt: skip
