"""Applying a checkpoint: preprocessing of a person video, garment photo masks, chunked try-on.

A person video and a garment photo in, a try-on clip out:

1. frames are resized to the model's working size (``size``; feature maps must divide by every
   patch size); pose3d's 2D joints (:class:`vivid.pose3d.apply.PoseEstimator`, loaded through
   pose3d's public API) give the keypoint maps, the model's parser the body parts and the garment,
   and together the try-on region and the background sequence (:func:`preprocess`). With several
   people in view, ``person=N`` dresses the N-th largest person tracked by :mod:`vivid.people`
   (pose3d's ``tracked_boxes``, as ``vivid pose --person N`` counts them): the pose crops follow
   that track's boxes, and body parts and garment outside them are left alone;
2. the garment photo's mask comes from the model's garment segmenter, or OpenCV's GrabCut
   (:func:`garment_mask`);
3. the warper deforms the garment to every frame and the generator runs on chunks of ``chunk``
   frames overlapping by ``overlap``; overlapping outputs are blended with linear weights, so no
   seam shows at chunk boundaries (:func:`try_on_chunks`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from vivid.core.checkpoints import load_checkpoint
from vivid.core.errors import VividError

from .inputs import CATEGORIES, GARMENT_LABEL, background_sequence, pose_images, tryon_region

log = logging.getLogger(__name__)

DEFAULT_MODEL = "tryon-default"
MIN_PERSON_FRACTION = 0.01  # of the frame: less than this is "no person"
MIN_POSE_CONFIDENCE = 0.15
PERSON_MARGIN = 0.15  # of a person box's size on each side: what the chosen person's parts may fill
Box = tuple[float, float, float, float]  # (x0, y0, x1, y1) pixels


@dataclass
class PersonInputs:
    """The model's inputs from a person clip, each (T, ...): ``frames`` (T, 3, H, W), ``pose``
    (T, 31, H, W), ``background`` (T, 3, H, W), ``background_mask`` (T, 1, H, W), ``parts``
    (T, H, W) int64 and ``garment`` (T, H, W) bool (from the parser)."""

    frames: Tensor
    pose: Tensor
    background: Tensor
    background_mask: Tensor
    parts: Tensor
    garment: Tensor


def to_frames(images: list[np.ndarray], height: int, width: int) -> Tensor:
    """uint8 (H0, W0, 3) images, all the same size, -> (T, 3, height, width) float in [0, 1]."""
    if not images:
        raise VividError("the person video has no frames")
    sizes = {im.shape for im in images}
    if len(sizes) > 1:
        raise VividError(f"the person frames differ in size ({', '.join(str(s[:2]) for s in sorted(sizes))}); give frames of one size")
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255
    return F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False, antialias=True)


@torch.no_grad()
def parse(model, frames: Tensor) -> tuple[Tensor, Tensor]:
    """Body parts (T, H, W) int64 and garment (T, H, W) bool of frames (T, 3, H, W) by the model's parser."""
    labels = torch.cat([model.parser(frames[i : i + 8]).argmax(1) for i in range(0, len(frames), 8)])
    garment = labels == GARMENT_LABEL
    return labels.masked_fill(garment, 0), garment


def fill_parts_under_garment(parts: Tensor, garment: Tensor) -> Tensor:
    """Body parts where the parser saw the garment: the nearest body part along the row (the
    garment lies over the body, and the pose maps want the body's parts)."""
    out = parts.clone()
    for _ in range(8):
        hole = garment & (out == 0)
        if not hole.any():
            break
        left, right = torch.roll(out, 1, -1), torch.roll(out, -1, -1)
        up = torch.roll(out, 1, -2)
        fill = torch.where(left > 0, left, torch.where(right > 0, right, up))
        out = torch.where(hole, fill, out)
    return torch.where(garment & (out == 0), torch.full_like(out, 2), out)  # torso where nothing else is near


# H36M bones as (joint, joint, body part, radius as a fraction of the pelvis-to-head distance)
_BONE_PARTS = [(0, 8, 2, 0.2), (1, 14, 2, 0.1), (4, 11, 2, 0.1), (9, 10, 1, 0.12), (11, 12, 3, 0.07), (14, 15, 4, 0.07),
               (12, 13, 5, 0.06), (15, 16, 6, 0.06), (4, 5, 9, 0.09), (1, 2, 10, 0.09), (5, 6, 11, 0.07), (2, 3, 12, 0.07)]


def skeleton_parts(joints2d: Tensor, height: int, width: int) -> Tensor:
    """Body parts (T, H, W) int64 drawn from H36M joints (T, 17, 2) in pixels: each pixel takes the
    part of the nearest bone within that bone's radius (a coarse stand-in for the parser)."""
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32), indexing="ij")
    px = torch.stack([xs, ys], -1)  # (H, W, 2)
    out = []
    for j in joints2d.float():
        scale = max(float((j[10] - j[0]).norm()), 4.0)
        best = torch.full((height, width), float("inf"))
        labels = torch.zeros(height, width, dtype=torch.int64)
        for a, b, part, r in _BONE_PARTS:
            d = j[b] - j[a]
            t = (((px - j[a]) * d).sum(-1) / d.dot(d).clamp(min=1e-6)).clamp(0, 1)
            dist = (px - (j[a] + t[..., None] * d)).norm(dim=-1) / (r * scale)
            take = (dist < 1) & (dist < best)
            labels[take], best[take] = part, dist[take]
        out.append(labels)
    return torch.stack(out)


def person_boxes(people: list[list], person: int) -> list[Box | None]:
    """Per frame, the box of tracked person ``person`` (None where the track does not reach).

    people: per frame the tracked people (objects with ``id``, the rank 0, 1, ... by size over the
    clip, and ``box``), as :func:`vivid.pose3d.people.tracked_boxes` gives them.
    """
    n = 1 + max((p.id for frame in people for p in frame), default=-1)
    if not 0 <= person < n:
        from vivid.people.tracker import people_found

        raise VividError(f"--person {person}: the people detector found {people_found(n)} in the person video")
    return [next((tuple(p.box) for p in frame if p.id == person), None) for frame in people]


def box_masks(boxes: list[Box | None], image_hw: tuple[int, int], height: int, width: int, margin: float = PERSON_MARGIN) -> Tensor:
    """(T, height, width) bool: each frame's box (image pixels of ``image_hw``), grown by ``margin``
    of its size on each side, at the working size; a whole frame where the box is None."""
    h0, w0 = image_hw
    out = torch.ones(len(boxes), height, width, dtype=torch.bool)
    for t, box in enumerate(boxes):
        if box is None:
            continue
        x0, y0, x1, y1 = box
        mx, my = margin * (x1 - x0), margin * (y1 - y0)
        c0, c1 = int(max(0, (x0 - mx) * width / w0)), int(min(width, np.ceil((x1 + mx) * width / w0)))
        r0, r1 = int(max(0, (y0 - my) * height / h0)), int(min(height, np.ceil((y1 + my) * height / h0)))
        out[t] = False
        out[t, r0:r1, c0:c1] = True
    return out


def preprocess(model, images: list[np.ndarray], *, height: int, width: int, category: str, joints2d: np.ndarray,
               confidence: np.ndarray, parts_from: str = "parser", boxes: list[Box | None] | None = None) -> PersonInputs:
    """The inputs of a person clip (see :class:`PersonInputs`).

    Args:
        images: T uint8 (H0, W0, 3) frames; joints2d: (T, 17, 2) H36M joints in those frames'
            pixels; confidence: (T, 17) in [0, 1].
        parts_from: ``parser`` (the checkpoint's parser) or ``skeleton`` (parts drawn around the
            joints, :func:`skeleton_parts`, for clips the parser does not read).
        boxes: per frame the chosen person's box (x0, y0, x1, y1) in image pixels, or None: body
            parts and garment outside it (:func:`box_masks`) belong to other people and are dropped.
    """
    if category not in CATEGORIES:
        raise VividError(f"unknown garment category {category!r}; use upper, lower or full")
    if parts_from not in ("parser", "skeleton"):
        raise VividError(f"unknown parts source {parts_from!r}; use parser or skeleton")
    frames = to_frames(images, height, width)
    h0, w0 = images[0].shape[:2]
    scale = torch.tensor([width / w0, height / h0])
    j = torch.from_numpy(np.asarray(joints2d, dtype=np.float32))
    j = (j + 0.5) * scale - 0.5
    if parts_from == "skeleton":
        parts, garment = skeleton_parts(j, height, width), torch.zeros(len(images), height, width, dtype=torch.bool)
    else:
        parts, garment = parse(model, frames)
    if boxes is not None:
        keep = box_masks(boxes, (h0, w0), height, width)
        parts, garment = parts.masked_fill(~keep, 0), garment & keep
    person = (parts > 0) | garment
    if float(person.float().mean()) < MIN_PERSON_FRACTION or float(np.mean(confidence)) < MIN_POSE_CONFIDENCE:
        raise VividError("no person found in the person video; give a clip with one person in view, large in the frame")
    body_parts = fill_parts_under_garment(parts, garment)
    pose = pose_images(j, torch.from_numpy(np.asarray(confidence, dtype=np.float32)), body_parts)
    region = tryon_region(body_parts, garment, category)
    background, m_a = background_sequence(frames, region)
    return PersonInputs(frames, pose, background, m_a, body_parts, garment)


def garment_mask(model, photo: np.ndarray, *, method: str = "network") -> Tensor:
    """The garment's mask (H, W) bool in a garment photo uint8 (H, W, 3): the model's segmenter
    (``network``) or OpenCV's GrabCut from a centred rectangle (``grabcut``, needs OpenCV)."""
    if method == "grabcut":
        try:
            import cv2
        except ImportError as err:
            raise VividError("--garment-mask grabcut needs OpenCV: pip install 'vivid[train]' (opencv-python-headless)") from err
        h, w = photo.shape[:2]
        mask = np.zeros((h, w), np.uint8)
        rect = (int(0.05 * w), int(0.05 * h), int(0.9 * w), int(0.9 * h))
        cv2.grabCut(photo[..., ::-1].copy(), mask, rect, np.zeros((1, 65)), np.zeros((1, 65)), 5, cv2.GC_INIT_WITH_RECT)
        return torch.from_numpy((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD))
    if method != "network":
        raise VividError(f"unknown garment mask method {method!r}; use network or grabcut")
    h, w = photo.shape[:2]
    x = torch.from_numpy(photo).permute(2, 0, 1).float()[None] / 255
    hs, ws = max(32, (h // 32) * 32 if h <= 512 else 256), max(32, (w // 32) * 32 if w <= 512 else 192)
    with torch.no_grad():
        logits = model.segmenter(F.interpolate(x, size=(hs, ws), mode="bilinear", align_corners=False, antialias=True))
    return F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)[0, 0] > 0


def prepare_garment(model, photo: np.ndarray, height: int, width: int, *, mask_method: str = "network") -> tuple[Tensor, Tensor]:
    """A garment photo uint8 (H, W, 3) -> flat garment (1, 3, height, width * 3/4 rounded) on white and its mask (1, 1, ...)."""
    if not isinstance(photo, np.ndarray) or photo.ndim != 3 or photo.shape[2] != 3 or photo.dtype != np.uint8:
        raise VividError("the garment photo must be an RGB image (uint8 H x W x 3)")
    mask = garment_mask(model, photo, method=mask_method)
    if float(mask.float().mean()) < 0.02:
        raise VividError("no garment found in the garment photo; give a photo of one garment, laid flat or hanging, filling the frame")
    x = torch.from_numpy(photo).permute(2, 0, 1).float()[None] / 255
    m = mask[None, None].float()
    x = x * m + (1 - m)  # on white, as the flat garments of training are
    fw = max(16, height * 3 // 4)
    flat = F.interpolate(x, size=(height, fw), mode="bilinear", align_corners=False, antialias=True)
    fm = (F.interpolate(m, size=(height, fw), mode="bilinear", align_corners=False) > 0.5).float()
    return flat, fm


def chunk_starts(T: int, chunk: int, overlap: int) -> list[int]:
    """Start frames of chunks of ``chunk`` frames overlapping by ``overlap`` that cover T frames."""
    if chunk < 1 or not 0 <= overlap < chunk:
        raise VividError(f"chunks need chunk >= 1 and 0 <= overlap < chunk, got chunk {chunk}, overlap {overlap}")
    if T <= chunk:
        return [0]
    step = chunk - overlap
    starts = list(range(0, T - chunk, step))
    return starts + [T - chunk]


@torch.no_grad()
def try_on_chunks(model, inputs: PersonInputs, flat: Tensor, flat_mask: Tensor, *, chunk: int = 8, overlap: int = 2,
                  on_frames: Callable[[int], None] | None = None) -> Tensor:
    """Try-on output (T, 3, H, W) of a whole clip, run in overlapping chunks.

    Each chunk of ``chunk`` frames is one attention window; where chunks overlap, outputs are
    blended with weights that ramp linearly across the overlap (so each frame's output moves
    smoothly from one chunk's to the next). ``on_frames(n)`` is called as frames complete.
    """
    T = inputs.frames.shape[0]
    starts = chunk_starts(T, chunk, overlap)
    total = torch.zeros_like(inputs.frames)
    weight = torch.zeros(T, 1, 1, 1)
    done = 0
    for k, s in enumerate(starts):
        e = min(T, s + chunk)
        pose = inputs.pose[s:e][None]
        m_a = inputs.background_mask[s:e][None]
        warped, w_mask = model.warper(flat, flat_mask, pose, 1 - m_a)
        out = model(pose, inputs.background[s:e][None], m_a, warped, w_mask).output[0]
        n = e - s
        w = torch.ones(n)
        if k > 0:  # ramp up over the overlap with the previous chunk
            ov = starts[k - 1] + chunk - s
            if ov > 0:
                w[:ov] = torch.arange(1, ov + 1) / (ov + 1)
        if k + 1 < len(starts):  # ramp down over the overlap with the next one
            ov = s + chunk - starts[k + 1]
            if ov > 0:
                w[n - ov :] = torch.minimum(w[n - ov :], 1 - torch.arange(1, ov + 1) / (ov + 1))
        total[s:e] += out * w.view(-1, 1, 1, 1)
        weight[s:e] += w.view(-1, 1, 1, 1)
        new_done = starts[k + 1] if k + 1 < len(starts) else T
        if on_frames is not None and new_done > done:
            on_frames(new_done - done)
        done = max(done, new_done)
    return total / weight


class TryOn:
    """A try-on checkpoint with what it needs on real video.

    Args:
        model: bundled name (``tryon-default``) or a ``.safetensors`` path.
        pose_model: the pose3d checkpoint whose 2D joints give the keypoint maps.
        size: (height, width) of the working frames (default: the size the checkpoint trained at).
        detector: who is who with ``person=N``: "auto" (``vivid.people``'s people-default, loaded
            on first use), a callable ``image -> list[Detection]``, or None (no tracking).
    """

    def __init__(self, model: str = DEFAULT_MODEL, *, pose_model: str = "pose3d-default", device: str | torch.device = "cpu",
                 size: tuple[int, int] | None = None, detector: str | Callable | None = "auto") -> None:
        self.model, self.meta = load_checkpoint(model, task="tryon", device=device)
        self.device = torch.device(device)
        self.pose_model = pose_model
        self._pose = None
        if not (detector is None or detector == "auto" or callable(detector)):
            raise VividError(f"detector must be 'auto', a detector or None, got {detector!r}")
        self.detector = detector
        self.detector_note: str | None = None  # why there is no detector, once :meth:`people` looked
        trained = (self.meta.get("extra") or {}).get("config", {}).get("data", {})
        self.size = tuple(size) if size is not None else (int(trained.get("height", 128)), int(trained.get("width", 96)))
        try:
            self.model.check_size(*self.size)
        except ValueError as err:
            raise VividError(f"--size {self.size[0]}x{self.size[1]}: {err}; use multiples of 32 (e.g. 128x96, 256x192)") from err

    def people(self, images: list[np.ndarray]) -> list[list]:
        """Per frame, the tracked people (:class:`vivid.pose3d.people.PersonBox`: ``id`` 0, 1, ...
        from the largest track down, ``box``), largest first; [] per frame without a detector
        (``detector_note`` then says why)."""
        from vivid.pose3d.people import load_detector, tracked_boxes

        if self.detector is None:
            self.detector_note = "no person detector"
            return [[] for _ in images]
        if self.detector == "auto":
            self.detector, self.detector_note = load_detector(str(self.device))
            if self.detector is None:
                log.warning("%s", self.detector_note)
                return [[] for _ in images]
        return tracked_boxes(list(images), self.detector)

    def choose(self, images: list[np.ndarray], person: int) -> list[Box | None] | None:
        """The boxes of tracked person ``person`` (0: the largest) per frame (:func:`person_boxes`);
        None (follow the joints of the one person found from the whole frame) when ``person`` is 0
        and there is no detector."""
        people = self.people(images)
        if not any(people) and self.detector_note is not None:
            if person == 0:
                return None
            raise VividError(f"--person {person} needs the people detector, which is not available ({self.detector_note})")
        return person_boxes(people, person)

    def joints(self, images: list[np.ndarray], boxes: list[Box | None] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """pose3d's 2D joints (T, 17, 2) and confidences (T, 17): on each frame in the chosen
        person's box (``boxes``, image pixels) where there is one, else in a crop guided by the
        previous frame's joints."""
        if self._pose is None:
            from vivid.pose3d.apply import PoseEstimator

            self._pose = PoseEstimator(self.pose_model, device=self.device)
        joints, conf, previous = [], [], None
        for t, im in enumerate(images):
            box = None if boxes is None else boxes[t]
            previous = self._pose.predict(im, previous) if box is None else self._pose.predict_box(im, box)
            joints.append(previous.joints2d)
            conf.append(previous.confidence)
        return np.stack(joints), np.stack(conf)

    def prepare(self, images: list[np.ndarray], category: str, *, parts_from: str = "parser",
                person: int | None = None) -> PersonInputs:  # fmt: skip
        """The inputs of a person clip; ``person``: dress the N-th largest tracked person (None: the
        one person found from the whole frame)."""
        boxes = None if person is None else self.choose(images, person)
        j, c = self.joints(images, boxes)
        return preprocess(self.model, images, height=self.size[0], width=self.size[1], category=category, joints2d=j,
                          confidence=c, parts_from=parts_from, boxes=boxes)

    def run(self, images: list[np.ndarray], photo: np.ndarray, *, category: str = "upper", chunk: int = 8, overlap: int = 2,
            mask_method: str = "network", parts_from: str = "parser", person: int | None = None,
            on_frames: Callable[[int], None] | None = None) -> tuple[Tensor, PersonInputs]:
        """Try-on frames (T, 3, H, W) in [0, 1] at the working size, and the inputs used."""
        # The person first: "no person" is the likelier mistake.
        inputs = self.prepare(images, category, parts_from=parts_from, person=person)
        flat, fm = prepare_garment(self.model, photo, *self.size, mask_method=mask_method)
        return try_on_chunks(self.model, inputs, flat, fm, chunk=chunk, overlap=overlap, on_frames=on_frames), inputs


def parse_person(text: str | int | None) -> int | None:
    """``--person``: None (not given) or a rank 0, 1, ... (0: the largest); VividError otherwise."""
    if text is None:
        return None
    value = str(text).strip()
    if value.lower() == "all":
        raise VividError("--person all: vivid tryon dresses one person; give a number (0: the largest person)")
    if not value.isdigit():
        raise VividError(f"--person must be a whole number 0 or more (0: the largest person), got {text!r}")
    return int(value)


def parse_size(text: str) -> tuple[int, int]:
    """"256x192" -> (256, 192)."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError as err:
        raise VividError(f"size {text!r} must look like HEIGHTxWIDTH, e.g. 256x192") from err
    return h, w


PARSE_COLOURS = np.array([[0, 0, 0]] + [[int(80 + 170 * ((i * 37) % 14) / 14), int(60 + 190 * ((i * 53) % 14) / 14),
                                         int(90 + 160 * ((i * 71) % 14) / 14)] for i in range(1, 15)] + [[255, 255, 255]], np.uint8)


def parse_image(parts: Tensor, garment: Tensor) -> np.ndarray:
    """A colour picture (H, W, 3) uint8 of body parts (H, W) with the garment (H, W) in white."""
    labels = parts.clone()
    labels[garment] = GARMENT_LABEL
    return PARSE_COLOURS[labels.numpy()]
