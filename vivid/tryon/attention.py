"""The multi-scale patch dual-stream attention of an MPDT block.

Feature maps (B, T, C, h, w) are cut into patches of r1 x r2 (:func:`to_patches`, inverse
:func:`from_patches`); each head of a module works on its own channel slice and its own patch
size. A query patch attends over the key patches of all T frames (softmax over patches j, scores
scaled by sqrt(r1 * r2 * cn)), optionally only those inside a region (:func:`patch_attention`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["to_patches", "from_patches", "patch_region", "patch_attention", "patch_sizes", "MultiScalePatchAttention"]


def to_patches(x: Tensor, r1: int, r2: int) -> Tensor:
    """(B, T, C, h, w) -> (B, T * (h / r1) * (w / r2), C * r1 * r2): one row per patch, frames first."""
    if x.ndim != 5 or x.shape[-2] % r1 or x.shape[-1] % r2:
        raise ValueError(f"expected (B, T, C, h, w) with h % {r1} == 0 and w % {r2} == 0, got {tuple(x.shape)}")
    B, T, C, h, w = x.shape
    x = x.reshape(B, T, C, h // r1, r1, w // r2, r2).permute(0, 1, 3, 5, 2, 4, 6)  # b t i j c r1 r2
    return x.reshape(B, T * (h // r1) * (w // r2), C * r1 * r2)


def from_patches(x: Tensor, T: int, h: int, w: int, r1: int, r2: int) -> Tensor:
    """The inverse of :func:`to_patches`: (B, T * n, C * r1 * r2) -> (B, T, C, h, w)."""
    B = x.shape[0]
    C = x.shape[-1] // (r1 * r2)
    x = x.reshape(B, T, h // r1, w // r2, C, r1, r2).permute(0, 1, 4, 2, 5, 3, 6)  # b t c i r1 j r2
    return x.reshape(B, T, C, h, w)


def patch_region(mask: Tensor, r1: int, r2: int) -> Tensor:
    """(B, T, h, w) region in [0, 1] -> (B, T * n) bool: the patches that hold any of it."""
    B, T, h, w = mask.shape
    pooled = F.max_pool2d(mask.float().reshape(B * T, 1, h, w), (r1, r2))
    return (pooled > 0).reshape(B, -1)


def patch_attention(q: Tensor, k: Tensor, v: Tensor, channels: int, r1: int, r2: int, key_mask: Tensor | None = None) -> Tensor:
    """Attention of query patches over key patches.

    Args:
        q: (B, Nq, D), k and v: (B, Nk, D) patch rows (D = channels * r1 * r2).
        key_mask: (B, Nk) bool, the keys that may be attended to (None: all). A query with no
            allowed key gets zeros.
    Returns:
        (B, Nq, D): ``softmax_j(q . k_j / sqrt(r1 r2 cn)) v_j``.
    """
    scores = q @ k.transpose(-1, -2) / math.sqrt(r1 * r2 * channels)
    if key_mask is not None:
        scores = scores.masked_fill(~key_mask[:, None, :], float("-inf"))
        any_key = key_mask.any(-1)[:, None, None]
        scores = torch.where(any_key, scores, torch.zeros_like(scores))
        weights = torch.softmax(scores, -1) * any_key
    else:
        weights = torch.softmax(scores, -1)
    return weights @ v


def patch_sizes(h: int, w: int, divisors: tuple[int, ...]) -> list[tuple[int, int]]:
    """Patch size of each head on an (h, w) feature map: (h / d, w / d) for each divisor d
    (64x48 features with divisors 1, 2, 4, 8 give 64x48, 32x24, 16x12 and 8x6)."""
    out = []
    for d in divisors:
        if h % d or w % d:
            raise ValueError(f"feature map {h}x{w} is not divisible by patch divisor {d}")
        out.append((h // d, w // d))
    return out


class MultiScalePatchAttention(nn.Module):
    """One attention module of an MPDT block: queries from one stream, keys and values from another.

    The heads split the channels; head ``i`` cuts its slice into patches of
    ``(h / divisors[i], w / divisors[i])``. A 3x3 convolution fuses the heads' results.

    Args:
        channels: feature channels (divisible by the number of heads).
        divisors: one patch divisor per head (4 heads: (1, 2, 4, 8)).
        temporal: attend over the patches of all frames (False: each frame on its own, the
            per-frame baseline).
    """

    def __init__(self, channels: int, divisors: tuple[int, ...] = (1, 2, 4, 8), *, temporal: bool = True) -> None:
        super().__init__()
        if channels % len(divisors):
            raise ValueError(f"{channels} channels do not split across {len(divisors)} heads")
        self.divisors, self.temporal = tuple(divisors), temporal
        self.head_channels = channels // len(divisors)
        self.k = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.fuse = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, q: Tensor, kv: Tensor, region: Tensor | None = None) -> Tensor:
        """q: (B, T, C, h, w) queries (already projected); kv: (B, T, C, h, w) key/value features;
        region: (B, T, h, w) where keys may come from (None: everywhere) -> (B, T, C, h, w)."""
        B, T, C, h, w = kv.shape
        flat = kv.reshape(B * T, C, h, w)
        k, v = self.k(flat).view(B, T, C, h, w), self.v(flat).view(B, T, C, h, w)
        if not self.temporal:  # each frame is its own clip
            q, k, v = (x.reshape(B * T, 1, C, h, w) for x in (q, k, v))
            region = region.reshape(B * T, 1, h, w) if region is not None else None
        heads = []
        cn = self.head_channels
        for i, (r1, r2) in enumerate(patch_sizes(h, w, self.divisors)):
            sl = slice(i * cn, (i + 1) * cn)
            qi, ki, vi = (to_patches(x[:, :, sl], r1, r2) for x in (q, k, v))
            mask = patch_region(region, r1, r2) if region is not None else None
            heads.append(from_patches(patch_attention(qi, ki, vi, cn, r1, r2, mask), q.shape[1], h, w, r1, r2))
        out = torch.cat(heads, 2).reshape(B * T, C, h, w)
        return self.fuse(out).view(B, T, C, h, w)
