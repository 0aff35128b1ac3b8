"""Depth-aware flow projection on hand-built cases."""

from __future__ import annotations

import pytest
import torch

from vivid.interp.projection import FlowProjection, fill_holes, linear_flow_t, project_flow, splat


def _square_scene(near: float = 10.0):
    """A 4x4 square at rows 4-7, columns 4-7 moving right by 4 px over a static background."""
    h, w = 12, 16
    flow = torch.zeros(1, 2, h, w)
    flow[0, 0, 4:8, 4:8] = 4.0
    inv = torch.ones(1, 1, h, w)
    inv[0, 0, 4:8, 4:8] = near
    return flow, inv


def test_square_lands_at_the_right_place_and_nearer_wins():
    flow, inv = _square_scene()
    ft0 = project_flow(flow, 0.5, inv)
    # At t = 0.5 the square covers columns 6-9: pointing back by 2 px to frame 0.
    assert torch.allclose(ft0[0, 0, 4:8, 6:8], torch.full((4, 2), -2.0))
    # Columns 8-9 also receive the static background (its own pixels there): inverse-depth
    # weighting gives (10 * -2 + 1 * 0) / 11, close to the near square's -2.
    assert torch.allclose(ft0[0, 0, 4:8, 8:10], torch.full((4, 2), -20.0 / 11.0), atol=1e-5)
    # Without depth both weigh the same and the average is -1: depth is what makes the square win.
    flat = project_flow(flow, 0.5, None)
    assert torch.allclose(flat[0, 0, 4:8, 8:10], torch.full((4, 2), -1.0), atol=1e-5)
    # A sharper depth weighting makes the nearer object win outright.
    sharp = project_flow(flow, 0.5, inv, depth_power=8.0)
    assert torch.allclose(sharp[0, 0, 4:8, 8:10], torch.full((4, 2), -2.0), atol=1e-6)
    # The static background elsewhere stays at zero flow, and vertical flow stays zero.
    assert ft0[0, 0, :4].abs().max() == 0 and ft0[0, 1].abs().max() == 0
    assert ft0[0, 0, 4:8, 10:].abs().max() == 0


def test_holes_are_filled_from_neighbours():
    flow, inv = _square_scene()
    ft0 = project_flow(flow, 0.5, inv)
    # Columns 4-5 of the square rows receive no source (the square left, the background behind
    # it was hidden at t = 0): filled with values between those of their neighbours.
    hole = ft0[0, 0, 4:8, 4:6]
    assert torch.isfinite(hole).all()
    assert (hole <= 0).all() and (hole >= -2.0).all()
    assert hole.min() < 0  # something was filled in from the moving square next to it


def test_splat_conserves_weight_and_gradcheck():
    values = torch.rand(1, 2, 5, 6)
    flow = torch.zeros(1, 2, 5, 6)
    flow[:, 0] = 0.25  # stays inside except the last column
    flow[:, 0, :, -1] = -0.25
    weight = torch.ones(1, 1, 5, 6)
    _, den = splat(values, flow, weight)
    assert den.sum().item() == pytest.approx(30.0, abs=1e-5)
    v = torch.rand(1, 1, 4, 5, dtype=torch.float64, requires_grad=True)
    f = (0.3 + 0.4 * torch.rand(1, 2, 4, 5, dtype=torch.float64)).requires_grad_()
    wgt = (0.5 + torch.rand(1, 1, 4, 5, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b, c: splat(a, b, c)[0], (v, f, wgt))


def test_project_flow_gradients_reach_flow_and_depth():
    flow = (torch.randn(1, 2, 8, 8) * 1.3).requires_grad_()
    inv = (0.5 + torch.rand(1, 1, 8, 8)).requires_grad_()
    project_flow(flow, 0.4, inv).square().sum().backward()
    assert flow.grad.abs().sum() > 0 and inv.grad.abs().sum() > 0


def test_fill_holes_keeps_valid_and_fills_constant():
    values = torch.full((1, 2, 9, 7), 3.0)
    valid = torch.ones(1, 1, 9, 7)
    valid[..., 2:6, 1:5] = 0
    values[..., 2:6, 1:5] = -100.0
    out = fill_holes(values, valid)
    assert torch.allclose(out, torch.full_like(out, 3.0))


def test_linear_flow_t_hand_values():
    f01 = torch.zeros(1, 2, 3, 3)
    f01[:, 0] = 2.0
    ft0, ft1 = linear_flow_t(f01, -f01, 0.5)
    assert torch.allclose(ft0[:, 0], torch.full((1, 3, 3), -1.0))
    assert torch.allclose(ft1[:, 0], torch.full((1, 3, 3), 1.0))


def test_module_batches_both_directions():
    flow, inv = _square_scene()
    proj = FlowProjection(True)
    ft0, ft1 = proj(flow, -flow, 0.5, inv, inv)
    assert torch.allclose(ft0, project_flow(flow, 0.5, inv))
    assert torch.allclose(ft1, project_flow(-flow, 0.5, inv))


def test_splat_in_half_precision_lands_like_float32_on_a_wide_image():
    """Pixel coordinates above 2048 and flat indices above 65504 are exact however the inputs come."""
    from vivid.interp.projection import splat

    h, w = 40, 2100
    values = torch.zeros(1, 1, h, w)
    values[0, 0, 35, 2090] = 1.0
    flow = torch.zeros(1, 2, h, w)
    flow[0, 0, 35, 2090] = 3.0  # moves right by 3 px, to column 2093
    weight = torch.ones(1, 1, h, w)
    acc32, _ = splat(values, flow, weight)
    acc16, _ = splat(values.half(), flow.half(), weight.half())
    assert acc16.dtype == torch.float16
    assert acc32[0, 0, 35, 2093] == 1.0 and acc16[0, 0, 35, 2093] == 1.0
    assert torch.equal(acc16.float(), acc32)
