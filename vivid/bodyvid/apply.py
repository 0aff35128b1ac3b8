"""Inference on a video (step 8 of the method): person crop per frame, sequences, prediction.

Frames stream in one at a time; at most two sequences of frames per person are held (memory
does not grow with the video's length; the small per-frame records the animation exports need
are kept).

The person's box in each frame, in order of preference:

1. a box the user gives (``box=(x0, y0, x1, y1)``), for every frame;
2. a person's track (:meth:`BodyVideoPredictor.track`: ``vivid.people``'s detector and tracker
   over the whole clip): its detected box, or on frames where the detector missed the person
   the box the tracker bridged the gap with; each track gives its own mesh sequence, over the
   frames from its first to its last;
3. the box around the joints projected from the previous prediction (a sequence's frames take
   the last frame of the sequence before);
4. the whole frame (the first sequence, without 1 or 2).

A sequence whose crops come from the whole frame (the first one, without 1 or 2) is predicted
twice, the second time on crops around the joints of the first pass (``refine="auto"``, the
default); later sequences have a box already and are predicted once (``refine=True``: every
sequence twice; ``False``: never). Sequences overlap when ``stride < S``; a frame's predictions are
then averaged (rotations re-orthonormalised). The camera of the input is a pinhole with a field
of view of ``fov_deg`` across the larger side (55 degrees by default): absolute depth assumes it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

import numpy as np
import torch
from torch import Tensor

from vivid.core.checkpoints import load_checkpoint
from vivid.core.errors import VividError
from vivid.core.geometry import intrinsics_from_fov, matrix_to_axis_angle
from vivid.bodyvid.camera import camera_translation, project_joints
from vivid.bodyvid.data import clamp_box, crop, crop_intrinsics, from_crop_pixels, square_box
from vivid.bodyvid.sequences import check_sequence_settings

if TYPE_CHECKING:
    from vivid.people.tracker import Track

log = logging.getLogger(__name__)

DEFAULT_FOV_DEG = 55.0
# "track": the person's detected box; "bridged": the tracker's box across a missed detection.
BOX_SOURCES = ("user", "track", "bridged", "previous", "frame")


@dataclass
class FramePrediction:
    """One frame's body.

    Attributes:
        index, time: the frame's position and timestamp (seconds).
        joints3d: (17, 3) H36M joints, camera frame, metres; joints2d: (17, 2) image pixels.
        rotations: (24, 3, 3) :data:`vivid.bodyvid.skeleton.BONES` rotations (root: camera frame).
        phenotype: (6,); root: (3,) pelvis, camera frame; box: (cx, cy, side) crop used;
        box_source: where the box came from (:data:`BOX_SOURCES`);
        person: the track's number (0: the largest tracked person, as ``--person`` counts), or
            None when the boxes do not come from tracks.
    """

    index: int
    time: float
    joints3d: np.ndarray
    joints2d: np.ndarray
    rotations: np.ndarray
    phenotype: np.ndarray
    root: np.ndarray
    box: tuple[float, float, float]
    box_source: str
    person: int | None = None

    def to_dict(self) -> dict:
        r = lambda a, n: np.round(np.asarray(a, dtype=np.float64), n).tolist()  # noqa: E731
        return {
            "index": self.index, "time": round(self.time, 4), "person": self.person, "joints3d": r(self.joints3d, 4),
            "joints2d": r(self.joints2d, 1), "root": r(self.root, 4),
            "rotations_axis_angle": r(matrix_to_axis_angle(torch.from_numpy(self.rotations)).numpy(), 4),
            "phenotype": r(self.phenotype, 3), "crop_box": [round(float(v), 1) for v in self.box],
            "box_source": self.box_source,
        }  # fmt: skip


def _box_from_corners(box: tuple[float, float, float, float]) -> tuple[float, float, float]:
    x0, y0, x1, y1 = box
    return (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) * 1.15


@dataclass
class _Pending:
    index: int
    time: float
    image: Tensor  # (3, H, W) uint8
    box: tuple[float, float, float]
    source: str
    sums: dict = field(default_factory=dict)
    count: int = 0


@dataclass
class _Stream:
    """One person's frames on their way through the sequences: a track's (``track``) or, without
    tracks, every frame's (``track`` None)."""

    track: Track | None = None
    pending: list[_Pending] = field(default_factory=list)
    last_box: tuple[float, float, float] | None = None
    closed: bool = False

    @property
    def person(self) -> int | None:
        return None if self.track is None else self.track.id

    def covers(self, index: int) -> bool:
        return self.track is None or self.track.first <= index <= self.track.last


class BodyVideoPredictor:
    """Runs a bodyvid checkpoint on a stream of frames.

    Args:
        model: bundled name (``bodyvid-default``) or a ``.safetensors`` path.
        device: torch device. fov_deg: the input camera's field of view (degrees, larger side).
        stride: frames between sequence starts (default S: no overlap).
        box: a fixed person box (x0, y0, x1, y1) in pixels for every frame.
        detector: for :meth:`track`: "auto" (``vivid.people``'s people-default, loaded on first
            use, when installed), a callable ``image -> list[Detection]``, or None (no tracking).
        refine: a second pass on crops around the first pass's joints: "auto" (sequences whose
            boxes came from the whole frame), True (every sequence) or False.
    """

    def __init__(self, model: str = "bodyvid-default", *, device: str | torch.device = "cpu", fov_deg: float | None = None,
                 stride: int | None = None, box: tuple[float, float, float, float] | None = None,
                 detector: str | Callable | None = "auto", refine: bool | str = "auto") -> None:  # fmt: skip
        self.model, self.meta = load_checkpoint(model, task="bodyvid", device=device)
        self.device = torch.device(device)
        self.seq_len = self.model.seq_len
        self.stride = check_sequence_settings(self.seq_len, stride)
        self.fov_deg = DEFAULT_FOV_DEG if fov_deg is None else fov_deg
        if not 1.0 <= self.fov_deg <= 170.0:
            raise VividError(f"field of view must be between 1 and 170 degrees, got {self.fov_deg}")
        if box is not None and not (box[2] > box[0] and box[3] > box[1]):
            raise VividError(f"--box must be x0,y0,x1,y1 with x1 > x0 and y1 > y0, got {box}")
        self.user_box = box
        if not (detector is None or detector == "auto" or callable(detector)):
            raise VividError(f"detector must be 'auto', a detector or None, got {detector!r}")
        self.detector = detector
        self.detector_note: str | None = None  # why there is no detector, once :meth:`track` looked
        if refine not in (True, False, "auto"):
            raise VividError(f"refine must be True, False or 'auto', got {refine!r}")
        self.refine = refine

    @property
    def box_strategy(self) -> str:
        """What the boxes come from without tracks, for the output's record."""
        if self.user_box is not None:
            return "user box (--box) for every frame"
        return ("the whole frame for the first sequence, then the box around the joints projected from the previous "
                "prediction (--person follows the people detector's tracks instead)")  # fmt: skip

    # ------------------------------------------------------------------ people

    def track(self, frames: Iterable) -> list[Track]:
        """The people of a clip, largest first, numbered 0, 1, ... (:func:`vivid.people.tracker.ranked_tracks`);
        [] without a detector (``detector_note`` then says why) or with a user box.

        frames: uint8 (H, W, 3) images or objects with ``image`` and ``index``, read once.
        """
        from vivid.pose3d.people import load_detector
        from vivid.people.tracker import ranked_tracks

        if self.user_box is not None or self.detector is None:
            self.detector_note = "no person detector" if self.user_box is None else "the person box was given (--box)"
            return []
        if self.detector == "auto":
            self.detector, self.detector_note = load_detector(str(self.device))
            if self.detector is None:
                log.warning("%s", self.detector_note)
                return []
        return ranked_tracks(frames, self.detector)

    # ------------------------------------------------------------------ boxes

    def _box(self, stream: _Stream, image: np.ndarray, index: int) -> tuple[tuple[float, float, float], str]:
        h, w = image.shape[:2]
        if self.user_box is not None:
            return clamp_box(_box_from_corners(self.user_box), h, w), "user"
        if stream.track is not None:
            k = index - stream.track.first
            source = "track" if stream.track.detected[k] else "bridged"
            return clamp_box(_box_from_corners(stream.track.boxes[k]), h, w), source
        if stream.last_box is not None:
            return stream.last_box, "previous"
        return ((w - 1) / 2, (h - 1) / 2, float(max(w, h))), "frame"

    # ------------------------------------------------------------------ sequences

    @torch.no_grad()
    def _run(self, items: list[_Pending], boxes: list[tuple[float, float, float]], K: Tensor) -> dict[str, Tensor]:
        size = self.model.input_size
        crops = torch.stack([crop(it.image, b, size) for it, b in zip(items, boxes)])
        Kc = torch.stack([crop_intrinsics(K, b, size) for b in boxes])
        out = self.model(crops[None].to(self.device))
        cam, joints = out.camera[0].cpu(), out.joints3d[0].cpu()
        uv = project_joints(joints, cam, Kc, size, self.model.camera)
        uv = torch.stack([from_crop_pixels(uv[k], boxes[k], size) for k in range(len(items))])
        return {"joints3d_rel": joints, "joints2d": uv, "rotations": out.rotations[0].cpu(),
                "phenotype": out.phenotype[0].cpu(), "root": camera_translation(cam, Kc, size)}  # fmt: skip

    def _predict_sequence(self, stream: _Stream, items: list[_Pending], K: Tensor) -> None:
        """Predict one sequence (padded by repeating its last frame) and add to each frame's sums."""
        n = len(items)
        padded = items + [items[-1]] * (self.seq_len - n)
        boxes = [it.box for it in padded]
        pred = self._run(padded, boxes, K)
        if self.refine is True or (self.refine == "auto" and any(it.source == "frame" for it in items)):
            h, w = items[0].image.shape[1:]
            boxes = [clamp_box(square_box(pred["joints2d"][k]), h, w) for k in range(self.seq_len)]
            pred = self._run(padded, boxes, K)
        for k, it in enumerate(items):  # padded predictions are dropped
            for key, value in pred.items():
                it.sums[key] = it.sums.get(key, 0) + value[k]
            it.count += 1
            it.box = boxes[k]
        h, w = items[0].image.shape[1:]
        stream.last_box = clamp_box(square_box(pred["joints2d"][n - 1]), h, w)

    def _finish(self, it: _Pending, person: int | None) -> FramePrediction:
        m = {k: v / it.count for k, v in it.sums.items()}
        rot = m["rotations"]
        if it.count > 1:  # the mean of rotations, back onto rotations
            import roma

            rot = roma.special_procrustes(rot)
        return FramePrediction(
            index=it.index, time=it.time, joints3d=(m["joints3d_rel"] + m["root"]).numpy(), joints2d=m["joints2d"].numpy(),
            rotations=rot.numpy(), phenotype=m["phenotype"].numpy(), root=m["root"].numpy(), box=it.box,
            box_source=it.source, person=person,
        )  # fmt: skip

    def _feed(self, stream: _Stream, item: _Pending, K: Tensor, done: dict[int, list[FramePrediction]]) -> None:
        stream.pending.append(item)
        if len(stream.pending) == self.seq_len:
            self._predict_sequence(stream, stream.pending, K)
            for it in stream.pending[: self.stride]:
                done.setdefault(it.index, []).append(self._finish(it, stream.person))
            stream.pending = stream.pending[self.stride :]

    def _close(self, stream: _Stream, K: Tensor | None, done: dict[int, list[FramePrediction]]) -> None:
        """The stream's tail: one padded sequence for the frames no sequence has predicted yet."""
        if stream.pending and any(p.count == 0 for p in stream.pending):
            self._predict_sequence(stream, stream.pending, K)
        for it in stream.pending:
            done.setdefault(it.index, []).append(self._finish(it, stream.person))
        stream.pending, stream.closed = [], True

    def predict_frames(self, frames: Iterable, tracks: list[Track] | None = None) -> Iterator[tuple[int, float, list[FramePrediction]]]:
        """Frames (objects with ``image`` uint8 (H, W, 3), ``time``, ``index``, as
        :func:`vivid.core.video.iter_frames` yields) -> per frame, in order, ``(index, time,
        predictions)``: one :class:`FramePrediction` per track covering the frame (in track
        order), or without ``tracks`` exactly one, from the boxes of the module docstring."""
        streams = [_Stream(t) for t in tracks] if tracks else [_Stream()]
        done: dict[int, list[FramePrediction]] = {}
        waiting: list[tuple[int, float]] = []  # frames read and not given out yet
        K = None
        for frame in frames:
            image = frame.image
            if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
                raise VividError("frames must be RGB uint8 (H, W, 3) images")
            h, w = image.shape[:2]
            if min(h, w) < 16:
                raise VividError(f"frames of {w}x{h} are too small; use at least 16x16 pixels")
            if K is None:
                K = intrinsics_from_fov(fov_deg=self.fov_deg, height=h, width=w)
            index, time = int(frame.index), float(frame.time)
            waiting.append((index, time))
            tensor = torch.from_numpy(np.ascontiguousarray(image).copy()).permute(2, 0, 1)  # uint8; crop reads the box only
            for stream in streams:
                if stream.closed or not stream.covers(index):
                    continue
                box, source = self._box(stream, image, index)
                self._feed(stream, _Pending(index, time, tensor, box, source), K, done)
                if stream.track is not None and index == stream.track.last:
                    self._close(stream, K, done)
            # Frames before every stream's oldest unpredicted one are complete.
            oldest = min((s.pending[0].index for s in streams if s.pending), default=None)
            while waiting and (oldest is None or waiting[0][0] < oldest):
                i, t = waiting.pop(0)
                yield i, t, sorted(done.pop(i, []), key=lambda p: -1 if p.person is None else p.person)
        for stream in streams:
            if not stream.closed:
                self._close(stream, K, done)
        for i, t in waiting:
            yield i, t, sorted(done.pop(i, []), key=lambda p: -1 if p.person is None else p.person)

    def predict(self, frames: Iterable, tracks: list[Track] | None = None) -> Iterator[FramePrediction]:
        """Frames (as :meth:`predict_frames` takes) -> the :class:`FramePrediction` s, in frame order
        (one per frame without ``tracks``; per frame, one per track covering it with them)."""
        for _, _, predictions in self.predict_frames(frames, tracks):
            yield from predictions
