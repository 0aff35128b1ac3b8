"""Image corruptions for unlabelled training faces: occluders (a hand, hair, glasses as simple
shapes), blur and JPEG noise. Each draws from the given random stream only."""

from __future__ import annotations

import io

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["corrupt"]


def _disk(size: int, cx: float, cy: float, rx: float, ry: float) -> torch.Tensor:
    y, x = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32), indexing="ij")
    return (((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2) <= 1.0


def _paint(image: torch.Tensor, mask: torch.Tensor, colour) -> torch.Tensor:
    c = torch.as_tensor(np.asarray(colour, dtype=np.float32))[:, None, None]
    return torch.where(mask[None], c, image)


def occlude(image: torch.Tensor, r: np.random.Generator, landmarks: np.ndarray) -> torch.Tensor:
    """One occluder over a (3, S, S) crop whose (68, 2) landmarks are given."""
    S = image.shape[-1]
    kind = r.choice(["hand", "hair", "glasses"])
    if kind == "hand":  # a skin-coloured blob with fingers from below or the side
        j = int(r.choice([4, 8, 12, 48, 54]))
        cx, cy = landmarks[j] + r.normal(0, 0.05 * S, 2)
        colour = np.array([0.78, 0.58, 0.48]) * r.uniform(0.4, 1.2)
        mask = _disk(S, cx, cy, r.uniform(0.08, 0.16) * S, r.uniform(0.1, 0.2) * S)
        for k in range(4):
            mask |= _disk(S, cx + (k - 1.5) * 0.05 * S, cy - 0.15 * S, 0.022 * S, 0.08 * S)
        return _paint(image, mask, np.clip(colour, 0, 1))
    if kind == "hair":  # a dark fringe over the brows and forehead
        top = float(landmarks[17:27, 1].min())
        colour = r.choice([[0.1, 0.07, 0.05], [0.35, 0.22, 0.1], [0.7, 0.6, 0.4], [0.05, 0.05, 0.05]])
        y = torch.arange(S, dtype=torch.float32)[:, None].expand(S, S)
        x = torch.arange(S, dtype=torch.float32)[None].expand(S, S)
        edge = top + r.uniform(-0.05, 0.06) * S + 0.04 * S * torch.sin(x / S * r.uniform(10, 30) + r.uniform(0, 6))
        return _paint(image, y < edge, colour)
    # glasses: two rings and a bridge
    out = image
    colour = r.choice([[0.05, 0.05, 0.05], [0.4, 0.3, 0.2], [0.7, 0.7, 0.75]])
    rad = r.uniform(0.07, 0.1) * S
    for eye in (slice(36, 42), slice(42, 48)):
        cx, cy = landmarks[eye].mean(0)
        ring = _disk(S, cx, cy, rad, rad * 0.8) & ~_disk(S, cx, cy, rad * 0.85, rad * 0.65)
        out = _paint(out, ring, colour)
    (lx, ly), (rx, ry) = landmarks[36:42].mean(0), landmarks[42:48].mean(0)
    bridge = _disk(S, (lx + rx) / 2, (ly + ry) / 2, abs(rx - lx) / 2 - rad * 0.8, 0.012 * S + 0.5)
    return _paint(out, bridge, colour)


def blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of a (3, S, S) image."""
    k = int(2 * round(2 * sigma) + 1)
    x = torch.arange(k, dtype=torch.float32) - k // 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    img = image[None]
    img = F.conv2d(F.pad(img, (k // 2, k // 2, 0, 0), mode="replicate"), g.view(1, 1, 1, k).repeat(3, 1, 1, 1), groups=3)
    img = F.conv2d(F.pad(img, (0, 0, k // 2, k // 2), mode="replicate"), g.view(1, 1, k, 1).repeat(3, 1, 1, 1), groups=3)
    return img[0]


def jpeg(image: torch.Tensor, quality: int) -> torch.Tensor:
    """JPEG round trip of a (3, S, S) image at ``quality``."""
    from PIL import Image

    from vivid.core.fileio import to_tensor, to_uint8

    buf = io.BytesIO()
    Image.fromarray(to_uint8(image)).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    return to_tensor(np.asarray(Image.open(buf).convert("RGB")))


def corrupt(image: torch.Tensor, r: np.random.Generator, landmarks: np.ndarray, *, p_occlude: float = 0.3,
            p_blur: float = 0.3, p_jpeg: float = 0.3) -> torch.Tensor:
    """(3, S, S) crop in [0, 1] -> corrupted copy: an occluder, blur, JPEG noise, each with its chance."""
    out = image
    if r.random() < p_occlude:
        out = occlude(out, r, landmarks)
    if r.random() < p_blur:
        out = blur(out, r.uniform(0.5, 1.5))
    if r.random() < p_jpeg:
        out = jpeg(out, int(r.integers(25, 90)))
    return out.clamp(0, 1)
