"""Each loss against a hand value, and function and Module agreeing."""

from __future__ import annotations

import pytest
import torch

from vivid.face3d import losses as L


def test_vertex_loss_of_a_known_offset():
    a = torch.rand(2, 50, 3)
    b = a + torch.tensor([0.003, 0.004, 0.0])
    assert L.vertex_loss(a, b) == pytest.approx(0.005, abs=1e-6)
    w = torch.zeros(50)
    w[:10] = 1
    b2 = b.clone()
    b2[:, 10:] += 1.0  # outside the weighted region: ignored
    assert L.vertex_loss(a, b2, w) == pytest.approx(0.005, abs=1e-6)
    assert L.VertexLoss()(a, b) == L.vertex_loss(a, b)


def test_normal_loss_zero_for_identical_meshes_and_two_for_flipped(fm):
    v = fm.mean_shape[None]
    n = fm.normals(v)
    assert float(L.normal_loss(n, n)) == pytest.approx(0.0, abs=1e-6)
    assert float(L.normal_loss(n, -n)) == pytest.approx(2.0, abs=1e-5)
    assert L.NormalLoss()(n, -n) == L.normal_loss(n, -n)


def test_photometric_loss_hand_value():
    render = torch.zeros(1, 3, 2, 2)
    image = torch.zeros(1, 3, 2, 2)
    image[0, :, 0, 0] = torch.tensor([0.3, 0.4, 0.0])  # colour distance 0.5 at one masked pixel
    image[0, :, 1, 1] = 1.0  # unmasked: ignored
    mask = torch.tensor([[[1.0, 1.0], [0.0, 0.0]]])
    assert float(L.photometric_loss(render, image, mask)) == pytest.approx(0.25, abs=1e-4)
    assert L.PhotometricLoss()(render, image, mask) == L.photometric_loss(render, image, mask)


def test_landmark_loss_hand_value_and_weights():
    pred = torch.zeros(1, 2, 2)
    target = torch.tensor([[[3.0, 4.0], [100.0, 0.0]]])
    w = torch.tensor([[1.0, 0.0]])
    assert float(L.landmark_loss(pred, target, w)) == pytest.approx(25.0)
    assert float(L.landmark_loss(pred, target, w, size=5.0)) == pytest.approx(1.0)
    assert L.LandmarkLoss(size=5.0)(pred, target, w) == L.landmark_loss(pred, target, w, 5.0)


def test_heatmap_loss_is_lowest_at_the_landmark():
    size, h = 16, 8
    lm = torch.tensor([[[6.0, 10.0]]])
    w = torch.ones(1, 1)
    at = torch.full((1, 1, h, h), -10.0)
    at[0, 0, 5, 3] = 10.0  # heatmap pixel of crop pixel (6, 10) at 1/2 scale: x 3, y 5
    off = torch.full((1, 1, h, h), -10.0)
    off[0, 0, 0, 0] = 10.0
    assert L.heatmap_loss(at, lm, w, size) < L.heatmap_loss(off, lm, w, size)


def test_bad_shapes_raise():
    with pytest.raises(ValueError):
        L.vertex_loss(torch.zeros(1, 3, 3), torch.zeros(1, 4, 3))
    with pytest.raises(ValueError):
        L.landmark_loss(torch.zeros(1, 3, 2), torch.zeros(1, 3, 3))
