"""Which people to estimate: the optional person detector and tracker, given boxes, and the
order and choice of people (``vivid pose --person N`` / ``--box``).

The detector and tracker live in :mod:`vivid.people` (``PersonDetector``, ``track_video``). They
are optional here: when that package or its ``people-default`` checkpoint is missing,
:func:`load_detector` says why and pose estimation falls back to one person per frame, found
from the whole frame (and followed by its joints on video).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from vivid.core.errors import VividError

log = logging.getLogger(__name__)

DETECTOR_NAME = "people-default"
Box = tuple[float, float, float, float]  # (x0, y0, x1, y1) pixels


@dataclass
class PersonBox:
    """A person in one frame: ``box`` (x0, y0, x1, y1) pixels, where it came from (``source``:
    "detector", "tracker", "given", or "joints" for the extent of the joints found without a
    box), the track ``id`` on video (None on images) and the detector's ``score`` (None when
    there is none for this frame: the pose network's person confidence then decides)."""

    box: Box
    source: str
    id: int | None = None
    score: float | None = None


def box_area(box: Box) -> float:
    x0, y0, x1, y1 = box
    return max(0.0, x1 - x0) * max(0.0, y1 - y0)


def parse_box(text: str) -> Box:
    """``"x0,y0,x1,y1"`` (pixels) -> a box; VividError for anything else."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4 or not all(np.isfinite(values)):
        raise VividError(f"--box must be four numbers x0,y0,x1,y1 in pixels, got {text!r}")
    x0, y0, x1, y1 = values
    if not (x1 > x0 and y1 > y0):
        raise VividError(f"--box {text}: need x1 > x0 and y1 > y0")
    return values


def load_detector(device: str = "cpu"):
    """``(detector, None)``, or ``(None, reason)`` when :mod:`vivid.people` or its checkpoint is
    not available (the reason is one sentence for the JSON report)."""
    try:
        from vivid.people.detector import PersonDetector
    except ImportError:
        return None, "vivid.people is not installed: one person per frame, found from the whole frame"
    try:
        return PersonDetector(model=DETECTOR_NAME, device=device), None
    except (VividError, OSError, ValueError, RuntimeError) as err:
        return None, f"the {DETECTOR_NAME} detector could not be loaded ({err}): one person per frame, found from the whole frame"


def detect(detector, image: np.ndarray) -> list[PersonBox]:
    """The detector's people in ``image``, largest first."""
    found = [PersonBox(tuple(float(v) for v in d.box), "detector", score=float(d.score)) for d in detector(image)]
    return sorted(found, key=lambda p: -box_area(p.box))


def tracked_boxes(frames: list[np.ndarray], detector) -> list[list[PersonBox]]:
    """Per frame, the tracked people of a video (``vivid.people.tracker.track_video``), largest first.

    Track ids are renumbered 0, 1, ... from the largest track (mean box area) down, so that
    ``--person N`` names the same person on every frame.
    """
    from vivid.people.tracker import track_video

    tracks = track_video(frames, detector)  # Track.frames, .boxes and .scores are parallel lists
    tracks = sorted(tracks, key=lambda tr: -float(np.mean([box_area(b) for b in tr.boxes])) if tr.boxes else 0.0)
    per_frame: list[list[PersonBox]] = [[] for _ in frames]
    for rank, track in enumerate(tracks):
        scores = list(getattr(track, "scores", None) or [None] * len(track.frames))
        for t, box, score in zip(track.frames, track.boxes, scores):
            if 0 <= int(t) < len(frames):
                per_frame[int(t)].append(PersonBox(tuple(float(v) for v in box), "tracker", id=rank,
                                                   score=None if score is None else float(score)))  # fmt: skip
    return [sorted(people, key=lambda p: -box_area(p.box)) for people in per_frame]


def choose(people: list, person: int | None) -> list:
    """All people (``person`` None) or only the ``person``-th of a largest-first list (none when
    there are fewer)."""
    if person is None:
        return people
    if person < 0:
        raise VividError(f"--person must be 0 or more (0: the largest person), got {person}")
    return people[person : person + 1]
