"""The frame-interpolation section of ``vivid demo``: before/after frames, stutter repair on a
real clip and on a synthetic one, and a small table. Runs in well under a minute on a CPU."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from vivid.core.assets import demo_input
from vivid.core.fileio import to_tensor, to_uint8
from vivid.core.metrics import psnr, ssim
from vivid.core.report import Report
from vivid.core.video import Frame, iter_frames
from vivid.interp.interpolator import DEFAULT_MODEL, load_interpolator
from vivid.interp.baselines import linear_blend, repeat_frame
from vivid.interp.repair import RepairResult, auto_threshold, find_repeats, frame_differences, repair_frames

log = logging.getLogger(__name__)

TRIPLET_STARTS = [0, 12, 24, 36]  # frames k, k+1, k+2 of the clip
REAL_REPEATS = [9, 19, 20]  # one single and one double repeat injected into the real clip
SYNTH_REPEATS = [6, 14, 15]


def _synthetic_clip(n: int = 24, h: int = 96, w: int = 160) -> list[np.ndarray]:
    """A disc moving along a curve over a colour gradient."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    bg = np.stack([x / w, y / h, 0.5 + 0.3 * np.sin(x / 9.0) * np.cos(y / 7.0)], -1)
    frames = []
    for i in range(n):
        cx, cy = 20 + 4 * i, h / 2 + 25 * np.sin(i / 4.0)
        img = bg.copy()
        disc = (x - cx) ** 2 + (y - cy) ** 2 < 14**2
        img[disc] = (0.95, 0.85, 0.2)
        frames.append(to_uint8(torch.from_numpy(img).permute(2, 0, 1)))
    return frames


def _stutter(frames: list[np.ndarray], repeats: list[int]) -> list[Frame]:
    out = list(frames)
    for i in sorted(repeats):
        out[i] = out[i - 1]
    return [Frame(image=im, pts=i, time=i / 25, index=i) for i, im in enumerate(out)]


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(psnr(to_tensor(a)[None], to_tensor(b)[None])[0])


def _repair_example(frames: list[np.ndarray], repeats: list[int], interp, name: str, report: Report) -> dict:
    stuttered = _stutter(frames, repeats)
    diffs = frame_differences(stuttered)
    thr = auto_threshold(diffs)
    found = find_repeats(diffs, thr)
    in_source = find_repeats(frame_differences(frames), thr)  # frames the clip itself repeats
    row = {"clip": name, "injected repeats": str(repeats), "detected": str(found),
           "repeats already in the source": str(in_source), "threshold": round(thr, 2)}  # fmt: skip
    for label, fn in (("vivid", interp), ("blend", linear_blend)):
        res = RepairResult()
        fixed = list(repair_frames(stuttered, fn, threshold=thr, result=res))
        scored = [i for i in res.repaired if i in repeats]  # the injected repeats that were repaired
        row[f"PSNR {label} (dB)"] = round(float(np.mean([_psnr(fixed[i].image, frames[i]) for i in scored])), 2)
        if label == "vivid":
            vivid_fixed = fixed
    row["PSNR left stuttered (dB)"] = round(float(np.mean([_psnr(stuttered[i].image, frames[i]) for i in repeats])), 2)
    i = repeats[-1]
    anchor = i
    while anchor in repeats:  # the distinct frame the run repeats
        anchor -= 1
    strip = np.concatenate([stuttered[i].image, vivid_fixed[i].image, frames[i]], axis=1)
    report.image(strip, f"{name}, frame {i}: stuttered (a repeat of frame {anchor}) | repaired by vivid | original")
    return row


def run_demo(out_dir: Path, report: Report, *, device: str = "cpu", quick: bool = False) -> None:
    """Add the interpolation section to ``report`` (pictures are written by the report);
    ``quick``: two triplets and the synthetic repair example only."""
    clip = demo_input("bbb_clip.mp4")
    interp = load_interpolator(DEFAULT_MODEL, device=device)
    frames = [f.image for f in iter_frames(clip.path)]
    starts = TRIPLET_STARTS[:2] if quick else TRIPLET_STARTS
    report.section(
        "Frame interpolation and stutter repair",
        "Middle frames predicted from their neighbours on a 320x180 excerpt of Big Buck Bunny "
        "(this film is part of the training data, so see benchmarks/results/interp.md for held-out clips). "
        f"Source: {clip.credit()}.",
    )
    a = torch.stack([to_tensor(frames[k]) for k in starts])
    g = torch.stack([to_tensor(frames[k + 1]) for k in starts])
    b = torch.stack([to_tensor(frames[k + 2]) for k in starts])
    t = torch.full((len(starts),), 0.5)
    preds = {"frame repetition": repeat_frame(a, b, t), "linear blend": linear_blend(a, b, t), "vivid": interp(a, b, t)}
    rows = []
    for name, p in preds.items():
        p = torch.stack([to_tensor(im) for im in to_uint8(p)])
        rows.append({"method": name, "PSNR (dB)": round(float(psnr(p, g).mean()), 2), "SSIM": round(float(ssim(p, g).mean()), 4)})
    k = 1  # the triplet shown
    report.image(
        np.concatenate([frames[starts[k]], frames[starts[k] + 2]], axis=1),
        f"inputs: frames {starts[k]} and {starts[k] + 2}",
    )
    report.image(
        np.concatenate([to_uint8(preds["linear blend"][k]), to_uint8(preds["vivid"][k]), frames[starts[k] + 1]], axis=1),
        f"frame {starts[k] + 1}: linear blend | vivid | ground truth",
    )
    report.table(rows, f"middle frame of {len(starts)} triplets of the clip (frame-drop protocol)")

    report.text(
        "Stutter repair: repeated frames were injected, found from the frame differences with the "
        "automatic threshold, and replaced by frames interpolated between their distinct neighbours."
    )
    repair_rows = [] if quick else [_repair_example(frames[:30], REAL_REPEATS, interp, "Big Buck Bunny excerpt", report)]
    repair_rows.append(_repair_example(_synthetic_clip(), SYNTH_REPEATS, interp, "synthetic moving disc", report))
    report.table(repair_rows, "stutter repair (PSNR of the repaired frames against the originals)")
