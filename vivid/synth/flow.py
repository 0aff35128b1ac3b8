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
    tri_a = rast_a.triangle_id[0].reshape(-1)
    tri_b = rast_b.triangle_id[0]
    flow = torch.empty(H * W, 2)
    flow[:, 0] = float(bg_shift[0])
    flow[:, 1] = float(bg_shift[1])

    # background: valid where the (rounded) shifted pixel is inside and still background in b
    sx, sy = int(round(bg_shift[0])), int(round(bg_shift[1]))
    valid = torch.zeros(H, W, dtype=torch.bool)
    y0, y1, x0, x1 = max(0, -sy), min(H, H - sy), max(0, -sx), min(W, W - sx)
    if y0 < y1 and x0 < x1:
        valid[y0:y1, x0:x1] = (tri_a.view(H, W)[y0:y1, x0:x1] < 0) & (tri_b[y0 + sy : y1 + sy, x0 + sx : x1 + sx] < 0)
    valid = valid.reshape(-1)

    idx = torch.nonzero(tri_a >= 0).squeeze(1)
    if idx.numel():
        f = tri_a[idx]
        bary = rast_a.barycentric[0].reshape(-1, 3)[idx].to(verts_b.dtype)  # (N, 3)
        X = (bary.unsqueeze(-1) * verts_b[faces[f]]).sum(1)  # (N, 3) the same surface points in b
        uv = project(X, K_b.to(X.dtype))
        pix = torch.stack([idx % W, idx // W], -1).to(uv.dtype)
        flow[idx] = (uv - pix).float()
        u, v = uv[:, 0], uv[:, 1]
        ins = (u > -0.5) & (u < W - 0.5) & (v > -0.5) & (v < H - 0.5) & (X[:, 2] > 0)
        ui = u.round().long().clamp(0, W - 1)
        vi = v.round().long().clamp(0, H - 1)
        d_b = rast_b.depth[0][vi, ui]
        seen = tri_b[vi, ui]
        same_depth = (seen >= 0) & ((d_b - X[:, 2]).abs() <= depth_tol * X[:, 2].abs())
        valid[idx] = ins & (same_depth | (seen == f))
    return flow.view(H, W, 2), valid.view(H, W)


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
