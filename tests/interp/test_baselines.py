"""Classical baselines: hand values for repeat/blend, a known translation for the flow-based ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vivid.core.fileio import to_tensor
from vivid.core.metrics import psnr
from vivid.interp.baselines import DISFlowInterpolator, ffmpeg_available, linear_blend, minterpolate, minterpolate_pair, repeat_frame


def test_repeat_and_blend_hand_values():
    a = torch.zeros(3, 3, 2, 2)
    b = torch.ones(3, 3, 2, 2)
    t = torch.tensor([0.25, 0.5, 0.75])
    rep = repeat_frame(a, b, t)
    assert rep[0].max() == 0 and rep[1].max() == 0 and rep[2].min() == 1  # nearest frame, ties to frame 0
    bl = linear_blend(a, b, t)
    assert torch.allclose(bl[:, 0, 0, 0], t)


def textured(h: int, w: int, shift: int, seed: int = 0) -> np.ndarray:
    """Smoothed noise (so that flow is well defined), cropped ``shift`` px further right."""
    rng = np.random.default_rng(seed)
    big = rng.uniform(0, 255, (h + 8, w + 40, 3))
    k = np.ones(5) / 5
    for axis in (0, 1):
        big = np.apply_along_axis(lambda v: np.convolve(v, k, mode="same"), axis, big)
    return big[4 : 4 + h, 20 - shift : 20 - shift + w].round().astype(np.uint8)


@pytest.fixture(scope="module")
def translation():
    # content moves right by 6 px from frame 0 to frame 1; the true middle moved 3 px
    f0, mid, f1 = (textured(64, 96, s) for s in (0, 3, 6))
    return f0, mid, f1


def _interior_psnr(pred: torch.Tensor, target: np.ndarray) -> float:
    tgt = to_tensor(target)[None]
    return float(psnr(pred[..., 8:-8, 12:-12].float().clamp(0, 1), tgt[..., 8:-8, 12:-12]))


def test_dis_flow_recovers_a_translation(translation):
    f0, mid, f1 = translation
    dis = DISFlowInterpolator()
    fwd, bwd = dis.flows(f0, f1)
    assert np.median(fwd[16:-16, 24:-24, 0]) == pytest.approx(6, abs=0.5)
    assert np.median(bwd[16:-16, 24:-24, 0]) == pytest.approx(-6, abs=0.5)
    assert np.abs(np.median(fwd[..., 1])) < 0.5
    a, b = to_tensor(f0)[None], to_tensor(f1)[None]
    pred = dis(a, b, torch.tensor([0.5]))
    assert pred.shape == a.shape
    blended = linear_blend(a, b, torch.tensor([0.5]))
    assert _interior_psnr(pred, mid) > 30
    assert _interior_psnr(pred, mid) > _interior_psnr(blended, mid) + 8


@pytest.mark.skipif(not ffmpeg_available(), reason="needs the ffmpeg program")
def test_minterpolate_recovers_a_translation(translation):
    f0, mid, f1 = translation
    out = minterpolate([f0, f1, f1], factor=2)
    assert out.shape[1:] == f0.shape and out.shape[0] >= 3
    assert np.array_equal(out[0], f0) or np.abs(out[0].astype(int) - f0).mean() < 2  # yuv round trip
    pred = minterpolate_pair(to_tensor(f0)[None], to_tensor(f1)[None], torch.tensor([0.5]))
    blended = linear_blend(to_tensor(f0)[None], to_tensor(f1)[None], torch.tensor([0.5]))
    assert _interior_psnr(pred, mid) > _interior_psnr(blended, mid) + 2  # yuv420 caps its PSNR
