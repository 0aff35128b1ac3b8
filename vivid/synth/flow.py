"""Exact optical flow between two rendered frames, from vertex motion and visibility.

For a pixel ``p`` of frame ``a`` that sees triangle ``f`` at perspective-correct barycentrics
``b`` (from the rasteriser), the same surface point in frame ``b`` is ``X' = sum_i b_i V'_{f_i}``
(vertices of frame ``b`` in its own camera frame); the flow is ``proj(K', X') - p``. The point
is *visible* in frame ``b`` when it lands inside the image and the depth rendered there matches
``X'.z`` (or the pixel shows the same triangle). Background pixels move with the background
image (a uniform shift ``bg_shift`` in pixels, zero for a still background).

Convention: ``flow_ab[y, x] = (dx, dy)`` so that ``frame_b(p + flow_ab(p)) == frame_a(p)`` on
valid pixels, i.e. backward-warping frame ``b`` with ``flow_ab`` reproduces frame ``a``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from vivid.core.geometry import project
from vivid.core.render import Rasterization

__all__ = ["surface_flow", "warp_backward"]


def surface_flow(
    rast_a: Rasterization,
    faces: Tensor,
    verts_b: Tensor,
    K_b: Tensor,
    rast_b: Rasterization,
    *,
    bg_shift: tuple[float, float] = (0.0, 0.0),
    depth_tol: float = 0.03,
) -> tuple[Tensor, Tensor]:
    """Flow from frame a to frame b of one image pair.

    Args:
        rast_a: rasterisation of frame a (batch 1).
        faces: (F, 3) triangles of the mesh (same topology in both frames).
        verts_b: (V, 3) vertices of frame b in frame b's camera coordinates.
        K_b: (3, 3) intrinsics of frame b.
        rast_b: rasterisation of frame b (batch 1), for the visibility test.
        bg_shift: (dx, dy) pixel motion of the background from a to b.
        depth_tol: relative depth tolerance of the visibility test.
    Returns:
        flow (H, W, 2) float32 and valid (H, W) bool.
    """
    H, W = rast_a.height, rast_a.width
    tri_a = rast_a.triangle_id[0]
    flow = torch.empty(H, W, 2)
    flow[..., 0] = float(bg_shift[0])
    flow[..., 1] = float(bg_shift[1])
    ys, xs = torch.meshgrid(torch.arange(H, dtype=torch.float32), torch.arange(W, dtype=torch.float32), indexing="ij")

    # background: valid where the shifted pixel is inside and still background in b
    tx = xs + bg_shift[0]
    ty = ys + bg_shift[1]
    inside = (tx > -0.5) & (tx < W - 0.5) & (ty > -0.5) & (ty < H - 0.5)
    xi = tx.round().long().clamp(0, W - 1)
    yi = ty.round().long().clamp(0, H - 1)
    tri_b = rast_b.triangle_id[0]
    valid = inside & (tri_b[yi, xi] < 0) & (tri_a < 0)

    cov = tri_a >= 0
    if cov.any():
        f = tri_a[cov]
        bary = rast_a.barycentric[0][cov].to(verts_b.dtype)  # (N, 3)
        corners = verts_b[faces[f]]  # (N, 3, 3)
        X = (bary.unsqueeze(-1) * corners).sum(1)  # (N, 3)
        uv = project(X, K_b.to(X.dtype))
        flow[cov] = (uv - torch.stack([xs[cov], ys[cov]], -1)).float()
        u, v = uv[:, 0], uv[:, 1]
        ins = (u > -0.5) & (u < W - 0.5) & (v > -0.5) & (v < H - 0.5) & (X[:, 2] > 0)
        ui = u.round().long().clamp(0, W - 1)
        vi = v.round().long().clamp(0, H - 1)
        d_b = rast_b.depth[0][vi, ui]
        seen = tri_b[vi, ui]
        same_depth = (seen >= 0) & ((d_b - X[:, 2]).abs() <= depth_tol * X[:, 2].abs())
        valid[cov] = ins & (same_depth | (seen == f))
    return flow, valid


def warp_backward(image: Tensor, flow: Tensor) -> Tensor:
    """Sample ``image`` (C, H, W) at ``p + flow(p)`` (bilinear, border padding): (C, H, W).

    With ``flow`` the flow from frame a to frame b and ``image`` frame b, this reconstructs
    frame a on the valid pixels."""
    C, H, W = image.shape
    ys, xs = torch.meshgrid(torch.arange(H, dtype=flow.dtype), torch.arange(W, dtype=flow.dtype), indexing="ij")
    gx = (xs + flow[..., 0]) * 2 / max(W - 1, 1) - 1
    gy = (ys + flow[..., 1]) * 2 / max(H - 1, 1) - 1
    grid = torch.stack([gx, gy], -1)[None].to(image.dtype)
    return F.grid_sample(image[None], grid, mode="bilinear", padding_mode="border", align_corners=True)[0]
