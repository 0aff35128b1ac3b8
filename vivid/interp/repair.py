"""Stutter repair: find repeated frames and replace them with interpolated ones.

A stuttering video shows the same picture two or more times in a row (a dropped frame was
filled by repeating its predecessor). The repair:

1. measures the difference between every pair of neighbouring frames: the mean over pixels
   and channels of |frame_i - frame_{i-1}| in grey levels (0..255), computed on both frames
   area-averaged to a fixed working size (:data:`~vivid.interp.scenecut.WORK_SIZE`, 160x90), so
   the number does not depend on resolution and pixel noise is averaged away;
2. calls frame i a *repeat* when its difference to frame i-1 is at or under the threshold
   (given, or :func:`auto_threshold`);
3. replaces each run of k repeats, which sits between the distinct frames a (before) and
   b (after), by frames interpolated between a and b at t = i / (k + 1), i = 1..k.

Frame count, frame rate and timestamps are kept. A run is left as it is when it reaches the
end of the video (no frame b), when a scene cut separates a and b, or when it is longer than
``max_run`` frames (a still scene, not a stutter); the report lists those runs with the reason.
Memory holds at most ``max_run + 2`` frames, whatever the video's length.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch

from vivid.core.errors import VividError
from vivid.core.fileio import atomic_write, ensure_distinct, to_tensor, to_uint8
from vivid.core.video import Frame, FrameSink, frame_end, open_clip
from vivid.interp.interpolator import Interpolate
from vivid.interp.scenecut import SceneCutDetector, mean_abs_difference, thumbnail

log = logging.getLogger(__name__)

# auto threshold (grey levels on the 160x90 working size); see auto_threshold.
AUTO_RATIO = 0.2
AUTO_FLOOR = 0.3
AUTO_CAP = 2.0
DEFAULT_MAX_RUN = 8


def frame_differences(frames: Iterable[np.ndarray | Frame]) -> np.ndarray:
    """Differences between neighbouring frames (see the module docstring, step 1).

    Args:
        frames: uint8 (H, W, 3) images or :class:`~vivid.core.video.Frame` objects.
    Returns:
        (n - 1,) float64; entry i - 1 compares frame i with frame i - 1.
    """
    diffs, prev = [], None
    for f in frames:
        thumb = thumbnail(f.image if isinstance(f, Frame) else f)
        if prev is not None:
            diffs.append(mean_abs_difference(prev, thumb))
        prev = thumb
    return np.asarray(diffs, dtype=np.float64)


def auto_threshold(diffs: np.ndarray) -> float:
    """Pick the repeat threshold from the video's own frame differences.

    A repeated frame differs from its predecessor only by coding noise (a few tenths of a grey
    level at most), while real motion gives differences of the order of the video's typical
    difference. So the threshold is ``AUTO_RATIO`` (0.2) times the median of the differences
    that are above ``AUTO_FLOOR`` (0.3 grey levels, i.e. not already repeats), kept within
    [``AUTO_FLOOR``, ``AUTO_CAP``] = [0.3, 2.0] grey levels; with no difference above the floor
    (a still video) the floor is used.
    """
    diffs = np.asarray(diffs, dtype=np.float64)
    moving = diffs[diffs > AUTO_FLOOR]
    if moving.size == 0:
        return AUTO_FLOOR
    return float(np.clip(AUTO_RATIO * np.median(moving), AUTO_FLOOR, AUTO_CAP))


def find_repeats(diffs: np.ndarray, threshold: float) -> list[int]:
    """Indices i >= 1 of frames whose difference to frame i - 1 is at or under ``threshold``."""
    return [i + 1 for i in np.flatnonzero(np.asarray(diffs) <= threshold).tolist()]


def group_runs(indices: Iterable[int]) -> list[tuple[int, int]]:
    """Consecutive indices as (first index, length) runs: [3, 4, 9] -> [(3, 2), (9, 1)]."""
    runs: list[tuple[int, int]] = []
    for i in sorted(indices):
        if runs and runs[-1][0] + runs[-1][1] == i:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((i, 1))
    return runs


@dataclass
class RepairResult:
    """What a repair did. ``repaired``: indices of replaced frames; ``runs``: repaired runs as
    {"start", "length"}; ``skipped``: runs left as they were, each with a ``reason``."""

    n_frames: int = 0
    threshold: float = 0.0
    threshold_rule: str = "given"
    repaired: list[int] = field(default_factory=list)
    runs: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)


def repair_frames(
    frames: Iterable[Frame],
    interpolate: Interpolate,
    *,
    threshold: float,
    max_run: int = DEFAULT_MAX_RUN,
    batch_size: int = 4,
    scene_cuts: SceneCutDetector | None = SceneCutDetector(),
    result: RepairResult | None = None,
) -> Iterator[Frame]:
    """Stream a clip, replacing runs of repeated frames by interpolated frames.

    Args:
        frames: the clip as :class:`~vivid.core.video.Frame` objects (uint8 images).
        interpolate: see :data:`vivid.interp.interpolator.Interpolate`.
        threshold: a frame whose difference to its predecessor is <= this is a repeat.
        max_run: longer runs are a still scene, not a stutter, and are kept.
        result: filled in as the stream is consumed (repaired indices, runs, skipped runs).
    Yields:
        One :class:`Frame` per input frame, same index and time, in order.
    """
    res = result if result is not None else RepairResult()
    res.threshold = float(threshold)
    anchor: Frame | None = None  # last distinct frame
    anchor_thumb = prev_thumb = None
    run: list[Frame] = []
    still = False  # inside a run longer than max_run: pass frames through

    def flush_kept(reason: str) -> Iterator[Frame]:
        res.skipped.append({"start": run[0].index, "length": len(run), "reason": reason})
        yield from run
        run.clear()

    for f in frames:
        res.n_frames += 1
        thumb = thumbnail(f.image)
        diff = None if prev_thumb is None else mean_abs_difference(prev_thumb, thumb)
        prev_thumb = thumb
        if diff is not None and diff <= threshold:
            if still:
                res.skipped[-1]["length"] += 1
                yield f
                continue
            run.append(f)
            if len(run) > max_run:
                still = True
                yield from flush_kept(f"run longer than max_run={max_run} (still scene)")
            continue
        # f is a distinct frame: close the run between anchor and f.
        still = False
        if run:
            if scene_cuts is not None and scene_cuts.is_cut(anchor_thumb, thumb):
                yield from flush_kept("scene cut between the surrounding frames")
            else:
                yield from _fill_run(anchor, f, run, interpolate, batch_size, res)
        anchor, anchor_thumb = f, thumb
        yield f
    if run:
        yield from flush_kept("run reaches the end of the video")


def _fill_run(
    a: Frame, b: Frame, run: list[Frame], interpolate: Interpolate, batch_size: int, res: RepairResult
) -> Iterator[Frame]:
    k = len(run)
    ts = [i / (k + 1) for i in range(1, k + 1)]
    f0, f1 = to_tensor(a.image)[None], to_tensor(b.image)[None]
    images: list[np.ndarray] = []
    for s in range(0, k, batch_size):
        chunk = ts[s : s + batch_size]
        n = len(chunk)
        out = interpolate(f0.expand(n, -1, -1, -1), f1.expand(n, -1, -1, -1), torch.tensor(chunk, dtype=torch.float32))
        images.extend(to_uint8(out))
    res.runs.append({"start": run[0].index, "length": k})
    for fr, im in zip(run, images):
        res.repaired.append(fr.index)
        yield Frame(image=im, pts=fr.pts, time=fr.time, index=fr.index, duration=fr.duration)
    run.clear()


def parse_threshold(value: str | float) -> float | None:
    """``"auto"`` -> None; a number of grey levels (>= 0) -> float; anything else: VividError."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return None
    try:
        thr = float(value)
    except (TypeError, ValueError):
        raise VividError(f"--threshold must be 'auto' or a number of grey levels (e.g. 0.5), got {value!r}") from None
    if not thr >= 0 or not np.isfinite(thr):
        raise VividError(f"--threshold must be a finite number >= 0, got {value}")
    return thr


def repair_file(
    inp: str | os.PathLike,
    out: str | os.PathLike,
    interpolate: Interpolate,
    *,
    threshold: str | float = "auto",
    report: str | os.PathLike | None = None,
    max_run: int = DEFAULT_MAX_RUN,
    batch_size: int = 4,
    input_fps: float | None = None,
    scene_cuts: SceneCutDetector | None = SceneCutDetector(),
    advance: Callable[[int], None] | None = None,
    audio: bool = True,
) -> RepairResult:
    """Repair the stutter of a video or frame folder ``inp`` into ``out`` (same frame count,
    frame rate, timestamps and length, so the kept audio stays in sync; ``audio=False`` drops
    it). With ``threshold="auto"`` the clip is read twice: once for its difference
    statistics, once to repair. ``report`` receives the result as JSON."""
    ensure_distinct(inp, out)
    if report is not None:
        ensure_distinct(inp, report)
        if Path(report).resolve() == Path(out).resolve():
            raise VividError("--report and -o name the same file; give the report its own path")
    if max_run < 1:
        raise VividError(f"--max-run must be at least 1, got {max_run}")
    thr = parse_threshold(threshold)
    src = open_clip(inp, fps=input_fps)
    res = RepairResult(threshold_rule="given" if thr is not None else "auto")
    if thr is None:
        diffs = frame_differences(src)
        thr = auto_threshold(diffs)
        log.info("auto threshold %.3f from %d differences (median %.3f)", thr, diffs.size, float(np.median(diffs)))
    with FrameSink(out, src.info.fps, source=inp, audio=audio) as sink:
        for f in repair_frames(
            src, interpolate, threshold=thr, max_run=max_run, batch_size=batch_size, scene_cuts=scene_cuts, result=res
        ):
            sink.write(f.image, time=f.time)
            if advance is not None:
                advance(1)
        if res.n_frames < 2:  # inside the block: nothing is written
            raise VividError(f"{inp} has {res.n_frames} frame(s); at least 2 are needed")
        sink.end_at(frame_end(f, src.info.fps))
    if report is not None:
        payload = {"input": str(inp), "output": str(out), **asdict(res)}
        with atomic_write(report) as tmp:
            tmp.write_text(json.dumps(payload, indent=2) + "\n")
    return res
