"""Garments with their own geometry: shells skinned with the body, cones following the legs, a
swap that changes the outline, and the pair's invariants."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vivid.core.errors import VividError
from vivid.synth.garments import (CATEGORIES, GarmentPairs, GarmentShape, _kabsch, build_garment, category_of, fabric_from_photo,
                                  pose_garment)


def test_kabsch_recovers_a_rigid_motion():
    g = torch.Generator().manual_seed(0)
    src = torch.randn(5, 8, 3, generator=g, dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(5, 3, 3, generator=g, dtype=torch.float64))
    R = q * torch.sign(torch.det(q))[:, None, None]  # proper rotations
    t = torch.randn(5, 3, generator=g, dtype=torch.float64)
    dst = src @ R.transpose(-1, -2) + t[:, None]
    R2, t2 = _kabsch(src, dst)
    torch.testing.assert_close(R2, R)
    torch.testing.assert_close(t2, t)


def test_shell_sits_off_the_skin_and_moves_with_the_body(kit):
    from vivid.core.render import vertex_normals

    cut = GarmentShape("top", 0.02, 0.0)
    mesh = build_garment(kit, cut)
    rest = kit.model().vertices[0].detach().float()
    # in the rest pose each shell vertex lies offset metres along its body vertex's normal
    posed = pose_garment(mesh, rest, rest[None], kit.faces)
    normals = vertex_normals(rest[None], kit.faces)[0]
    torch.testing.assert_close(posed[0], rest[mesh.shell] + 0.02 * normals[mesh.shell], atol=1e-5, rtol=0)
    # a rigidly moved body carries the garment rigidly
    R = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    moved = pose_garment(mesh, rest, (rest @ R.T + torch.tensor([0.3, 0.0, 0.1]))[None], kit.faces)
    torch.testing.assert_close(moved[0], posed[0] @ R.T + torch.tensor([0.3, 0.0, 0.1]), atol=1e-4, rtol=0)


def test_cone_follows_a_rigid_body_motion_and_reaches_below_the_hips(kit):
    mesh = build_garment(kit, GarmentShape("skirt", 0.02, 0.5, flare=0.3))
    rest = kit.model().vertices[0].detach().float()
    R = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    moved = pose_garment(mesh, rest, (rest @ R.T)[None], kit.faces)
    torch.testing.assert_close(moved[0], mesh.rest @ R.T, atol=1e-4, rtol=0)
    z_hip = float(kit.rig.heads[kit.rig.index("upperleg01.L"), 2])
    assert float(mesh.rest[:, 2].min()) < z_hip - 0.2  # a skirt hangs down the thighs


def test_categories_and_bad_shapes():
    assert category_of("dress") == "full" and category_of("skirt") == "lower" and category_of("shirt") == "upper"
    assert set(CATEGORIES) == {"upper", "lower", "full"}
    with pytest.raises(VividError):
        category_of("hat")
    with pytest.raises(VividError):
        GarmentPairs(categories=("hats",))


def test_fabric_from_a_photo_wraps_without_a_seam():
    photo = np.random.default_rng(0).integers(0, 255, (80, 60, 3), dtype=np.uint8)
    tex = fabric_from_photo(photo, 32)
    assert tex.shape == (3, 32, 32)
    torch.testing.assert_close(tex[..., 0], tex[..., -1])  # mirrored: both edges meet


@pytest.fixture(scope="module")
def pair(kit):
    from vivid.synth.scenes import SceneConfig, TryonScenes

    gen = TryonScenes(SceneConfig(kind="tryon", height=80, width=64, seed=3, frames=2, motion_sources=("procedural",)))
    gen.garments = GarmentPairs(categories=("upper",))
    return gen.generate(0)


def test_pair_invariants(pair):
    s = pair
    a, b = s.image.astype(int), s.image_b.astype(int)
    outside = ~(s.mask | s.mask_b | s.garment_mask | s.garment_mask_b)
    assert np.abs(a - b)[outside].max() <= 1  # the same scene but for the garment
    assert s.garment_mask.sum() > 20 and s.flat_garment_mask.any() and s.flat_garment_b_mask.any()
    assert np.abs(s.background.astype(int) - a)[~s.mask].max() <= 1
    assert s.flow_fw.shape == (1, 80, 64, 2) and s.flow_fw_valid.mean() > 0.5
    assert int(s.category) == 0 and s.flat_garment.shape == (80, 60, 3)
    # a garment is off the skin: some of its pixels lie where the bare body would not be
    assert (s.garment_mask & ~np.isin(s.parts, [0])).any()


def test_a_swap_changes_the_outline(kit):
    from vivid.synth.scenes import SceneConfig, TryonScenes

    gen = TryonScenes(SceneConfig(kind="tryon", height=80, width=64, seed=3, frames=2, motion_sources=("procedural",)))
    gen.garments = GarmentPairs(categories=("upper", "lower", "full"))
    differs = 0
    for i in range(3):
        s = gen.generate(i)
        differs += int((s.mask != s.mask_b).sum() > 0)
    assert differs >= 1
