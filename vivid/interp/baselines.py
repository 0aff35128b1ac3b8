"""Classical frame-interpolation baselines, for benchmarks and comparisons.

Each in-process baseline is an :data:`vivid.interp.interpolator.Interpolate` callable
``f(frame0, frame1, t) -> frame`` on (B, 3, H, W) float tensors in [0, 1] with ``t`` (B,), so
the tools (:func:`~vivid.interp.upconvert.upconvert`, :func:`~vivid.interp.repair.repair_frames`)
run them exactly like the model:

- :func:`repeat_frame`: the nearest input frame (frame repetition);
- :func:`linear_blend`: ``(1 - t) I0 + t I1``;
- :class:`DISFlowInterpolator`: OpenCV DIS optical flow both ways, flows to time t by the
  linear-motion approximation, backward warping of both frames and an occlusion-aware blend
  weighted by forward-backward flow consistency (needs ``opencv-python-headless``);
- :func:`minterpolate`: FFmpeg's motion-compensated ``minterpolate`` filter through an
  ``ffmpeg`` subprocess (needs the ``ffmpeg`` program; benchmarks only).
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import torch
from torch import Tensor

from vivid.core.errors import VividError
from vivid.core.fileio import to_tensor, to_uint8

MINTERPOLATE_OPTIONS = "mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1"


def _t4(t: Tensor, like: Tensor) -> Tensor:
    return t.to(like.dtype).reshape(-1, 1, 1, 1)


def repeat_frame(frame0: Tensor, frame1: Tensor, t: Tensor) -> Tensor:
    """Frame repetition: ``frame0`` where t <= 0.5, else ``frame1`` (the nearest frame)."""
    return torch.where(_t4(t, frame0) <= 0.5, frame0, frame1)


def linear_blend(frame0: Tensor, frame1: Tensor, t: Tensor) -> Tensor:
    """Cross-fade ``(1 - t) * frame0 + t * frame1``."""
    tt = _t4(t, frame0)
    return (1 - tt) * frame0 + tt * frame1


def _cv2():
    try:
        import cv2
    except ImportError as err:  # the train and dev extras
        raise VividError("OpenCV's DIS flow (baseline, training teacher) needs OpenCV: pip install 'vivid[train]'") from err
    return cv2


class DISFlowInterpolator:
    """OpenCV DIS optical flow + bidirectional backward warping + occlusion-aware blending.

    For each pair: flows F01 and F10 from DIS (on grey images); the flows from time t are
    approximated assuming linear motion (Jiang et al., Super SloMo, eq. 4)::

        F_t0 = -(1 - t) t F01 + t^2 F10,    F_t1 = (1 - t)^2 F01 - t (1 - t) F10

    Both frames are backward-warped to t (bilinear). A pixel of frame k is trusted in
    proportion to its forward-backward consistency, ``c_k = exp(-|F_kl(x) + F_lk(x + F_kl(x))|^2
    / (2 sigma^2))``, warped to t with the frame; the output is
    ``((1 - t) c_0 W_0 + t c_1 W_1) / ((1 - t) c_0 + t c_1)`` (the plain blend where both are
    unreliable).

    Args:
        preset: DIS preset, "ultrafast", "fast" or "medium".
        sigma: consistency tolerance in pixels.
    """

    def __init__(self, preset: str = "medium", sigma: float = 1.0) -> None:
        cv2 = _cv2()
        presets = {
            "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
            "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
            "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
        }
        if preset not in presets:
            raise ValueError(f"preset must be one of {sorted(presets)}, got {preset!r}")
        self.preset, self.sigma = preset, float(sigma)
        self._dis = cv2.DISOpticalFlow_create(presets[preset])

    def flows(self, image0: np.ndarray, image1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Forward and backward flow (H, W, 2) float32 in pixels between two uint8 RGB images."""
        cv2 = _cv2()
        g0 = cv2.cvtColor(image0, cv2.COLOR_RGB2GRAY)
        g1 = cv2.cvtColor(image1, cv2.COLOR_RGB2GRAY)
        return self._dis.calc(g0, g1, None), self._dis.calc(g1, g0, None)

    def interpolate(self, image0: np.ndarray, image1: np.ndarray, t: float) -> np.ndarray:
        """uint8 (H, W, 3) x2 -> float32 (H, W, 3) in [0, 1], the frame at time ``t``."""
        cv2 = _cv2()
        h, w = image0.shape[:2]
        f01, f10 = self.flows(image0, image1)
        gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))

        def warp(img: np.ndarray, flow: np.ndarray) -> np.ndarray:
            return cv2.remap(img, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

        # forward-backward consistency of each frame's pixels
        c0 = np.exp(-np.sum((f01 + warp(f10, f01)) ** 2, -1) / (2 * self.sigma**2)).astype(np.float32)
        c1 = np.exp(-np.sum((f10 + warp(f01, f10)) ** 2, -1) / (2 * self.sigma**2)).astype(np.float32)
        ft0 = -(1 - t) * t * f01 + t * t * f10
        ft1 = (1 - t) ** 2 * f01 - t * (1 - t) * f10
        i0 = image0.astype(np.float32) / 255.0
        i1 = image1.astype(np.float32) / 255.0
        w0 = (1 - t) * warp(c0, ft0)[..., None]
        w1 = t * warp(c1, ft1)[..., None]
        num = w0 * warp(i0, ft0) + w1 * warp(i1, ft1)
        den = w0 + w1
        fallback = (1 - t) * warp(i0, ft0) + t * warp(i1, ft1)
        out = np.where(den > 1e-3, num / np.maximum(den, 1e-3), fallback)
        return np.clip(out, 0.0, 1.0)

    def __call__(self, frame0: Tensor, frame1: Tensor, t: Tensor) -> Tensor:
        a, b = to_uint8(frame0), to_uint8(frame1)
        out = [torch.from_numpy(self.interpolate(a[i], b[i], float(t[i]))).permute(2, 0, 1) for i in range(len(a))]
        return torch.stack(out)


def ffmpeg_available() -> bool:
    return shutil.which("ffmpeg") is not None


def minterpolate(frames: list[np.ndarray] | np.ndarray, factor: int = 2, options: str = MINTERPOLATE_OPTIONS) -> np.ndarray:
    """Run FFmpeg's ``minterpolate`` filter on a sequence of frames (raw RGB through pipes).

    The frames are fed at 1 fps and the filter asked for ``factor`` fps, so between input frames
    i and i+1 the outputs are the frames at t = j / factor.

    Args:
        frames: n uint8 (H, W, 3) RGB frames (n >= 2).
    Returns:
        uint8 (m, H, W, 3): output frame ``i * factor + j`` is at input time ``i + j / factor``
        (m ~ (n - 1) * factor + 1; FFmpeg may add or drop a frame at the very end).
    """
    if not ffmpeg_available():
        raise VividError("the minterpolate baseline needs the ffmpeg program (e.g. apt-get install ffmpeg)")
    frames = np.ascontiguousarray(np.stack(frames))
    n, h, w, _ = frames.shape
    cmd = [
        "ffmpeg", "-v", "error", "-nostdin", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", "1",
        "-i", "pipe:0", "-vf", f"minterpolate=fps={factor}:{options}", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1",
    ]  # fmt: skip
    proc = subprocess.run(cmd, input=frames.tobytes(), capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg minterpolate failed: {proc.stderr.decode(errors='replace').strip()}")
    out = np.frombuffer(proc.stdout, dtype=np.uint8).copy()
    return out.reshape(-1, h, w, 3)


def minterpolate_pair(frame0: Tensor, frame1: Tensor, t: Tensor) -> Tensor:
    """:data:`Interpolate` wrapper around :func:`minterpolate` for t in {j / N}, N <= 16.

    Each pair is run as its own clip (frame0, frame1, frame1; the trailing copy keeps FFmpeg
    from dropping the last interval).
    """
    a, b = to_uint8(frame0), to_uint8(frame1)
    out = []
    for i in range(len(a)):
        ti = float(t[i])
        factor = next((n for n in range(2, 17) if abs(ti * n - round(ti * n)) < 1e-6), None)
        if factor is None:
            raise ValueError(f"minterpolate supports t = j/N with N <= 16, got {ti}")
        frames = minterpolate([a[i], b[i], b[i]], factor)
        out.append(to_tensor(frames[round(ti * factor)]))
    return torch.stack(out)
