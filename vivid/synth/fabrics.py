"""Garment textures from real fabric: patches cropped from photos of garments.

The photos (a folder, searched recursively: e.g. one sub-folder per garment class) show a garment
laid flat, hanging or worn, usually on a plain backdrop. A patch is cut where the photo shows
fabric: the backdrop colour is the median of the photo's outer border, and a pixel counts as
fabric when its colour is far from it (:func:`fabric_mask`); among a few random squares near the
centre of the fabric's box, the one with the most fabric is kept (the garment's centre region:
no collar, sleeves' ends or backdrop in most patches). The patch is resized to half the texture
width and mirrored across, so the texture wraps around the body without a seam (the renderer
tiles it twice across: see :class:`vivid.synth.kit.BodyKit`).

Which photos are used is the caller's choice: train, validation and test folders are separate
(e.g. ``tryon/clothing_train``, ``clothing_validation`` and ``clothing_dataset_small``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vivid.core.errors import VividError

__all__ = ["FABRIC_KIND", "IMAGE_SUFFIXES", "image_files", "fabric_mask", "fabric_patch", "FabricBank"]

FABRIC_KIND = "fabric"
"""The garment kind of a texture cut from a photo (after :data:`vivid.synth.appearance.GARMENT_KINDS`)."""
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


def image_files(folder: str | os.PathLike) -> list[Path]:
    """The image files under ``folder`` (recursively, sorted); VividError when there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise VividError(f"fabric folder {folder} does not exist")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise VividError(f"{folder} holds no images (png/jpg/webp/bmp) to cut fabric from")
    return files


def fabric_mask(img: np.ndarray, threshold: float = 0.12) -> np.ndarray:
    """(H, W) bool: pixels of an (H, W, 3) uint8 photo whose colour is far from the backdrop's
    (the median of the outer 4 % border), in RGB distance over 255."""
    H, W, _ = img.shape
    b = max(1, round(0.04 * min(H, W)))
    border = np.concatenate([img[:b].reshape(-1, 3), img[-b:].reshape(-1, 3), img[:, :b].reshape(-1, 3), img[:, -b:].reshape(-1, 3)])
    ref = np.median(border, axis=0)
    return np.linalg.norm(img.astype(np.float32) - ref, axis=-1) / 255.0 > threshold


def fabric_patch(rng: np.random.Generator, img: np.ndarray, size: int = 128, tries: int = 8) -> torch.Tensor:
    """A seamless garment texture (3, size, size) float32 in [0, 1] cut from a garment photo
    (H, W, 3) uint8 (see the module docstring)."""
    H, W, _ = img.shape
    mask = fabric_mask(img)
    ys, xs = np.nonzero(mask)
    if len(ys) < 0.05 * H * W:  # no backdrop to tell apart (the garment fills the photo): use the centre
        y0, y1, x0, x1 = 0.2 * H, 0.8 * H, 0.2 * W, 0.8 * W
    else:
        y0, y1 = np.percentile(ys, [20, 80])
        x0, x1 = np.percentile(xs, [20, 80])
    side = max(8, int(rng.uniform(0.2, 0.4) * min(y1 - y0 + 1, x1 - x0 + 1, H, W) * 1.6))
    side = min(side, H, W)
    integral = np.pad(mask.astype(np.int32).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    best, best_score = (int(max(0, (H - side) // 2)), int(max(0, (W - side) // 2))), -1.0
    for _ in range(tries):
        cy = rng.uniform(y0, y1)
        cx = rng.uniform(x0, x1)
        ty = int(np.clip(cy - side / 2, 0, H - side))
        tx = int(np.clip(cx - side / 2, 0, W - side))
        score = integral[ty + side, tx + side] - integral[ty, tx + side] - integral[ty + side, tx] + integral[ty, tx]
        if score > best_score:
            best, best_score = (ty, tx), float(score)
    ty, tx = best
    crop = torch.from_numpy(img[ty : ty + side, tx : tx + side].copy()).permute(2, 0, 1).float()[None] / 255.0
    half = F.interpolate(crop, size=(size, size // 2), mode="bilinear", align_corners=False, antialias=True)[0]
    return torch.cat([half, half.flip(-1)], -1).clamp(0, 1).contiguous()


class FabricBank:
    """The garment photos of a folder, read when a patch of them is first asked for.

    Patch ``j`` comes from photo ``j mod n`` with ``numpy.random.default_rng([seed, 3, j])``, so a
    seed fixes every patch.
    """

    def __init__(self, folder: str | os.PathLike, seed: int, *, max_side: int = 384) -> None:
        self.files = image_files(folder)
        self.seed = int(seed)
        self.max_side = max_side
        self._cache: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.files)

    def patch(self, j: int, size: int = 128) -> torch.Tensor:
        """Patch ``j`` (3, size, size) float32."""
        if j not in self._cache:
            from PIL import Image

            rng = np.random.default_rng([self.seed, 3, int(j)])
            path = self.files[int(rng.integers(len(self.files))) if j >= len(self.files) else j]
            try:
                with Image.open(path) as im:
                    im = im.convert("RGB")
                    im.thumbnail((self.max_side, self.max_side))
                    img = np.asarray(im, dtype=np.uint8)
            except OSError as err:
                raise VividError(f"cannot read garment photo {path}: {err}") from err
            self._cache[j] = fabric_patch(rng, img, size)
        return self._cache[j]
