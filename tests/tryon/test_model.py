"""The try-on networks: compositions, warping, discriminator shapes, every registered variant."""

from __future__ import annotations

import math

import pytest
import torch

from vivid.core.registry import create_model, list_models
from vivid.tryon.inputs import POSE_CHANNELS, background_sequence, keypoint_maps, part_maps, tryon_region
from vivid.tryon.losses import (L1All, L1Region, TemporalDiscriminator, generator_gan_loss, GeneratorGanLoss, l1_all, l1_region,
                                load_vgg_features)
from vivid.tryon.model import MAX_OFFSET, AppearanceFlowWarper, TryonNet, compose, placement_grid


def test_compositions_on_hand_built_masks():
    I_r, C, A = torch.full((1, 3, 2, 2), 0.2), torch.full((1, 3, 2, 2), 0.9), torch.full((1, 3, 2, 2), 0.5)
    m_c = torch.tensor([[[[1.0, 0.0], [0.5, 0.0]]]])
    m_a = torch.tensor([[[[0.0, 0.0], [0.0, 1.0]]]])
    masked, out = compose(I_r, m_c, C, A, m_a)
    torch.testing.assert_close(masked[0, 0], torch.tensor([[0.9, 0.2], [0.55, 0.2]]))
    torch.testing.assert_close(out[0, 0], torch.tensor([[0.9, 0.2], [0.55, 0.5]]))


def test_background_sequence_fills_the_region_with_a_constant():
    frames = torch.rand(2, 3, 4, 4)
    region = torch.zeros(2, 4, 4, dtype=torch.bool)
    region[:, 1:3, 1:3] = True
    A, m_a = background_sequence(frames, region)
    assert torch.all(A[:, :, 1:3, 1:3] == 0.5) and torch.equal(A[:, :, 0], frames[:, :, 0])
    assert m_a.shape == (2, 1, 4, 4) and m_a[0, 0, 1, 1] == 0 and m_a[0, 0, 0, 0] == 1


def test_pose_maps_and_region():
    j = torch.zeros(17, 2)
    j[3] = torch.tensor([5.0, 2.0])
    maps = keypoint_maps(j, torch.ones(17), 8, 10)
    assert maps.shape == (17, 8, 10) and maps[3, 2, 5] == 1.0 and maps[3].argmax() == 2 * 10 + 5
    parts = torch.zeros(8, 8, dtype=torch.long)
    parts[4, 4] = 2  # torso
    assert part_maps(parts)[1, 4, 4] == 1 and part_maps(parts).sum() == 1
    region = tryon_region(parts, torch.zeros(8, 8, dtype=torch.bool), "upper", grow=1)
    assert region.sum() == 9 and not tryon_region(parts, torch.zeros(8, 8, dtype=torch.bool), "lower", grow=1).any()


def test_warping_a_hand_built_shift():
    warper = AppearanceFlowWarper(4)
    H, W = 8, 12
    with torch.no_grad():  # a constant flow of one pixel to the right, fully visible
        warper.net.out.bias.copy_(torch.tensor([math.atanh(2.0 / (W - 1) / MAX_OFFSET), 0.0, 20.0]))
    flat = torch.rand(1, 3, H, W)
    warped, mask = warper(flat, torch.ones(1, 1, H, W), torch.zeros(1, 2, POSE_CHANNELS, H, W))
    torch.testing.assert_close(warped[0, 0, :, :, : W - 1], flat[0, :, :, 1:], atol=1e-5, rtol=0)
    assert torch.all(mask[0, :, :, :, -1] == 0)  # sampled beyond the garment's edge


def test_the_warper_places_the_flat_garment_on_the_try_on_region():
    # a flat garment filling the middle of its image, a try-on region in a corner of the frame:
    # before any training (zero flow) the warped mask fills the region's box and nothing else
    H, W = 32, 24
    flat_mask = torch.zeros(1, 1, H, W)
    flat_mask[..., 4:28, 2:22] = 1
    region = torch.zeros(1, 1, 1, H, W)
    region[..., 2:10, 14:22] = 1
    flat = torch.rand(1, 3, H, W)
    warped, mask = AppearanceFlowWarper(4)(flat, flat_mask, torch.zeros(1, 1, POSE_CHANNELS, H, W), region)
    inside = mask[0, 0, 0, 2:10, 14:22]
    assert inside.min() > 0.9
    assert mask[0, 0, 0].sum().item() == pytest.approx(inside.sum().item(), abs=1e-4)  # none outside the region
    # the box corners map onto the garment's box corners
    grid = placement_grid(flat_mask, region[:, 0])
    to_px = lambda g, n: (g + 1) / 2 * (n - 1)  # noqa: E731
    assert to_px(grid[0, 2, 14, 0], W).item() == pytest.approx(2, abs=1e-4)
    assert to_px(grid[0, 2, 14, 1], H).item() == pytest.approx(4, abs=1e-4)
    assert to_px(grid[0, 9, 21, 0], W).item() == pytest.approx(21, abs=1e-4)
    assert to_px(grid[0, 9, 21, 1], H).item() == pytest.approx(27, abs=1e-4)


def test_the_warper_flow_is_bounded_so_the_garment_cannot_leave_the_frame():
    # an unbounded flow once pushed the whole garment off the frame, where its mask is zero and
    # no gradient brings it back; a huge flow output must move it by MAX_OFFSET at most
    H, W = 32, 24
    warper = AppearanceFlowWarper(4)
    with torch.no_grad():
        warper.net.out.bias.copy_(torch.tensor([100.0, 100.0, 20.0]))
    flat_mask = torch.zeros(1, 1, H, W)
    flat_mask[..., 4:28, 2:22] = 1
    warped, mask = warper(torch.rand(1, 3, H, W), flat_mask, torch.zeros(1, 1, POSE_CHANNELS, H, W))
    # rows 4..27 move up by MAX_OFFSET / 2 * (H - 1) = 3.9 pixels: to about 0..23
    m = mask[0, 0, 0]
    assert m[1:23, 2:18].min() > 0.9 and m[25:].sum() == 0


def test_the_decoder_passes_the_attention_output_even_when_its_units_are_pushed_off():
    # the decoder must not go dead (once every ReLU of the upsampling path stopped firing, the
    # output no longer depended on the MPDT blocks, and full and per-frame models became equal)
    torch.manual_seed(0)
    model = TryonNet(channels=16, blocks=1, prep_width=4)
    with torch.no_grad():
        for m in model.up.modules():
            if isinstance(m, torch.nn.Conv2d):
                m.bias.fill_(-50.0)
    B, T, H, W = 1, 2, 32, 32
    pose = torch.rand(B, T, POSE_CHANNELS, H, W, requires_grad=True)
    m_a = torch.ones(B, T, 1, H, W)
    m_a[..., 8:24, 8:24] = 0
    w_mask = 1 - m_a
    out = model(pose, torch.rand(B, T, 3, H, W), m_a, torch.rand(B, T, 3, H, W) * w_mask, w_mask)
    out.output.sum().backward()
    assert pose.grad.abs().sum() > 0  # the pose reaches the output only through the blocks' attention


def test_temporal_discriminator_shapes():
    d = TemporalDiscriminator(8)
    logits, feats = d(torch.rand(2, 5, 3, 32, 24), features=True)
    assert logits.shape == (2, 1, 5, 4, 3) and [f.shape[1] for f in feats] == [8, 16, 32]
    with pytest.raises(ValueError):
        d(torch.rand(2, 3, 32, 24))


def test_losses_function_and_module_agree():
    a, b = torch.rand(1, 2, 3, 4, 4), torch.rand(1, 2, 3, 4, 4)
    region = torch.zeros(1, 2, 1, 4, 4)
    region[..., 0, 0] = 1
    assert L1All()(a, b) == l1_all(a, b)
    assert L1Region()(a, b, region) == l1_region(a, b, region)
    torch.testing.assert_close(l1_region(a, b, region), (a - b)[..., 0, 0].abs().mean())
    logits = torch.randn(2, 1, 3, 2, 2)
    assert GeneratorGanLoss()(logits) == generator_gan_loss(logits)


def test_vgg_loader_reads_a_torchvision_style_state_dict(tmp_path):
    from safetensors.torch import save_file

    from vivid.core.errors import VividError
    from vivid.tryon.losses import VGGFeatures

    state = {f"features.{k}": v for k, v in VGGFeatures().features.state_dict().items()}
    save_file(state, str(tmp_path / "vgg.safetensors"))
    vgg = load_vgg_features(tmp_path / "vgg.safetensors")
    assert [f.shape[1] for f in vgg(torch.rand(1, 2, 3, 32, 32))] == [64, 128, 256, 512]
    with pytest.raises(VividError):
        load_vgg_features(tmp_path / "missing.pth")


@pytest.mark.parametrize("name", list_models("tryon"))
def test_each_variant_runs_and_backpropagates(name):
    torch.manual_seed(0)
    model = create_model(name)
    B, T, H, W = 1, 2, 64, 64
    pose, A = torch.rand(B, T, POSE_CHANNELS, H, W), torch.rand(B, T, 3, H, W)
    m_a = (torch.rand(B, T, 1, H, W) > 0.5).float()
    warped, w_mask = model.warper(torch.rand(B, 3, H, 48), torch.ones(B, 1, H, 48), pose)
    out = model(pose, A, m_a, warped, w_mask)
    assert out.output.shape == (B, T, 3, H, W) and out.garment_mask.shape == (B, T, 1, H, W)
    assert torch.isfinite(out.output).all()
    # where m_a = 1 the output is the background
    torch.testing.assert_close(out.output * m_a, A * m_a)
    out.output.mean().backward()
    with pytest.raises(ValueError):
        model.check_size(64, 48)
