"""The losses of the three stages, each a function and a thin Module.

Stage 1 (unlabelled): L1 :func:`photometric_loss` + L2 :func:`landmark_loss`.
Stage 2 (labelled, the label H' aligned onto the prediction): L3 :func:`vertex_loss`, L4
:func:`normal_loss`, L5 the photometric loss of the label rendered with the predicted pose,
lighting and albedo, L6 the landmark loss of the label projected with the predicted pose.
:func:`coefficient_prior` keeps the coefficients near the model's distribution (a small weight).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "photometric_loss", "landmark_loss", "vertex_loss", "normal_loss", "coefficient_prior", "heatmap_loss",
    "PhotometricLoss", "LandmarkLoss", "VertexLoss", "NormalLoss",
]


def photometric_loss(render: Tensor, image: Tensor, mask: Tensor) -> Tensor:
    """L1: mean over the rendered face-region pixels of the colour difference ``||R - I||_2``.

    Args:
        render, image: (B, 3, H, W); mask: (B, H, W) weights in [0, 1] (1 on rendered face pixels).
    Returns:
        () loss; 0 when no pixel is covered.
    """
    if render.shape != image.shape or mask.shape != (image.shape[0], *image.shape[2:]):
        raise ValueError(f"render {tuple(render.shape)}, image {tuple(image.shape)}, mask {tuple(mask.shape)} do not match")
    diff = ((render - image).square().sum(1) + 1e-8).sqrt()
    return (diff * mask).sum() / mask.sum().clamp(min=1.0)


def landmark_loss(pred: Tensor, target: Tensor, weight: Tensor | None = None, size: float = 1.0) -> Tensor:
    """L2 (and L6): mean squared distance between projected landmarks and 2D landmarks.

    Args:
        pred, target: (B, N, 2) pixels; weight: (B, N) (e.g. visibility) or None; size: pixel
            units are divided by it (the crop size, so the loss does not depend on resolution).
    """
    if pred.shape != target.shape or pred.shape[-1] != 2:
        raise ValueError(f"landmarks must both be (B, N, 2), got {tuple(pred.shape)} and {tuple(target.shape)}")
    d = ((pred - target) / size).square().sum(-1)
    if weight is None:
        return d.mean()
    return (d * weight).sum() / weight.sum().clamp(min=1.0)


def vertex_loss(pred: Tensor, label: Tensor, weight: Tensor | None = None) -> Tensor:
    """L3: mean over vertices of ``|H(f)_i - H'_i|`` (Euclidean). pred, label: (B, V, 3);
    weight: (V,) vertex weights (e.g. the face region) or None."""
    if pred.shape != label.shape:
        raise ValueError(f"vertex sets differ: {tuple(pred.shape)} vs {tuple(label.shape)}")
    d = (pred - label).norm(dim=-1)
    if weight is None:
        return d.mean()
    return (d * weight).sum() / (weight.sum() * pred.shape[0]).clamp(min=1.0)


def normal_loss(pred_normals: Tensor, label_normals: Tensor, weight: Tensor | None = None) -> Tensor:
    """L4: mean over vertices of ``1 - cos`` between vertex normals (B, V, 3); weight as in L3."""
    if pred_normals.shape != label_normals.shape:
        raise ValueError(f"normal sets differ: {tuple(pred_normals.shape)} vs {tuple(label_normals.shape)}")
    d = 1.0 - F.cosine_similarity(pred_normals, label_normals, dim=-1)
    if weight is None:
        return d.mean()
    return (d * weight).sum() / (weight.sum() * pred_normals.shape[0]).clamp(min=1.0)


def coefficient_prior(identity: Tensor, expression: Tensor, albedo: Tensor) -> Tensor:
    """Mean squares of the coefficients (identity and albedo in N(0, 1) units, expression in [0, 1])."""
    return identity.square().mean() + expression.square().mean() + albedo.square().mean()


def heatmap_loss(heatmaps: Tensor, landmarks: Tensor, weight: Tensor, size: int, sigma: float = 1.0) -> Tensor:
    """Cross-entropy of the (B, N, h, w) heatmap logits against Gaussians (``sigma`` heatmap
    pixels) at the (B, N, 2) crop-pixel landmarks, weighted by (B, N) visibility; 0 weight rows
    (e.g. crops without a face) add nothing."""
    B, N, h, w = heatmaps.shape
    scale = h / size
    xs = torch.arange(w, dtype=heatmaps.dtype, device=heatmaps.device)
    ys = torch.arange(h, dtype=heatmaps.dtype, device=heatmaps.device)
    cx = (landmarks[..., 0] + 0.5) * scale - 0.5
    cy = (landmarks[..., 1] + 0.5) * scale - 0.5
    g = torch.exp(-((xs - cx[..., None]) ** 2)[..., None, :] / (2 * sigma**2) - ((ys - cy[..., None]) ** 2)[..., :, None] / (2 * sigma**2))
    target = g / g.sum(dim=(-1, -2), keepdim=True).clamp(min=1e-12)
    ce = -(target * torch.log_softmax(heatmaps.reshape(B, N, -1), -1).reshape(B, N, h, w)).sum(dim=(-1, -2))
    return (ce * weight).sum() / weight.sum().clamp(min=1.0)


class PhotometricLoss(nn.Module):
    def forward(self, render: Tensor, image: Tensor, mask: Tensor) -> Tensor:
        return photometric_loss(render, image, mask)


class LandmarkLoss(nn.Module):
    def __init__(self, size: float = 1.0) -> None:
        super().__init__()
        self.size = size

    def forward(self, pred: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return landmark_loss(pred, target, weight, self.size)


class VertexLoss(nn.Module):
    def forward(self, pred: Tensor, label: Tensor, weight: Tensor | None = None) -> Tensor:
        return vertex_loss(pred, label, weight)


class NormalLoss(nn.Module):
    def forward(self, pred_normals: Tensor, label_normals: Tensor, weight: Tensor | None = None) -> Tensor:
        return normal_loss(pred_normals, label_normals, weight)
