"""Box geometry: IoU, non-maximum suppression, letterboxing, and the rule that a box holds a person.

Boxes are ``(x0, y0, x1, y1)`` in pixels, x1/y1 exclusive (a box covering the whole W x H image is
``(0, 0, W, H)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


def box_area(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) -> (N,) areas (0 for empty boxes)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection areas of (N, 4) and (M, 4) boxes -> (N, M)."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    return np.clip(w, 0, None) * np.clip(h, 0, None)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of (N, 4) and (M, 4) boxes -> (N, M) in [0, 1]."""
    inter = intersection(a, b)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.5) -> np.ndarray:
    """Greedy non-maximum suppression: indices of the kept boxes, best score first.

    boxes (N, 4), scores (N,) -> (K,) int64.
    """
    boxes, scores = np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(scores, np.float64).reshape(-1)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        if order.size == 1:
            break
        rest = order[1:]
        order = rest[iou_matrix(boxes[i : i + 1], boxes[rest])[0] <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def holds_points(box, points: np.ndarray, share: float = 0.9) -> bool:
    """Whether ``box`` holds at least ``share`` of the (N, 2) ``points`` (none: False)."""
    points = np.asarray(points, np.float64).reshape(-1, 2)
    if not len(points):
        return False
    x0, y0, x1, y1 = box
    inside = (points[:, 0] >= x0) & (points[:, 0] <= x1) & (points[:, 1] >= y0) & (points[:, 1] <= y1)
    return bool(inside.mean() >= share)


def holds_box(outer, inner, share: float = 0.9) -> bool:
    """The looser rule "a detected box holds the person": ``outer`` covers at least ``share`` of
    ``inner``'s area."""
    area = float(box_area(np.asarray(inner))[0])
    return area > 0 and float(intersection(np.asarray(outer), np.asarray(inner))[0, 0]) >= share * area


@dataclass(frozen=True)
class Letterbox:
    """How an image was fitted into the network's input: ``scale`` (input px per image px) and
    the padded input size; the image sits at the top-left corner."""

    scale: float
    height: int
    width: int

    def to_image(self, boxes: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray:
        """(N, 4) boxes in input pixels -> image pixels, clipped to the image."""
        out = np.asarray(boxes, np.float64).reshape(-1, 4) / self.scale
        h, w = image_hw
        out[:, [0, 2]] = out[:, [0, 2]].clip(0, w)
        out[:, [1, 3]] = out[:, [1, 3]].clip(0, h)
        return out


PAD_VALUE = 0.45  # grey of the padding, near the mean of photos


def letterbox(image: np.ndarray, long_side: int, multiple: int = 32) -> tuple[torch.Tensor, Letterbox]:
    """Fit an image into the network's input.

    image: uint8 (H, W, 3) -> ((3, h, w) float in [0, 1], Letterbox): the image resized so that its
    longer side is ``long_side`` (aspect kept, antialiased), padded right and bottom with grey to
    multiples of ``multiple``.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 (H, W, 3) image, got {image.dtype} {image.shape}")
    h, w = image.shape[:2]
    scale = long_side / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float()[None] / 255.0
    if (nh, nw) != (h, w):
        x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False, antialias=scale < 1).clamp(0, 1)
    ph, pw = -(-nh // multiple) * multiple, -(-nw // multiple) * multiple
    out = torch.full((3, ph, pw), PAD_VALUE)
    out[:, :nh, :nw] = x[0]
    return out, Letterbox(scale=nw / w, height=ph, width=pw)
