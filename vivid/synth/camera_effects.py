"""Camera effects on rendered images: motion blur, defocus, exposure, white balance, sensor noise,
JPEG and H.264 compression. They change pixels only: every label stays exact.

Each effect has a probability and a range in :class:`CameraEffects` (all off by default, which is
what ``vivid synth`` uses; :meth:`CameraEffects.training` turns them on for training recipes).
A scene draws one :class:`EffectDraw` per image (or per clip: one camera, one setting) and
applies it in two stages, because occluders (:mod:`vivid.synth.occluders`) sit between them:

1. :func:`optical_effects` (lens and motion, on the layers: the person over the plain background)
   - *defocus*: the camera focuses on the person; a point at depth ``d`` is blurred by a Gaussian
     of ``sigma = a |1/d - 1/d_focus|`` pixels (thin lens, ``a`` the aperture in pixel-metres);
     the background lies at infinity (``sigma = a / d_focus``), the person stays sharp (its
     depth spread gives under half a pixel), occluders get their own sigma from their depth;
   - *motion blur* of a single image: the person layer is blurred along a straight 2D motion
     (a random velocity: the image does not come from a clip, so this stands for the person's
     motion during the exposure) and the whole frame along a smaller camera shake, each kernel
     centred on the label's instant (the joints' 2D positions are the centre of the streak);
   - clips use the true motion instead: :func:`flow_motion_blur` averages each frame along its
     optical flow to the neighbouring frames over the open-shutter fraction of the interval.
2. :func:`sensor_effects` (on the composite): exposure and white balance (gains in linear light),
   Poisson-Gaussian sensor noise (variance ``a x + b^2`` in linear light), JPEG (Pillow); and for
   clips :func:`h264_roundtrip` (PyAV, libx264 at a random CRF).

Images are float32 (3, H, W) display values in [0, 1] (sRGB-like, gamma 2.2).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "CameraEffects",
    "EffectDraw",
    "draw_effects",
    "gaussian_blur",
    "optical_effects",
    "sensor_effects",
    "flow_motion_blur",
    "jpeg_roundtrip",
    "h264_roundtrip",
]

_GAMMA = 2.2


@dataclass
class CameraEffects:
    """Probabilities and ranges of the camera effects (all off by default).

    Attributes:
        motion_blur_prob: chance of motion blur; motion_blur_px: (min, max) length in pixels of the
            person's motion during the exposure (single images); shake_px: (min, max) length of
            the camera shake; shutter: (min, max) open fraction of the frame interval (clips).
        defocus_prob: chance of defocus; defocus_px: (min, max) Gaussian sigma of the background.
        exposure_prob, exposure_stops: chance and max |stops| of an exposure error.
        white_balance_prob, white_balance: chance and max relative red/blue gain error.
        noise_prob: chance of sensor noise; noise_shot: (min, max) ``a`` (shot noise, variance per
            unit linear signal); noise_read: (min, max) ``b`` (read noise std, linear).
        jpeg_prob, jpeg_quality: chance and (min, max) Pillow quality of a JPEG round trip.
        h264_prob, h264_crf: chance and (min, max) libx264 CRF of an H.264 round trip (clips).
    """

    motion_blur_prob: float = 0.0
    motion_blur_px: tuple[float, float] = (2.0, 9.0)
    shake_px: tuple[float, float] = (0.0, 2.5)
    shutter: tuple[float, float] = (0.3, 0.9)
    defocus_prob: float = 0.0
    defocus_px: tuple[float, float] = (0.8, 3.5)
    exposure_prob: float = 0.0
    exposure_stops: float = 0.7
    white_balance_prob: float = 0.0
    white_balance: float = 0.15
    noise_prob: float = 0.0
    noise_shot: tuple[float, float] = (0.0005, 0.01)
    noise_read: tuple[float, float] = (0.0005, 0.006)
    jpeg_prob: float = 0.0
    jpeg_quality: tuple[int, int] = (35, 95)
    h264_prob: float = 0.0
    h264_crf: tuple[int, int] = (18, 36)

    @classmethod
    def training(cls) -> CameraEffects:
        """The setting of the training recipes: each effect on for a part of the images."""
        return cls(
            motion_blur_prob=0.35,
            defocus_prob=0.35,
            exposure_prob=0.5,
            white_balance_prob=0.5,
            noise_prob=0.5,
            jpeg_prob=0.5,
            h264_prob=0.5,
        )

    def enabled(self) -> bool:
        return any(
            p > 0
            for p in (
                self.motion_blur_prob,
                self.defocus_prob,
                self.exposure_prob,
                self.white_balance_prob,
                self.noise_prob,
                self.jpeg_prob,
                self.h264_prob,
            )
        )


@dataclass
class EffectDraw:
    """The effects drawn for one image or clip (0 / None: off).

    Attributes:
        person_motion, shake: (2,) pixel motion of the person and of the camera during the exposure;
        shutter: open fraction of a clip's frame interval (0: no blur);
        defocus: background sigma in pixels; gains: (3,) linear gains (exposure x white balance);
        noise: (a, b) of the Poisson-Gaussian noise; jpeg: quality; crf: H.264 CRF; seed: of the noise.
    """

    person_motion: np.ndarray
    shake: np.ndarray
    shutter: float
    defocus: float
    gains: np.ndarray
    noise: tuple[float, float] | None
    jpeg: int | None
    crf: int | None
    seed: int

    def sigma_at(self, depth: float, focus: float) -> float:
        """Defocus sigma (pixels) of a point at ``depth`` metres with the focus at ``focus``."""
        if not self.defocus or depth <= 0:
            return self.defocus
        return self.defocus * abs(focus / depth - 1.0)


def _direction(rng: np.random.Generator, length: float) -> np.ndarray:
    a = rng.uniform(0, 2 * math.pi)
    return length * np.array([math.cos(a), math.sin(a)])


def draw_effects(rng: np.random.Generator, cfg: CameraEffects) -> EffectDraw | None:
    """One draw of the effects (None when ``cfg`` turns them all off: no random numbers drawn)."""
    if not cfg.enabled():
        return None
    blur = rng.random() < cfg.motion_blur_prob
    person = _direction(rng, rng.uniform(*cfg.motion_blur_px)) if blur else np.zeros(2)
    shake = _direction(rng, rng.uniform(*cfg.shake_px)) if blur else np.zeros(2)
    shutter = float(rng.uniform(*cfg.shutter)) if blur else 0.0
    defocus = float(rng.uniform(*cfg.defocus_px)) if rng.random() < cfg.defocus_prob else 0.0
    gains = np.ones(3)
    if rng.random() < cfg.exposure_prob:
        gains *= 2.0 ** rng.uniform(-cfg.exposure_stops, cfg.exposure_stops)
    if rng.random() < cfg.white_balance_prob:
        gains *= np.array([1 + rng.uniform(-1, 1) * cfg.white_balance, 1.0, 1 + rng.uniform(-1, 1) * cfg.white_balance])
    noise = (float(rng.uniform(*cfg.noise_shot)), float(rng.uniform(*cfg.noise_read))) if rng.random() < cfg.noise_prob else None
    jpeg = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1)) if rng.random() < cfg.jpeg_prob else None
    crf = int(rng.integers(cfg.h264_crf[0], cfg.h264_crf[1] + 1)) if rng.random() < cfg.h264_prob else None
    return EffectDraw(person, shake, shutter, defocus, gains, noise, jpeg, crf, int(rng.integers(2**62)))


# ----------------------------------------------------------------------------- blurs


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (C, H, W) with reflect padding; large sigmas run at half
    resolution (a blurred image has nothing the finer grid would hold)."""
    if sigma < 0.3:
        return x
    if sigma > 2.0 and min(x.shape[-2:]) >= 16:
        H, W = x.shape[-2:]
        small = gaussian_blur(F.avg_pool2d(x[None], 2)[0], math.sqrt(max(sigma**2 - 0.25, 0.0)) / 2)
        return F.interpolate(small[None], size=(H, W), mode="bilinear", align_corners=False)[0]
    r = max(1, int(math.ceil(2.5 * sigma)))
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=torch.float32) / sigma) ** 2)
    k = (k / k.sum()).to(x.dtype)
    C = x.shape[0]
    y = F.conv2d(F.pad(x[None], (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1).expand(C, 1, 1, -1), groups=C)
    y = F.conv2d(F.pad(y, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1).expand(C, 1, -1, 1), groups=C)
    return y[0]


def line_blur(x: torch.Tensor, motion: np.ndarray) -> torch.Tensor:
    """Average of (C, H, W) over a straight motion ``motion`` (2,) pixels centred on zero
    (integer taps, replicate padding)."""
    n = int(math.ceil(float(np.abs(motion).max()))) + 1
    if n <= 1:
        return x
    H, W = x.shape[-2:]
    ts = np.linspace(-0.5, 0.5, n)
    offs = np.round(ts[:, None] * motion[None]).astype(int)  # (n, 2) dx, dy
    p = int(np.abs(offs).max())
    padded = F.pad(x[None], (p, p, p, p), mode="replicate")[0]
    acc = torch.zeros_like(x)
    for dx, dy in offs:
        acc += padded[:, p + dy : p + dy + H, p + dx : p + dx + W]
    return acc / n


def optical_effects(
    d: EffectDraw | None, image: torch.Tensor, background: torch.Tensor, alpha: torch.Tensor
) -> torch.Tensor:
    """Defocus and motion blur of a single image (see the module docstring).

    Args:
        d: the draw (None: the image as it is).
        image: (3, H, W) the person rendered over ``background`` (3, H, W); alpha: (H, W) float
            coverage of the person (the mask).
    Returns:
        (3, H, W) float32.
    """
    if d is None or (not d.defocus and not d.person_motion.any() and not d.shake.any()):
        return image
    a = alpha[None].to(image.dtype)
    bg = gaussian_blur(background, d.defocus) if d.defocus else background
    if d.person_motion.any() or d.shake.any():
        person = line_blur(torch.cat([image * a, a]), d.person_motion + d.shake)
        bg = line_blur(bg, d.shake)
        return person[:3] + (1 - person[3:]) * bg
    return image * a + (1 - a) * bg


def flow_motion_blur(frames: torch.Tensor, flow_fw: torch.Tensor, flow_bw: torch.Tensor, shutter: float, taps: int = 5) -> torch.Tensor:
    """Motion blur of a clip along its true motion.

    Frame ``k`` is averaged over ``taps`` instants ``s`` in ``[-shutter/2, shutter/2]`` of the
    frame interval: at ``s > 0`` it is sampled at ``p + s * flow_fw[k](p)`` (towards frame k+1),
    at ``s < 0`` at ``p + |s| * flow_bw[k-1](p)`` (towards frame k-1); the first and last frames
    use the one flow they have, mirrored. (Sampling the frame itself along the flow is the
    usual approximation of integrating the scene over the exposure.)

    Args:
        frames: (T, 3, H, W); flow_fw, flow_bw: (T-1, H, W, 2) as in :class:`VideoSample`.
    Returns:
        (T, 3, H, W).
    """
    if shutter <= 0:
        return frames
    T, _, H, W = frames.shape
    ys, xs = torch.meshgrid(torch.arange(H, dtype=torch.float32), torch.arange(W, dtype=torch.float32), indexing="ij")
    base = torch.stack([xs, ys], -1)
    scale = torch.tensor([2.0 / max(W - 1, 1), 2.0 / max(H - 1, 1)])
    out = torch.empty_like(frames)
    for k in range(T):
        fwd = flow_fw[k] if k < T - 1 else -flow_bw[k - 1]
        bwd = flow_bw[k - 1] if k > 0 else -flow_fw[k]
        grids = []
        for s in np.linspace(-shutter / 2, shutter / 2, taps):
            f = fwd if s >= 0 else bwd
            grids.append((base + abs(float(s)) * f) * scale - 1)
        grid = torch.stack(grids).to(frames.dtype)
        samples = F.grid_sample(frames[k : k + 1].expand(taps, -1, -1, -1), grid, mode="bilinear",
                                padding_mode="border", align_corners=True)
        out[k] = samples.mean(0)
    return out


# ----------------------------------------------------------------------------- sensor


def jpeg_roundtrip(image: torch.Tensor, quality: int) -> torch.Tensor:
    """(3, H, W) float in [0, 1] through a JPEG of ``quality`` (Pillow, 4:2:0): (3, H, W)."""
    from PIL import Image

    arr = (image.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).numpy()
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as im:
        back = np.asarray(im.convert("RGB"))
    return torch.from_numpy(back.copy()).permute(2, 0, 1).float() / 255.0


def sensor_effects(d: EffectDraw | None, image: torch.Tensor, *, jpeg: bool = True) -> torch.Tensor:
    """Exposure and white balance, sensor noise and (``jpeg``) JPEG of (3, H, W) or (T, 3, H, W)
    display values; the noise of frame ``k`` of a clip is its own. Returns the same shape."""
    if d is None:
        return image
    if image.ndim == 4:
        return torch.stack([sensor_effects(_frame_draw(d, k), im, jpeg=jpeg) for k, im in enumerate(image)])
    out = image
    if d.noise is not None or not np.allclose(d.gains, 1.0):
        lin = image.clamp(0, 1).pow(_GAMMA) * torch.from_numpy(d.gains.astype(np.float32))[:, None, None]
        if d.noise is not None:
            a, b = d.noise
            g = torch.Generator().manual_seed(d.seed)
            lin = lin + (a * lin.clamp(min=0) + b * b).sqrt() * torch.randn(lin.shape, generator=g)
        out = lin.clamp(0, 1).pow(1.0 / _GAMMA)
    if jpeg and d.jpeg is not None:
        out = jpeg_roundtrip(out, d.jpeg)
    return out


def _frame_draw(d: EffectDraw, k: int) -> EffectDraw:
    return EffectDraw(d.person_motion, d.shake, d.shutter, d.defocus, d.gains, d.noise, d.jpeg, d.crf, d.seed + k)


def h264_roundtrip(frames: np.ndarray, crf: int, fps: float = 30.0) -> np.ndarray:
    """(T, H, W, 3) uint8 frames through H.264 (libx264, yuv420p, CRF ``crf``) in memory: the
    same shape (odd sizes are padded for the encoder and cropped back)."""
    import av

    T, H, W, _ = frames.shape
    ph, pw = H + H % 2, W + W % 2
    padded = np.pad(frames, ((0, 0), (0, ph - H), (0, pw - W), (0, 0)), mode="edge")
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=max(1, round(fps)))
        stream.width, stream.height, stream.pix_fmt = pw, ph, "yuv420p"
        stream.options = {"crf": str(int(crf)), "preset": "ultrafast", "tune": "zerolatency"}
        for f in padded:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")))
        out.mux(stream.encode())
    buf.seek(0)
    with av.open(buf, "r") as inp:
        back = [fr.to_ndarray(format="rgb24") for fr in inp.decode(video=0)]
    if len(back) != T:  # the encoder must hand back every frame; keep the input otherwise
        return frames
    return np.stack(back)[:, :H, :W].copy()
