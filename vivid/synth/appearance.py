"""Appearance: skin tones, garment textures, backgrounds and spherical-harmonics lighting.

Everything is procedural and drawn from a ``numpy.random.Generator`` so that a seed fixes it.
Images are float32 tensors in [0, 1], channel-first.

* Skin tones: a palette spanning light to dark skin (sRGB albedo), jittered.
* Garment textures (:func:`garment_texture`): ``solid``, ``stripes``, ``checks``, ``prints``
  (dots and soft blobs) and ``logos`` (a plain garment with a centred emblem). The texture is
  wrapped around the torso with cylindrical coordinates (``u`` around the body, ``v`` up); its
  front half, ``u`` in [0.25, 0.75], is what :func:`flat_garment_image` lays out flat.
* Backgrounds (:func:`background`): value-noise gradients, a room (wall and floor), bokeh
  blobs, tiles; or a random crop of a user photo.
* Lighting (:func:`random_sh`): 9 x 3 SH irradiance coefficients in the convention of
  :func:`vivid.core.render.shade_sh` (ambient + a directional lobe + weak band-2 variation).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vivid.core.errors import VividError

__all__ = [
    "SKIN_TONES",
    "GARMENT_KINDS",
    "BACKGROUND_KINDS",
    "skin_tone",
    "garment_texture",
    "flat_garment_image",
    "background",
    "random_sh",
    "load_photos",
]

# sRGB skin albedos from light to dark (roughly the Fitzpatrick range).
SKIN_TONES = np.array(
    [
        [0.96, 0.80, 0.69],
        [0.91, 0.73, 0.60],
        [0.85, 0.65, 0.52],
        [0.78, 0.57, 0.44],
        [0.67, 0.47, 0.34],
        [0.55, 0.37, 0.26],
        [0.42, 0.27, 0.19],
        [0.31, 0.20, 0.14],
    ]
)
GARMENT_KINDS = ("solid", "stripes", "checks", "prints", "logos")
BACKGROUND_KINDS = ("noise", "room", "bokeh", "tiles")

_SH_C0 = 0.5 * math.sqrt(1.0 / math.pi)
_SH_C1 = math.sqrt(3.0 / (4.0 * math.pi))


def skin_tone(rng: np.random.Generator, tones: tuple[int, int] = (0, len(SKIN_TONES) - 1)) -> np.ndarray:
    """A skin albedo (3,) from palette entries ``tones[0]..tones[1]`` (inclusive), jittered."""
    lo, hi = tones
    a = rng.uniform(lo, hi)
    i = int(min(math.floor(a), len(SKIN_TONES) - 2))
    w = a - i
    c = (1 - w) * SKIN_TONES[i] + w * SKIN_TONES[i + 1]
    return np.clip(c * rng.uniform(0.93, 1.07) + rng.normal(0, 0.015, 3), 0.03, 1.0)


def _colour(rng: np.random.Generator) -> np.ndarray:
    """A garment colour: random hue, any saturation, not too dark or bright."""
    h = rng.random()
    s = rng.uniform(0.0, 0.9)
    v = rng.uniform(0.15, 0.95)
    k = (np.array([5.0, 3.0, 1.0]) + h * 6) % 6
    return v - v * s * np.clip(np.minimum(k, 4 - k), 0, 1)


def _grid(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    y, x = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    return x, y


def _paint(mask: torch.Tensor, a: np.ndarray, b: np.ndarray) -> torch.Tensor:
    """Blend colours a (where mask=0) and b (mask=1): (3, H, W)."""
    ta = torch.tensor(a, dtype=torch.float32)[:, None, None]
    tb = torch.tensor(b, dtype=torch.float32)[:, None, None]
    return ta * (1 - mask) + tb * mask


def garment_texture(rng: np.random.Generator, kind: str | None = None, size: int = 128) -> tuple[torch.Tensor, str]:
    """A square garment texture (3, size, size) in [0, 1] and its kind.

    ``u`` (columns) wraps around the body, so patterns repeat an integer number of times
    across the width to stay seamless at the back seam."""
    kind = kind or GARMENT_KINDS[rng.integers(len(GARMENT_KINDS))]
    if kind not in GARMENT_KINDS:
        raise VividError(f"unknown garment kind {kind!r}; use one of {', '.join(GARMENT_KINDS)}")
    x, y = _grid(size)
    base, other = _colour(rng), _colour(rng)
    if kind == "solid":
        tex = _paint(torch.zeros(size, size), base, base)
    elif kind == "stripes":
        n = int(rng.integers(4, 16))
        duty = rng.uniform(0.25, 0.6)
        if rng.random() < 0.5:  # horizontal stripes (around the body)
            phase = (y * n * rng.uniform(0.8, 1.5)) % 1.0
        else:  # vertical stripes, seamless in u
            phase = (x * n) % 1.0
        tex = _paint((phase < duty).float(), base, other)
    elif kind == "checks":
        n = int(rng.integers(4, 12))
        a = ((x * n) % 1.0 < 0.5).float()
        b = ((y * n) % 1.0 < 0.5).float()
        tex = _paint(0.5 * a + 0.5 * b, base, other)  # gingham: three tones
    elif kind == "prints":
        tex = _paint(torch.zeros(size, size), base, base)
        n = int(rng.integers(10, 50))
        r = rng.uniform(0.015, 0.05)
        cols = [_colour(rng) for _ in range(3)]
        for _ in range(n):
            cx, cy = rng.random(), rng.random()
            rr = r * rng.uniform(0.6, 1.6)
            dx = torch.minimum((x - cx).abs(), 1 - (x - cx).abs())  # wrap in u
            d = (dx**2 + ((y - cy) / rng.uniform(0.6, 1.4)) ** 2).sqrt()
            m = (d < rr).float()
            c = torch.tensor(cols[rng.integers(3)], dtype=torch.float32)[:, None, None]
            tex = tex * (1 - m) + c * m
    else:  # logos: plain garment, emblem on the chest (front centre, u = 0.5)
        tex = _paint(torch.zeros(size, size), base, base)
        cx, cy = 0.5, rng.uniform(0.25, 0.4)
        r = rng.uniform(0.06, 0.1)
        shape = rng.integers(3)
        if shape == 0:  # ring
            d = ((x - cx) ** 2 + (y - cy) ** 2).sqrt()
            m = ((d < r) & (d > 0.55 * r)).float()
        elif shape == 1:  # diamond
            m = (((x - cx).abs() + (y - cy).abs()) < r).float()
        else:  # three bars, like lettering
            m = torch.zeros(size, size)
            for k in range(3):
                x0 = cx - r + k * r * 0.75
                m = torch.maximum(m, (((x - x0).abs() < r * 0.18) & ((y - cy).abs() < r * 0.6)).float())
        tex = tex * (1 - m) + torch.tensor(other, dtype=torch.float32)[:, None, None] * m
    # subtle fabric noise
    tex = tex * (1 + 0.04 * _value_noise(rng, size, size, 32))
    return tex.clamp(0, 1).float(), kind


def flat_garment_image(texture: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The garment laid out flat, front view, on a white background, as a shop photo shows it.

    A T-shirt silhouette (torso and short sleeves) is filled with the front half of
    ``texture`` (u in [0.25, 0.75]); rows map to v from the hem (bottom) to the collar (top).

    Returns:
        image (3, H, W) in [0, 1] and mask (H, W) bool.
    """
    y, x = torch.meshgrid(torch.linspace(0, 1, height), torch.linspace(0, 1, width), indexing="ij")
    xc = (x - 0.5).abs()
    torso = (xc < 0.22) & (y > 0.12) & (y < 0.95)
    neck = ((x - 0.5) ** 2 / 0.08**2 + (y - 0.12) ** 2 / 0.06**2) < 1
    sleeve = (xc >= 0.2) & (xc < 0.42) & (y > 0.12 + (xc - 0.2) * 0.6) & (y < 0.42 + (xc - 0.2) * 0.6)
    mask = (torso | sleeve) & ~neck
    u = 0.25 + 0.5 * x
    v = 1.0 - (y - 0.12) / 0.83  # collar at v = 1, hem at v = 0
    grid = torch.stack([u * 2 - 1, (1 - v.clamp(0, 1)) * 2 - 1], dim=-1)[None]
    tex = F.grid_sample(texture[None], grid, mode="bilinear", padding_mode="border", align_corners=False)[0]
    # soft fold shading so that it reads as cloth
    shade = 1.0 - 0.08 * torch.cos(x * 9.0) ** 2
    img = torch.where(mask[None], tex * shade, torch.ones_like(tex))
    return img.clamp(0, 1), mask


def _value_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> torch.Tensor:
    """Smooth noise in [-1, 1]: random values on a coarse grid, bicubic upsampled (H, W)."""
    g = torch.from_numpy(rng.uniform(-1, 1, (1, 1, cells + 3, cells + 3)).astype(np.float32))
    up = F.interpolate(
        g, size=(height + 3 * height // cells, width + 3 * width // cells), mode="bicubic", align_corners=False
    )
    return up[0, 0, :height, :width].clamp(-1, 1)


def _fractal(rng: np.random.Generator, height: int, width: int) -> torch.Tensor:
    out = torch.zeros(height, width)
    amp, total = 1.0, 0.0
    for cells in (3, 6, 12, 24):
        out += amp * _value_noise(rng, height, width, cells)
        total += amp
        amp *= 0.5
    return out / total


def background(
    rng: np.random.Generator,
    height: int,
    width: int,
    *,
    kind: str | None = None,
    photos: list[np.ndarray] | None = None,
) -> tuple[torch.Tensor, str]:
    """A background image (3, H, W) in [0, 1] and its kind (``photo`` when drawn from ``photos``)."""
    if photos and (kind == "photo" or (kind is None and rng.random() < 0.5)):
        img = photos[rng.integers(len(photos))]
        h, w = img.shape[:2]
        s = max(height / h, width / w) * rng.uniform(1.0, 1.6)
        t = torch.from_numpy(img).permute(2, 0, 1).float()[None] / 255.0
        t = F.interpolate(
            t, size=(max(height, int(h * s)), max(width, int(w * s))), mode="bilinear", align_corners=False
        )[0]
        y0 = int(rng.integers(t.shape[1] - height + 1))
        x0 = int(rng.integers(t.shape[2] - width + 1))
        out = t[:, y0 : y0 + height, x0 : x0 + width]
        if rng.random() < 0.5:
            out = out.flip(-1)
        return out.contiguous(), "photo"
    kind = kind or BACKGROUND_KINDS[rng.integers(len(BACKGROUND_KINDS))]
    if kind not in BACKGROUND_KINDS:
        raise VividError(f"unknown background kind {kind!r}; use one of {', '.join(BACKGROUND_KINDS)}")
    y, x = torch.meshgrid(torch.linspace(0, 1, height), torch.linspace(0, 1, width), indexing="ij")
    a, b = _colour(rng), _colour(rng)
    if kind == "noise":
        n = _fractal(rng, height, width)
        img = _paint((y * rng.uniform(0.3, 1.0) + 0.5 * n).clamp(0, 1), a, b)
    elif kind == "room":
        horizon = rng.uniform(0.45, 0.8)
        wall = _paint((0.5 + 0.4 * _fractal(rng, height, width)).clamp(0, 1), a, a * 0.8)
        depth = (y - horizon).clamp(min=1e-3)
        planks = (
            (torch.sin((x - 0.5) / depth * rng.uniform(2, 6)) > 0).float()
            if rng.random() < 0.5
            else torch.zeros_like(x)
        )
        floor = _paint(0.15 * planks + 0.3 * (y - horizon) / (1 - horizon), b, b * 0.5)
        img = torch.where((y > horizon)[None], floor, wall)
    elif kind == "bokeh":
        img = _paint(y, a * 0.6, b * 0.6)
        for _ in range(int(rng.integers(8, 30))):
            cx, cy, r = rng.random(), rng.random(), rng.uniform(0.02, 0.15)
            d = ((x - cx) ** 2 + (y - cy) ** 2).sqrt()
            m = torch.sigmoid((r - d) / (0.15 * r)) * rng.uniform(0.2, 0.7)
            img = img * (1 - m) + torch.tensor(_colour(rng), dtype=torch.float32)[:, None, None] * m
    else:  # tiles
        n = int(rng.integers(3, 12))
        gap = rng.uniform(0.03, 0.12)
        tile = (((x * n * width / max(height, width)) % 1.0) > gap) & (
            ((y * n * height / max(height, width)) % 1.0) > gap
        )
        img = _paint(tile.float(), b * 0.5, a)
        img = img * (1 + 0.1 * _fractal(rng, height, width))
    return img.clamp(0, 1).float().contiguous(), kind


def random_sh(rng: np.random.Generator, *, strength: tuple[float, float] = (0.8, 1.3)) -> tuple[np.ndarray, np.ndarray]:
    """Random lighting: (9, 3) SH coefficients in world axes for bands 0-1 plus band-2 terms.

    Irradiance at normal n is ``ambient_c + directional_c * dot(n, light_dir) + band2``.
    Returns the coefficients and the light direction (3,) in world coordinates (z up); rotate
    band 1 into the camera frame with :func:`sh_to_camera`."""
    tint = rng.uniform(0.85, 1.15, 3)
    total = rng.uniform(*strength)
    ambient = total * rng.uniform(0.55, 0.85) * tint
    # at most 0.8 x ambient, so that the side facing away from the light stays visible
    directional = ambient * rng.uniform(0.2, 0.8)
    theta = rng.uniform(0, 2 * math.pi)
    elev = rng.uniform(math.radians(5), math.radians(80))
    d = np.array([math.cos(elev) * math.cos(theta), math.cos(elev) * math.sin(theta), math.sin(elev)])
    sh = np.zeros((9, 3))
    sh[0] = ambient / _SH_C0
    sh[4:] = rng.normal(0, 0.04, (5, 3)) * total
    sh[1:4] = (directional[None, :] * d[[1, 2, 0], None]) / _SH_C1  # order (y, z, x)
    return sh, d


def sh_to_camera(sh: np.ndarray, R: np.ndarray) -> np.ndarray:
    """Rotate the band-1 part of world SH coefficients (9, 3) into the camera frame (R: world->cam).

    Band 1 is a linear function of n: ``c . n`` with ``c = (sh[3], sh[1], sh[2])`` (x, y, z);
    in camera coordinates ``n_w = R^T n_c`` so ``c_cam = R c``. Band 2 is kept as it is (weak
    variation, not tied to the world)."""
    out = sh.copy()
    c = np.stack([sh[3], sh[1], sh[2]], axis=0)  # (3 axes, 3 colours)
    cc = R @ c
    out[3], out[1], out[2] = cc[0], cc[1], cc[2]
    return out


def load_photos(folder: str | os.PathLike, max_side: int = 512) -> list[np.ndarray]:
    """Read the images in ``folder`` (user-supplied backgrounds) as uint8 (H, W, 3) arrays,
    upright and in 8-bit RGB whatever their EXIF orientation or mode (see
    :func:`vivid.core.fileio.read_image`), at most ``max_side`` pixels on a side."""
    from PIL import Image

    from vivid.core.fileio import read_image

    folder = Path(folder)
    if not folder.is_dir():
        raise VividError(f"background folder {folder} does not exist")
    out = []
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp", ".bmp"):
            continue
        try:
            im = Image.fromarray(read_image(p))
        except VividError as err:
            raise VividError(f"cannot read background image {p}: {err.__cause__ or err}") from err
        im.thumbnail((max_side, max_side))
        out.append(np.asarray(im, dtype=np.uint8).copy())
    if not out:
        raise VividError(f"background folder {folder} holds no images (png/jpg/webp/bmp)")
    return out
