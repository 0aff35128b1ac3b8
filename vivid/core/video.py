"""Video and image-folder I/O on PyAV (FFmpeg).

Reading streams one frame at a time (memory does not grow with the length of the video) and
keeps every frame's own timestamp, so variable-frame-rate video keeps its timing. Writing
produces H.264 in yuv420p and is atomic: the file appears under its final name only when the
writer closes without error.

Frames are RGB: ``uint8`` arrays ``(H, W, 3)``, or with ``as_tensor=True`` float32 tensors
``(3, H, W)`` in ``[0, 1]``.

Odd sizes: yuv420p stores colour at half resolution, so H.264 in yuv420p needs an even width
and height, and its crop fields also count in steps of 2 and cannot express an odd size. The
writer therefore pads an odd width or height by one pixel, replicating the last column or row;
reading such a file back gives the padded (even) size, with the original image in the top-left
corner (e.g. 33x17 is written and read back as 34x18).

Orientation: a video's rotation (the display matrix of phone video, or an older ``rotate``
tag) is applied on decode, so frames come out upright, as a player shows them, in every tool
that reads video; ``probe`` reports the upright size. Written video is upright and carries no
rotation. (Images get their EXIF orientation applied the same way, see
:func:`vivid.core.fileio.read_image`.)

Audio and tags: a video made from another one (``VideoWriter(..., source=...)``) keeps the
source's container tags (title, date, ...) and every audio stream, its packets copied as they
are where the output format takes the codec, otherwise encoded to AAC. Audio keeps its own
timestamps, shifted with the video (the source's first video frame is time 0), so it stays in
sync with video written at the source's frame times.

For the command-line tools: :func:`open_clip` opens an input clip (a video or a folder of at
least 2 frames), :func:`check_output` checks an output path before any work, and
:class:`FrameSink` writes a video or a folder of PNGs atomically.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

import av
import numpy as np

from vivid.core.errors import VividError
from vivid.core.fileio import (
    IMAGE_SUFFIXES,
    atomic_write,
    ensure_distinct,
    read_image,
    refuse_existing,
    to_tensor,
    to_uint8,
    write_image,
)

__all__ = [
    "VideoInfo",
    "Frame",
    "FrameSource",
    "probe",
    "iter_frames",
    "VideoWriter",
    "read_frames_folder",
    "write_frames_folder",
    "open_frames",
    "open_clip",
    "check_output",
    "FrameSink",
    "VIDEO_SUFFIXES",
    "frame_end",
]

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

# Output container formats by suffix (FFmpeg muxer names).
VIDEO_SUFFIXES = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
FOLDER_SUFFIXES = (".png", ".jpg", ".jpeg")
DEFAULT_FOLDER_FPS = Fraction(25)

# A decode that covers less than this share of the declared length is taken as truncated.
_TRUNCATION_SHARE = 0.9


@dataclass(frozen=True)
class VideoInfo:
    """What a video (or an image folder) holds.

    width, height: frame size in pixels.
    fps: frame rate as an exact fraction (e.g. 30000/1001); for variable-frame-rate video the
        average rate.
    n_frames: frame count; exact when ``n_frames_exact``, otherwise estimated from duration * fps.
    duration: seconds (0.0 when the container does not say).
    time_base: unit of the ``pts`` of decoded frames, in seconds.
    codec: decoder name (e.g. "h264"), or "images" for a folder.
    is_vfr: the timestamps are not evenly spaced (from the stream's declared rates, or from the
        timestamps themselves with ``probe(..., exact=True)``).
    rotation: the display rotation the file asks for, degrees counter-clockwise (FFmpeg's
        convention; 0 when none). It is applied on decode (flips too), and ``width`` and
        ``height`` are the upright size.
    """

    width: int
    height: int
    fps: Fraction
    n_frames: int
    duration: float
    time_base: Fraction
    codec: str
    is_vfr: bool
    n_frames_exact: bool
    rotation: int = 0


@dataclass
class Frame:
    """One decoded frame.

    image: uint8 (H, W, 3) RGB array, or float32 (3, H, W) tensor in [0, 1].
    pts: timestamp in units of the source's ``time_base``.
    time: seconds since the start of the stream.
    index: 0-based position in decoding (display) order.
    duration: how long the frame is shown, seconds (None: not known; one nominal interval).
    """

    image: np.ndarray | torch.Tensor
    pts: int
    time: float
    index: int
    duration: float | None = None


def frame_end(frame: Frame, fps: float | Fraction) -> float:
    """When ``frame`` stops being shown: its time plus its duration (one interval at ``fps``
    when it has none). For the last frame of a clip, the clip's end."""
    return frame.time + (frame.duration if frame.duration else 1.0 / float(fps))


# ----------------------------------------------------------------------------- reading


def _open_input(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise VividError(f"video {path} does not exist")
    if path.is_dir():
        raise VividError(f"{path} is a folder, not a video file")
    if path.stat().st_size == 0:
        raise VividError(f"video {path} is empty (0 bytes)")
    try:
        container = av.open(str(path), mode="r")
    except av.FFmpegError as err:
        raise VividError(
            f"cannot read video {path}: not a supported video file, or it is truncated or corrupt ({_why(err)})"
        ) from err
    if not container.streams.video:
        container.close()
        raise VividError(f"{path} has no video stream (no frames to read); give a video with at least one frame")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        container.close()
        raise VividError(f"video {path} uses a codec this FFmpeg build cannot decode")
    return container


def _why(err: Exception) -> str:
    return getattr(err, "strerror", None) or str(err).split(":")[0]


def _rates(stream: av.video.stream.VideoStream) -> tuple[Fraction | None, Fraction | None]:
    avg = stream.average_rate
    guessed = stream.guessed_rate
    avg = Fraction(avg) if avg else None
    guessed = Fraction(guessed) if guessed else None
    return avg, guessed


# A display matrix as the signs of its 2x2 part (a, b, c, d): FFmpeg maps a stored pixel
# (x, y) to the shown one (a x + c y, b x + d y), up to a shift.
Orientation = tuple[int, int, int, int]
_UPRIGHT: Orientation = (1, 0, 0, 1)
# The older ``rotate`` tag: clockwise degrees -> display matrix signs.
_ROTATE_TAG: dict[int, Orientation] = {0: _UPRIGHT, 90: (0, 1, -1, 0), 180: (-1, 0, 0, -1), 270: (0, -1, 1, 0)}


def _orientation(frame: av.VideoFrame, stream: av.video.stream.VideoStream, path: Path) -> tuple[Orientation | None, int]:
    """How to turn ``stream``'s decoded pictures upright, from the display matrix that the
    decoder attaches to ``frame`` (or the stream's ``rotate`` tag): the orientation (None when
    none is needed) and the rotation in degrees counter-clockwise."""
    matrix = next((bytes(sd) for sd in frame.side_data if sd.type.name == "DISPLAYMATRIX"), None)
    if matrix is not None:
        m = np.frombuffer(matrix[:36], dtype=np.int32).astype(np.float64)
        abcd = m[[0, 1, 3, 4]] / 65536.0  # 16.16 fixed point
        rotation = int(frame.rotation) if frame.rotation != -180 else 180
    else:
        tag = next((v for k, v in stream.metadata.items() if k.lower() == "rotate"), None)  # ROTATE in Matroska
        try:
            degrees = int(tag) % 360 if tag is not None else 0
        except ValueError:
            degrees = 0
        if degrees not in _ROTATE_TAG:
            log.warning("%s: rotate tag %r is not a multiple of 90 degrees; frames are read as stored", path, tag)
            return None, 0
        abcd = np.asarray(_ROTATE_TAG[degrees], dtype=np.float64)
        rotation = -degrees if degrees < 180 else 360 - degrees
    orient = tuple(int(v) for v in np.rint(abcd))
    a, b, c, d = orient
    turns = (a != 0 and d != 0 and b == c == 0) or (a == d == 0 and b != 0 and c != 0)
    if not turns or np.abs(abcd - orient).max() > 0.01 or max(map(abs, orient)) > 1:
        log.warning("%s: its display rotation (%d degrees) is not a multiple of 90; frames are read as stored", path, rotation)
        return None, 0
    return (None if orient == _UPRIGHT else orient), rotation


def _upright(image: np.ndarray, orient: Orientation | None) -> np.ndarray:
    """A stored (H, W, 3) picture as players show it (see :data:`Orientation`)."""
    if orient is None:
        return image
    a, b, c, d = orient
    if a == 0:  # the axes swap: shown row from stored x, shown column from stored y
        image = image.transpose(1, 0, 2)
        flip_rows, flip_cols = b < 0, c < 0
    else:
        flip_rows, flip_cols = d < 0, a < 0
    if flip_rows:
        image = image[::-1]
    if flip_cols:
        image = image[:, ::-1]
    return np.ascontiguousarray(image)


def _irregular(ticks: np.ndarray) -> bool:
    """Whether sorted timestamps are unevenly spaced (beyond one tick of rounding, or 1%)."""
    steps = np.diff(np.asarray(ticks, dtype=np.int64))
    return bool(len(steps) > 1 and steps.max() - steps.min() > max(1, 0.01 * np.median(steps)))


def _indexed_constant_rate(stream: av.video.stream.VideoStream, rate: Fraction, tb: Fraction) -> bool:
    """Whether the container's index (MP4, MOV: every frame's decoding time, read at open)
    shows frames evenly spaced at ``rate``."""
    entries = stream.index_entries
    n = len(entries) if entries is not None else 0
    if n < 3 or n != stream.frames:
        return False
    ticks = np.sort(np.fromiter((e.timestamp for e in entries), dtype=np.int64, count=n))
    measured = Fraction(n - 1) / (Fraction(int(ticks[-1] - ticks[0])) * tb) if ticks[-1] > ticks[0] else None
    return not _irregular(ticks) and measured is not None and abs(float(measured / rate) - 1.0) <= 0.01


def probe(path: str | os.PathLike, *, exact: bool = False) -> VideoInfo:
    """Read a video's size, frame rate, length and codec, decoding only the first frame (for
    the rotation the decoder reports, see :attr:`VideoInfo.rotation`).

    Args:
        path: video file.
        exact: also read every packet's timestamp (demuxing only, no decoding past the first
            frame; costs a pass over the file) to count frames exactly and detect variable
            frame rate.
    Returns:
        :class:`VideoInfo`.
    Raises:
        VividError: missing, empty, unreadable or video-less file.
    """
    path = Path(path)
    container = _open_input(path)
    try:
        stream = container.streams.video[0]
        tb = Fraction(stream.time_base) if stream.time_base else Fraction(1, 1_000_000)
        avg, guessed = _rates(stream)
        if stream.duration is not None:
            duration = float(stream.duration * tb)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = 0.0
        # The declared base rate is exact for constant-rate video (e.g. 30000/1001) while the
        # average is frames / duration; they differ when timestamps are irregular.
        if avg and guessed and abs(float(avg) / float(guessed) - 1.0) < 0.005:
            fps, is_vfr = guessed, False
        elif avg and guessed and _indexed_constant_rate(stream, guessed, tb):
            # MP4 and MOV give frames / length as the average rate, which a longer last frame
            # (an up-converted video that ends when its input does) lowers.
            fps, is_vfr = guessed, False
        else:
            fps = avg or guessed or Fraction(0)
            is_vfr = bool(avg and guessed)
        n_frames = int(stream.frames or 0)
        n_exact = n_frames > 0
        first, pts = None, []
        for packet in container.demux(stream):
            if first is None:
                first = next(iter(packet.decode()), None)
            if exact and packet.pts is not None and packet.size > 0:
                pts.append(packet.pts)
            elif not exact and first is not None:
                break
        orient, rotation = _orientation(first, stream, path) if first is not None else (None, 0)
        width, height = stream.codec_context.width, stream.codec_context.height
        if orient is not None and orient[0] == 0:
            width, height = height, width
        if exact:
            pts.sort()
            n_frames, n_exact = len(pts), True
            is_vfr = _irregular(pts)
            if len(pts) > 1:
                measured = Fraction(len(pts) - 1) / (Fraction(int(pts[-1] - pts[0])) * tb)
                # Keep the exact declared rate when the timestamps agree with it (a 1 ms time
                # base rounds 30000/1001 fps to steps of 33 and 34 ticks).
                if is_vfr or not guessed or abs(float(measured / guessed) - 1.0) > 0.01:
                    fps = measured.limit_denominator(1001)
                else:
                    fps = guessed
        elif n_frames == 0 and duration > 0 and fps:
            n_frames = max(1, round(duration * float(fps)))
        return VideoInfo(
            width=width,
            height=height,
            fps=fps,
            n_frames=n_frames,
            duration=duration,
            time_base=tb,
            codec=stream.codec_context.name,
            is_vfr=is_vfr,
            n_frames_exact=n_exact,
            rotation=rotation,
        )
    except av.FFmpegError as err:
        raise VividError(f"cannot read video {path}: it is truncated or corrupt ({_why(err)})") from err
    finally:
        container.close()


def _image(arr: np.ndarray, as_tensor: bool) -> np.ndarray | torch.Tensor:
    return to_tensor(arr) if as_tensor else arr


def iter_frames(path: str | os.PathLike, *, as_tensor: bool = False) -> Iterator[Frame]:
    """Decode a video frame by frame (constant memory).

    Each frame keeps its own timestamp (``time`` in seconds from the start of the stream), so
    variable-frame-rate video keeps its timing. A rotated video's frames come out upright (see
    the module docstring).

    Args:
        path: video file.
        as_tensor: yield float32 (3, H, W) tensors in [0, 1] instead of uint8 (H, W, 3) arrays.
    Yields:
        :class:`Frame` in display order.
    Raises:
        VividError: missing, empty, unreadable, truncated or corrupt file, or one with no frames.
            Truncation that FFmpeg decodes silently is detected at the end when the frames cover
            less than 90% of the length the container declares.
    """
    path = Path(path)
    container = _open_input(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tb = Fraction(stream.time_base) if stream.time_base else None
        start = stream.start_time or 0
        avg, guessed = _rates(stream)
        rate = guessed or avg or Fraction(25)
        declared_frames = int(stream.frames or 0)
        if stream.duration is not None and tb is not None:
            declared_duration = float(stream.duration * tb)
        elif container.duration is not None:
            declared_duration = container.duration / av.time_base
        else:
            declared_duration = 0.0
        index = 0
        last_time = 0.0
        orient = None
        held: Frame | None = None  # one frame behind, to learn whether it is the last
        try:
            for frame in container.decode(stream):
                if frame.pts is not None and tb is not None:
                    pts = int(frame.pts)
                    time = float((pts - start) * tb)
                else:  # raw streams without timestamps: assume the nominal rate
                    pts = index
                    time = index / float(rate)
                duration = float(frame.duration * tb) if frame.duration and tb is not None else None
                if index == 0:
                    orient, _ = _orientation(frame, stream, path)
                image = _upright(frame.to_ndarray(format="rgb24"), orient)
                last_time = time
                if held is not None:
                    yield held
                held = Frame(image=_image(image, as_tensor), pts=pts, time=time, index=index, duration=duration)
                index += 1
        except av.FFmpegError as err:
            raise VividError(
                f"video {path} is truncated or corrupt: decoding failed after {index} frames ({_why(err)})"
            ) from err
        if held is None:
            raise VividError(f"video {path} contains no frames; give a video with at least one frame")
        # MP4 gives a longer last frame to the last frame in decoding order, which need not be
        # the one shown last; the stream's own length says when the last one ends.
        if stream.duration is not None and tb is not None:
            shown_until = float(stream.duration * tb) - held.time
            if shown_until > (held.duration or 0.0):
                held.duration = shown_until
        yield held
        short_frames = declared_frames > 1 and index < _TRUNCATION_SHARE * declared_frames
        covered = last_time + 1.0 / float(rate)
        short_time = (
            declared_frames == 0 and declared_duration > 1.0 and covered < _TRUNCATION_SHARE * declared_duration
        )
        if short_frames or short_time:
            if short_frames:
                what = f"{index} of {declared_frames} frames"
            else:
                what = f"{covered:.2f} of {declared_duration:.2f} s"
            raise VividError(f"video {path} is truncated: it ends after {what}; re-export or re-download it")
    finally:
        container.close()


# ----------------------------------------------------------------------------- what a new video keeps


# Container tags about the file itself (its muxer, its length), not its content: a new file
# writes its own.
_FILE_TAGS = ("major_brand", "minor_version", "compatible_brands", "encoder", "duration")


def _content_tags(tags: dict) -> dict:
    return {k: v for k, v in tags.items() if not k.lower().startswith(_FILE_TAGS)}


def _copyable(source: Path, index: int, fmt: str) -> bool:
    """Whether the container format ``fmt`` takes the packets of ``source``'s stream ``index``
    as they are; tried in memory with the stream's first packet, up to the trailer (FFmpeg's
    codec tables accept pairs that the muxers then refuse, e.g. FLAC in .mov, or PCM of no
    named channel layout in .mp4)."""
    with av.open(str(source), mode="r") as src:
        stream = src.streams[index]
        trial = av.open(io.BytesIO(), mode="w", format=fmt)
        try:
            out = trial.add_stream_from_template(stream)
            packet = next((p for p in src.demux(stream) if p.size > 0 and p.dts is not None), None)
            if packet is not None:
                packet.stream = out
                trial.mux(packet)
            trial.close()
            return True
        except (ValueError, av.FFmpegError):
            return False
        finally:
            with contextlib.suppress(Exception):
                trial.close()


def _named_layout(layout: av.AudioLayout) -> av.AudioLayout:
    """``layout``, or the usual one for its channel count when the file names none (an
    encoder needs one)."""
    return layout if layout.name != f"{layout.nb_channels} channels" else av.AudioLayout(f"{layout.nb_channels}c")


class _SourceMedia:
    """What a video written from ``source`` keeps of it: the container tags and, with ``audio``,
    every audio stream, muxed in step with the new video (see the module docstring)."""

    def __init__(self, source: Path, fmt: str, audio: bool) -> None:
        try:
            self._input = av.open(str(source), mode="r")
        except av.FFmpegError as err:
            raise VividError(f"cannot read the audio and tags of {source}: {_why(err)}") from err
        self.source = source
        self.fmt = fmt
        self.tags = _content_tags(dict(self._input.metadata))
        video = self._input.streams.video[0] if self._input.streams.video else None
        start = video.start_time if video is not None and video.start_time and video.time_base else 0
        # The source's first video frame is time 0 of the new video; audio moves with it.
        self._offset = Fraction(start) * Fraction(video.time_base) if start else Fraction(0)
        self._streams = list(self._input.streams.audio) if audio else []
        self._routes: dict[int, tuple] = {}  # source stream index -> (output stream, re-encode?)
        self._packets: Iterator[av.Packet] = iter(())
        self._next: av.Packet | None = None
        self._output = None

    def add_streams(self, output: av.container.OutputContainer) -> None:
        """Add the audio streams to ``output`` (after its video stream, before any packet)."""
        self._output = output
        for s in self._streams:
            if _copyable(self.source, s.index, self.fmt):
                out, encode = output.add_stream_from_template(s), False
            else:
                out, encode = output.add_stream("aac", rate=s.rate, layout=_named_layout(s.layout)), True
                name = s.codec_context.name
                log.info("%s: its %s audio cannot be copied into %s; encoding it to AAC", self.source, name, self.fmt)
            out.metadata.update(_content_tags(dict(s.metadata)))
            self._routes[s.index] = (out, encode)
        if self._streams:
            self._packets = self._input.demux(*self._streams)

    def mux_until(self, time: float | None) -> None:
        """Mux the audio that starts up to ``time`` seconds into the new video (all when None)."""
        while True:
            if self._next is None:
                self._next = next(self._packets, None)
                if self._next is None:
                    return
            packet = self._next
            if time is not None and packet.pts is not None and packet.pts * packet.time_base - self._offset > time:
                return
            self._next = None
            self._mux(packet)

    def _mux(self, packet: av.Packet) -> None:
        out, encode = self._routes[packet.stream.index]
        if not encode:
            if packet.size == 0:  # the end-of-stream marker of the demuxer
                return
            shift = round(self._offset / packet.time_base)
            if packet.pts is not None:
                packet.pts -= shift
            if packet.dts is not None:
                packet.dts -= shift
            packet.stream = out
            self._output.mux(packet)
            return
        for frame in packet.decode():  # the empty end-of-stream packet drains the decoder
            if frame.pts is not None:
                frame.pts -= round(self._offset / frame.time_base)
            self._output.mux(out.encode(frame))
        if packet.size == 0:
            self._output.mux(out.encode(None))

    def close(self) -> None:
        if self._input is not None:
            self._input.close()
            self._input = None


# ----------------------------------------------------------------------------- writing


def _as_uint8(frame: np.ndarray | torch.Tensor | Frame) -> np.ndarray:
    if isinstance(frame, Frame):
        frame = frame.image
    torch = sys.modules.get("torch")  # a tensor frame means torch is loaded; reading video needs no torch
    if torch is not None and isinstance(frame, torch.Tensor):
        if frame.ndim != 3 or frame.shape[0] != 3:
            raise ValueError(f"tensor frames must be float (3, H, W) in [0, 1], got {tuple(frame.shape)}")
        return to_uint8(frame)
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"array frames must be uint8 (H, W, 3) RGB, got {frame.dtype} {frame.shape}")
    return frame


def _pad_even(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return image
    return np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def _time_base_for(fps: Fraction) -> Fraction:
    """A fine time base ``1/N`` in which one frame interval is a whole number of ticks.

    1/90000 s (the MPEG clock) holds 24, 25, 30000/1001, 50, 60 fps... exactly; for other rates
    ``N`` is the multiple of the rate's numerator nearest to 90000.
    """
    if (90000 * fps.denominator) % fps.numerator == 0:
        return Fraction(1, 90000)
    return Fraction(1, fps.numerator * max(1, round(90000 / fps.numerator)))


def _as_fraction(fps: float | Fraction | int) -> Fraction:
    if isinstance(fps, Fraction):
        out = fps
    else:
        # 29.97002997 -> 30000/1001, 25.0 -> 25
        out = Fraction(fps).limit_denominator(1001)
    if out <= 0 or not math.isfinite(float(out)):
        raise ValueError(f"fps must be positive, got {fps}")
    return out


class VideoWriter:
    """Atomic H.264 (yuv420p) video writer; use as a context manager.

    The file is written to a temporary name in the destination folder and renamed onto
    ``path`` when the ``with`` block ends without an exception; on an exception the temporary
    file is removed and nothing appears under ``path``. Odd sizes are padded to even by edge
    replication (see the module docstring).

    Args:
        path: output file; .mp4, .m4v, .mov or .mkv (Matroska stores times to the millisecond;
            the others keep the writer's 1/90000 s clock).
        fps: nominal frame rate (exact Fraction preferred, e.g. Fraction(30000, 1001)).
        size: (width, height) of the frames; taken from the first frame when None.
        crf: x264 constant rate factor (0 lossless .. 51 worst; 18 is visually lossless).
        codec: FFmpeg encoder name.
        source: the video this one is made from: its container tags are kept and, with
            ``audio``, its audio streams (see the module docstring).
        audio: keep the audio of ``source`` (False drops it).

    Example::

        with VideoWriter("out.mp4", fps=info.fps, source="in.mp4") as writer:
            for frame in iter_frames("in.mp4"):
                writer.write(frame.image, time=frame.time)   # keeps VFR timing
            writer.end_at(frame_end(frame, info.fps))        # and the length
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float | Fraction,
        *,
        size: tuple[int, int] | None = None,
        crf: int = 18,
        codec: str = "libx264",
        source: str | os.PathLike | None = None,
        audio: bool = True,
    ) -> None:
        self.path = Path(path)
        fmt = VIDEO_SUFFIXES.get(self.path.suffix.lower())
        if fmt is None:
            raise VividError(
                f"unsupported video format {self.path.suffix!r} for {self.path}; use one of {sorted(VIDEO_SUFFIXES)}"
            )
        self.format = fmt
        self.fps = _as_fraction(fps)
        self.size = size
        self.crf = int(crf)
        self.codec = codec
        self.source = Path(source) if source is not None else None
        self.audio = bool(audio)
        self.time_base = _time_base_for(self.fps)
        self.frames_written = 0
        self._step = int(Fraction(1) / (self.fps * self.time_base))  # ticks per nominal frame
        self._atomic = None
        self._container = None
        self._stream = None
        self._media: _SourceMedia | None = None
        self._last_pts: int | None = None
        self._end_pts: int | None = None
        # Packets from the one shown last onwards (in decoding order), held back so that the
        # end of the video can still be set on them.
        self._held: list[av.Packet] = []

    # -- context management

    def __enter__(self) -> "VideoWriter":
        self._atomic = atomic_write(self.path)
        tmp = self._atomic.__enter__()
        try:
            if self.source is not None:
                self._media = _SourceMedia(self.source, self.format, self.audio)
            self._container = av.open(str(tmp), mode="w", format=self.format)
        except (av.FFmpegError, VividError) as err:
            if self._media is not None:
                self._media.close()
            self._atomic.__exit__(type(err), err, err.__traceback__)
            if isinstance(err, VividError):
                raise
            raise VividError(f"cannot create video {self.path}: {_why(err)}") from err
        if self._media is not None:
            self._container.metadata.update(self._media.tags)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        atomic, self._atomic = self._atomic, None
        if exc_type is not None:
            # Discard: close quietly, and let atomic_write remove the temporary file.
            self._safe_close()
            atomic.__exit__(exc_type, exc, tb)
            return False
        try:
            self._finish()
        except BaseException as err:  # a failing flush must still discard the temporary file
            self._safe_close()
            atomic.__exit__(type(err), err, err.__traceback__)
            raise
        atomic.__exit__(None, None, None)
        return False

    def _safe_close(self) -> None:
        if self._media is not None:
            self._media.close()
        try:
            self._container.close()
        except Exception as err:  # the original error matters more than a failing trailer
            log.debug("closing %s after an error failed too: %s", self.path, err)

    def _finish(self) -> None:
        if self.frames_written == 0:
            self._safe_close()
            raise ValueError(f"no frames were written to {self.path}; nothing saved")
        self._mux_video(self._stream.encode())
        self._release_held()
        if self._media is not None:
            self._media.mux_until(None)
            self._media.close()
        self._container.close()

    # -- writing

    def _open_stream(self, width: int, height: int) -> None:
        stream = self._container.add_stream(self.codec, rate=self.fps)
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        if self.codec in ("libx264", "libx265"):
            stream.options = {"crf": str(self.crf)}
        stream.time_base = self.time_base
        stream.codec_context.time_base = self.time_base
        self._stream = stream
        if self._media is not None:
            self._media.add_streams(self._container)

    def _mux_video(self, packets: Iterable[av.Packet]) -> None:
        for packet in packets:
            if self._held and packet.pts is not None and packet.pts > self._held[0].pts:
                # A frame shown later than all held ones: those can go.
                self._container.mux(self._held)
                self._held = []
            self._held.append(packet)

    def _release_held(self) -> None:
        """Mux the held packets, first stretching the last-shown frame to the end time."""
        last = self._held[0] if self._held else None
        extra = 0 if self._end_pts is None or last is None else self._end_pts - (last.pts + (last.duration or self._step))
        if extra:
            # The frame shown last sets the end in Matroska, the last one in decoding order in MP4.
            for packet in [last] if len(self._held) == 1 else [last, self._held[-1]]:
                packet.duration = max(1, (packet.duration or self._step) + extra)
        self._container.mux(self._held)
        self._held = []

    def end_at(self, time: float) -> None:
        """End the video at ``time`` seconds: the last frame is shown until then (by default
        for one nominal interval). Call after the last :meth:`write`."""
        if self._last_pts is None:
            raise RuntimeError("end_at() comes after the last write()")
        end = round(Fraction(time).limit_denominator(10**9) / self.time_base)
        if end <= self._last_pts:
            raise ValueError(f"the video cannot end at {time} s: its last frame is not before that")
        self._end_pts = end

    def write(self, frame: np.ndarray | torch.Tensor | Frame, time: float | None = None) -> None:
        """Append one frame.

        Args:
            frame: uint8 (H, W, 3) RGB array, float (3, H, W) tensor in [0, 1], or a :class:`Frame`.
            time: presentation time in seconds from the start; None places the frame one
                nominal interval (1 / fps) after the previous one. Times must increase.
        """
        if self._container is None:
            raise RuntimeError("VideoWriter must be used as a context manager: `with VideoWriter(...) as w:`")
        image = _as_uint8(frame)
        h, w = image.shape[:2]
        if self._stream is None:
            if self.size is None:
                self.size = (w, h)
            self._open_stream(*self.size)
        if (w, h) != tuple(self.size):
            raise ValueError(f"frame size {w}x{h} differs from the video size {self.size[0]}x{self.size[1]}")
        if time is None:
            pts = 0 if self._last_pts is None else self._last_pts + self._step
        else:
            pts = round(Fraction(time).limit_denominator(10**9) / self.time_base)
        if self._last_pts is not None and pts <= self._last_pts:
            raise ValueError(f"frame times must increase: {time} s is not after the previous frame")
        out = av.VideoFrame.from_ndarray(_pad_even(image), format="rgb24")
        out.pts = pts
        out.time_base = self.time_base
        self._mux_video(self._stream.encode(out))
        if self._media is not None:
            self._media.mux_until(float(pts * self.time_base))
        self._last_pts = pts
        self.frames_written += 1


# ----------------------------------------------------------------------------- image folders


def _natural_key(path: Path) -> list:
    """frame_2.png before frame_10.png."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _folder_images(folder: Path) -> list[Path]:
    if not folder.exists():
        raise VividError(f"folder {folder} does not exist")
    if not folder.is_dir():
        raise VividError(f"{folder} is not a folder")
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in FOLDER_SUFFIXES]
    files.sort(key=_natural_key)
    if not files:
        raise VividError(f"folder {folder} holds no .png or .jpg images; give a folder of frames")
    return files


def read_frames_folder(
    folder: str | os.PathLike, *, as_tensor: bool = False, fps: float | Fraction = DEFAULT_FOLDER_FPS
) -> Iterator[Frame]:
    """Read a folder of .png/.jpg frames in natural name order (frame_2 before frame_10).

    Args:
        folder: folder of images, all the same size.
        as_tensor: yield float32 (3, H, W) tensors in [0, 1] instead of uint8 (H, W, 3).
        fps: rate used to give the frames times (``time = index / fps``, ``pts = index``).
    Yields:
        :class:`Frame`.
    Raises:
        VividError: missing folder, no images, unreadable image, or images of different sizes.
    """
    files = _folder_images(Path(folder))
    rate = _as_fraction(fps)
    first_shape = None
    for index, file in enumerate(files):
        image = read_image(file)
        if first_shape is None:
            first_shape = image.shape
        elif image.shape != first_shape:
            raise VividError(
                f"{file} is {image.shape[1]}x{image.shape[0]} but the first frame is "
                f"{first_shape[1]}x{first_shape[0]}; all frames must have one size"
            )
        yield Frame(image=_image(image, as_tensor), pts=index, time=float(index / rate), index=index, duration=float(1 / rate))


def write_frames_folder(
    folder: str | os.PathLike, frames: Iterable[np.ndarray | torch.Tensor | Frame], *, pattern: str = "{:06d}.png"
) -> int:
    """Write frames as numbered images (each file written atomically).

    Args:
        folder: created if missing (with parents).
        frames: uint8 (H, W, 3) arrays, float (3, H, W) tensors in [0, 1], or :class:`Frame`.
        pattern: file name from the 0-based index; its suffix picks the format (.png is lossless).
    Returns:
        number of frames written.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise VividError(f"{folder} exists and is not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for index, frame in enumerate(frames):
        write_image(folder / pattern.format(index), _as_uint8(frame))
        count += 1
    return count


# ----------------------------------------------------------------------------- one entry point


class FrameSource:
    """Frames of a video file, an image folder or a single image, behind one interface.

    ``info`` describes the source; iterating decodes from the start each time (streaming).
    """

    def __init__(self, path: Path, info: VideoInfo, kind: str, as_tensor: bool) -> None:
        self.path = path
        self.info = info
        self.kind = kind  # "video", "folder" or "image"
        self.as_tensor = as_tensor

    def __iter__(self) -> Iterator[Frame]:
        if self.kind == "video":
            return iter_frames(self.path, as_tensor=self.as_tensor)
        if self.kind == "folder":
            return read_frames_folder(self.path, as_tensor=self.as_tensor, fps=self.info.fps)
        image = read_image(self.path)
        return iter([Frame(image=_image(image, self.as_tensor), pts=0, time=0.0, index=0)])

    def __repr__(self) -> str:
        i = self.info
        size = f"{i.width}x{i.height}"
        return f"FrameSource({self.kind} {self.path}, {size}, {float(i.fps):.3f} fps, {i.n_frames} frames)"


def open_frames(
    path: str | os.PathLike, *, as_tensor: bool = False, fps: float | Fraction | None = None
) -> FrameSource:
    """Open a video file, a folder of .png/.jpg frames, or one image, as a :class:`FrameSource`.

    Args:
        path: the input.
        as_tensor: frames as float32 (3, H, W) tensors in [0, 1] instead of uint8 (H, W, 3).
        fps: frame rate for folders and single images (default 25); a video keeps its own rate
            and timestamps, so ``fps`` is ignored for videos.
    Raises:
        VividError: missing, unreadable, empty or unsupported input.
    """
    path = Path(path)
    if not path.exists():
        raise VividError(f"input {path} does not exist")
    rate = _as_fraction(fps) if fps is not None else DEFAULT_FOLDER_FPS
    if path.is_dir():
        files = _folder_images(path)
        h, w = read_image(files[0]).shape[:2]
        info = VideoInfo(w, h, rate, len(files), len(files) / float(rate), Fraction(1) / rate, "images", False, True)
        return FrameSource(path, info, "folder", as_tensor)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        h, w = read_image(path).shape[:2]
        info = VideoInfo(w, h, rate, 1, 1 / float(rate), Fraction(1) / rate, "image", False, True)
        return FrameSource(path, info, "image", as_tensor)
    if fps is not None:
        log.info("fps=%s ignored for video %s: its own timestamps are used", fps, path)
    return FrameSource(path, probe(path), "video", as_tensor)


# ----------------------------------------------------------------------------- clips for the tools


def open_clip(path: str | os.PathLike, *, fps: float | None = None) -> FrameSource:
    """Open a video file or a folder of frames for streaming; VividError for anything unusable.

    Args:
        path: a video file, or a folder of .png/.jpg frames (natural name order).
        fps: frame rate of a folder of frames (default 25); a video keeps its own timestamps.
    Returns:
        a :class:`FrameSource` (``.info`` has fps, width, height, n_frames) of at least 2 frames.
    """
    path = Path(path)
    if fps is not None and not fps > 0:
        raise VividError(f"--input-fps must be positive, got {fps}")
    src = open_frames(path, fps=fps)
    if src.kind == "image":
        raise VividError(f"{path} is a single image; give a video or a folder of at least 2 frames")
    if src.info.n_frames_exact and src.info.n_frames < 2:
        raise VividError(f"{path} has {src.info.n_frames} frame(s); at least 2 are needed")
    return src


def check_output(out: str | os.PathLike, source: str | os.PathLike | None = None, *, overwrite: bool = True) -> str:
    """Check an output path for a clip; return ``"video"`` (by suffix) or ``"folder"``.

    Refuses the input itself, a non-empty existing folder, a missing parent folder,
    unsupported suffixes and, unless ``overwrite``, an existing video file.
    """
    out = Path(out)
    if source is not None:
        ensure_distinct(source, out)
    suffix = out.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        kind = "video"
        refuse_existing(out, overwrite)
    elif suffix == "" or out.is_dir():
        kind = "folder"
        if out.exists() and any(out.iterdir()):
            raise VividError(f"output folder {out} is not empty; give a new or empty folder")
    else:
        raise VividError(f"unsupported output {out}: use a video ({', '.join(sorted(VIDEO_SUFFIXES))}) or a folder name")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise VividError(f"output folder {parent} does not exist; create it first")
    return kind


def _video_file(path: str | os.PathLike | None) -> Path | None:
    """``path`` when it names a video file (not a folder or an image), else None."""
    if path is None:
        return None
    path = Path(path)
    return path if path.is_file() and path.suffix.lower() not in IMAGE_SUFFIXES else None


def _has_audio(path: Path) -> bool:
    try:
        with av.open(str(path), mode="r") as container:
            return bool(container.streams.audio)
    except av.FFmpegError:
        return False


class FrameSink:
    """Writes frames to a video file (by suffix, e.g. ``.mp4``) or to a folder of PNGs.

    Atomic: a video goes through the video writer's temporary file; a folder is filled under a
    temporary name next to it and renamed at the end. An existing non-empty output folder is
    refused, and so is an output that is the input. ``write(image (H, W, 3) uint8, time)``;
    ``end_at(time)`` after the last frame sets the video's end (see :meth:`VideoWriter.end_at`).

    A video made from a video ``source`` keeps its tags and, with ``audio``, its audio (see
    :class:`VideoWriter`); a folder of frames holds no audio, which a warning says.
    """

    def __init__(
        self, out: str | os.PathLike, fps: float | Fraction, *, source: str | os.PathLike | None = None, audio: bool = True
    ) -> None:
        self.out = Path(out)
        self.fps = fps
        self.kind = check_output(self.out, source)
        self.source = _video_file(source)
        self.audio = audio
        self.count = 0
        self._writer = None
        self._tmp_dir: Path | None = None
        if self.kind == "folder" and audio and self.source is not None and _has_audio(self.source):
            log.warning("the audio of %s is not kept: a folder of frames holds no audio", self.source)

    def __enter__(self) -> "FrameSink":
        if self.kind == "video":
            self._writer = VideoWriter(self.out, self.fps, source=self.source, audio=self.audio)
            self._writer.__enter__()
        else:
            self._tmp_dir = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.", suffix=".tmp", dir=self.out.parent))
        return self

    def write(self, image: np.ndarray, time: float | None = None) -> None:
        if self.kind == "video":
            self._writer.write(image, time=time)
        else:
            write_image(self._tmp_dir / f"frame_{self.count:06d}.png", image)
        self.count += 1

    def end_at(self, time: float) -> None:
        if self.kind == "video":
            self._writer.end_at(time)

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.kind == "video":
            self._writer.__exit__(exc_type, exc, tb)
            return
        if exc_type is None:
            if self.out.exists():
                self.out.rmdir()  # empty (checked in __init__)
            os.replace(self._tmp_dir, self.out)
        else:
            shutil.rmtree(self._tmp_dir, ignore_errors=True)
