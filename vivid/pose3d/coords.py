"""From heatmaps and depth maps to 2D and 3D joints.

The network predicts per joint a heatmap (logits over heatmap pixels) and a depth map (the joint's
depth relative to the pelvis, in metres, at every pixel). Decoding:

1. 2D joint = soft-argmax of the heatmap (expectation under the spatial softmax; differentiable),
   or argmax as an option.
2. Joint depth = depth map read at the joint, weighted by the heatmap's softmax.
3. Root depth (the pelvis's camera z), unknown from one crop, is chosen so that the skeleton's
   bones match the reference bone lengths in the least-squares sense of their squared lengths
   (closed form, :func:`estimate_root_depth`); a known root depth can be given instead.
4. 3D joints by back-projection with the intrinsics K: ``X_j = (Z_root + d_j) K^-1 [u_j, v_j, 1]``.

Pixel convention: integer coordinates are pixel centres. A heatmap cell k covers input pixels
[k*s, (k+1)*s) for stride s, so its centre is at input coordinate ``k*s + (s-1)/2``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from vivid.core.geometry import project, unproject
from vivid.pose3d.bones import BONES, ROOT


def _check_maps(maps: Tensor, name: str) -> None:
    if not isinstance(maps, Tensor) or maps.ndim != 4:
        raise ValueError(f"{name} must be a tensor of shape (B, J, h, w), got {getattr(maps, 'shape', None)}")


def _grid(h: int, w: int, like: Tensor) -> tuple[Tensor, Tensor]:
    ys = torch.arange(h, dtype=like.dtype, device=like.device)
    xs = torch.arange(w, dtype=like.dtype, device=like.device)
    return xs, ys


def spatial_softmax(logits: Tensor, beta: float = 1.0) -> Tensor:
    """Softmax over the pixels of each map. logits (B, J, h, w) -> probabilities (B, J, h, w)."""
    _check_maps(logits, "logits")
    b, j, h, w = logits.shape
    return torch.softmax(beta * logits.reshape(b, j, h * w), dim=-1).reshape(b, j, h, w)


def soft_argmax(logits: Tensor, beta: float = 1.0) -> tuple[Tensor, Tensor]:
    """Differentiable 2D peak: the expected pixel under the spatial softmax.

    Args:
        logits: (B, J, h, w) heatmap logits.
        beta: softmax temperature multiplier.
    Returns:
        coords (B, J, 2) as (x, y) in heatmap pixels, and probs (B, J, h, w).
    """
    probs = spatial_softmax(logits, beta)
    xs, ys = _grid(logits.shape[2], logits.shape[3], logits)
    x = (probs.sum(2) * xs).sum(-1)
    y = (probs.sum(3) * ys).sum(-1)
    return torch.stack([x, y], dim=-1), probs


def hard_argmax(logits: Tensor) -> Tensor:
    """Location of the largest logit. logits (B, J, h, w) -> coords (B, J, 2) (x, y), not differentiable."""
    _check_maps(logits, "logits")
    b, j, h, w = logits.shape
    idx = logits.reshape(b, j, h * w).argmax(-1)
    return torch.stack([(idx % w).to(logits.dtype), (idx // w).to(logits.dtype)], dim=-1)


def sample_maps(maps: Tensor, coords: Tensor) -> Tensor:
    """Bilinear read of each joint's map at its own location.

    Args:
        maps: (B, J, h, w).
        coords: (B, J, 2) (x, y) in map pixels.
    Returns:
        (B, J) values (border values outside the map).
    """
    _check_maps(maps, "maps")
    b, j, h, w = maps.shape
    gx = coords[..., 0] / max(w - 1, 1) * 2 - 1
    gy = coords[..., 1] / max(h - 1, 1) * 2 - 1
    grid = torch.stack([gx, gy], dim=-1).reshape(b * j, 1, 1, 2)
    out = F.grid_sample(maps.reshape(b * j, 1, h, w), grid, mode="bilinear", padding_mode="border", align_corners=True)
    return out.reshape(b, j)


def read_depth(depthmaps: Tensor, probs: Tensor) -> Tensor:
    """Heatmap-weighted depth read-out ``d_j = sum_p P_j(p) D_j(p)``.

    Args:
        depthmaps: (B, J, h, w) per-pixel depth of each joint.
        probs: (B, J, h, w) spatial softmax of the heatmaps (sums to 1 per joint).
    Returns:
        (B, J) joint depths.
    """
    _check_maps(depthmaps, "depthmaps")
    if probs.shape != depthmaps.shape:
        raise ValueError(f"probs {tuple(probs.shape)} and depthmaps {tuple(depthmaps.shape)} must match")
    return (depthmaps * probs).flatten(2).sum(-1)


def heatmap_to_image(coords: Tensor, stride: int) -> Tensor:
    """Heatmap pixel coordinates (..., 2) -> input-image pixel coordinates (..., 2)."""
    return coords * stride + (stride - 1) / 2


def image_to_heatmap(coords: Tensor, stride: int) -> Tensor:
    """Input-image pixel coordinates (..., 2) -> heatmap pixel coordinates (..., 2)."""
    return (coords - (stride - 1) / 2) / stride


def peak_confidence(probs: Tensor, coords: Tensor, radius: float = 1.5) -> Tensor:
    """Probability mass of the heatmap within ``radius`` heatmap pixels of the decoded joint.

    Args:
        probs: (B, J, h, w) spatial softmax; coords: (B, J, 2) heatmap pixels.
    Returns:
        (B, J) confidence in [0, 1].
    """
    xs, ys = _grid(probs.shape[2], probs.shape[3], probs)
    dx = xs.view(1, 1, 1, -1) - coords[..., 0, None, None]
    dy = ys.view(1, 1, -1, 1) - coords[..., 1, None, None]
    near = (dx.pow(2) + dy.pow(2)) <= radius**2
    return (probs * near).flatten(2).sum(-1).clamp(0, 1)


def back_project(uv: Tensor, depth: Tensor, K: Tensor) -> Tensor:
    """Camera-frame points from pixels and camera z: ``X = z K^-1 [u, v, 1]``.

    Args:
        uv: (B, J, 2) pixels; depth: (B, J) camera z in metres; K: (B, 3, 3).
    Returns:
        (B, J, 3) metres.
    """
    return unproject(uv, depth, K.unsqueeze(-3))


def project_points(points: Tensor, K: Tensor) -> Tensor:
    """Pixels of camera-frame points. points (B, J, 3), K (B, 3, 3) -> (B, J, 2)."""
    return project(points, K.unsqueeze(-3))


def root_relative(joints: Tensor, root: int = ROOT) -> Tensor:
    """Subtract the root joint. joints (..., J, D) -> (..., J, D)."""
    return joints - joints[..., root : root + 1, :]


def estimate_root_depth(
    uv: Tensor, rel_depth: Tensor, K: Tensor, ref_lengths: Tensor, *, min_depth: float = 0.1
) -> Tensor:
    """Root (pelvis) camera z that gives the skeleton the reference size.

    With rays ``r_j = K^-1 [u_j, v_j, 1]`` and ``X_j = (Z + d_j) r_j``, each bone vector is
    ``Z a_b + c_b`` (``a_b = r_c - r_p``, ``c_b = d_c r_c - d_p r_p``). Z solves
    ``sum_b |Z a_b + c_b|^2 = sum_b lbar_b^2``, a quadratic whose larger root is taken.

    Args:
        uv: (B, J, 2) pixels; rel_depth: (B, J) depth relative to the root (metres);
        K: (B, 3, 3); ref_lengths: (16,) reference bone lengths (metres).
    Returns:
        (B,) root depth in metres, at least ``min_depth``.
    """
    rays = back_project(uv, torch.ones_like(rel_depth), K)
    parents = torch.tensor([p for p, _ in BONES], device=uv.device)
    children = torch.tensor([c for _, c in BONES], device=uv.device)
    a = rays[:, children] - rays[:, parents]
    c = rel_depth[:, children, None] * rays[:, children] - rel_depth[:, parents, None] * rays[:, parents]
    qa = a.pow(2).sum((-1, -2)).clamp_min(1e-12)
    qb = 2 * (a * c).sum((-1, -2))
    qc = c.pow(2).sum((-1, -2)) - ref_lengths.to(uv.dtype).pow(2).sum()
    disc = (qb.pow(2) - 4 * qa * qc).clamp_min(1e-12)
    return ((-qb + disc.sqrt()) / (2 * qa)).clamp_min(min_depth)


@dataclass
class Joints:
    """Decoded joints of a batch (coordinates in the network's input image)."""

    joints2d: Tensor  # (B, J, 2) input pixels (x, y)
    rel_depth: Tensor  # (B, J) depth relative to the root, metres
    root_depth: Tensor  # (B,) camera z of the root, metres
    joints3d: Tensor  # (B, J, 3) camera frame, metres
    joints3d_rel: Tensor  # (B, J, 3) root-relative, metres
    confidence: Tensor  # (B, J) in [0, 1]
    probs: Tensor  # (B, J, h, w) spatial softmax of the heatmaps


def decode(
    heatmaps: Tensor,
    depthmaps: Tensor,
    K: Tensor,
    ref_lengths: Tensor,
    *,
    stride: int,
    mode: str = "soft",
    beta: float = 1.0,
    root_depth: Tensor | None = None,
) -> Joints:
    """Heatmaps + depth maps -> 2D and 3D joints.

    Args:
        heatmaps, depthmaps: (B, J, h, w). K: (B, 3, 3) intrinsics of the input image.
        ref_lengths: (16,) reference bone lengths for the root depth.
        stride: input pixels per heatmap pixel.
        mode: "soft" (soft-argmax, differentiable) or "argmax" (peak; depth sampled at the peak).
        root_depth: (B,) known root depth; estimated from the reference lengths when None.
    """
    _check_maps(heatmaps, "heatmaps")
    if K.shape != (heatmaps.shape[0], 3, 3):
        raise ValueError(f"K must have shape ({heatmaps.shape[0]}, 3, 3), got {tuple(K.shape)}")
    if mode == "soft":
        coords, probs = soft_argmax(heatmaps, beta)
        rel = read_depth(depthmaps, probs)
    elif mode == "argmax":
        probs = spatial_softmax(heatmaps, beta)
        coords = hard_argmax(heatmaps)
        rel = sample_maps(depthmaps, coords)
    else:
        raise ValueError(f"mode must be 'soft' or 'argmax', got {mode!r}")
    # Depth is relative to the root joint: re-centre so that the root's own value is exactly 0.
    rel = rel - rel[:, ROOT : ROOT + 1]
    uv = heatmap_to_image(coords, stride)
    if root_depth is None:
        root_depth = estimate_root_depth(uv, rel, K, ref_lengths)
    joints3d = back_project(uv, root_depth[:, None] + rel, K)
    return Joints(
        joints2d=uv,
        rel_depth=rel,
        root_depth=root_depth,
        joints3d=joints3d,
        joints3d_rel=root_relative(joints3d),
        confidence=peak_confidence(probs, coords),
        probs=probs,
    )
