"""Linking the people of consecutive video frames into tracks: one id per person.

Each frame's boxes are matched to the tracks' predicted boxes by IoU with the Hungarian method
(:func:`scipy.optimize.linear_sum_assignment`); a track predicts its next box at constant
velocity (SORT, Bewley et al. 2016, without the Kalman filter's covariance). A track that finds
no box keeps its id for up to ``max_gap`` frames, and the frames it missed are filled by linear
interpolation when it is found again (``detected`` False there). Tracks with fewer than
``min_length`` detected frames are dropped at the end (flickering false detections), and the
kept ones are numbered 1, 2, ... by their first frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
from scipy.optimize import linear_sum_assignment

from vivid.core.errors import VividError
from vivid.people.boxes import iou_matrix


@dataclass
class Track:
    """One person over a run of consecutive frames.

    Attributes:
        id: the track's number (1, 2, ... by first frame).
        frames: frame indices, consecutive from the first to the last.
        boxes: (x0, y0, x1, y1) per frame; scores: detection score per frame (0 where bridged);
        detected: False on the frames of a bridged gap (box interpolated);
        keypoints: per frame the (K, 3) keypoints given with the box, or None.
    """

    id: int
    frames: list[int] = field(default_factory=list)
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    detected: list[bool] = field(default_factory=list)
    keypoints: list[np.ndarray | None] = field(default_factory=list)

    @property
    def first(self) -> int:
        return self.frames[0]

    @property
    def last(self) -> int:
        return self.frames[-1]

    @property
    def hits(self) -> int:
        return int(sum(self.detected))

    def box_at(self, frame: int) -> tuple[float, float, float, float] | None:
        """The box on ``frame``, or None outside the track."""
        if not self.frames or not self.first <= frame <= self.last:
            return None
        return self.boxes[frame - self.first]

    def to_dict(self) -> dict:
        return {"id": self.id, "first_frame": self.first, "last_frame": self.last, "detected_frames": self.hits,
                "bridged_frames": len(self.frames) - self.hits}  # fmt: skip

    def _add(self, frame: int, box, score: float, detected: bool, keypoints) -> None:
        self.frames.append(frame)
        self.boxes.append(tuple(float(v) for v in box))
        self.scores.append(float(score))
        self.detected.append(detected)
        self.keypoints.append(None if keypoints is None else np.asarray(keypoints))


@dataclass
class _Active:
    track: Track
    velocity: np.ndarray  # (4,) box change per frame

    def predict(self, frame: int) -> np.ndarray:
        return np.asarray(self.track.boxes[-1]) + self.velocity * (frame - self.track.last)


class IoUTracker:
    """Frame-by-frame box linking (see the module docstring).

    Args:
        iou_threshold: least IoU between a predicted and a detected box to link them.
        max_gap: frames a track may miss and keep its id.
        min_length: least detected frames of a kept track.
        smoothing: weight of the newest motion in the velocity estimate (0..1).
    """

    def __init__(self, *, iou_threshold: float = 0.3, max_gap: int = 5, min_length: int = 3, smoothing: float = 0.5) -> None:
        if max_gap < 0 or min_length < 1 or not 0 < iou_threshold <= 1 or not 0 < smoothing <= 1:
            raise VividError("tracker settings: max_gap >= 0, min_length >= 1, iou_threshold and smoothing in (0, 1]")
        self.iou_threshold, self.max_gap, self.min_length, self.smoothing = iou_threshold, max_gap, min_length, smoothing
        self._active: list[_Active] = []
        self._done: list[Track] = []
        self._next_id = 1
        self._frame = -1

    def update(self, frame: int, boxes: np.ndarray, scores: np.ndarray | None = None,
               keypoints: list[np.ndarray] | None = None) -> list[int]:  # fmt: skip
        """Add one frame's boxes (N, 4) (with scores (N,), optional keypoints per box); frames
        must come in increasing order. Returns the provisional track number of each box."""
        if frame <= self._frame:
            raise VividError(f"frames must come in increasing order (got {frame} after {self._frame})")
        self._frame = frame
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        scores = np.ones(len(boxes)) if scores is None else np.asarray(scores, np.float64).reshape(-1)
        keypoints = [None] * len(boxes) if keypoints is None else list(keypoints)
        for a in [a for a in self._active if frame - a.track.last > self.max_gap + 1]:
            self._active.remove(a)
            self._done.append(a.track)
        ids = [0] * len(boxes)
        matched_tracks, matched_boxes = set(), set()
        if self._active and len(boxes):
            predicted = np.stack([a.predict(frame) for a in self._active])
            iou = iou_matrix(predicted, boxes)
            rows, cols = linear_sum_assignment(1 - iou)
            for r, c in zip(rows, cols):
                if iou[r, c] >= self.iou_threshold:
                    self._extend(self._active[r], frame, boxes[c], scores[c], keypoints[c])
                    ids[c] = self._active[r].track.id
                    matched_tracks.add(r)
                    matched_boxes.add(c)
        for c in range(len(boxes)):
            if c not in matched_boxes:
                track = Track(self._next_id)
                self._next_id += 1
                track._add(frame, boxes[c], scores[c], True, keypoints[c])
                self._active.append(_Active(track, np.zeros(4)))
                ids[c] = track.id
        return ids

    def _extend(self, active: _Active, frame: int, box: np.ndarray, score: float, keypoints) -> None:
        track = active.track
        last, gap = np.asarray(track.boxes[-1]), frame - track.last
        for k in range(1, gap):  # bridge the missed frames
            track._add(track.last + 1, last + (box - last) * k / gap, 0.0, False, None)
        step = (box - last) / gap
        active.velocity = step if track.hits == 1 else (1 - self.smoothing) * active.velocity + self.smoothing * step
        track._add(frame, box, score, True, keypoints)

    def tracks(self) -> list[Track]:
        """The kept tracks (at least ``min_length`` detected frames), numbered 1, 2, ... by first frame."""
        kept = [t for t in self._done + [a.track for a in self._active] if t.hits >= self.min_length]
        kept.sort(key=lambda t: (t.first, t.id))
        out = []
        for i, t in enumerate(kept, start=1):
            # A track ends at its last detection: frames after it were never bridged.
            out.append(Track(i, t.frames, t.boxes, t.scores, t.detected, t.keypoints))
        return out


def track_video(frames: Iterable, detector: Callable[[np.ndarray], list], **tracker_kwargs) -> list[Track]:
    """Detect and track the people of a clip.

    Args:
        frames: uint8 (H, W, 3) images, or objects with ``.image`` and ``.index`` (vivid.core.video.Frame).
        detector: ``image -> list[Detection]`` (:class:`~vivid.people.detector.PersonDetector` or the HOG one).
        tracker_kwargs: :class:`IoUTracker` settings.
    Returns:
        the kept tracks, with a box on every frame from each track's first to its last.
    """
    tracker = IoUTracker(**tracker_kwargs)
    for i, frame in enumerate(frames):
        image, index = (frame.image, frame.index) if hasattr(frame, "image") else (frame, i)
        dets = detector(image)
        tracker.update(index, np.array([d.box for d in dets]).reshape(-1, 4), np.array([d.score for d in dets]))
    return tracker.tracks()


def _mean_area(boxes: list[tuple[float, float, float, float]]) -> float:
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    return float(np.mean(np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None))) if len(b) else 0.0


def ranked_tracks(frames: Iterable, detector: Callable[[np.ndarray], list], **tracker_kwargs) -> list:
    """The people of a clip as :class:`vivid.people.tracker.Track` s, largest first (mean box
    area), their ids renumbered 0, 1, ... in that order.

    Args:
        frames: uint8 (H, W, 3) images or :class:`vivid.core.video.Frame` s (read once).
        detector: ``image -> list[Detection]``; tracker_kwargs: :class:`~vivid.people.tracker.IoUTracker` settings.
    """
    tracks = sorted(track_video(frames, detector, **tracker_kwargs), key=lambda t: (-_mean_area(t.boxes), t.first))
    return [Track(rank, t.frames, t.boxes, t.scores, t.detected, t.keypoints) for rank, t in enumerate(tracks)]


def people_found(n: int) -> str:
    """How many tracked people there are, with the ``--person`` values that pick them
    ("nobody", "1 person (--person 0)", "3 people (--person 0 to 2)")."""
    return "nobody" if n == 0 else "1 person (--person 0)" if n == 1 else f"{n} people (--person 0 to {n - 1})"
