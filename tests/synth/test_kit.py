"""Garment texture coordinates, the back seam, albedo regions and camera framing, by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vivid.synth.cameras import bounding_sphere, framing_distance
from vivid.synth.kit import garment_uv, seamless_uv


def test_garment_uv_hand_worked_values():
    heights = {"upperleg01.L": 1.0, "upperarm01.L": 1.5, "lowerleg01.L": 0.5}
    # v = 0 just below the hips (z_hip - 0.04), 1 just above the shoulders (z_sh + 0.08)
    rest = torch.tensor([[0.0, -1.0, 0.96], [1.0, 0.0, 1.58], [0.0, 1.0, 1.27], [-1.0, 0.0, 0.96]])
    uv = garment_uv(rest, heights)
    # front centre (-y) u = 0.5, the body's left (+x) 0.75, the back 1.0 (= 0), the right 0.25
    expected = torch.tensor([[0.5, 0.0], [0.75, 1.0], [1.0, 0.5], [0.25, 0.0]])
    assert uv.dtype == torch.float32 and torch.allclose(uv, expected, atol=1e-6)


def test_seamless_uv_splits_the_faces_across_the_back_seam():
    uv = torch.tensor([[0.95, 0.5], [0.05, 0.5], [0.5, 0.5], [0.02, 0.6], [0.7, 0.4]])
    faces = torch.tensor([[0, 1, 3], [2, 0, 4]])
    table, uv_faces = seamless_uv(uv, faces)
    # the first face straddles u = 0/1: its corners at u < 0.5 get new entries at u + 1
    assert uv_faces.tolist() == [[0, 5, 6], [2, 0, 4]]
    full = torch.cat([uv, uv[[1, 3]] + torch.tensor([1.0, 0.0])])
    assert torch.allclose(table, full * torch.tensor([0.5, 1.0]))
    spans = table[uv_faces, 0].amax(1) - table[uv_faces, 0].amin(1)
    assert (spans < 0.25).all()  # no face spans the texture any more
    assert faces.tolist() == [[0, 1, 3], [2, 0, 4]]  # the input is left alone


def test_framing_distance_and_bounding_sphere_hand_worked():
    # square image, 90 degrees: the sphere fills the view at r / sin(45 deg) = r sqrt(2)
    assert framing_distance(2.0, 90.0, 64, 64) == pytest.approx(2.0 * math.sqrt(2.0))
    # 2:1 image, 90 degrees across the width: half the narrow view is atan(0.5), distance r sqrt(5)
    assert framing_distance(1.0, 90.0, 50, 100) == pytest.approx(math.sqrt(5.0))
    assert framing_distance(1.0, 90.0, 100, 50) == pytest.approx(math.sqrt(5.0))
    centre, radius = bounding_sphere(torch.tensor([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 4.0, 0.0]]))
    np.testing.assert_allclose(centre, [1.0, 2.0, 0.0])
    assert centre.dtype == np.float64 and radius == pytest.approx(math.sqrt(5.0))


def test_albedo_regions_of_the_body(kit):
    from vivid.core.body import PART_NAMES

    parts = kit.model.vertex_parts.cpu()
    regions = kit.regions
    assert set(regions.unique().tolist()) == {0, 1, 2, 3, 4, 5}
    feet = torch.isin(parts, torch.tensor([PART_NAMES.index("left_foot"), PART_NAMES.index("right_foot")]))
    assert (regions[feet] == 2).all()
    assert (parts[regions == 3] == PART_NAMES.index("head")).all()  # hair only on the head
    arms = torch.isin(parts, torch.tensor([PART_NAMES.index(n) for n in PART_NAMES if "arm" in n or "hand" in n]))
    assert (regions[arms] == 0).all()  # skin
