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

For the command-line tools: :func:`open_clip` opens an input clip (a video or a folder of at
least 2 frames), :func:`check_output` checks an output path before any work, and
:class:`FrameSink` writes a video or a folder of PNGs atomically.
"""

from __future__ import annotations

import logging
import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import av
import numpy as np
import torch

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
]

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


@dataclass
class Frame:
    """One decoded frame.

    image: uint8 (H, W, 3) RGB array, or float32 (3, H, W) tensor in [0, 1].
    pts: timestamp in units of the source's ``time_base``.
    time: seconds since the start of the stream.
    index: 0-based position in decoding (display) order.
    """

    image: np.ndarray | torch.Tensor
    pts: int
    time: float
    index: int


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


def probe(path: str | os.PathLike, *, exact: bool = False) -> VideoInfo:
    """Read a video's size, frame rate, length and codec without decoding pixels.

    Args:
        path: video file.
        exact: also read every packet's timestamp (demuxing only, no decoding; costs a pass
            over the file) to count frames exactly and detect variable frame rate.
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
        else:
            fps = avg or guessed or Fraction(0)
            is_vfr = bool(avg and guessed)
        n_frames = int(stream.frames or 0)
        n_exact = n_frames > 0
        if exact:
            pts = sorted(p.pts for p in container.demux(stream) if p.pts is not None and p.size > 0)
            n_frames, n_exact = len(pts), True
            steps = np.diff(np.asarray(pts, dtype=np.int64))
            is_vfr = bool(len(steps) > 1 and steps.max() - steps.min() > max(1, 0.01 * np.median(steps)))
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
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=fps,
            n_frames=n_frames,
            duration=duration,
            time_base=tb,
            codec=stream.codec_context.name,
            is_vfr=is_vfr,
            n_frames_exact=n_exact,
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
    variable-frame-rate video keeps its timing.

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
        try:
            for frame in container.decode(stream):
                if frame.pts is not None and tb is not None:
                    pts = int(frame.pts)
                    time = float((pts - start) * tb)
                else:  # raw streams without timestamps: assume the nominal rate
                    pts = index
                    time = index / float(rate)
                last_time = time
                yield Frame(image=_image(frame.to_ndarray(format="rgb24"), as_tensor), pts=pts, time=time, index=index)
                index += 1
        except av.FFmpegError as err:
            raise VividError(
                f"video {path} is truncated or corrupt: decoding failed after {index} frames ({_why(err)})"
            ) from err
        if index == 0:
            raise VividError(f"video {path} contains no frames; give a video with at least one frame")
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


# ----------------------------------------------------------------------------- writing


def _as_uint8(frame: np.ndarray | torch.Tensor | Frame) -> np.ndarray:
    if isinstance(frame, Frame):
        frame = frame.image
    if isinstance(frame, torch.Tensor):
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

    Example::

        with VideoWriter("out.mp4", fps=info.fps) as writer:
            for frame in iter_frames("in.mp4"):
                writer.write(frame.image, time=frame.time)   # keeps VFR timing
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float | Fraction,
        *,
        size: tuple[int, int] | None = None,
        crf: int = 18,
        codec: str = "libx264",
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
        self.time_base = _time_base_for(self.fps)
        self.frames_written = 0
        self._step = int(Fraction(1) / (self.fps * self.time_base))  # ticks per nominal frame
        self._atomic = None
        self._container = None
        self._stream = None
        self._last_pts: int | None = None

    # -- context management

    def __enter__(self) -> "VideoWriter":
        self._atomic = atomic_write(self.path)
        tmp = self._atomic.__enter__()
        try:
            self._container = av.open(str(tmp), mode="w", format=self.format)
        except av.FFmpegError as err:
            self._atomic.__exit__(type(err), err, err.__traceback__)
            raise VividError(f"cannot create video {self.path}: {_why(err)}") from err
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
        try:
            self._container.close()
        except Exception as err:  # the original error matters more than a failing trailer
            log.debug("closing %s after an error failed too: %s", self.path, err)

    def _finish(self) -> None:
        if self.frames_written == 0:
            self._safe_close()
            raise ValueError(f"no frames were written to {self.path}; nothing saved")
        for packet in self._stream.encode():
            self._container.mux(packet)
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
        for packet in self._stream.encode(out):
            self._container.mux(packet)
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
        yield Frame(image=_image(image, as_tensor), pts=index, time=float(index / rate), index=index)


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


class FrameSink:
    """Writes frames to a video file (by suffix, e.g. ``.mp4``) or to a folder of PNGs.

    Atomic: a video goes through the video writer's temporary file; a folder is filled under a
    temporary name next to it and renamed at the end. An existing non-empty output folder is
    refused, and so is an output that is the input. ``write(image (H, W, 3) uint8, time)``.
    """

    def __init__(self, out: str | os.PathLike, fps: float | Fraction, *, source: str | os.PathLike | None = None) -> None:
        self.out = Path(out)
        self.fps = fps
        self.kind = check_output(self.out, source)
        self.count = 0
        self._writer = None
        self._tmp_dir: Path | None = None

    def __enter__(self) -> "FrameSink":
        if self.kind == "video":
            self._writer = VideoWriter(self.out, self.fps)
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
