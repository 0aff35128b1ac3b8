"""Depth-aware flow projection (method step 3, after DAIN).

Every source pixel ``x`` of frame 0 moves to ``y = x + t * F0->1(x)`` at time ``t``. It splats
the value ``-t * F0->1(x)`` (a flow from time ``t`` back to frame 0) onto the four integer
pixels around ``y`` with bilinear weights times its inverse depth, so that where several
sources land on one target the nearer one (larger inverse depth) dominates:

    Ft->0(y) = -t * sum_x w(x, y) F0->1(x) / sum_x w(x, y),   w = bilinear(x, y) * invdepth(x)^p

Targets that receive no source are holes; they are filled from their neighbours by a
push-pull pyramid (mask-normalised average pooling, then upsampling into the holes).
Everything is vectorised with ``scatter_add`` and differentiable with respect to the flow
values, the splat positions (through the bilinear weights) and the depth weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def splat(values: Tensor, flow: Tensor, weight: Tensor) -> tuple[Tensor, Tensor]:
    """Forward-splat ``values`` along ``flow`` with per-source ``weight``.

    values: (B, C, H, W); flow: (B, 2, H, W) pixel displacement of each source; weight:
    (B, 1, H, W) non-negative. Returns ``(weighted_sum (B, C, H, W), weight_sum (B, 1, H, W))``
    accumulated on the target grid (bilinear footprint, sources landing outside are dropped).
    """
    b, c, h, w = values.shape
    dtype = values.dtype
    # Coordinates and sums in (at least) float32, target indices in int64: half precision cannot hold pixel
    # coordinates above 2048 nor flat indices above 65504 exactly.
    work = torch.promote_types(dtype, torch.float32)
    values, flow, weight = values.to(work), flow.to(work), weight.to(work)
    ys = torch.arange(h, device=flow.device, dtype=work).view(1, h, 1)
    xs = torch.arange(w, device=flow.device, dtype=work).view(1, 1, w)
    px = xs + flow[:, 0]
    py = ys + flow[:, 1]
    x0 = torch.floor(px)
    y0 = torch.floor(py)
    fx = px - x0
    fy = py - y0
    x0i, y0i = x0.long(), y0.long()
    acc = values.new_zeros(b, c + 1, h * w)
    payload = torch.cat((values * weight, weight), dim=1).reshape(b, c + 1, h * w)
    for dy, wy in ((0, 1.0 - fy), (1, fy)):
        for dx, wx in ((0, 1.0 - fx), (1, fx)):
            tx = x0i + dx
            ty = y0i + dy
            inside = (tx >= 0) & (tx <= w - 1) & (ty >= 0) & (ty <= h - 1)
            bil = (wx * wy * inside).reshape(b, 1, h * w)
            idx = (ty.clamp(0, h - 1) * w + tx.clamp(0, w - 1)).reshape(b, 1, h * w)
            acc = acc.scatter_add(2, idx.expand(b, c + 1, h * w), payload * bil)
    acc = acc.view(b, c + 1, h, w).to(dtype)
    return acc[:, :c], acc[:, c:]


def fill_holes(values: Tensor, valid: Tensor, min_size: int = 1) -> Tensor:
    """Fill pixels where ``valid`` is 0 from their neighbours (push-pull pyramid).

    values: (B, C, H, W); valid: (B, 1, H, W) in [0, 1]. Valid pixels keep their value; each
    hole takes the mask-weighted average of the nearest coarser level that covers it, so holes
    of any size are filled in ``log2(max(H, W))`` steps. Returns (B, C, H, W).
    """
    h, w = values.shape[-2:]
    if min(h, w) <= min_size:
        num = (values * valid).sum((-2, -1), keepdim=True)
        den = valid.sum((-2, -1), keepdim=True)
        mean = num / den.clamp_min(1e-6)
        return values * valid + mean * (1 - valid)
    pooled_v = F.avg_pool2d(values * valid, 2, ceil_mode=True)
    pooled_m = F.avg_pool2d(valid, 2, ceil_mode=True)
    coarse_valid = (pooled_m > 0).to(values.dtype)
    coarse = pooled_v / pooled_m.clamp_min(1e-6)
    coarse = fill_holes(coarse, coarse_valid, min_size)
    up = F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)
    return values * valid + up * (1 - valid)


def project_flow(
    flow: Tensor, t: Tensor | float, invdepth: Tensor | None = None, depth_power: float = 1.0, eps: float = 1e-3
) -> Tensor:
    """Project the flow ``F0->1`` of frame 0 to time ``t``; returns ``Ft->0`` (B, 2, H, W).

    flow: (B, 2, H, W) pixels; t: float or (B,) in [0, 1]; invdepth: (B, 1, H, W) positive
    inverse depth of frame 0 (None: all sources weigh the same). For ``Ft->1`` call it with
    ``F1->0``, ``1 - t`` and the inverse depth of frame 1.
    """
    b = flow.shape[0]
    t = torch.as_tensor(t, dtype=flow.dtype, device=flow.device).reshape(-1, 1, 1, 1).expand(b, 1, 1, 1)
    weight = torch.ones_like(flow[:, :1]) if invdepth is None else invdepth.clamp_min(1e-6) ** depth_power
    num, den = splat(-t * flow, t * flow, weight)
    coverage, _ = splat(torch.ones_like(flow[:, :1]), t * flow, torch.ones_like(flow[:, :1]))
    valid = (coverage > eps).to(flow.dtype)
    projected = num / den.clamp_min(1e-12) * valid
    return fill_holes(projected, valid)


def linear_flow_t(flow01: Tensor, flow10: Tensor, t: Tensor | float) -> tuple[Tensor, Tensor]:
    """Flows at time ``t`` by linear combination (no projection; Super SloMo's approximation).

    ``Ft->0 = -(1-t) t F0->1 + t^2 F1->0``, ``Ft->1 = (1-t)^2 F0->1 - t (1-t) F1->0``.
    flow01, flow10: (B, 2, H, W); t: float or (B,). Returns (Ft->0, Ft->1).
    """
    b = flow01.shape[0]
    t = torch.as_tensor(t, dtype=flow01.dtype, device=flow01.device).reshape(-1, 1, 1, 1).expand(b, 1, 1, 1)
    ft0 = -(1 - t) * t * flow01 + t * t * flow10
    ft1 = (1 - t) * (1 - t) * flow01 - t * (1 - t) * flow10
    return ft0, ft1


def _at_least_float32(x):
    """A half-precision tensor in float32; float32 and float64 tensors and non-tensors as they are."""
    return x.to(torch.promote_types(x.dtype, torch.float32)) if torch.is_tensor(x) and x.is_floating_point() else x


class FlowProjection(nn.Module):
    """Target flows ``(Ft->0, Ft->1)`` (B, 2, H, W) from ``F0->1``, ``F1->0`` (B, 2, H, W), ``t``
    (float or (B,)) and the inverse depths (B, 1, H, W) or None.

    With ``use_depth_projection=False`` the flows are combined linearly (:func:`linear_flow_t`).
    It always computes in (at least) float32, with autocast off: under mixed precision the
    flows arrive in half precision, which holds neither pixel coordinates above 2048 nor the
    flat pixel indices of the splatting.
    """

    def __init__(self, use_depth_projection: bool = True, depth_power: float = 1.0) -> None:
        super().__init__()
        self.use_depth_projection = use_depth_projection
        self.depth_power = depth_power

    def forward(
        self,
        flow01: Tensor,
        flow10: Tensor,
        t: Tensor | float,
        invdepth0: Tensor | None = None,
        invdepth1: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        inputs = [_at_least_float32(x) for x in (flow01, flow10, t, invdepth0, invdepth1)]
        with torch.autocast(flow01.device.type, enabled=False):
            return self._project(*inputs)

    def _project(
        self, flow01: Tensor, flow10: Tensor, t: Tensor | float, invdepth0: Tensor | None, invdepth1: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        if not self.use_depth_projection:
            return linear_flow_t(flow01, flow10, t)
        b = flow01.shape[0]
        t = torch.as_tensor(t, dtype=flow01.dtype, device=flow01.device).reshape(-1).expand(b)
        # Both directions in one batch: (F0->1, t, D0) and (F1->0, 1-t, D1).
        flows = torch.cat((flow01, flow10))
        times = torch.cat((t, 1 - t))
        inv = None if invdepth0 is None else torch.cat((invdepth0, invdepth1))
        out = project_flow(flows, times, inv, self.depth_power)
        return out[:b], out[b:]
