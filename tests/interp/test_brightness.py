"""A global brightness change between the frames is interpolated linearly (match_brightness)."""

from __future__ import annotations

import pytest
import torch

from vivid.core.hub import is_bundled
from vivid.core.registry import create_model
from vivid.interp.model import match_brightness


def test_match_brightness_by_hand():
    a = torch.full((1, 3, 4, 4), 0.2)
    b = torch.full((1, 3, 4, 4), 0.6)
    a2, b2, offset = match_brightness(a, b, torch.tensor([0.25]))
    assert torch.allclose(a2, torch.full_like(a, 0.4)) and torch.allclose(b2, a2)
    assert torch.allclose(offset, torch.full((1, 3, 1, 1), 0.75 * 0.2 + 0.25 * 0.6 - 0.4))


def _textured(seed=0, size=64):
    g = torch.Generator().manual_seed(seed)
    low = torch.nn.functional.interpolate(torch.rand(1, 3, 8, 8, generator=g), size=(size, size), mode="bicubic", align_corners=False)
    return (0.3 + 0.3 * low).clamp(0, 1)


@pytest.mark.skipif(not is_bundled("interp-default"), reason="needs the bundled model")
@pytest.mark.parametrize("pair", ["flat", "textured"])
def test_bundled_model_interpolates_a_fade_linearly(pair):
    from vivid.interp.interpolator import load_interpolator

    interp = load_interpolator("interp-default")
    assert interp.model.config["match_brightness"]
    a = torch.full((1, 3, 64, 64), 100 / 255) if pair == "flat" else _textured()
    b = a + 100 / 255 if pair == "flat" else a + 40 / 255
    for t in (0.25, 0.5, 0.75):
        out = interp(a, b, torch.tensor([t]))
        want = (1 - t) * a + t * b
        assert float((out - want).abs().mean()) * 255 < 2.0, (pair, t)


def test_frames_of_equal_brightness_are_unchanged_by_the_switch():
    torch.manual_seed(0)
    off = create_model("interp_tiny").eval()
    on = create_model("interp_tiny", match_brightness=True).eval()
    on.load_state_dict(off.state_dict())
    a = _textured(1, 32)
    b = a.roll(2, dims=3)  # moved, same mean
    with torch.no_grad():
        assert torch.allclose(on(a, b, 0.5).frame, off(a, b, 0.5).frame, atol=1e-6)


@pytest.mark.skipif(not is_bundled("interp-default"), reason="needs the bundled model")
def test_without_the_switch_a_fade_darkens():
    """The fault the switch fixes: the learned blend weight reads a fade as occlusion."""
    from vivid.core.checkpoints import load_checkpoint

    model, _ = load_checkpoint("interp-default")
    model.eval()
    off = create_model("interp_default", **{**model.config, "match_brightness": False}).eval()
    off.load_state_dict(model.state_dict())
    a, b = torch.full((1, 3, 64, 64), 100 / 255), torch.full((1, 3, 64, 64), 200 / 255)
    with torch.no_grad():
        assert abs(float(off(a, b, 0.5).frame.mean()) * 255 - 150) > 4
        assert abs(float(model(a, b, 0.5).frame.mean()) * 255 - 150) < 1
