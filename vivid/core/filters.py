"""Temporal filters for per-frame estimates (joints, landmarks, boxes) on video.

- :func:`one_euro`: the 1-euro filter (Casiez, Roussel and Vogel, CHI 2012) over a whole
  sequence; :class:`OneEuroFilter`: the same filter one sample at a time (streaming).

The 1-euro filter is a first-order low-pass filter whose cutoff frequency rises with the speed
of the signal: ``f_c = min_cutoff + beta * |dx/dt|``, with the speed itself low-passed at
``d_cutoff``. Slow motion is smoothed strongly (little jitter), fast motion weakly (little lag).
Each sample's smoothing factor is ``alpha = 1 / (1 + tau / dt)`` with ``tau = 1 / (2 pi f_c)``.
"""

from __future__ import annotations

import math

import numpy as np


def _alpha(cutoff: float, dt: float) -> float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Streaming 1-euro filter over arrays of any fixed shape (every entry filtered on its own).

    Args:
        min_cutoff: cutoff frequency at rest, Hz (lower: smoother, more lag). > 0.
        beta: how fast the cutoff rises with speed, Hz per (unit/s) (higher: less lag on fast
            motion). >= 0.
        d_cutoff: cutoff frequency of the speed estimate, Hz. > 0.

    ``filter(x, t)`` takes a sample ``x`` (any shape, the same every call) at time ``t`` (seconds,
    increasing) and returns the filtered sample (float64, same shape). Non-finite entries of ``x``
    pass through and leave that entry's state as it was. ``reset()`` forgets the past.
    """

    def __init__(self, *, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0) -> None:
        for name, value in (("min_cutoff", min_cutoff), ("d_cutoff", d_cutoff)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of Hz, got {value!r}")
        if not (isinstance(beta, (int, float)) and math.isfinite(beta) and beta >= 0):
            raise ValueError(f"beta must be a number >= 0, got {beta!r}")
        self.min_cutoff, self.beta, self.d_cutoff = float(min_cutoff), float(beta), float(d_cutoff)
        self.reset()

    def reset(self) -> None:
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def filter(self, x, t: float) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self._x is None:
            self._x = x.copy()
            self._dx = np.zeros_like(x)
            self._t = float(t)
            return x.copy()
        if x.shape != self._x.shape:
            raise ValueError(f"sample shape {x.shape} differs from the filter's {self._x.shape}; reset() first")
        dt = float(t) - self._t
        if not dt > 0:
            raise ValueError(f"time must increase: got {t} after {self._t}")
        finite = np.isfinite(x)
        # Entries that were never finite start from their first finite value.
        fresh = finite & ~np.isfinite(self._x)
        prev = np.where(fresh, x, self._x)
        dx = np.where(finite, (x - prev) / dt, 0.0)
        dx_hat = self._dx + _alpha(self.d_cutoff, dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(dx_hat)
        tau = 1.0 / (2.0 * math.pi * cutoff)
        a = 1.0 / (1.0 + tau / dt)
        out = prev + a * (x - prev)
        self._x = np.where(finite, out, self._x)
        self._dx = np.where(finite, dx_hat, self._dx)
        self._t = float(t)
        return np.where(finite, out, x)

    __call__ = filter


def one_euro(x, t=None, *, fps: float | None = None, min_cutoff: float = 1.0, beta: float = 0.0,
             d_cutoff: float = 1.0) -> np.ndarray:
    """1-euro filter over a sequence.

    Args:
        x: (T, ...) samples in time order.
        t: (T,) increasing times in seconds; or give ``fps`` for evenly spaced samples.
        min_cutoff, beta, d_cutoff: as for :class:`OneEuroFilter`.
    Returns:
        (T, ...) float64 filtered samples; the first equals ``x[0]``.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 1:
        raise ValueError("x must have a time axis: shape (T, ...)")
    if (t is None) == (fps is None):
        raise ValueError("give either the sample times t or fps")
    if t is None:
        if not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be positive, got {fps!r}")
        t = np.arange(len(x)) / float(fps)
    t = np.asarray(t, dtype=np.float64)
    if t.shape != (len(x),):
        raise ValueError(f"t must have shape ({len(x)},), got {t.shape}")
    f = OneEuroFilter(min_cutoff=min_cutoff, beta=beta, d_cutoff=d_cutoff)
    return np.stack([f(sample, ti) for sample, ti in zip(x, t)]) if len(x) else x.copy()
