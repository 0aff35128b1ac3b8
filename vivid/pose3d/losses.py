"""Losses of the mixed 2D/3D method (function + Module pairs).

- :func:`heatmap_loss`: heatmap logits against Gaussian heatmaps made from 2D labels
  (KL divergence between the normalised Gaussian and the spatial softmax, 0 at a perfect fit).
- :func:`euclidean_2d_loss`: distance between soft-argmax joints and 2D labels (2D pre-training).
- :func:`geometric_loss`: the bone-length-ratio constraint on ratios ``r_b = l_b / lbar_b`` of
  predicted bone lengths to reference mean lengths. The method's definition (``"batch"``, the
  default): ``L_geo = 1/|R| sum_{b in R} (r_b - rbar)^2`` with ``R`` every predicted bone of every
  image of the batch and ``rbar`` their mean ratio. Variant ``"per_image_sets"`` (a departure
  from the method, kept for comparison): per image, ``sum_i 1/|R_i| sum_{b in R_i} (r_b - rbar_i)^2``
  over four hand-picked bone sets ``R_i`` (:data:`vivid.pose3d.bones.BONE_SETS`) with their own
  mean ratios ``rbar_i``, averaged over the batch.
- :func:`depth_loss`: squared error between predicted and labelled joint depths.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vivid.pose3d.bones import BONE_SETS, NUM_BONES, bone_lengths


def _weighted_mean(values: Tensor, weight: Tensor | None) -> Tensor:
    if weight is None:
        return values.mean()
    weight = weight.to(values.dtype).expand_as(values)
    return (values * weight).sum() / weight.sum().clamp_min(1e-8)


def gaussian_heatmaps(coords: Tensor, size: tuple[int, int], sigma: float) -> Tensor:
    """Gaussian target maps, normalised to sum 1 per joint.

    Args:
        coords: (B, J, 2) (x, y) in heatmap pixels.
        size: (h, w) of the heatmaps. sigma: standard deviation in heatmap pixels.
    Returns:
        (B, J, h, w) non-negative maps, each summing to 1 (uniform if the joint is far outside).
    """
    h, w = size
    xs = torch.arange(w, dtype=coords.dtype, device=coords.device)
    ys = torch.arange(h, dtype=coords.dtype, device=coords.device)
    gx = -(xs.view(1, 1, 1, w) - coords[..., 0, None, None]).pow(2) / (2 * sigma**2)
    gy = -(ys.view(1, 1, h, 1) - coords[..., 1, None, None]).pow(2) / (2 * sigma**2)
    logits = (gx + gy).flatten(2)
    return torch.softmax(logits, dim=-1).reshape(*coords.shape[:2], h, w)


def heatmap_loss(logits: Tensor, coords: Tensor, weight: Tensor | None = None, *, sigma: float = 1.0) -> Tensor:
    """KL(Gaussian target || spatial softmax of the logits), averaged over weighted joints.

    Args:
        logits: (B, J, h, w) heatmap logits.
        coords: (B, J, 2) label (x, y) in heatmap pixels.
        weight: (B, J) per-joint weight (e.g. 1 for labelled joints, 0 otherwise).
    Returns:
        scalar.
    """
    b, j, h, w = logits.shape
    target = gaussian_heatmaps(coords, (h, w), sigma).flatten(2)
    logp = torch.log_softmax(logits.flatten(2), dim=-1)
    kl = (target * (torch.log(target.clamp_min(1e-12)) - logp)).sum(-1)
    return _weighted_mean(kl, weight)


def euclidean_2d_loss(pred: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
    """Mean Euclidean distance between predicted and labelled 2D joints.

    Args:
        pred, target: (B, J, 2) in the same pixel units. weight: (B, J).
    Returns:
        scalar, in those pixel units.
    """
    if pred.shape != target.shape or pred.shape[-1] != 2:
        raise ValueError(f"pred and target must both be (B, J, 2), got {tuple(pred.shape)} and {tuple(target.shape)}")
    dist = ((pred - target).pow(2).sum(-1) + 1e-9).sqrt()
    return _weighted_mean(dist, weight)


GEO_VARIANTS = ("batch", "per_image_sets")


def geometric_loss(
    joints3d: Tensor, ref_lengths: Tensor, bone_weight: Tensor | None = None, *, variant: str = "batch"
) -> Tensor:
    """Bone-length-ratio loss on ``r_b = l_b / lbar_b`` (see the module docstring).

    ``variant="batch"`` (the method): ``1/|R| sum_{b in R} (r_b - rbar)^2`` over all bones ``R`` of
    all images, ``rbar`` their mean ratio. ``variant="per_image_sets"`` (the earlier reading, a
    departure from the method): ``sum_i 1/|R_i| sum_{b in R_i} (r_b - rbar_i)^2`` per image over
    :data:`BONE_SETS`, then the batch mean.

    Args:
        joints3d: (B, 17, 3) joints built from 2D joints and predicted depths (metres).
        ref_lengths: (16,) reference mean bone lengths ``lbar_b`` (metres).
        bone_weight: (B, 16) optional 0/1 weights; bones with weight 0 leave ``R`` (or their set
            ``R_i``): the counts and the mean ratios count only the remaining bones.
    Returns:
        scalar.
    """
    if ref_lengths.shape != (NUM_BONES,):
        raise ValueError(f"ref_lengths must have shape ({NUM_BONES},), got {tuple(ref_lengths.shape)}")
    if variant not in GEO_VARIANTS:
        raise ValueError(f"variant must be one of {GEO_VARIANTS}, got {variant!r}")
    ratios = bone_lengths(joints3d, eps=1e-12) / ref_lengths.to(joints3d.dtype)
    if bone_weight is None:
        bone_weight = torch.ones_like(ratios)
    bone_weight = bone_weight.to(ratios.dtype)
    if variant == "batch":
        count = bone_weight.sum()
        mean = (ratios * bone_weight).sum() / count.clamp_min(1e-8)
        return (bone_weight * (ratios - mean).pow(2)).sum() / count.clamp_min(1.0)
    total = ratios.new_zeros(ratios.shape[0])
    for bone_set in BONE_SETS:
        r = ratios[:, bone_set]
        wgt = bone_weight[:, bone_set]
        count = wgt.sum(-1)
        mean = (r * wgt).sum(-1) / count.clamp_min(1e-8)
        total = total + (wgt * (r - mean[:, None]).pow(2)).sum(-1) / count.clamp_min(1.0)
    return total.mean()


def depth_loss(pred: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
    """Squared error between predicted and labelled joint depths, mean over weighted joints.

    Args:
        pred, target: (B, J) root-relative depths (metres). weight: (B, J).
    Returns:
        scalar (square metres).
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} must match")
    return _weighted_mean((pred - target).pow(2), weight)


class HeatmapLoss(nn.Module):
    """Module form of :func:`heatmap_loss`."""

    def __init__(self, sigma: float = 1.0) -> None:
        super().__init__()
        self.sigma = sigma

    def forward(self, logits: Tensor, coords: Tensor, weight: Tensor | None = None) -> Tensor:
        return heatmap_loss(logits, coords, weight, sigma=self.sigma)


class Euclidean2DLoss(nn.Module):
    """Module form of :func:`euclidean_2d_loss`."""

    def forward(self, pred: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return euclidean_2d_loss(pred, target, weight)


class GeometricLoss(nn.Module):
    """Module form of :func:`geometric_loss`; reference lengths are passed per call (Human3.6M's
    constants, or the training data's means that live with the model)."""

    def __init__(self, variant: str = "batch") -> None:
        super().__init__()
        if variant not in GEO_VARIANTS:
            raise ValueError(f"variant must be one of {GEO_VARIANTS}, got {variant!r}")
        self.variant = variant

    def forward(self, joints3d: Tensor, ref_lengths: Tensor, bone_weight: Tensor | None = None) -> Tensor:
        return geometric_loss(joints3d, ref_lengths, bone_weight, variant=self.variant)


class DepthLoss(nn.Module):
    """Module form of :func:`depth_loss`."""

    def forward(self, pred: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return depth_loss(pred, target, weight)
