"""From predicted parameters to meshes, pictures and landmarks: R(H, p, s) and T(.).

:func:`decode` turns :class:`vivid.face3d.model.FaceParams` into head-frame vertices, per-vertex
albedo and the camera pose; :func:`render_face` renders a head-frame mesh with a pose, albedo and
SH lighting through :func:`vivid.core.render.render` (differentiable interpolation + SH shading);
:func:`project_points` is T(.), the projection of head-frame points with the pose.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from vivid.core.geometry import project
from vivid.core.render import render
from vivid.face3d.facemodel import FaceModel
from vivid.face3d.model import FaceParams

__all__ = ["Decoded", "decode", "to_camera", "render_face", "project_points", "face_ssim"]


@dataclass
class Decoded:
    """vertices (B, V, 3) head frame; albedo (B, V, 3); R (B, 3, 3), t (B, 3) head to camera."""

    vertices: Tensor
    albedo: Tensor
    R: Tensor
    t: Tensor


def decode(fm: FaceModel, params: FaceParams, K: Tensor, size: int) -> Decoded:
    """H(f) and the pose p of crops of ``size`` pixels with intrinsics K (B, 3, 3)."""
    R, t = params.pose(K, size)
    return Decoded(vertices=fm.shape(params.identity, params.expression), albedo=fm.albedo(params.albedo), R=R, t=t)


def to_camera(vertices: Tensor, R: Tensor, t: Tensor) -> Tensor:
    """(B, N, 3) head-frame points -> camera frame: ``R x + t``."""
    return vertices @ R.transpose(1, 2) + t[:, None]


def project_points(points: Tensor, R: Tensor, t: Tensor, K: Tensor) -> Tensor:
    """T(.): (B, N, 3) head-frame points -> (B, N, 2) pixels."""
    return project(to_camera(points, R, t), K[:, None])


def render_face(fm: FaceModel, vertices: Tensor, R: Tensor, t: Tensor, K: Tensor, size: int, *, albedo: Tensor,
                sh: Tensor, background: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """R(H, p, s): rgb (B, 3, S, S) and the face-region mask (B, S, S) of a head-frame mesh."""
    labels = 1 + (~fm.face_faces).long()  # 1 face region, 2 the rest of the head
    out = render(to_camera(vertices, R, t), fm.faces, K, size, size, albedo=albedo, sh=sh, face_labels=labels,
                 background=background)
    return out.rgb, (out.labels == 1).to(vertices.dtype)


def _gauss(size: int = 11, sigma: float = 1.5, dtype=torch.float32) -> Tensor:
    x = torch.arange(size, dtype=dtype) - size // 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def face_ssim(render: Tensor, image: Tensor, mask: Tensor) -> Tensor:
    """SSIM (Gaussian window 11, sigma 1.5) of (B, 3, H, W) renders against images, averaged over
    the (B, H, W) face-region mask of each image: (B,)."""
    import torch.nn.functional as F

    g = _gauss(dtype=render.dtype).to(render.device)
    w = (g[:, None] * g[None]).expand(3, 1, 11, 11)

    def blur(x: Tensor) -> Tensor:
        return F.conv2d(F.pad(x, (5, 5, 5, 5), mode="replicate"), w, groups=3)

    c1, c2 = 0.01**2, 0.03**2
    mx, my = blur(render), blur(image)
    sxx, syy, sxy = blur(render * render) - mx**2, blur(image * image) - my**2, blur(render * image) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
    s = s.mean(1)
    return (s * mask).sum(dim=(1, 2)) / mask.sum(dim=(1, 2)).clamp(min=1.0)
