"""Finding people in one image: the trained detector and OpenCV's HOG people detector.

Both are callables ``detector(image uint8 (H, W, 3)) -> list[Detection]``, largest box first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from vivid.core.errors import VividError
from vivid.people.boxes import box_area, letterbox, nms
from vivid.people.model import STRIDE, PeopleNet, PeopleOutput

DEFAULT_MODEL = "people-default"
NMS_IOU = 0.5
MAX_PEOPLE = 100


@dataclass(frozen=True)
class Detection:
    """One person: ``box`` (x0, y0, x1, y1) in image pixels (x1, y1 exclusive) and its ``score``."""

    box: tuple[float, float, float, float]
    score: float

    @property
    def area(self) -> float:
        return max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1])

    def to_dict(self) -> dict:
        return {"box": [round(float(v), 1) for v in self.box], "score": round(float(self.score), 4)}


def sort_by_area(detections: list[Detection]) -> list[Detection]:
    """Largest box first (ties: higher score first)."""
    return sorted(detections, key=lambda d: (-d.area, -d.score))


def decode(out: PeopleOutput, *, threshold: float, top_k: int = MAX_PEOPLE) -> list[tuple[np.ndarray, np.ndarray]]:
    """Boxes from raw outputs: heatmap peaks (3 x 3 local maxima) above ``threshold``.

    Returns per image ``(boxes (N, 4) input pixels, scores (N,))``, before box NMS.
    """
    heat = torch.sigmoid(out.heatmap)
    peaks = heat * (F.max_pool2d(heat, 3, 1, 1) == heat)
    B, _, h, w = heat.shape
    result = []
    for b in range(B):
        scores, idx = peaks[b, 0].flatten().topk(min(top_k, h * w))
        keep = scores >= threshold
        scores, idx = scores[keep], idx[keep]
        ys, xs = (idx // w), (idx % w)
        off = out.offset[b][:, ys, xs]
        size = out.size[b][:, ys, xs].clamp(-4, 8).exp() * STRIDE
        cx, cy = (xs.float() + off[0]) * STRIDE, (ys.float() + off[1]) * STRIDE
        boxes = torch.stack([cx - size[0] / 2, cy - size[1] / 2, cx + size[0] / 2, cy + size[1] / 2], -1)
        result.append((boxes.numpy().astype(np.float64), scores.numpy().astype(np.float64)))
    return result


def to_detections(boxes: np.ndarray, scores: np.ndarray, image_hw: tuple[int, int]) -> list[Detection]:
    """Boxes (N, 4) in image pixels and scores -> clipped, non-empty, NMS-filtered detections, largest first."""
    h, w = image_hw
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4).copy()
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
    ok = box_area(boxes) > 1.0
    boxes, scores = boxes[ok], np.asarray(scores, np.float64).reshape(-1)[ok]
    keep = nms(boxes, scores, NMS_IOU)
    return sort_by_area([Detection(tuple(float(v) for v in boxes[i]), float(scores[i])) for i in keep])


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise VividError(f"a person detector takes a uint8 (H, W, 3) RGB image, got {image.dtype} {image.shape}")
    return image


class PersonDetector:
    """The trained person detector.

    Args:
        model: a bundled checkpoint name (``people-default``), a ``.safetensors`` path, or a
            :class:`PeopleNet` (e.g. freshly built, for tests).
        device: torch device.
        score_threshold: boxes scoring below it are dropped (None: the checkpoint's own, chosen on
            synthetic validation composites when it was trained).
        input_size: the letterboxed input's longer side (None: the model's).
    """

    def __init__(self, model: str | os.PathLike | PeopleNet = DEFAULT_MODEL, *, device: str | torch.device = "cpu",
                 score_threshold: float | None = None, input_size: int | None = None) -> None:  # fmt: skip
        if isinstance(model, PeopleNet):
            self.model, self.name = model.to(device).eval(), "in-memory model"
        else:
            from vivid.core.checkpoints import load_checkpoint

            self.model, _ = load_checkpoint(model, task="people", device=device)
            self.name = str(model)
        self.device = torch.device(device)
        self.score_threshold = float(self.model.config["score_threshold"] if score_threshold is None else score_threshold)
        if not 0.0 <= self.score_threshold <= 1.0:
            raise VividError(f"score threshold must be in [0, 1], got {self.score_threshold}")
        self.input_size = int(input_size or self.model.input_size)
        if self.input_size % 32 or self.input_size < 64:
            raise VividError(f"detector input size must be a multiple of 32 and at least 64, got {self.input_size}")

    @torch.no_grad()
    def __call__(self, image: np.ndarray) -> list[Detection]:
        """image: uint8 (H, W, 3) RGB -> detections, largest box first."""
        image = _check_image(image)
        x, lb = letterbox(image, self.input_size)
        out = self.model(x[None].to(self.device))
        out = PeopleOutput(*(t.float().cpu() for t in (out.heatmap, out.size, out.offset)))
        boxes, scores = decode(out, threshold=self.score_threshold)[0]
        return to_detections(lb.to_image(boxes, image.shape[:2]), scores, image.shape[:2])


class HOGDetector:
    """OpenCV's HOG + linear SVM people detector (Dalal and Triggs 2005), with its bundled
    ``HOGDescriptor_getDefaultPeopleDetector`` weights: a fallback and a baseline.

    ``long_side``: images are resized so that their longer side is this (None: as they are);
    the 64 x 128 window then finds people at least ~128 px tall at that size (the window scans
    an image pyramid). Scores are the SVM margins squashed by a logistic.
    """

    def __init__(self, *, long_side: int | None = 640, hit_threshold: float = 0.0, scale: float = 1.05) -> None:
        cv2 = _import_cv2()
        if not hasattr(cv2, "HOGDescriptor"):
            raise VividError(
                f"the installed OpenCV ({cv2.__version__}) has no HOGDescriptor (OpenCV 5 moved it out of the main "
                "package); install opencv-python-headless 4.x for the HOG detector"
            )
        self._cv2 = cv2
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.long_side, self.hit_threshold, self.scale = long_side, hit_threshold, scale

    def __call__(self, image: np.ndarray) -> list[Detection]:
        """image: uint8 (H, W, 3) RGB -> detections, largest box first."""
        image = _check_image(image)
        h, w = image.shape[:2]
        s = 1.0 if self.long_side is None else self.long_side / max(h, w)
        small = self._cv2.resize(image, (round(w * s), round(h * s))) if s != 1.0 else image
        grey = self._cv2.cvtColor(small, self._cv2.COLOR_RGB2GRAY)
        rects, weights = self.hog.detectMultiScale(grey, hitThreshold=self.hit_threshold, winStride=(8, 8), padding=(8, 8), scale=self.scale)
        if len(rects) == 0:
            return []
        rects = np.asarray(rects, np.float64).reshape(-1, 4) / s
        boxes = np.stack([rects[:, 0], rects[:, 1], rects[:, 0] + rects[:, 2], rects[:, 1] + rects[:, 3]], -1)
        scores = 1 / (1 + np.exp(-np.asarray(weights, np.float64).reshape(-1)))
        return to_detections(boxes, scores, (h, w))


def _import_cv2():
    try:
        import cv2
    except ImportError as err:
        raise VividError(
            "the HOG people detector needs OpenCV: pip install 'vivid[train]' (opencv-python-headless)"
        ) from err
    return cv2


def hog_detector(**kwargs) -> HOGDetector:
    """OpenCV's HOG people detector (see :class:`HOGDetector`); VividError when OpenCV is missing."""
    return HOGDetector(**kwargs)


def hog_available() -> bool:
    """Whether :func:`hog_detector` can be built here."""
    try:
        hog_detector()
    except VividError:
        return False
    return True
