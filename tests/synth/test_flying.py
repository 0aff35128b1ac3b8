"""Flying layers: exact flows, occlusion and frames at any t are mutually consistent."""

from __future__ import annotations

import pytest
import torch

from vivid.interp.warping import backward_warp
from vivid.synth.flying import FlyingLayers, procedural_texture


@pytest.fixture(scope="module")
def sample():
    return FlyingLayers((64, 80), sprites=(2, 4), max_motion=0.12).sample(torch.Generator().manual_seed(3), t=0.4)


def test_shapes_and_ranges(sample):
    for k in ("image0", "image1", "image_t"):
        assert sample[k].shape == (3, 64, 80)
        assert 0 <= sample[k].min() and sample[k].max() <= 1
    for k in ("flow01", "flow10", "flow_t0", "flow_t1"):
        assert sample[k].shape == (2, 64, 80) and torch.isfinite(sample[k]).all()
    assert sample["invdepth0"].shape == (1, 64, 80) and (sample["invdepth0"] > 0).all()
    assert sample["occlusion0"].dtype == torch.bool
    assert sample["t"].item() == pytest.approx(0.4)
    assert sample["flow01"].abs().max() > 1.0  # something moves


@pytest.mark.parametrize("direction", ["01", "10"])
def test_warping_by_exact_flow_reproduces_the_frame(sample, direction):
    src, dst = ("image1", "image0") if direction == "01" else ("image0", "image1")
    flow = sample[f"flow{direction}"]
    valid = sample[f"valid{direction}"][0]
    warped = backward_warp(sample[src][None], flow[None])[0]
    err = (warped - sample[dst]).abs().mean(0)
    assert valid.float().mean() > 0.5
    assert err[valid].mean() < 0.01
    # And the check can fail: a wrong flow (zero) does not reproduce the frame.
    wrong = backward_warp(sample[src][None], torch.zeros_like(flow)[None])[0]
    assert (wrong - sample[dst]).abs().mean(0)[valid].mean() > 3 * err[valid].mean()


def test_middle_frame_consistent_with_flows_to_t(sample):
    # Frame 0 warped by the exact flow from t to 0 gives the frame at t where visible.
    warped = backward_warp(sample["image0"][None], sample["flow_t0"][None])[0]
    err = (warped - sample["image_t"]).abs().mean(0)
    assert err.median() < 0.01


def test_forward_backward_flows_cancel_on_visible_pixels(sample):
    f01, f10 = sample["flow01"][None], sample["flow10"][None]
    back = backward_warp(f10, f01)[0]
    valid = sample["valid01"][0]
    cycle = (sample["flow01"] + back).norm(dim=0)
    assert cycle[valid].median() < 0.05


def test_frames_at_0_and_1_and_determinism():
    fl = FlyingLayers((32, 32), sprites=(3, 3))
    a = fl.sample(torch.Generator().manual_seed(7), t=0.0)
    b = fl.sample(torch.Generator().manual_seed(7), t=1.0)
    assert torch.allclose(a["image_t"], a["image0"]) and torch.allclose(b["image_t"], b["image1"])
    assert torch.equal(a["image0"], b["image0"])  # same seed, same scene


def test_nearer_layers_have_larger_inverse_depth_and_occlude():
    s = FlyingLayers((48, 48), sprites=(4, 4), max_motion=0.3).sample(torch.Generator().manual_seed(1))
    assert s["invdepth0"].unique().numel() >= 2
    assert s["occlusion0"].any()


def test_user_image_textures_and_bad_args():
    img = torch.rand(3, 20, 30)
    fl = FlyingLayers((32, 32), images=[img], image_prob=1.0)
    s = fl.sample(torch.Generator().manual_seed(0))
    assert s["image0"].shape == (3, 32, 32)
    with pytest.raises(ValueError):
        FlyingLayers(sprites=(3, 2))
    tex = procedural_texture(16, 20, torch.Generator().manual_seed(0))
    assert tex.shape == (3, 16, 20) and tex.std() > 0.01


def test_static_background_and_flat_sprites():
    from vivid.synth.flying import BACKGROUND_DEPTH

    fl = FlyingLayers((48, 64), sprites=(2, 2), max_motion=0.2, background_motion=0.2, static_prob=1.0, flat_prob=1.0)
    s = fl.sample(torch.Generator().manual_seed(5))
    background = (s["invdepth0"][0] - 1.0 / BACKGROUND_DEPTH).abs() < 1e-6
    assert background.float().mean() > 0.2
    # A fixed camera: the background does not move and looks the same in both frames.
    assert s["flow01"][:, background].abs().max() == 0
    seen_in_both = background & (s["invdepth1"][0] - 1.0 / BACKGROUND_DEPTH).abs().lt(1e-6)
    # away from the sprites' anti-aliased outlines
    seen_in_both = -torch.nn.functional.max_pool2d(-seen_in_both[None].float(), 5, 1, 2)[0] > 0.5
    assert torch.allclose(s["image0"][:, seen_in_both], s["image1"][:, seen_in_both], atol=1e-5)
    # Flat sprites are nearly uniform colour; the default procedural ones are textured.
    flat = fl.scene(torch.Generator().manual_seed(5)).layers[1:]
    textured = FlyingLayers((48, 64), sprites=(2, 2)).scene(torch.Generator().manual_seed(5)).layers[1:]
    assert max(float(layer.texture.std((1, 2)).max()) for layer in flat) < 0.03
    assert min(float(layer.texture.std((1, 2)).max()) for layer in textured) > 0.05
    with pytest.raises(ValueError, match="sprite_size"):
        FlyingLayers(sprite_size=(0.3, 0.1))
    with pytest.raises(ValueError, match="flat_prob"):
        FlyingLayers(flat_prob=1.5)


def test_bands_are_longer_than_the_frame_and_move_along_their_length():
    fl = FlyingLayers((64, 96), sprites=(1, 1), max_motion=0.2, band_prob=1.0)
    for seed in range(4):
        scene = fl.scene(torch.Generator().manual_seed(seed))
        band = scene.layers[1]
        assert band.shape["rx"] > 96 and band.shape["ry"] < band.shape["rx"] / 2
        axis = torch.tensor([torch.cos(torch.tensor(band.angle0)), torch.sin(torch.tensor(band.angle0))])
        speed = band.velocity.norm()
        assert speed > 0 and abs(float(band.velocity @ axis)) > 0.99 * speed
        # flat but for a few textured details
        tex = band.texture
        busy = (tex - tex.median(-1, keepdim=True).values.median(-2, keepdim=True).values).abs().amax(0) > 0.1
        assert 0 < busy.float().mean() < 0.2
    # the labels stay exact: the band's pixels warp back by their flow
    s = fl.sample(torch.Generator().manual_seed(1))
    warped = backward_warp(s["image1"][None], s["flow01"][None])[0]
    valid = s["valid01"][0]
    assert (warped - s["image0"]).abs().mean(0)[valid].mean() < 0.01
    with pytest.raises(ValueError, match="band_prob"):
        FlyingLayers(band_prob=-0.1)
