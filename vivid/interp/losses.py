"""Losses of the interpolation method (function + Module pairs).

- Charbonnier pixel loss ``rho(x) = sqrt(x^2 + eps^2)``, eps = 1e-6, averaged per pixel.
- Relativistic average GAN: ``D_Ra(a, b) = sigmoid(C(a) - mean C(b))``;
  generator ``L_a = -log(1 - D_Ra(real, fake)) - log(D_Ra(fake, real))``, and the mirror for
  the discriminator ``-log(D_Ra(real, fake)) - log(1 - D_Ra(fake, real))``. Written with
  ``softplus`` (``-log sigmoid(z) = softplus(-z)``, ``-log(1 - sigmoid(z)) = softplus(z)``),
  which is the same value without overflow.
- Training aids: multi-scale end-point error for the flow pyramid (flying layers have exact
  flow) and a pairwise ordering loss for inverse depth.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def charbonnier(pred: Tensor, target: Tensor, eps: float = 1e-6, mask: Tensor | None = None) -> Tensor:
    """Mean of ``sqrt((pred - target)^2 + eps^2)`` over every element (or the masked ones).

    pred, target: (B, C, H, W); mask: optional (B, 1, H, W) weights. Returns a scalar.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}")
    rho = torch.sqrt((pred - target) ** 2 + eps**2)
    if mask is None:
        return rho.mean()
    mask = mask.to(rho.dtype).expand_as(rho)
    return (rho * mask).sum() / mask.sum().clamp_min(1.0)


class CharbonnierLoss(nn.Module):
    """Module form of :func:`charbonnier`."""

    def __init__(self, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, pred: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
        return charbonnier(pred, target, self.eps, mask)


def relativistic_logits(c_a: Tensor, c_b: Tensor) -> Tensor:
    """The logit of ``D_Ra(a, b)``: ``C(a) - mean C(b)``; c_a, c_b: (B,) or (B, 1) critic outputs."""
    return c_a.reshape(-1) - c_b.reshape(-1).mean()


def d_ra(c_a: Tensor, c_b: Tensor) -> Tensor:
    """``D_Ra(a, b) = sigmoid(C(a) - mean C(b))`` per sample, (B,)."""
    return torch.sigmoid(relativistic_logits(c_a, c_b))


def ragan_generator_loss(c_real: Tensor, c_fake: Tensor) -> Tensor:
    """``mean[-log(1 - D_Ra(real, fake))] + mean[-log(D_Ra(fake, real))]``; scalar."""
    return F.softplus(relativistic_logits(c_real, c_fake)).mean() + F.softplus(-relativistic_logits(c_fake, c_real)).mean()


def ragan_discriminator_loss(c_real: Tensor, c_fake: Tensor) -> Tensor:
    """``mean[-log(D_Ra(real, fake))] + mean[-log(1 - D_Ra(fake, real))]``; scalar."""
    return F.softplus(-relativistic_logits(c_real, c_fake)).mean() + F.softplus(relativistic_logits(c_fake, c_real)).mean()


class RaGANLoss(nn.Module):
    """Module form of the relativistic average GAN losses.

    forward(c_real, c_fake, for_discriminator=False) -> scalar (generator loss by default).
    """

    def forward(self, c_real: Tensor, c_fake: Tensor, for_discriminator: bool = False) -> Tensor:
        if for_discriminator:
            return ragan_discriminator_loss(c_real, c_fake)
        return ragan_generator_loss(c_real, c_fake)


def endpoint_error(pred: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean Euclidean distance between flows (B, 2, H, W), optionally over mask (B, 1, H, W)."""
    epe = torch.linalg.vector_norm(pred - target, dim=1, keepdim=True)
    if mask is None:
        return epe.mean()
    mask = mask.to(epe.dtype)
    return (epe * mask).sum() / mask.sum().clamp_min(1.0)


def multiscale_flow_loss(
    pyramid: list[Tensor], target: Tensor, level_weights: tuple[float, ...] | None = None, mask: Tensor | None = None
) -> Tensor:
    """End-point error of every pyramid estimate against the ground truth, in full-res pixels.

    pyramid: coarse-to-fine estimates (B, 2, h, w), each in pixels of its own level;
    target: (B, 2, H, W) with H, W multiples of every ``H / h``. Coarser levels get smaller
    weights (halving per level) unless ``level_weights`` (coarse to fine) is given.
    mask: optional (B, 1, H, W) in [0, 1], where the target is valid; a coarse pixel counts
    when most of the fine pixels it covers are valid.
    """
    n = len(pyramid)
    weights = level_weights or tuple(0.5 ** (n - 1 - i) for i in range(n))
    total = target.new_zeros(())
    for est, w in zip(pyramid, weights):
        factor = target.shape[-1] // est.shape[-1]
        gt = F.avg_pool2d(target, factor) / factor if factor > 1 else target
        m = None
        if mask is not None:
            m = (F.avg_pool2d(mask, factor) if factor > 1 else mask) > 0.5
        total = total + w * factor * endpoint_error(est, gt, m)
    return total / sum(weights)


class FlowPyramidLoss(nn.Module):
    """Module form of :func:`multiscale_flow_loss`."""

    def forward(self, pyramid: list[Tensor], target: Tensor) -> Tensor:
        return multiscale_flow_loss(pyramid, target)


def depth_ordering_loss(pred: Tensor, target: Tensor, pairs: int = 1024, generator: torch.Generator | None = None) -> Tensor:
    """Pairwise ranking loss on inverse depth.

    For random pixel pairs (i, j) of each image whose target inverse depths differ,
    ``softplus(-s (log p_i - log p_j))`` with ``s = sign(t_i - t_j)``: the nearer pixel must get
    the larger inverse depth. pred, target: (B, 1, H, W) positive. Returns a scalar (0 when no
    pair differs).
    """
    b = pred.shape[0]
    p = torch.log(pred.clamp_min(1e-6)).reshape(b, -1)
    t = target.reshape(b, -1)
    n = p.shape[1]
    i = torch.randint(0, n, (b, pairs), device=pred.device, generator=generator)
    j = torch.randint(0, n, (b, pairs), device=pred.device, generator=generator)
    s = torch.sign(t.gather(1, i) - t.gather(1, j))
    diff = p.gather(1, i) - p.gather(1, j)
    mask = s != 0
    if not mask.any():
        return pred.sum() * 0.0
    return F.softplus(-s * diff)[mask].mean()


class DepthOrderingLoss(nn.Module):
    """Module form of :func:`depth_ordering_loss`."""

    def __init__(self, pairs: int = 1024) -> None:
        super().__init__()
        self.pairs = pairs

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return depth_ordering_loss(pred, target, self.pairs)
