"""Inference: image -> heatmaps + depth maps -> 2D and 3D joints with confidence.

The model sees a square crop centred on the person. Without a person detector the first pass
looks at the whole image (letterboxed to a square); a second pass re-crops around the joints the
first pass found. On video the crop follows the previous frame's joints. Given a person box (a
detector's or the user's), the first pass sees a square crop around that box instead
(:meth:`PoseEstimator.predict_box`). Each prediction carries a person confidence
(:mod:`vivid.pose3d.presence`); below the estimator's ``person_threshold`` it reports no person.

Cameras: 3D joints are in the camera frame of the input (metres, x right, y down, z forward).
The intrinsics come from ``focal`` (pixels) or ``fov_deg`` (across the larger side; 55 by
default); the root depth is estimated from the model's reference bone lengths, so absolute depth
assumes an average-sized adult, while the root-relative joints do not depend on it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from vivid.core.checkpoints import load_checkpoint
from vivid.core.errors import VividError
from vivid.core.geometry import intrinsics_from_fov
from vivid.pose3d.bones import BONES, JOINT_NAMES
from vivid.pose3d.coords import decode
from vivid.pose3d.crop import crop_and_resize, person_box
from vivid.pose3d.presence import DEFAULT_PERSON_THRESHOLD, person_score

log = logging.getLogger(__name__)

DEFAULT_FOV_DEG = 55.0
# A person box (x0, y0, x1, y1) becomes a square crop of this many times its larger side, so that
# a box drawn tight around the body leaves the joints some room inside the crop.
BOX_MARGIN = 1.15


@dataclass
class PosePrediction:
    """Joints of one person in one image.

    joints2d: (17, 2) input-image pixels (x, y); joints3d: (17, 3) camera frame, metres;
    joints3d_rel: (17, 3) pelvis-relative, metres; confidence: (17,) in [0, 1];
    box: (centre x, centre y, side) of the crop used, pixels; K: (3, 3) intrinsics used;
    person_confidence: in [0, 1] (:mod:`vivid.pose3d.presence`, or a detector's score).
    """

    joints2d: np.ndarray
    joints3d: np.ndarray
    joints3d_rel: np.ndarray
    confidence: np.ndarray
    box: tuple[float, float, float]
    K: np.ndarray
    person_confidence: float = 1.0

    def joints_box(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) around the 2D joints, pixels."""
        lo, hi = self.joints2d.min(0), self.joints2d.max(0)
        return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])

    def to_dict(self) -> dict:
        r = lambda a, n: np.round(np.asarray(a, dtype=np.float64), n).tolist()  # noqa: E731
        return {
            "joints2d": r(self.joints2d, 2),
            "joints3d": r(self.joints3d, 4),
            "joints3d_root_relative": r(self.joints3d_rel, 4),
            "confidence": r(self.confidence, 3),
            "mean_confidence": round(float(np.mean(self.confidence)), 3),
            "person_confidence": round(float(self.person_confidence), 3),
            "crop_box": [round(float(v), 1) for v in self.box],
        }


def camera_matrix(width: int, height: int, *, fov_deg: float | None = None, focal: float | None = None) -> Tensor:
    """K (3, 3) from a focal length in pixels or a field of view (degrees, larger side)."""
    if fov_deg is not None and focal is not None:
        raise VividError("give either --fov or --focal, not both")
    if focal is not None:
        if focal <= 0:
            raise VividError(f"focal length must be positive pixels, got {focal}")
        return torch.tensor([[focal, 0.0, (width - 1) / 2], [0.0, focal, (height - 1) / 2], [0.0, 0.0, 1.0]])
    fov = DEFAULT_FOV_DEG if fov_deg is None else fov_deg
    if not 1.0 <= fov <= 170.0:
        raise VividError(f"field of view must be between 1 and 170 degrees, got {fov}")
    return intrinsics_from_fov(fov_deg=fov, height=height, width=width)


class PoseEstimator:
    """Runs a pose3d checkpoint on images.

    Args:
        model: bundled name (``pose3d-default``) or a ``.safetensors`` path.
        device: torch device.
        fov_deg, focal: camera of the inputs (see :func:`camera_matrix`).
        refine: second pass on a crop around the first pass's joints (the person confidence
            needs it; without it the confidence is the mean peak confidence alone).
        person_threshold: person confidence below which :meth:`is_person` says no; by default
            the checkpoint's ``extra.person_threshold``, else :data:`DEFAULT_PERSON_THRESHOLD`.
    """

    def __init__(self, model: str = "pose3d-default", *, device: str | torch.device = "cpu", fov_deg: float | None = None,
                 focal: float | None = None, refine: bool = True, person_threshold: float | None = None) -> None:
        self.model, self.meta = load_checkpoint(model, task="pose3d", device=device)
        self.device = torch.device(device)
        self.fov_deg, self.focal, self.refine = fov_deg, focal, refine
        camera_matrix(64, 64, fov_deg=fov_deg, focal=focal)  # validate early
        if person_threshold is None:
            person_threshold = float((self.meta.get("extra") or {}).get("person_threshold", DEFAULT_PERSON_THRESHOLD))
        if not 0.0 <= person_threshold <= 1.0:
            raise VividError(f"person threshold must be between 0 and 1, got {person_threshold}")
        self.person_threshold = person_threshold

    def is_person(self, pred: PosePrediction) -> bool:
        """Whether ``pred`` is confident enough to count as a person."""
        return pred.person_confidence >= self.person_threshold

    @torch.no_grad()
    def _run(self, image: Tensor, K: Tensor, box: tuple[float, float, float]) -> PosePrediction:
        size = self.model.input_size
        crop, Kc, (x0, y0, scale) = crop_and_resize(image, K, box, size)
        maps = self.model(crop[None].to(self.device))
        out = decode(maps.heatmaps, maps.depthmaps, Kc[None].to(self.device), self.model.ref_bone_lengths, stride=self.model.stride)
        uv = out.joints2d[0].cpu()
        uv_img = (uv + 0.5) / scale - 0.5 + torch.tensor([x0, y0], dtype=uv.dtype)
        return PosePrediction(
            joints2d=uv_img.numpy(),
            joints3d=out.joints3d[0].cpu().numpy(),
            joints3d_rel=out.joints3d_rel[0].cpu().numpy(),
            confidence=out.confidence[0].cpu().numpy(),
            box=box,
            K=K.numpy(),
        )

    def _passes(self, x: Tensor, K: Tensor, box: tuple[float, float, float]) -> PosePrediction:
        """First pass on ``box``, then (``refine``) a second on the first pass's joints."""
        first = self._run(x, K, box)
        if not self.refine:
            first.person_confidence = float(np.mean(first.confidence))
            return first
        second = self._run(x, K, person_box(torch.from_numpy(first.joints2d)))
        second.person_confidence = person_score(second.confidence, first.joints2d, second.joints2d, second.box[2])
        return second

    def _prepare(self, image: np.ndarray) -> tuple[Tensor, Tensor]:
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise VividError("expected an RGB image as uint8 (H, W, 3)")
        h, w = image.shape[:2]
        if min(h, w) < 16:
            raise VividError(f"image {w}x{h} is too small for pose estimation; use at least 16x16 pixels")
        x = torch.from_numpy(image).permute(2, 0, 1).float() / 255
        return x, camera_matrix(w, h, fov_deg=self.fov_deg, focal=self.focal)

    def predict(self, image: np.ndarray, previous: PosePrediction | None = None) -> PosePrediction:
        """image: uint8 (H, W, 3) RGB. ``previous``: the last frame's prediction (video tracking;
        ignored when it was not a person)."""
        x, K = self._prepare(image)
        h, w = image.shape[:2]
        if previous is not None and float(np.mean(previous.confidence)) > 0.2 and self.is_person(previous):
            box = person_box(torch.from_numpy(previous.joints2d))
        else:
            box = ((w - 1) / 2, (h - 1) / 2, float(max(w, h)))
        return self._passes(x, K, box)

    def predict_box(self, image: np.ndarray, box: tuple[float, float, float, float], score: float | None = None) -> PosePrediction:
        """The person inside ``box`` (x0, y0, x1, y1) pixels of image uint8 (H, W, 3) RGB.

        ``score``: a detector's score for the box, which then is the person confidence.
        """
        x0, y0, x1, y1 = (float(v) for v in box)
        if not (x1 > x0 and y1 > y0):
            raise VividError(f"person box {box} must have x1 > x0 and y1 > y0")
        x, K = self._prepare(image)
        side = max(x1 - x0, y1 - y0) * BOX_MARGIN
        pred = self._passes(x, K, ((x0 + x1) / 2, (y0 + y1) / 2, max(side, 8.0)))
        if score is not None:
            pred.person_confidence = float(score)
        return pred


# ----------------------------------------------------------------------------- drawing

_LEFT = {4, 5, 6, 11, 12, 13}
_COLOURS = {"left": (40, 160, 255), "right": (255, 90, 60), "centre": (250, 220, 60)}


def _bone_colour(child: int) -> tuple[int, int, int]:
    if child in _LEFT:
        return _COLOURS["left"]
    if child in {1, 2, 3, 14, 15, 16}:
        return _COLOURS["right"]
    return _COLOURS["centre"]


def draw_skeleton(image: np.ndarray, joints2d: np.ndarray, confidence: np.ndarray | None = None,
                  lines: list[str] | None = None, min_confidence: float = 0.05) -> np.ndarray:
    """Skeleton (and optional text lines) over an image. image uint8 (H, W, 3) -> uint8 (H, W, 3).

    Left limbs blue, right limbs red, trunk yellow; joints below ``min_confidence`` are skipped.
    """
    from PIL import Image, ImageDraw

    im = Image.fromarray(image.copy())
    d = ImageDraw.Draw(im)
    width = max(1, round(min(image.shape[:2]) / 120))
    conf = np.ones(len(JOINT_NAMES)) if confidence is None else np.asarray(confidence)
    for p, c in BONES:
        if conf[p] >= min_confidence and conf[c] >= min_confidence:
            d.line([tuple(map(float, joints2d[p])), tuple(map(float, joints2d[c]))], fill=_bone_colour(c), width=width)
    r = width + 1
    for j, (x, y) in enumerate(joints2d):
        if conf[j] >= min_confidence:
            d.ellipse([x - r, y - r, x + r, y + r], fill=(255, 255, 255))
    for i, text in enumerate(lines or []):
        d.text((4, 4 + 12 * i), text, fill=(255, 255, 255), stroke_width=1, stroke_fill=(0, 0, 0))
    return np.asarray(im)


def plot_3d(joints3d_rel: np.ndarray, size: int = 240) -> np.ndarray:
    """Front and side orthographic views of a root-relative skeleton (17, 3) -> uint8 (size, 2*size, 3)."""
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (2 * size, size), (24, 24, 32))
    d = ImageDraw.Draw(im)
    x = np.asarray(joints3d_rel, dtype=np.float64)
    scale = 0.42 * size / max(1e-6, float(np.abs(x[:, :2]).max()), float(np.abs(x[:, 1:]).max()))
    views = {0: (0, 1), 1: (2, 1)}  # front: x right, y down; side: z right (away), y down
    for v, (a, b) in views.items():
        ox = v * size + size / 2
        pts = [(ox + scale * p[a], size / 2 + scale * p[b]) for p in x]
        for p, c in BONES:
            d.line([pts[p], pts[c]], fill=_bone_colour(c), width=3)
        for px, py in pts:
            d.ellipse([px - 3, py - 3, px + 3, py + 3], fill=(255, 255, 255))
        d.text((v * size + 6, 6), "front" if v == 0 else "side", fill=(200, 200, 200))
    d.line([(size, 0), (size, size)], fill=(90, 90, 90), width=1)
    return np.asarray(im)
