"""Square face crops: the box rule shared by training and the tool, resampling, crop intrinsics.

A face's crop is the square of side ``CROP_SIDE x`` the larger side of its 68 landmarks' box,
centred on that box; the tool gets it from detected landmarks (after a first crop from a face
box), training from the labels (with jitter). Pixel ``(row i, column j)`` is sampled at its
centre, as in :mod:`vivid.core.render`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["CROP_SIDE", "box_from_landmarks", "crop_image", "crop_intrinsics", "to_crop", "from_crop", "default_K"]

CROP_SIDE = 1.7


def box_from_landmarks(landmarks: np.ndarray, scale: float = 1.0, shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """(68, 2) pixels -> (x0, y0, side) float: the square crop box, ``scale`` times larger and
    moved by ``shift`` (in units of its side)."""
    lo, hi = landmarks.min(0), landmarks.max(0)
    side = CROP_SIDE * float(max(hi - lo)) * scale
    cx, cy = (lo + hi) / 2 + np.asarray(shift) * side
    return np.array([cx - side / 2, cy - side / 2, side], dtype=np.float64)


def crop_image(image: Tensor, box: np.ndarray, size: int) -> Tensor:
    """(3, H, W) float image, box (x0, y0, side) -> (3, size, size) bilinear crop (zeros outside)."""
    _, H, W = image.shape
    x0, y0, side = (float(v) for v in box)
    j = torch.arange(size, dtype=torch.float32)
    u = x0 + (j + 0.5) * side / size - 0.5  # input pixel coordinates of the output centres
    v = y0 + (j + 0.5) * side / size - 0.5
    gx, gy = (2 * u + 1) / W - 1, (2 * v + 1) / H - 1
    grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], -1)[None]
    # antialias large reductions: blur by area first
    factor = side / size
    src = image[None].float()
    if factor > 1.5:
        k = int(factor)
        src = F.avg_pool2d(src, k, stride=1, padding=k // 2, count_include_pad=False)[..., :H, :W]
    return F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0]


def crop_intrinsics(K: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """Intrinsics (3, 3) of the crop of ``box`` resized to ``size``."""
    x0, y0, side = box
    a = size / side
    out = np.array(K, dtype=np.float64).copy()
    out[0, 0], out[1, 1], out[0, 1] = K[0, 0] * a, K[1, 1] * a, K[0, 1] * a
    out[0, 2] = (K[0, 2] - x0 + 0.5) * a - 0.5
    out[1, 2] = (K[1, 2] - y0 + 0.5) * a - 0.5
    return out.astype(np.float32)


def to_crop(points: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """(N, 2) image pixels -> crop pixels."""
    x0, y0, side = box
    return ((points - np.array([x0, y0]) + 0.5) * (size / side) - 0.5).astype(np.float32)


def from_crop(points: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """(N, 2) crop pixels -> image pixels."""
    x0, y0, side = box
    return ((np.asarray(points) + 0.5) * (side / size) - 0.5 + np.array([x0, y0])).astype(np.float32)


def default_K(height: int, width: int, fov_deg: float = 30.0) -> np.ndarray:
    """Intrinsics for a photo of unknown camera: ``fov_deg`` across the larger side, centred."""
    f = 0.5 * max(height, width) / np.tan(np.radians(fov_deg) / 2)
    return np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1]], dtype=np.float32)
