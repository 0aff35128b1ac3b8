"""Contact sheets of generated samples: joints, part segmentation and flow drawn over images.

One row per sample; the columns depend on the kind:

* body: image with the H36M skeleton (filled dots visible joints, hollow dots hidden ones) |
  part segmentation blended over the image | depth | garment mask.
* video: first frame with skeleton | segmentation | forward flow of frames 0 -> 1 (colour wheel:
  hue = direction, saturation = magnitude; invalid pixels black) | last frame with skeleton.
* tryon: frame with garment A | the same frame with garment B | flat garment A | flat garment B.
* face: image with the 68 landmarks (green visible, grey hidden) | face mask | depth.
"""

from __future__ import annotations

import math
import os
from typing import Mapping

import numpy as np

from vivid.synth.samples import SAMPLE_TYPES, BodySample, FaceSample, Sample, TryonSample, VideoSample

__all__ = ["contact_sheet", "flow_to_rgb", "parts_to_rgb", "draw_skeleton", "write_sheet"]

_PART_COLOURS = np.array(
    [
        [0, 0, 0],
        [230, 200, 60],
        [200, 60, 60],
        [60, 170, 230],
        [240, 120, 40],
        [40, 90, 220],
        [250, 170, 90],
        [20, 50, 160],
        [255, 210, 150],
        [80, 200, 90],
        [200, 90, 200],
        [30, 130, 50],
        [140, 40, 140],
        [120, 240, 140],
        [230, 140, 240],
    ],
    dtype=np.uint8,
)


def parts_to_rgb(parts: np.ndarray) -> np.ndarray:
    """(H, W) part labels -> (H, W, 3) uint8 colours (background black)."""
    return _PART_COLOURS[np.clip(parts, 0, len(_PART_COLOURS) - 1)]


def flow_to_rgb(flow: np.ndarray, valid: np.ndarray | None = None, max_mag: float | None = None) -> np.ndarray:
    """(H, W, 2) flow -> (H, W, 3) uint8, hue = direction, saturation = magnitude / max_mag."""
    dx, dy = flow[..., 0], flow[..., 1]
    mag = np.hypot(dx, dy)
    if max_mag is None:
        max_mag = max(float(np.percentile(mag, 99)), 1e-3)
    hue = (np.arctan2(-dy, -dx) / (2 * math.pi) + 0.5) % 1.0
    sat = np.clip(mag / max_mag, 0, 1)
    k = (np.array([5.0, 3.0, 1.0])[None, None] + hue[..., None] * 6) % 6
    rgb = 1 - sat[..., None] * np.clip(np.minimum(k, 4 - k), 0, 1)
    out = (rgb * 255).round().astype(np.uint8)
    if valid is not None:
        out[~valid] = 0
    return out


def draw_skeleton(
    image: np.ndarray, joints2d: np.ndarray, visibility: np.ndarray | None, bones, radius: int = 2
) -> np.ndarray:
    """Draw limbs and joints on a copy of ``image`` (H, W, 3) uint8."""
    from PIL import Image, ImageDraw

    im = Image.fromarray(image.copy())
    dr = ImageDraw.Draw(im)
    vis = np.ones(len(joints2d)) if visibility is None else visibility
    for a, b in bones:
        col = (255, 255, 0) if a < 7 or b < 7 else (0, 255, 255)
        dr.line([tuple(joints2d[a]), tuple(joints2d[b])], fill=col, width=1)
    for j, (x, y) in enumerate(joints2d):
        box = [x - radius, y - radius, x + radius, y + radius]
        if vis[j] > 0.5:
            dr.ellipse(box, fill=(255, 40, 40))
        else:
            dr.ellipse(box, outline=(255, 255, 255))
    return np.asarray(im)


def _depth_rgb(depth: np.ndarray) -> np.ndarray:
    m = depth > 0
    out = np.zeros(depth.shape + (3,), np.uint8)
    if m.any():
        lo, hi = depth[m].min(), depth[m].max()
        g = 1 - (depth - lo) / max(hi - lo, 1e-6)
        out[m] = (40 + 215 * g[m, None]).astype(np.uint8)
    return out


def _blend(image: np.ndarray, overlay: np.ndarray, mask: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    out = image.astype(np.float32)
    out[mask] = (1 - alpha) * out[mask] + alpha * overlay[mask].astype(np.float32)
    return out.astype(np.uint8)


def _fit(img: np.ndarray, h: int, w: int) -> np.ndarray:
    from PIL import Image

    if img.ndim == 2:
        img = (
            np.repeat((img.astype(np.uint8) * 255)[..., None], 3, -1)
            if img.dtype == bool
            else np.repeat(img[..., None], 3, -1)
        )
    if img.shape[:2] == (h, w):
        return img
    im = Image.fromarray(img)
    im.thumbnail((w, h))
    canvas = np.full((h, w, 3), 255, np.uint8)
    y0, x0 = (h - im.height) // 2, (w - im.width) // 2
    canvas[y0 : y0 + im.height, x0 : x0 + im.width] = np.asarray(im)
    return canvas


def _row(s: Sample) -> list[np.ndarray]:
    from vivid.core.body import H36M_BONES

    if isinstance(s, BodySample):
        img = s.image
        return [
            draw_skeleton(img, s.joints2d, s.visibility, H36M_BONES),
            _blend(img, parts_to_rgb(s.parts), s.parts > 0),
            _depth_rgb(s.depth),
            _blend(img, np.full_like(img, (255, 0, 255)), s.garment_mask, 0.5),
        ]
    if isinstance(s, VideoSample):
        T = s.image.shape[0]
        return [
            draw_skeleton(s.image[0], s.joints2d[0], s.visibility[0], H36M_BONES),
            _blend(s.image[0], parts_to_rgb(s.parts[0]), s.parts[0] > 0),
            flow_to_rgb(s.flow_fw[0], s.flow_fw_valid[0]),
            draw_skeleton(s.image[T - 1], s.joints2d[T - 1], s.visibility[T - 1], H36M_BONES),
        ]
    if isinstance(s, TryonSample):
        h, w = s.image.shape[1:3]
        return [s.image[0], s.image_b[0], _fit(s.flat_garment, h, w), _fit(s.flat_garment_b, h, w)]
    if isinstance(s, FaceSample):
        img = s.image
        from PIL import Image, ImageDraw

        im = Image.fromarray(img.copy())
        dr = ImageDraw.Draw(im)
        for (x, y), v in zip(s.landmarks2d, s.landmark_visibility):
            dr.ellipse([x - 1, y - 1, x + 1, y + 1], fill=(40, 255, 40) if v > 0.5 else (150, 150, 150))
        return [np.asarray(im), _blend(img, np.full_like(img, (0, 200, 255)), s.mask, 0.5), _depth_rgb(s.depth)]
    raise ValueError(f"no contact-sheet row for {type(s).__name__}")


def contact_sheet(kind: str, samples: list[Sample | Mapping[str, np.ndarray]], *, gap: int = 2) -> np.ndarray:
    """(rows * h, cols * w, 3) uint8 sheet of ``samples`` of one kind: generated samples or their
    stored arrays (e.g. :meth:`vivid.synth.storage.SynthDataset.raw`)."""
    if kind not in SAMPLE_TYPES:
        raise ValueError(f"unknown kind {kind!r}")
    cls = SAMPLE_TYPES[kind]
    rows = [_row(s if isinstance(s, cls) else cls.from_arrays(s)) for s in samples]
    h, w = rows[0][0].shape[:2]
    cols = max(len(r) for r in rows)
    sheet = np.full((len(rows) * (h + gap) - gap, cols * (w + gap) - gap, 3), 255, np.uint8)
    for i, r in enumerate(rows):
        for j, img in enumerate(r):
            img = _fit(img, h, w)
            sheet[i * (h + gap) : i * (h + gap) + h, j * (w + gap) : j * (w + gap) + w] = img
    return sheet


def write_sheet(path: str | os.PathLike, kind: str, samples: list[Sample | Mapping[str, np.ndarray]]) -> None:
    """Write the contact sheet (atomically; format from the suffix)."""
    from vivid.core.fileio import write_image

    write_image(path, contact_sheet(kind, samples))
