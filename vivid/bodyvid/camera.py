"""The regression layer's camera: scale and translation of the person in the crop.

A prediction's camera is ``(s, tx, ty)`` in the crop's normalised coordinates (x and y in
[-1, 1] across the crop). Two readings (``camera=`` of the model):

- ``"perspective"`` (full perspective, as SPIN does): the root sits at
  ``t = (tx, ty, 2 f / (S s))`` in the camera frame (``f`` the crop's focal length in pixels,
  ``S`` the crop side), and joints project through the crop's intrinsics ``K``;
- ``"weak"`` (weak perspective): ``u = (s x + tx + 1) S / 2 - 0.5``, the same for ``v``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from vivid.core.geometry import project

CAMERAS = ("perspective", "weak")


def camera_translation(camera: Tensor, K: Tensor, size: int) -> Tensor:
    """(..., 3) camera and (..., 3, 3) crop intrinsics -> (..., 3) root position in the camera frame, metres."""
    s, tx, ty = camera.unbind(-1)
    f = 0.5 * (K[..., 0, 0] + K[..., 1, 1])
    tz = 2 * f / (size * s.clamp(min=1e-3))
    # (tx, ty) place the root's image: undo the principal point offset of the crop.
    cx, cy = K[..., 0, 2], K[..., 1, 2]
    u = (tx + 1) * size / 2 - 0.5
    v = (ty + 1) * size / 2 - 0.5
    return torch.stack([(u - cx) * tz / K[..., 0, 0], (v - cy) * tz / K[..., 1, 1], tz], -1)


def project_joints(joints: Tensor, camera: Tensor, K: Tensor, size: int, mode: str = "perspective") -> Tensor:
    """Root-relative joints (..., J, 3) -> crop pixels (..., J, 2) with the predicted camera (..., 3).

    ``K`` (..., 3, 3): the crop's intrinsics (perspective mode); ``size``: the crop side.
    """
    if mode not in CAMERAS:
        raise ValueError(f"camera must be one of {CAMERAS}, got {mode!r}")
    if mode == "weak":
        s, t = camera[..., :1, None], camera[..., None, 1:]
        return (s * joints[..., :2] + t + 1) * size / 2 - 0.5
    points = joints + camera_translation(camera, K, size)[..., None, :]
    # Early in training a joint may come near or behind the camera; keep its projection finite.
    points = torch.cat([points[..., :2], points[..., 2:].clamp(min=0.05)], -1)
    return project(points, K[..., None, :, :])
