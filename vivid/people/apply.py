"""What the tools call: picking a detector, detecting over a clip, and drawing the boxes."""

from __future__ import annotations

import numpy as np

from vivid.people.detector import DEFAULT_MODEL, Detection

# Track colours, cycled by id (distinct on light and dark backgrounds).
COLOURS = [(255, 64, 64), (64, 160, 255), (80, 220, 80), (255, 200, 0), (220, 80, 255), (0, 220, 220), (255, 128, 0), (255, 255, 255)]


def make_detector(model: str = DEFAULT_MODEL, *, hog: bool = False, device: str = "cpu", score_threshold: float | None = None):
    """The trained detector (a bundled name or a checkpoint path), or OpenCV's HOG detector with ``hog``."""
    if hog:
        from vivid.people.detector import hog_detector

        return hog_detector()
    from vivid.people.detector import PersonDetector

    return PersonDetector(model, device=device, score_threshold=score_threshold)


def draw_boxes(image: np.ndarray, detections: list[Detection], ids: list[int | None] | None = None,
               lines: list[str] | None = None) -> np.ndarray:  # fmt: skip
    """Boxes (coloured by track id when given, with their score) over an image.

    image uint8 (H, W, 3) -> uint8 (H, W, 3).
    """
    from PIL import Image, ImageDraw

    im = Image.fromarray(np.ascontiguousarray(image))
    d = ImageDraw.Draw(im)
    width = max(2, round(min(image.shape[:2]) / 200))
    ids = ids or [None] * len(detections)
    for k, (det, tid) in enumerate(zip(detections, ids)):
        colour = COLOURS[((tid or k + 1) - 1) % len(COLOURS)]
        d.rectangle([float(v) for v in det.box], outline=colour, width=width)
        label = f"#{tid} {det.score:.2f}" if tid is not None else f"{det.score:.2f}"
        d.text((det.box[0] + width + 1, det.box[1] + width), label, fill=colour, stroke_width=1, stroke_fill=(0, 0, 0))
    for i, text in enumerate(lines or []):
        d.text((4, 4 + 12 * i), text, fill=(255, 255, 255), stroke_width=1, stroke_fill=(0, 0, 0))
    return np.asarray(im)
