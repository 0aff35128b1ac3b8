"""The interpolation tools' file-level entry points, and the names of the pieces they use.

A video goes through these pieces, each in its own module:

- :func:`vivid.core.video.open_clip` opens a video file or a folder of frames as a stream of
  :class:`vivid.core.video.Frame` (one decoded frame in memory at a time);
- :func:`vivid.interp.upconvert.upconvert` turns that stream into the frames of a higher frame
  rate, batching the interpolations;
- :class:`vivid.interp.scenecut.SceneCutDetector` stops blending across cuts (the nearest
  input frame is repeated);
- :class:`vivid.interp.interpolator.ModelInterpolator` runs a model as an interpolator (device,
  fp16, self-ensemble, flow settings), tile by tile for large frames
  (:func:`vivid.interp.tiling.tiled_interpolate`);
- :class:`vivid.core.video.FrameSink` writes a video or a folder of PNGs atomically;
- decoding and encoding run in threads of their own (:func:`prefetched`,
  :class:`BackgroundWriter`), so the model does not wait for either (PyAV releases the
  interpreter lock while it decodes and encodes).

:func:`interpolate_images` and :func:`upconvert_file` put them together for ``vivid interp``;
stutter repair is :mod:`vivid.interp.repair`.
"""

from __future__ import annotations

import os
import queue
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch

from vivid.core.errors import VividError
from vivid.core.fileio import ensure_distinct, read_image, refuse_existing, to_tensor, to_uint8, write_image
from vivid.core.video import Frame, FrameSink, check_output, frame_end, open_clip
from vivid.interp.interpolator import (
    DEFAULT_MODEL,
    ENSEMBLE_SIZES,
    FLOW_SOURCES,
    Interpolate,
    ModelInterpolator,
    as_interpolator,
    check_ensemble,
    check_fp16,
    ensemble_view,
    external_flow,
    interpolate_pair,
    load_interpolator,
)
from vivid.interp.scenecut import WORK_SIZE, SceneCutDetector, histogram_distance, mean_abs_difference, thumbnail
from vivid.interp.tiling import DEFAULT_OVERLAP, DEFAULT_TILE, check_tiling, tile_starts, tiled_interpolate
from vivid.interp.upconvert import MAX_FACTOR, OutputFrame, check_rate, check_request, expected_output_count, upconvert

# Names that callers import from here, whatever module holds them now.
__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_OVERLAP",
    "DEFAULT_TILE",
    "ENSEMBLE_SIZES",
    "FLOW_SOURCES",
    "MAX_FACTOR",
    "WORK_SIZE",
    "FrameSink",
    "Interpolate",
    "ModelInterpolator",
    "OutputFrame",
    "SceneCutDetector",
    "BackgroundWriter",
    "UpconvertSummary",
    "as_interpolator",
    "check_ensemble",
    "check_fp16",
    "check_output",
    "check_rate",
    "check_request",
    "check_tiling",
    "ensemble_view",
    "expected_output_count",
    "external_flow",
    "histogram_distance",
    "interpolate_images",
    "interpolate_pair",
    "load_interpolator",
    "mean_abs_difference",
    "open_clip",
    "prefetched",
    "thumbnail",
    "tile_starts",
    "tiled_interpolate",
    "upconvert",
    "upconvert_file",
]


def interpolate_images(
    path0: str | os.PathLike,
    path1: str | os.PathLike,
    out: str | os.PathLike,
    interpolate: Interpolate,
    *,
    t: float = 0.5,
    overwrite: bool = True,
) -> np.ndarray:
    """Read two images, write the frame at time ``t`` between them to ``out`` (atomically;
    an existing ``out`` is an error unless ``overwrite``).

    Returns the written image, uint8 (H, W, 3).
    """
    if not 0.0 < t < 1.0:
        raise VividError(f"--t must lie strictly between 0 and 1, got {t}")
    for p in (path0, path1):
        ensure_distinct(p, out)
    a, b = read_image(path0), read_image(path1)
    if a.shape != b.shape:
        raise VividError(
            f"{Path(path0).name} is {a.shape[1]}x{a.shape[0]} but {Path(path1).name} is {b.shape[1]}x{b.shape[0]}; "
            "both images must have the same size"
        )
    refuse_existing(out, overwrite)
    frame = interpolate(to_tensor(a)[None], to_tensor(b)[None], torch.tensor([float(t)]))
    image = to_uint8(frame)[0]
    write_image(out, image)
    return image


_END = object()
# Frames decoded ahead of the model, and frames queued for the encoder.
QUEUE_DEPTH = 8


def _put(q: queue.Queue, item, stop: threading.Event) -> bool:
    """Put ``item`` into ``q`` unless ``stop`` is set first; whether it went in."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def prefetched(items: Iterable, depth: int = QUEUE_DEPTH) -> Iterator:
    """The items of ``items``, produced by a thread of their own up to ``depth`` ahead of the
    consumer (a video decoder decodes while the model runs). An error in the producer is raised
    here, in order; when the consumer stops early the thread stops too."""
    q: queue.Queue = queue.Queue(depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if not _put(q, (item, None), stop):
                    return
            _put(q, (_END, None), stop)
        except BaseException as err:  # handed to the consumer, which raises it
            _put(q, (_END, err), stop)

    thread = threading.Thread(target=produce, name="decode", daemon=True)
    thread.start()
    try:
        while True:
            item, err = q.get()
            if item is _END:
                if err is not None:
                    raise err
                return
            yield item
    finally:
        stop.set()
        thread.join()


class BackgroundWriter:
    """``write(*args)`` calls ``write_fn(*args)`` in a thread of its own, in order, at most
    ``depth`` calls behind (an encoder encodes while the model runs). ``close()`` waits for the
    queued calls; an error of ``write_fn`` is raised by the next ``write`` or by ``close``.
    ``abort()`` drops what is queued and stops the thread (on an error of the caller)."""

    def __init__(self, write_fn: Callable, depth: int = QUEUE_DEPTH) -> None:
        self._fn = write_fn
        self._q: queue.Queue = queue.Queue(depth)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="encode", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is _END or self._stop.is_set():
                return
            if self._error is None:
                try:
                    self._fn(*item[0], **item[1])
                except BaseException as err:
                    self._error = err

    def _raise(self) -> None:
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    def write(self, *args, **kwargs) -> None:
        self._raise()
        if not _put(self._q, (args, kwargs), self._stop):
            raise RuntimeError("the writer thread has stopped")

    def close(self) -> None:
        _put(self._q, _END, self._stop)
        self._thread.join()
        self._raise()

    def abort(self) -> None:
        self._stop.set()
        try:
            self._q.put_nowait(_END)
        except queue.Full:
            pass
        self._thread.join()


@dataclass
class UpconvertSummary:
    """What :func:`upconvert_file` did."""

    n_input: int
    n_output: int
    in_fps: float
    out_fps: float
    n_interpolated: int
    n_cut_frames: int


def upconvert_file(
    inp: str | os.PathLike,
    out: str | os.PathLike,
    interpolate: Interpolate,
    *,
    factor: int | None = None,
    fps: float | None = None,
    batch_size: int = 4,
    input_fps: float | None = None,
    scene_cuts: SceneCutDetector | None = SceneCutDetector(),
    advance: Callable[[int], None] | None = None,
    audio: bool = True,
) -> UpconvertSummary:
    """Up-convert a video or frame folder ``inp`` into ``out`` (video by suffix, else a folder).

    The output video lasts as long as the input: its last frame (the last input frame) is
    shown until the input's last frame ends. It keeps the input's tags and, with ``audio``,
    its audio. ``advance(n)`` is called after each written output frame (for a progress bar).
    See :func:`upconvert` for the output grid, scene cuts and batching.
    """
    ensure_distinct(inp, out)
    src = open_clip(inp, fps=input_fps)
    in_fps = src.info.fps
    out_rate = check_rate(float(in_fps), factor=factor, fps=fps)
    out_fps = Fraction(in_fps) * int(factor) if factor is not None else fps
    counts = {"input": 0, "interpolated": 0, "cut": 0}
    n_in = 0
    last: Frame | None = None

    def counted(frames: Iterable[Frame]) -> Iterator[Frame]:
        nonlocal n_in, last
        for f in frames:
            n_in += 1
            last = f
            yield f

    with FrameSink(out, out_fps, source=inp, audio=audio) as sink:
        writer = BackgroundWriter(sink.write)
        decoded = prefetched(src)
        try:
            for o in upconvert(counted(decoded), interpolate, factor=factor, fps=fps, batch_size=batch_size, scene_cuts=scene_cuts):
                writer.write(o.image, time=o.time)
                counts[o.kind] += 1
                if advance is not None:
                    advance(1)
            writer.close()
        except BaseException:
            writer.abort()
            raise
        finally:
            decoded.close()
        sink.end_at(frame_end(last, in_fps))
    return UpconvertSummary(n_in, sink.count, float(in_fps), float(out_rate), counts["interpolated"], counts["cut"])
