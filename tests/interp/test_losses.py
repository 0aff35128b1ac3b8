"""Losses against hand-worked values; function and Module agree."""

from __future__ import annotations

import math

import pytest
import torch

from vivid.interp.losses import (
    CharbonnierLoss,
    DepthOrderingLoss,
    FlowPyramidLoss,
    RaGANLoss,
    charbonnier,
    d_ra,
    depth_ordering_loss,
    endpoint_error,
    multiscale_flow_loss,
    ragan_discriminator_loss,
    ragan_generator_loss,
)


def test_charbonnier_hand_value_and_module():
    pred = torch.tensor([0.0, 3.0, 1.0, 1.0]).view(1, 1, 2, 2)
    target = torch.tensor([0.0, -1.0, 1.0, 4.0]).view(1, 1, 2, 2)
    eps = 1e-6
    expected = (eps + math.sqrt(16 + eps**2) + eps + math.sqrt(9 + eps**2)) / 4
    assert charbonnier(pred, target).item() == pytest.approx(expected, rel=1e-6)
    assert CharbonnierLoss()(pred, target).item() == pytest.approx(expected, rel=1e-6)
    mask = torch.tensor([0.0, 1.0, 0.0, 0.0]).view(1, 1, 2, 2)
    assert charbonnier(pred, target, mask=mask).item() == pytest.approx(4.0, rel=1e-6)
    with pytest.raises(ValueError):
        charbonnier(pred, target[..., :1])


def test_ragan_hand_values_and_module():
    c_real = torch.tensor([1.0, 3.0])
    c_fake = torch.tensor([0.0, 2.0])
    sig = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    # mean C(real) = 2, mean C(fake) = 1: D_Ra(real, fake) = sigmoid([0, 2]), D_Ra(fake, real) = sigmoid([-2, 0])
    assert torch.allclose(d_ra(c_real, c_fake), torch.tensor([sig(0), sig(2)]))
    g = (-math.log(1 - sig(0)) - math.log(1 - sig(2))) / 2 + (-math.log(sig(-2)) - math.log(sig(0))) / 2
    d = (-math.log(sig(0)) - math.log(sig(2))) / 2 + (-math.log(1 - sig(-2)) - math.log(1 - sig(0))) / 2
    assert ragan_generator_loss(c_real, c_fake).item() == pytest.approx(g, rel=1e-6)
    assert ragan_discriminator_loss(c_real, c_fake).item() == pytest.approx(d, rel=1e-6)
    assert RaGANLoss()(c_real, c_fake).item() == pytest.approx(g, rel=1e-6)
    assert RaGANLoss()(c_real, c_fake, for_discriminator=True).item() == pytest.approx(d, rel=1e-6)


def test_ragan_is_stable_for_large_logits():
    c_real = torch.tensor([500.0, 600.0])
    c_fake = torch.tensor([-500.0, -400.0])
    assert torch.isfinite(ragan_generator_loss(c_real, c_fake))
    assert ragan_discriminator_loss(c_real, c_fake).item() == pytest.approx(0.0, abs=1e-6)


def test_endpoint_error_and_pyramid_loss():
    pred = torch.zeros(1, 2, 2, 2)
    target = torch.zeros(1, 2, 2, 2)
    target[:, 0] = 3.0
    target[:, 1] = 4.0
    assert endpoint_error(pred, target).item() == pytest.approx(5.0)
    flow = torch.randn(2, 2, 16, 16)
    exact = [torch.nn.functional.avg_pool2d(flow, f) / f for f in (8, 4)]
    assert multiscale_flow_loss(exact, flow).item() == pytest.approx(0.0, abs=1e-6)
    off = [e + 1.0 for e in exact]  # every level off by (1, 1) of its own pixels
    assert FlowPyramidLoss()(off, flow).item() == pytest.approx((0.5 * 8 + 1 * 4) / 1.5 * math.sqrt(2), rel=1e-5)


def test_depth_ordering_prefers_the_right_order():
    gt = torch.ones(2, 1, 8, 8)
    gt[:, :, :, 4:] = 5.0  # right half nearer
    good = gt.clone()
    bad = 6.0 - gt
    g = torch.Generator().manual_seed(0)
    lg = depth_ordering_loss(good, gt, 512, generator=g)
    lb = depth_ordering_loss(bad, gt, 512, generator=torch.Generator().manual_seed(0))
    # every differing pair has log-ratio ln 5 in the right (or wrong) direction:
    assert lg.item() == pytest.approx(math.log(1 + 1 / 5), rel=1e-5)  # softplus(-ln 5)
    assert lb.item() == pytest.approx(math.log(1 + 5), rel=1e-5)  # softplus(+ln 5)
    assert DepthOrderingLoss(256)(torch.ones_like(gt), torch.ones_like(gt)).item() == 0.0
