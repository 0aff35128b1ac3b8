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


def person_crop(images: list[np.ndarray], joints2d: np.ndarray, aspect: float = 0.75) -> list[np.ndarray]:
    """The frames cropped to one (aspect = width / height) box around the person's joints of the
    first frame, with a margin: try-on works on a person who fills the frame."""
    lo, hi = joints2d.min(0), joints2d.max(0)
    cx, cy = (lo + hi) / 2
    h = max(float(hi[1] - lo[1]) * 1.35, float(hi[0] - lo[0]) * 1.35 / aspect, 32.0)
    w = h * aspect
    H, W = images[0].shape[:2]
    x0 = int(np.clip(cx - w / 2, 0, max(0, W - w)))
    y0 = int(np.clip(cy - h / 2, 0, max(0, H - h)))
    return [im[y0 : y0 + int(h), x0 : x0 + int(w)] for im in images]


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
        "Video try-on on a real clip: the person (cropped around pose3d's joints) wearing a loose shirt that vivid synth "
        f"lays flat, with the full model (attention over all frames) and the per-frame baseline (the same weights, "
        f"attention within each frame). Input: {clip.credit()}. The bundled model trained on synthetic renders only.",
    )
    tool = TryOn(device=device)
    photo = synth_garment(quick)
    joints, conf = tool.joints(images[:1])
    crops = person_crop(images, joints[0])
    try:
        flat, fm = prepare_garment(tool.model, photo, *tool.size)
        inputs = tool.prepare(crops, "upper")
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
