"""Finding faces in a photo: a face box, then the crop and 68 landmarks from the landmark network.

Boxes come from the user, from OpenCV's bundled Haar cascade (the default:
``haarcascade_frontalface_default``, shipped inside ``opencv-python-headless`` < 5; nothing is
downloaded; opencv is imported only here), or, where that cascade is not available (OpenCV 5 wheels
no longer ship the cascade classifier) or ``detector="search"`` asks for it, from a window search
with the landmark network's face score. Each box is then refined twice: crop, detect landmarks,
re-crop by the box rule of :mod:`vivid.face3d.crop`. A face the cascade found is kept whatever its
landmark confidence (the cascade is the detector); windows of the search must pass
:data:`_MIN_CONFIDENCE`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch

from vivid.core.errors import VividError
from vivid.core.fileio import to_tensor
from vivid.face3d.crop import box_from_landmarks, crop_image, from_crop

__all__ = ["Face", "find_faces", "haar_boxes", "window_boxes", "landmarks_in_box", "DETECTORS"]

DETECTORS = ("auto", "haar", "search")
# A Haar box spans about the brows to the chin; the landmark box rule's crop is larger.
_HAAR_TO_CROP = 1.35
# A crop holds a face when its landmark heatmaps are peaked (LandmarkOutput.confidence); the
# face-score logit alone also accepts plain surfaces. Other faces of a picture must come within
# _SECOND_FACE_SHARE of the best window's confidence.
_MIN_CONFIDENCE = 0.07
_SECOND_FACE_SHARE = 0.85
# The cascade's neighbour count: overlapping detections that make one face. Faces in portraits
# gather tens of them; lone textures (a badge, a collar) a few.
_HAAR_MIN_NEIGHBORS = 10


@dataclass
class Face:
    """One face: box (x0, y0, side) of its crop, landmarks (68, 2) image pixels, score: the
    landmark heatmaps' confidence (see :attr:`vivid.face3d.model.LandmarkOutput.confidence`)."""

    box: np.ndarray
    landmarks: np.ndarray
    score: float


def _cascade():
    try:
        import cv2
    except ImportError as err:
        raise VividError("the Haar face detector needs OpenCV: pip install opencv-python-headless "
                         "(or give the face box with --box, or use --detector search)") from err
    if not hasattr(cv2, "CascadeClassifier") or not hasattr(cv2, "data"):
        return None
    import os

    path = os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml")
    if not os.path.exists(path):
        return None
    return cv2.CascadeClassifier(path)


def haar_boxes(image: np.ndarray, *, required: bool = False) -> list[np.ndarray] | None:
    """Square crop boxes (x0, y0, side) of the frontal faces OpenCV's Haar cascade finds in a uint8
    (H, W, 3) image; None when this OpenCV has no cascade (a VividError with ``required``)."""
    cascade = _cascade()
    if cascade is None:
        if required:
            raise VividError("this OpenCV has no Haar cascade classifier (OpenCV 5 dropped it); "
                             "use --detector search or give --box")
        return None
    import cv2

    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    rects = cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=_HAAR_MIN_NEIGHBORS, minSize=(24, 24))
    out = []
    for x, y, w, h in rects:
        side = max(w, h) * _HAAR_TO_CROP
        out.append(np.array([x + w / 2 - side / 2, y + h / 2 - side / 2 + 0.05 * side, side]))
    return out


@torch.no_grad()
def landmarks_in_box(image: np.ndarray, box: np.ndarray, landmark_net, refine: int = 2) -> Face:
    """Landmarks of the face in ``box`` of a uint8 (H, W, 3) image, re-cropping ``refine`` times."""
    img = to_tensor(image)
    S = landmark_net.input_size
    score = 0.0
    for _ in range(refine + 1):
        out = landmark_net(crop_image(img, box, S)[None])
        lm = from_crop(out.landmarks[0].numpy(), box, S)
        score = float(out.confidence[0])
        box = box_from_landmarks(lm)
    return Face(box=box, landmarks=lm, score=score)


@torch.no_grad()
def window_boxes(image: np.ndarray, landmark_net, *, scales=(0.9, 0.65, 0.45), stride: float = 0.3,
                 batch: int = 64) -> list[tuple[np.ndarray, float]]:
    """Square windows scored by the landmark heatmaps' confidence: (box, score) pairs above
    :data:`_MIN_CONFIDENCE`, best first, overlapping ones suppressed."""
    H, W = image.shape[:2]
    img = to_tensor(image)
    S = landmark_net.input_size
    boxes = []
    for sc in scales:
        side = sc * min(H, W)
        step = max(1.0, stride * side)
        for y in np.arange(-0.1 * side, H - 0.9 * side + 1, step):
            for x in np.arange(-0.1 * side, W - 0.9 * side + 1, step):
                boxes.append(np.array([x, y, side]))
    scores = []
    for i in range(0, len(boxes), batch):
        crops = torch.stack([crop_image(img, b, S) for b in boxes[i : i + batch]])
        scores.append(landmark_net(crops).confidence)
    score = torch.cat(scores).numpy() if scores else np.zeros(0)
    keep = []
    best = float(score.max()) if len(score) else 0.0
    for i in np.argsort(-score):
        if score[i] < max(_MIN_CONFIDENCE, best * _SECOND_FACE_SHARE):
            break
        b = boxes[i]
        if all(_overlap(b, k) < 0.3 for k, _ in keep):
            keep.append((b, float(score[i])))
    return keep


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two square boxes (x0, y0, side)."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[2], b[1] + b[2]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] ** 2 + b[2] ** 2 - inter)


@contextlib.contextmanager
def _inference(net):
    """``net`` in eval mode for the block (batch-norm statistics must not learn from windows)."""
    was = net.training
    net.eval()
    try:
        yield net
    finally:
        net.train(was)


def find_faces(image: np.ndarray, landmark_net, *, detector: str = "auto", box: tuple | None = None,
               max_faces: int = 8) -> list[Face]:
    """Up to ``max_faces`` faces of a uint8 (H, W, 3) image, most confident first; [] when none
    is found (the landmark network runs in eval mode).

    Args:
        detector: "auto" (the Haar cascade when this OpenCV has it, else the window search), "haar"
            (the cascade, an error without it), "search" (the window search).
        box: the user's face box (x, y, w, h) in pixels: no detection.
    """
    with _inference(landmark_net):
        return _find_faces(image, landmark_net, detector=detector, box=box, max_faces=max_faces)


def _find_faces(image: np.ndarray, landmark_net, *, detector: str, box: tuple | None, max_faces: int) -> list[Face]:
    if detector not in DETECTORS:
        raise VividError(f"unknown detector {detector!r}; use one of {', '.join(DETECTORS)}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise VividError(f"expected an RGB image, got shape {image.shape}")
    if box is not None:
        x, y, w, h = (float(v) for v in box)
        if w <= 0 or h <= 0:
            raise VividError(f"face box {box} needs a positive width and height")
        side = max(w, h) * _HAAR_TO_CROP
        return [landmarks_in_box(image, np.array([x + w / 2 - side / 2, y + h / 2 - side / 2, side]), landmark_net)]
    starts = None
    if detector in ("auto", "haar"):
        starts = haar_boxes(image, required=detector == "haar")
    faces = [landmarks_in_box(image, b, landmark_net) for b in (starts or [])[:max(8, max_faces)]]
    if starts is None:  # no cascade in this OpenCV, or the search asked for: windows must look like faces
        faces = [landmarks_in_box(image, b, landmark_net) for b, _ in window_boxes(image, landmark_net)[:8]]
        faces = [f for f in faces if f.score > _MIN_CONFIDENCE]
    faces.sort(key=lambda f: -f.score)
    out: list[Face] = []
    for f in faces:  # refined boxes of one face converge: keep one
        if all(_overlap(f.box, g.box) < 0.4 for g in out):
            out.append(f)
    return out[:max_faces]


