"""Frame-rate up-conversion: a stream of input frames becomes the frames of a higher frame rate
(``factor`` N or a target ``fps``), with the interpolations batched and only two input frames
plus one batch in memory, so memory does not grow with the video's length."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np
import torch
from torch import Tensor

from vivid.core.errors import VividError
from vivid.core.fileio import to_tensor, to_uint8
from vivid.core.video import Frame
from vivid.interp.interpolator import Interpolate
from vivid.interp.rates import MAX_FACTOR, check_rate, check_request, expected_output_count  # noqa: F401 (re-exported)
from vivid.interp.scenecut import SceneCutDetector, thumbnail

# Output times within this fraction of an input interval from an input frame copy that frame.
_SNAP = 1e-3


@dataclass
class OutputFrame:
    """One output frame. ``kind`` is ``"input"`` (a copy of an input frame), ``"interpolated"``
    or ``"cut"`` (the nearest input frame, repeated because a scene cut lies between the two
    neighbours). ``source`` is the index of the input frame before (or at) this time, ``t`` the
    position between it and the next input frame."""

    index: int
    time: float
    image: np.ndarray | None
    kind: str
    source: int
    t: float


def upconvert(
    frames: Iterable[Frame],
    interpolate: Interpolate,
    *,
    factor: int | None = None,
    fps: float | None = None,
    batch_size: int = 4,
    scene_cuts: SceneCutDetector | None = SceneCutDetector(),
) -> Iterator[OutputFrame]:
    """Frame-rate up-conversion as a generator (constant memory in the length of the video).

    Output frames lie on a regular grid that starts at the first input frame and stops at the
    last one (no extrapolation past it):

    - ``factor=N``: N frames per input interval at t = 0, 1/N, ..., (N-1)/N, then the last
      input frame, i.e. ``(n - 1) * N + 1`` frames at times ``time_a + t * (time_b - time_a)``
      (``k / (N * fps_in)`` for constant-rate input);
    - ``fps=F``: times ``k / F`` after the first frame, ``k = 0, 1, ...`` up to the last input
      time; an output time between input frames a and b is interpolated at
      ``t = (time - time_a) / (time_b - time_a)`` (decoded timestamps are used, so
      variable-rate input is handled).

    An output time that coincides with an input frame (within 1/1000 of the interval) copies it.
    Across a scene cut (see :class:`SceneCutDetector`) the nearest input frame is repeated
    (t < 0.5: the earlier one; t >= 0.5: the later one) instead of blending two scenes.
    Interpolations are batched ``batch_size`` at a time, across input intervals.

    Args:
        frames: :class:`Frame` stream with increasing times; at least 2 frames.
        interpolate: see :data:`Interpolate`.
    Yields:
        :class:`OutputFrame` in time order, ``image`` uint8 (H, W, 3).
    """
    check_request(factor=factor, fps=fps)
    if batch_size < 1:
        raise VividError(f"--batch must be at least 1, got {batch_size}")
    pending: deque[OutputFrame] = deque()
    jobs: list[tuple[OutputFrame, np.ndarray, np.ndarray]] = []
    n_out = 0

    def run_jobs() -> None:
        if not jobs:
            return
        f0 = torch.stack([to_tensor(a) for _, a, _ in jobs])
        f1 = torch.stack([to_tensor(b) for _, _, b in jobs])
        tt = torch.tensor([o.t for o, _, _ in jobs], dtype=torch.float32)
        images = to_uint8(interpolate(f0, f1, tt))
        for (o, _, _), im in zip(jobs, images):
            o.image = im
        jobs.clear()

    def ready() -> Iterator[OutputFrame]:
        while pending and pending[0].image is not None:
            yield pending.popleft()

    prev: Frame | None = None
    prev_thumb: Tensor | None = None
    span, start = 1.0, 0.0
    n_in = 0
    for cur in frames:
        n_in += 1
        cur_thumb = thumbnail(cur.image) if scene_cuts is not None else None
        if prev is None:
            prev, prev_thumb, start = cur, cur_thumb, cur.time
            continue
        if cur.image.shape != prev.image.shape:
            raise VividError(
                f"frame {cur.index} is {cur.image.shape[1]}x{cur.image.shape[0]} but frame {prev.index} is "
                f"{prev.image.shape[1]}x{prev.image.shape[0]}; all frames must have one size"
            )
        span = cur.time - prev.time
        if span <= 0:
            raise VividError(f"frame {cur.index} does not come after frame {prev.index} in time; timestamps must increase")
        cut = scene_cuts is not None and scene_cuts.is_cut(prev_thumb, cur_thumb)
        if factor is not None:
            ts = [j / factor for j in range(factor)]
        else:
            ts = []
            while (time := start + (n_out + len(ts)) / fps) < cur.time - _SNAP * span:
                ts.append(max(0.0, (time - prev.time) / span))
        for t in ts:
            time = prev.time + t * span if factor is not None else start + n_out / fps
            o = OutputFrame(n_out, time, None, "input", prev.index, t)
            n_out += 1
            if t < _SNAP:
                o.image = prev.image
            elif cut:
                o.kind = "cut"
                o.image = prev.image if t < 0.5 else cur.image
            else:
                o.kind = "interpolated"
                jobs.append((o, prev.image, cur.image))
            pending.append(o)
            if len(jobs) >= batch_size:
                run_jobs()
        yield from ready()
        prev, prev_thumb = cur, cur_thumb
    if n_in < 2:
        raise VividError(f"the input has {n_in} frame(s); at least 2 are needed")
    run_jobs()
    yield from ready()
    # The last input frame closes the grid when it lies on it.
    time = prev.time if factor is not None else start + n_out / fps
    if factor is not None or time <= prev.time + _SNAP * span:
        yield OutputFrame(n_out, time, prev.image, "input", prev.index, 0.0)
