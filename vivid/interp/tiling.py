"""Running an interpolator tile by tile with feathered overlaps, so that a 4K pair fits in a
few hundred MB besides the model's per-tile activations."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from vivid.core.errors import VividError
from vivid.interp.defaults import DEFAULT_OVERLAP, DEFAULT_TILE  # noqa: F401 (re-exported)

if TYPE_CHECKING:
    from vivid.interp.interpolator import Interpolate

# Frames whose long side exceeds DEFAULT_TILE are processed in DEFAULT_TILE tiles.
# Smaller tiles cost more in overlap than they save in memory.
MIN_TILE = 64


def check_tiling(tile: int, overlap: int) -> None:
    """VividError unless ``tile`` is 0 (no tiling) or at least :data:`MIN_TILE` pixels with
    ``overlap`` in [0, tile / 2)."""
    if tile and tile < MIN_TILE:
        raise VividError(f"--tile {tile} is too small; use 0 (no tiling) or at least {MIN_TILE} pixels")
    if tile and not 0 <= overlap < tile // 2:
        raise VividError(f"--overlap must be between 0 and half the tile size ({tile // 2}), got {overlap}")


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of size ``tile`` covering ``[0, length)``, neighbours overlapping
    by at least ``overlap`` (the last tile is pushed back to end exactly at ``length``)."""
    if length <= tile:
        return [0]
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap must be in [0, tile), got overlap={overlap}, tile={tile}")
    step = tile - overlap
    n = math.ceil((length - tile) / step) + 1
    starts = [min(i * step, length - tile) for i in range(n)]
    return sorted(set(starts))


def _ramp(size: int, start: int, length: int, overlap: int) -> Tensor:
    """1-D feather weights of one tile: linear ramps over ``overlap`` pixels on the sides that
    touch a neighbouring tile, 1 elsewhere (and on the image borders). Always > 0."""
    w = torch.ones(size)
    n = min(overlap, size)
    if n > 0:
        ramp = torch.arange(1, n + 1, dtype=torch.float32) / (n + 1)
        if start > 0:
            w[:n] = torch.minimum(w[:n], ramp)
        if start + size < length:
            w[size - n :] = torch.minimum(w[size - n :], ramp.flip(0))
    return w


def tiled_interpolate(
    fn: Interpolate, frame0: Tensor, frame1: Tensor, t: Tensor, *, tile: int, overlap: int = DEFAULT_OVERLAP
) -> Tensor:
    """Run ``fn`` on overlapping ``tile`` x ``tile`` crops and blend them with feathered weights.

    Tiles are run one pair at a time, so memory is bounded by one tile's activations whatever
    the batch size. The output is ``sum_k w_k * fn(crop_k) / sum_k w_k`` where each ``w_k`` ramps linearly to
    near 0 across the overlap with its neighbours; for a pointwise ``fn`` this equals the
    untiled result exactly (up to float rounding). Motion larger than about ``overlap / 2``
    pixels across a tile border is seen by only one of the two tiles, so keep ``overlap`` above
    the largest expected motion.

    Args:
        frame0, frame1: (B, 3, H, W) float in [0, 1].
        t: (B,) in (0, 1).
    Returns:
        (B, 3, H, W) float32 on the CPU.
    """
    b, c, h, w = frame0.shape
    if h <= tile and w <= tile:
        return fn(frame0, frame1, t).float().cpu()
    out = torch.zeros(b, c, h, w)
    weight = torch.zeros(1, 1, h, w)
    for y in tile_starts(h, tile, overlap):
        th = min(tile, h)
        wy = _ramp(th, y, h, overlap)
        for x in tile_starts(w, tile, overlap):
            tw = min(tile, w)
            wxy = wy[:, None] * _ramp(tw, x, w, overlap)[None, :]
            # one tile of one pair per call: peak memory does not grow with the batch size
            for i in range(b):
                crop = (slice(i, i + 1), slice(None), slice(y, y + th), slice(x, x + tw))
                pred = fn(frame0[crop], frame1[crop], t[i : i + 1]).float().cpu()
                out[crop] += pred * wxy
            weight[..., y : y + th, x : x + tw] += wxy
    return out.div_(weight)
