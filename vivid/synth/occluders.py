"""Occluders in front of the person: textured shapes cut out of backdrop images, and other people.

A shape occluder (:func:`shape_occluder`) is a flat card between the camera and the person: an
ellipse, a rectangle, a random polygon or a pole (a long thin bar, like a lamp post or a tree
trunk), filled with a crop of a background image (a photo, a panorama view or a procedural
backdrop: whatever the scene's backgrounds are), darkened a little, and placed over the
person's box so that it hides part of the body. Another person in front is rendered by the
scene itself (:class:`vivid.synth.body_scenes.BodyScenes`), as a second body closer to the
camera; both kinds end in :func:`apply_occlusion`, which composites the layer and makes the
labels say what is seen: a joint whose pixel is covered is not visible, and the person's mask,
part map, garment mask and depth are cleared (False / 0) under the occluder.

:class:`OccluderConfig` is off by default (``vivid synth``); :meth:`OccluderConfig.training`
turns it on for training recipes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["OccluderConfig", "Occlusion", "shape_occluder", "occlude_labels", "apply_occlusion", "mask_box"]

SHAPES = ("ellipse", "rectangle", "polygon", "pole")


@dataclass
class OccluderConfig:
    """How often and how much the person is occluded (all off by default).

    Attributes:
        prob: chance that an image gets shape occluders; max_count: at most this many (>= 1).
        size: (min, max) occluder extent as a fraction of the person's box height.
        person_prob: chance that another person stands in front (body kind).
    """

    prob: float = 0.0
    max_count: int = 2
    size: tuple[float, float] = (0.25, 0.7)
    person_prob: float = 0.0

    @classmethod
    def training(cls) -> OccluderConfig:
        return cls(prob=0.3, person_prob=0.15)

    def enabled(self) -> bool:
        return self.prob > 0 or self.person_prob > 0


@dataclass
class Occlusion:
    """An occluding layer: colour (3, H, W) premultiplied by ``alpha`` (H, W) in [0, 1]."""

    rgb: torch.Tensor
    alpha: torch.Tensor


def mask_box(mask: torch.Tensor) -> tuple[float, float, float, float] | None:
    """(x0, y0, x1, y1) pixel box of a (H, W) bool mask (inclusive-exclusive), or None if empty."""
    ys = torch.nonzero(mask.any(1)).squeeze(1)
    xs = torch.nonzero(mask.any(0)).squeeze(1)
    if not len(ys):
        return None
    return float(xs[0]), float(ys[0]), float(xs[-1] + 1), float(ys[-1] + 1)


def _shape_mask(rng: np.random.Generator, height: int, width: int, box, size: tuple[float, float]) -> torch.Tensor:
    """An anti-aliased shape (H, W) float over the box (drawn at 2x and averaged down)."""
    from PIL import Image, ImageDraw

    x0, y0, x1, y1 = box
    bh = max(y1 - y0, 8.0)
    s = 2
    im = Image.new("L", (width * s, height * s), 0)
    dr = ImageDraw.Draw(im)
    cx, cy = rng.uniform(x0, x1) * s, rng.uniform(y0, y1) * s
    ext = rng.uniform(*size) * bh * s
    kind = SHAPES[rng.integers(len(SHAPES))]
    if kind == "ellipse":
        rx, ry = ext * rng.uniform(0.3, 0.6), ext * rng.uniform(0.3, 0.6)
        dr.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=255)
    elif kind == "pole":
        w = ext * rng.uniform(0.08, 0.2)
        a = rng.uniform(-0.15, 0.15)  # nearly upright
        dx, dy = math.sin(a) * height * s, math.cos(a) * height * s
        nx, ny = math.cos(a) * w / 2, -math.sin(a) * w / 2
        dr.polygon([(cx - dx - nx, cy - dy - ny), (cx - dx + nx, cy - dy + ny),
                    (cx + dx + nx, cy + dy + ny), (cx + dx - nx, cy + dy - ny)], fill=255)
    else:
        n = 4 if kind == "rectangle" else int(rng.integers(5, 9))
        base = rng.uniform(0, 2 * math.pi)
        angles = np.sort(base + (np.arange(n) + (rng.uniform(-0.3, 0.3, n) if kind == "polygon" else 0)) * 2 * math.pi / n)
        radii = ext * 0.5 * (rng.uniform(0.6, 1.0, n) if kind == "polygon" else np.ones(n))
        sx, sy = (rng.uniform(0.5, 1.5), rng.uniform(0.5, 1.5)) if kind == "rectangle" else (1.0, 1.0)
        dr.polygon([(cx + r * math.cos(t) * sx, cy + r * math.sin(t) * sy) for t, r in zip(angles, radii)], fill=255)
    m = torch.from_numpy(np.asarray(im, dtype=np.float32) / 255.0)
    return F.avg_pool2d(m[None, None], s)[0, 0]


def shape_occluder(
    rng: np.random.Generator, texture: torch.Tensor, box, size: tuple[float, float] = (0.25, 0.7)
) -> Occlusion:
    """A textured shape over ``box`` (x0, y0, x1, y1) of the person, filled with ``texture``
    (3, H, W) (a background crop), darkened by a random factor."""
    H, W = texture.shape[-2:]
    alpha = _shape_mask(rng, H, W, box, size)
    shade = float(rng.uniform(0.45, 1.0))
    return Occlusion(texture * shade * alpha[None], alpha)


def occlude_labels(
    covered: np.ndarray, labels: dict[str, np.ndarray], joint_keys=(("joints2d", "visibility"), ("coco2d", "coco_visibility"))
) -> None:
    """Update numpy labels in place for a (H, W) bool ``covered`` region: joints (``joint_keys``:
    pairs of 2D joints (J, 2) and visibility (J,)) whose pixel is covered become invisible;
    ``mask``, ``parts``, ``garment_mask`` and ``depth`` are cleared there."""
    H, W = covered.shape
    for xy_key, vis_key in joint_keys:
        if xy_key not in labels:
            continue
        xy = labels[xy_key]
        u = np.clip(np.round(xy[..., 0]).astype(int), 0, W - 1)
        v = np.clip(np.round(xy[..., 1]).astype(int), 0, H - 1)
        labels[vis_key] = np.where(covered[v, u], 0.0, labels[vis_key]).astype(np.float32)
    for key, empty in (("mask", False), ("garment_mask", False), ("parts", 0), ("depth", 0.0)):
        if key in labels:
            labels[key] = np.where(covered, empty, labels[key]).astype(labels[key].dtype)


def apply_occlusion(image: torch.Tensor, occ: Occlusion, labels: dict[str, np.ndarray]) -> torch.Tensor:
    """Composite ``occ`` over ``image`` (3, H, W) and update the labels (:func:`occlude_labels`)
    where its alpha is at least 0.5. Returns the composite (3, H, W)."""
    occlude_labels((occ.alpha >= 0.5).numpy(), labels)
    return occ.rgb + (1 - occ.alpha[None]) * image
