"""Square crops around a person, cut and resized with their intrinsics.

Inference (:mod:`vivid.pose3d.apply`) and the datasets (:mod:`vivid.pose3d.data`) cut the same
crops: a square box around the joints (:func:`person_box`), cut and resized with the intrinsics
following (:func:`crop_and_resize`), and image pixels mapped into the crop (:func:`to_crop`).
"""

from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import Tensor


def person_box(joints2d: Tensor, valid: Tensor | None = None, margin: float = 1.3) -> tuple[float, float, float]:
    """Square box around the labelled joints: (centre x, centre y, side) in pixels.

    Args:
        joints2d: (17, 2) pixels. valid: (17,) bool, joints to use (all when None).
        margin: side = margin x the larger extent of the joints (a head/feet allowance included).
    """
    pts = joints2d if valid is None else joints2d[valid.bool()]
    if pts.shape[0] == 0:
        raise ValueError("no valid joint to place a crop around")
    lo, hi = pts.min(0).values, pts.max(0).values
    centre = (lo + hi) / 2
    side = float((hi - lo).max()) * margin
    return float(centre[0]), float(centre[1]), max(side, 8.0)


def crop_and_resize(
    image: Tensor, K: Tensor, box: tuple[float, float, float], size: int
) -> tuple[Tensor, Tensor, tuple[int, int, float]]:
    """Cut a square box out of an image (zero padding outside) and resize it to ``size``.

    Args:
        image: (3, H, W) float in [0, 1]. K: (3, 3) intrinsics of the image.
        box: (centre x, centre y, side) pixels.
    Returns:
        crop (3, size, size), K of the crop (3, 3), and (x0, y0, scale) so that a pixel u of the
        image maps to ``(u - x0 + 0.5) * scale - 0.5`` in the crop.
    """
    cx, cy, side = box
    s = max(int(round(side)), 2)
    x0, y0 = int(round(cx - s / 2)), int(round(cy - s / 2))
    _, h, w = image.shape
    pad = (max(0, -x0), max(0, x0 + s - w), max(0, -y0), max(0, y0 + s - h))
    padded = F.pad(image, pad) if any(pad) else image
    patch = padded[:, y0 + pad[2] : y0 + pad[2] + s, x0 + pad[0] : x0 + pad[0] + s]
    crop = F.interpolate(patch[None], size=(size, size), mode="bilinear", align_corners=False, antialias=s > size)[0]
    scale = size / s
    Kc = K.clone().to(torch.float32)
    Kc[0, :] = Kc[0, :] * scale
    Kc[1, :] = Kc[1, :] * scale
    Kc[0, 2] = (K[0, 2] - x0 + 0.5) * scale - 0.5
    Kc[1, 2] = (K[1, 2] - y0 + 0.5) * scale - 0.5
    return crop.clamp(0, 1), Kc, (x0, y0, scale)


def to_crop(points: Tensor, transform: tuple[int, int, float]) -> Tensor:
    """Image pixels (..., 2) -> crop pixels with the ``(x0, y0, scale)`` of :func:`crop_and_resize`."""
    x0, y0, scale = transform
    offset = torch.tensor([x0, y0], dtype=points.dtype)
    return (points - offset + 0.5) * scale - 0.5
