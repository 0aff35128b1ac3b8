"""The task's section of ``vivid demo``: a real clip shipped in vivid/assets and a garment that
``vivid synth`` lays flat in, the try-on frames out, next to the per-frame baseline."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from vivid.core.errors import VividError
from vivid.core.report import Report

log = logging.getLogger(__name__)


def synth_garment(quick: bool, height: int = 256) -> np.ndarray:
    """A flat garment photo uint8 (H, 3H/4, 3): a loose shirt mesh of ``vivid synth`` laid flat
    (``quick``: the painted-garment flat image, which needs no body model)."""
    from vivid.synth import appearance as app

    tex, _ = app.garment_texture(np.random.default_rng(5), "stripes")
    if quick:
        img, _ = app.flat_garment_image(tex, height, height * 3 // 4)
        return (img.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    from vivid.synth.garments import GarmentPairs, GarmentShape, build_garment
    from vivid.synth.kit import BodyKit

    kit = BodyKit.get(torch.device("cpu"))
    mesh = build_garment(kit, GarmentShape("shirt", 0.03, 0.08, sleeve=0.8))
    return GarmentPairs().flat_image(None, mesh, tex, height, height * 3 // 4)[0]


# The man on the left of vtest_clip.mp4 stands about 80 pixels tall in a 768x576 frame: too small for
# the working size, so the demo crops a 3:4 box around where he stands (x0, y0, width, height).
PERSON_BOX = (222, 200, 96, 128)


def person_crop(images: list[np.ndarray], box: tuple[int, int, int, int] = PERSON_BOX) -> list[np.ndarray]:
    """The frames cropped to ``box`` (x0, y0, width, height)."""
    x0, y0, w, h = box
    return [im[y0 : y0 + h, x0 : x0 + w] for im in images]


def per_frame(model) -> torch.nn.Module:
    """The same weights with attention restricted to each frame (the per-frame baseline)."""
    import copy

    base = copy.deepcopy(model)
    for block in base.blocks:
        for att in (block.garment, block.background):
            if att is not None:
                att.temporal = False
    return base


def _sheet(rows: list[list[np.ndarray]]) -> np.ndarray:
    return np.concatenate([np.concatenate(r, 1) for r in rows], 0)


def run_demo(out_dir: Path, report: Report, *, device: str = "cpu", quick: bool = False) -> None:
    from vivid.core.assets import demo_input
    from vivid.core.video import iter_frames
    from vivid.tryon.apply import TryOn, parse_image, try_on_chunks, prepare_garment

    clip = demo_input("vtest_clip.mp4")
    n = 3 if quick else 8
    images = [f.image for f, _ in zip(iter_frames(clip.path), range(n))]
    report.section(
        "tryon",
        "Video try-on on a real clip: the person (a fixed crop around the man on the left) wearing a loose shirt that vivid synth "
        f"lays flat, with the full model (attention over all frames) and the per-frame baseline (the same weights, "
        f"attention within each frame). Input: {clip.credit()}. The bundled model trained on synthetic renders only.",
    )
    tool = TryOn(device=device)
    photo = synth_garment(quick)
    crops = person_crop(images)
    try:
        flat, fm = prepare_garment(tool.model, photo, *tool.size)
        try:
            inputs = tool.prepare(crops, "upper")
        except VividError:  # the parser, trained on renders only, may not read a real person
            inputs = tool.prepare(crops, "upper", parts_from="skeleton")
            report.text("The parser found no person in these frames; the body parts were drawn around pose3d's joints "
                        "instead (tryon.apply.skeleton_parts, the command's --parts skeleton).")
    except VividError as err:
        report.text(f"try-on did not run on this clip: {err}")
        return
    full = try_on_chunks(tool.model, inputs, flat, fm, chunk=8)
    base = try_on_chunks(per_frame(tool.model), inputs, flat, fm, chunk=8)
    u8 = lambda x: (x.permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)  # noqa: E731
    show = range(0, len(crops), max(1, len(crops) // 4))
    garment = u8(torch.nn.functional.interpolate(flat, size=tool.size)[0])
    rows = [[u8(inputs.frames[i]), parse_image(inputs.parts[i], inputs.garment[i]), u8(inputs.background[i]), garment,
             u8(full[i]), u8(base[i])] for i in show]
    report.image(_sheet(rows), "per row: frame, parsing, background sequence, garment, try-on (full model), per-frame baseline")
    flicker = lambda x: float((x[1:] - x[:-1]).abs().mean())  # noqa: E731
    report.table([{"model": "full (all frames)", "mean frame-to-frame change": round(flicker(full), 4)},
                  {"model": "per-frame baseline", "mean frame-to-frame change": round(flicker(base), 4)}],
                 "frame-to-frame change of the try-on frames (lower: steadier; the input itself moves)")
