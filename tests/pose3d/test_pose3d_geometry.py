"""Coordinates, bones and losses of the 3D pose method on hand-worked cases."""

from __future__ import annotations

import math

import pytest
import torch

from vivid.pose3d.bones import BONES, DEFAULT_BONE_LENGTHS, H36M_BONE_LENGTHS, H36M_BONE_LENGTHS_MM, bone_lengths, mean_bone_lengths
from vivid.pose3d.coords import (
    back_project,
    decode,
    estimate_root_depth,
    hard_argmax,
    heatmap_to_image,
    image_to_heatmap,
    project_points,
    read_depth,
    root_relative,
    sample_maps,
    soft_argmax,
)
from vivid.pose3d.losses import (
    DepthLoss,
    Euclidean2DLoss,
    GeometricLoss,
    HeatmapLoss,
    depth_loss,
    euclidean_2d_loss,
    gaussian_heatmaps,
    geometric_loss,
    heatmap_loss,
)

REF = torch.tensor(DEFAULT_BONE_LENGTHS)


def skeleton_with_lengths(lengths: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """(17, 3) skeleton whose bones have exactly ``lengths`` (random directions)."""
    g = torch.Generator().manual_seed(seed)
    joints = torch.zeros(17, 3, dtype=torch.float64)
    for b, (p, c) in enumerate(BONES):  # parents always come before children in BONES
        d = torch.randn(3, generator=g, dtype=torch.float64)
        joints[c] = joints[p] + lengths[b].double() * d / d.norm()
    return joints


def intrinsics(f: float = 100.0, c: float = 47.5) -> torch.Tensor:
    return torch.tensor([[f, 0.0, c], [0.0, f, c], [0.0, 0.0, 1.0]], dtype=torch.float64)


# ----------------------------------------------------------------------------- bones


def test_bone_lengths_of_built_skeleton():
    lengths = REF * torch.linspace(0.8, 1.2, 16)
    joints = skeleton_with_lengths(lengths)
    assert torch.allclose(bone_lengths(joints).float(), lengths, atol=1e-6)
    stacked = torch.stack([joints, joints * 2])
    assert torch.allclose(mean_bone_lengths(stacked.float()), lengths * 1.5, atol=1e-5)


def test_mean_bone_lengths_skips_nonfinite_rows():
    joints = skeleton_with_lengths(REF).float()
    bad = joints.clone()
    bad[3, 0] = float("nan")
    assert torch.allclose(mean_bone_lengths(torch.stack([joints, bad])), REF, atol=1e-5)


# ----------------------------------------------------------------------------- geometric loss


@pytest.mark.parametrize("variant", ["batch", "per_image_sets"])
def test_geometric_loss_equal_ratios_is_zero(variant):
    joints = skeleton_with_lengths(REF * 1.3).unsqueeze(0)
    assert geometric_loss(joints, REF.double(), variant=variant).item() == pytest.approx(0.0, abs=1e-12)


def test_geometric_loss_per_image_sets_worked_case():
    # Legs: ratios (2, 1, 1, 1) -> mean 1.25, squared deviations 0.5625 + 3 * 0.0625 = 0.75, / 4 = 0.1875.
    # Arms: ratios (1, 2, 1, 2) -> mean 1.5, deviations 0.25 each, sum 1.0, / 4 = 0.25.
    ratios = torch.ones(16, dtype=torch.float64)
    ratios[1] = 2.0  # r_thigh
    ratios[12] = 2.0  # l_forearm
    ratios[15] = 2.0  # r_forearm
    joints = skeleton_with_lengths(REF.double() * ratios).unsqueeze(0)
    sets = dict(variant="per_image_sets")
    assert geometric_loss(joints, REF.double(), **sets).item() == pytest.approx(0.4375, abs=1e-9)
    # Batch mean with an image whose ratios are all equal.
    equal = skeleton_with_lengths(REF.double() * 0.9, seed=3).unsqueeze(0)
    batch = torch.cat([joints, equal])
    assert geometric_loss(batch, REF.double(), **sets).item() == pytest.approx(0.4375 / 2, abs=1e-9)
    # Dropping the odd leg bone leaves three equal leg ratios: only the arms remain.
    weight = torch.ones(1, 16)
    weight[0, 1] = 0
    assert geometric_loss(joints, REF.double(), weight, **sets).item() == pytest.approx(0.25, abs=1e-9)
    assert GeometricLoss("per_image_sets")(joints, REF.double()).item() == pytest.approx(0.4375, abs=1e-9)


def test_geometric_loss_batch_worked_case():
    # One image, ratios 2 on three of 16 bones and 1 elsewhere: mean 19/16, deviations
    # (13/16)^2 three times and (3/16)^2 thirteen times: (3 * 169 + 13 * 9) / 256 / 16 = 0.15234375.
    ratios = torch.ones(16, dtype=torch.float64)
    ratios[[1, 12, 15]] = 2.0
    joints = skeleton_with_lengths(REF.double() * ratios).unsqueeze(0)
    assert geometric_loss(joints, REF.double()).item() == pytest.approx(0.15234375, abs=1e-9)
    assert GeometricLoss()(joints, REF.double()).item() == pytest.approx(0.15234375, abs=1e-9)
    # The mean ratio is shared by the whole batch: two people with uniform but different scales
    # (ratios 1 and 1.5: mean 1.25, every deviation 0.25) cost 0.0625; per image they cost nothing.
    pair = torch.stack([skeleton_with_lengths(REF.double()), skeleton_with_lengths(REF.double() * 1.5, seed=2)])
    assert geometric_loss(pair, REF.double()).item() == pytest.approx(0.0625, abs=1e-9)
    assert geometric_loss(pair, REF.double(), variant="per_image_sets").item() == pytest.approx(0.0, abs=1e-12)
    # Weight 0 drops a bone from the batch's mean and count: only the equal ratios remain.
    weight = torch.ones(1, 16)
    weight[0, [1, 12, 15]] = 0
    assert geometric_loss(joints, REF.double(), weight).item() == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="variant"):
        geometric_loss(joints, REF.double(), variant="sets")


@pytest.mark.parametrize("variant", ["batch", "per_image_sets"])
def test_geometric_loss_gradcheck(variant):
    joints = torch.stack([skeleton_with_lengths(REF * torch.linspace(0.9, 1.1, 16)), skeleton_with_lengths(REF * 1.2, seed=4)])
    joints.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda j: geometric_loss(j, REF.double(), variant=variant), (joints,))


def test_h36m_reference_lengths_are_the_published_table_in_metres():
    assert len(H36M_BONE_LENGTHS) == len(BONES)
    assert torch.allclose(torch.tensor(H36M_BONE_LENGTHS) * 1000, torch.tensor(H36M_BONE_LENGTHS_MM), atol=1e-9)
    named = dict(zip(("r_thigh", "r_shin", "l_upper_arm", "head"), (1, 2, 11, 9)))
    assert H36M_BONE_LENGTHS_MM[named["r_thigh"]] == 442.89 and H36M_BONE_LENGTHS_MM[named["r_shin"]] == 454.21
    assert H36M_BONE_LENGTHS_MM[named["l_upper_arm"]] == 278.88 and H36M_BONE_LENGTHS_MM[named["head"]] == 115.00


# ----------------------------------------------------------------------------- 2D decoding


def test_soft_argmax_recovers_subpixel_peak():
    peaks = torch.tensor([[[6.25, 6.4], [10.0, 8.75]]], dtype=torch.float64)
    target = gaussian_heatmaps(peaks, (16, 20), sigma=1.2)
    coords, probs = soft_argmax(target.log())
    assert torch.allclose(coords, peaks, atol=1e-6)
    assert torch.allclose(probs.flatten(2).sum(-1), torch.ones(1, 2, dtype=torch.float64))
    assert torch.equal(hard_argmax(target.log()), torch.tensor([[[6.0, 6.0], [10.0, 9.0]]], dtype=torch.float64))


def test_soft_argmax_batch_equals_per_item():
    logits = torch.randn(3, 5, 8, 9)
    coords, _ = soft_argmax(logits, beta=2.0)
    for i in range(3):
        one, _ = soft_argmax(logits[i : i + 1], beta=2.0)
        assert torch.allclose(coords[i], one[0], atol=1e-6)


def test_soft_argmax_gradcheck():
    logits = torch.randn(1, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: soft_argmax(x)[0], (logits,))


def test_depth_readout_and_sampling():
    probs = torch.zeros(1, 1, 4, 4)
    probs[0, 0, 1, 2] = 0.25
    probs[0, 0, 3, 0] = 0.75
    depth = torch.arange(16.0).view(1, 1, 4, 4)
    assert read_depth(depth, probs).item() == pytest.approx(0.25 * 6 + 0.75 * 12)
    # Bilinear halfway between pixels (x=1, y=2) = 9 and (x=2, y=2) = 10.
    assert sample_maps(depth, torch.tensor([[[1.5, 2.0]]])).item() == pytest.approx(9.5)


def test_heatmap_image_coordinates_round_trip():
    uv = torch.tensor([[0.0, 0.0], [1.5, 95.0]])
    assert torch.allclose(image_to_heatmap(heatmap_to_image(uv, 4), 4), uv)
    # Heatmap cell 0 with stride 4 covers input pixels 0..3, centre 1.5.
    assert heatmap_to_image(torch.zeros(2), 4).tolist() == [1.5, 1.5]


# ----------------------------------------------------------------------------- 3D


def test_back_projection_inverts_projection():
    g = torch.Generator().manual_seed(1)
    pts = torch.randn(2, 17, 3, generator=g, dtype=torch.float64) * 0.5
    pts[..., 2] += 4.0
    K = torch.stack([intrinsics(100, 47.5), intrinsics(80, 40.0)])
    K[1, 0, 1] = 0.5  # skew
    uv = project_points(pts, K)
    assert torch.allclose(back_project(uv, pts[..., 2], K), pts, atol=1e-10)
    # Hand value: a point on the optical axis lands on the principal point.
    axis = project_points(torch.tensor([[[0.0, 0.0, 3.0]]], dtype=torch.float64), K[:1])
    assert torch.allclose(axis, torch.tensor([[[47.5, 47.5]]], dtype=torch.float64))


def test_root_depth_recovered_for_reference_sized_skeleton():
    joints = skeleton_with_lengths(REF, seed=5)
    joints = joints - joints[0] + torch.tensor([0.1, -0.2, 3.5], dtype=torch.float64)
    K = intrinsics().unsqueeze(0)
    uv = project_points(joints.unsqueeze(0), K)
    rel = (joints[:, 2] - joints[0, 2]).unsqueeze(0)
    z = estimate_root_depth(uv, rel, K, REF.double())
    assert z.item() == pytest.approx(3.5, abs=1e-8)


def test_decode_recovers_skeleton_from_ideal_maps():
    joints = skeleton_with_lengths(REF, seed=7)
    joints = joints - joints[0] + torch.tensor([0.0, 0.0, 5.0], dtype=torch.float64)
    K = intrinsics(f=90.0, c=47.5).unsqueeze(0)
    uv = project_points(joints.unsqueeze(0), K)
    hm = gaussian_heatmaps(image_to_heatmap(uv, 4), (24, 24), sigma=1.0).log()
    rel = (joints[:, 2] - joints[0, 2]).view(1, 17, 1, 1).expand(1, 17, 24, 24)
    out = decode(hm, rel, K, REF.double(), stride=4)
    # Joints near the crop border are slightly pulled inwards by the truncated Gaussians.
    inside = ((uv > 4) & (uv < 91)).all(-1)[0]
    assert torch.allclose(out.joints2d[0, inside], uv[0, inside], atol=1e-3)
    assert torch.allclose(out.joints3d_rel[0, inside], root_relative(joints)[inside], atol=0.02)
    out_known = decode(hm, rel, K, REF.double(), stride=4, root_depth=torch.tensor([5.0], dtype=torch.float64))
    assert torch.allclose(out_known.joints3d[0, inside], joints[inside], atol=0.02)
    assert out.confidence.shape == (1, 17) and bool((out.confidence > 0.4).all())
    arg = decode(hm, rel, K, REF.double(), stride=4, mode="argmax")
    assert (arg.joints2d - uv).abs().max() <= 2.0 + 1e-6  # within half a heatmap cell
    with pytest.raises(ValueError):
        decode(hm, rel, K, REF.double(), stride=4, mode="nearest")


# ----------------------------------------------------------------------------- other losses


def test_heatmap_loss_zero_at_target_and_module_agrees():
    coords = torch.tensor([[[3.0, 4.0], [5.5, 2.0]]])
    target = gaussian_heatmaps(coords, (8, 8), sigma=1.0)
    assert heatmap_loss(target.log(), coords, sigma=1.0).item() == pytest.approx(0.0, abs=1e-5)
    logits = torch.randn(1, 2, 8, 8)
    w = torch.tensor([[1.0, 0.0]])
    assert heatmap_loss(logits, coords, w).item() > 0
    assert torch.allclose(HeatmapLoss(1.0)(logits, coords, w), heatmap_loss(logits, coords, w))
    # The masked joint does not count: only joint 0 decides the value.
    assert torch.allclose(heatmap_loss(logits, coords, w), heatmap_loss(logits[:, :1], coords[:, :1]))


def test_euclidean_and_depth_losses_hand_values():
    pred = torch.tensor([[[0.0, 0.0], [3.0, 4.0]]])
    target = torch.zeros(1, 2, 2)
    assert euclidean_2d_loss(pred, target).item() == pytest.approx(2.5, abs=1e-4)
    assert Euclidean2DLoss()(pred, target, torch.tensor([[0.0, 1.0]])).item() == pytest.approx(5.0, abs=1e-6)
    d = torch.tensor([[0.1, -0.2, 0.0]])
    assert depth_loss(d, torch.zeros(1, 3)).item() == pytest.approx((0.01 + 0.04) / 3)
    assert DepthLoss()(d, torch.zeros(1, 3), torch.tensor([[0.0, 1.0, 0.0]])).item() == pytest.approx(0.04)
    with pytest.raises(ValueError):
        depth_loss(d, torch.zeros(1, 4))


def test_gaussian_heatmaps_hand_value():
    hm = gaussian_heatmaps(torch.tensor([[[1.0, 1.0]]]), (3, 3), sigma=1.0)
    w = torch.tensor([math.exp(-0.5), 1.0, math.exp(-0.5)])
    expect = torch.outer(w, w)
    assert torch.allclose(hm[0, 0], expect / expect.sum(), atol=1e-6)
