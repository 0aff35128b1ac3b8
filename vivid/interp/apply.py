"""Applying an interpolator: image pairs, frame-rate up-conversion, tiling, scene cuts.

An *interpolator* is any callable ``f(frame0, frame1, t) -> frame`` with frames (B, 3, H, W)
float in [0, 1] on the CPU and ``t`` a (B,) float tensor in (0, 1). :class:`ModelInterpolator`
wraps a vivid interpolation model (device, fp16 on CUDA, tiling, self-ensemble); the classical baselines of
:mod:`vivid.interp.baselines` have the same signature, so every tool and the benchmark run them
through the same code.

Pieces, in the order a video goes through them:

- :func:`open_clip` opens a video file or a folder of frames as a stream of
  :class:`vivid.core.video.Frame` (one decoded frame in memory at a time);
- :func:`upconvert` turns that stream into the frames of a higher frame rate (``factor`` N or a
  target ``fps``), batching the interpolations and keeping only two input frames plus one batch
  in memory, so memory does not grow with the video's length;
- :class:`SceneCutDetector` stops blending across cuts (the nearest input frame is repeated);
- :func:`tiled_interpolate` runs a model tile by tile with feathered overlaps, so a 4K pair fits
  in a few hundred MB besides the model's per-tile activations;
- :class:`FrameSink` writes a video or a folder of PNGs atomically.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vivid.core.errors import VividError
from vivid.core.fileio import ensure_distinct, refuse_existing, to_tensor, to_uint8, write_image
from vivid.core.video import VIDEO_SUFFIXES, Frame, FrameSource, VideoWriter, open_frames

log = logging.getLogger(__name__)

Interpolate = Callable[[Tensor, Tensor, Tensor], Tensor]

DEFAULT_MODEL = "interp-default"
# Frames whose long side exceeds DEFAULT_TILE are processed in DEFAULT_TILE tiles.
DEFAULT_TILE = 768
DEFAULT_OVERLAP = 64
MAX_FACTOR = 16
# Fixed working size (H, W) for frame differences: makes them independent of resolution and
# averages away most pixel noise.
WORK_SIZE = (90, 160)


# ----------------------------------------------------------------------------------------
# frame differences and scene cuts


def thumbnail(image: np.ndarray) -> Tensor:
    """Area-average an image down (or up) to :data:`WORK_SIZE`.

    Args:
        image: uint8 (H, W, 3).
    Returns:
        float32 (3, 90, 160) with values in [0, 255].
    """
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float()
    return F.adaptive_avg_pool2d(x, WORK_SIZE)[0]


def mean_abs_difference(thumb0: Tensor, thumb1: Tensor) -> float:
    """Mean over pixels and channels of |thumb1 - thumb0| (grey levels, 0..255)."""
    return float((thumb1 - thumb0).abs().mean())


def histogram_distance(thumb0: Tensor, thumb1: Tensor, bins: int = 16) -> float:
    """Half the L1 distance between per-channel colour histograms, averaged over channels.

    0 for identical colour distributions, 1 for disjoint ones. Motion barely changes it; a
    change of scene usually does.
    """
    dist = 0.0
    for c in range(3):
        h0 = torch.histc(thumb0[c], bins=bins, min=0, max=255)
        h1 = torch.histc(thumb1[c], bins=bins, min=0, max=255)
        dist += 0.5 * float((h0 / h0.sum() - h1 / h1.sum()).abs().sum())
    return dist / 3


@dataclass
class SceneCutDetector:
    """Decides whether two neighbouring frames lie on either side of a cut.

    A cut needs both (on the :func:`thumbnail` of each frame):

    - mean absolute difference >= ``mad_threshold`` grey levels (content changed almost
      everywhere), and
    - colour-histogram distance >= ``hist_threshold`` (the palette changed too).

    Fast motion raises the first but not the second; a lighting change of a static scene
    raises the second far more than the first. On the real clips used for development
    (bikes, carphone, Big Buck Bunny, two SAM 2 clips) every motion pair stayed below
    21 grey levels / 0.12, while the five cuts in ``bikes.mp4`` and every splice of two
    different clips measured >= 50 grey levels and >= 0.19.
    """

    mad_threshold: float = 35.0
    hist_threshold: float = 0.15

    def is_cut(self, thumb0: Tensor, thumb1: Tensor) -> bool:
        if mean_abs_difference(thumb0, thumb1) < self.mad_threshold:
            return False
        return histogram_distance(thumb0, thumb1) >= self.hist_threshold


# ----------------------------------------------------------------------------------------
# tiling


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of size ``tile`` covering ``[0, length)``, neighbours overlapping
    by at least ``overlap`` (the last tile is pushed back to end exactly at ``length``)."""
    if length <= tile:
        return [0]
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap must be in [0, tile), got overlap={overlap}, tile={tile}")
    step = tile - overlap
    n = math.ceil((length - tile) / step) + 1
    starts = [min(i * step, length - tile) for i in range(n)]
    return sorted(set(starts))


def _ramp(size: int, start: int, length: int, overlap: int) -> Tensor:
    """1-D feather weights of one tile: linear ramps over ``overlap`` pixels on the sides that
    touch a neighbouring tile, 1 elsewhere (and on the image borders). Always > 0."""
    w = torch.ones(size)
    n = min(overlap, size)
    if n > 0:
        ramp = torch.arange(1, n + 1, dtype=torch.float32) / (n + 1)
        if start > 0:
            w[:n] = torch.minimum(w[:n], ramp)
        if start + size < length:
            w[size - n :] = torch.minimum(w[size - n :], ramp.flip(0))
    return w


def tiled_interpolate(
    fn: Interpolate, frame0: Tensor, frame1: Tensor, t: Tensor, *, tile: int, overlap: int = DEFAULT_OVERLAP
) -> Tensor:
    """Run ``fn`` on overlapping ``tile`` x ``tile`` crops and blend them with feathered weights.

    Tiles are run one pair at a time, so memory is bounded by one tile's activations whatever
    the batch size. The output is ``sum_k w_k * fn(crop_k) / sum_k w_k`` where each ``w_k`` ramps linearly to
    near 0 across the overlap with its neighbours; for a pointwise ``fn`` this equals the
    untiled result exactly (up to float rounding). Motion larger than about ``overlap / 2``
    pixels across a tile border is seen by only one of the two tiles, so keep ``overlap`` above
    the largest expected motion.

    Args:
        frame0, frame1: (B, 3, H, W) float in [0, 1].
        t: (B,) in (0, 1).
    Returns:
        (B, 3, H, W) float32 on the CPU.
    """
    b, c, h, w = frame0.shape
    if h <= tile and w <= tile:
        return fn(frame0, frame1, t).float().cpu()
    out = torch.zeros(b, c, h, w)
    weight = torch.zeros(1, 1, h, w)
    for y in tile_starts(h, tile, overlap):
        th = min(tile, h)
        wy = _ramp(th, y, h, overlap)
        for x in tile_starts(w, tile, overlap):
            tw = min(tile, w)
            wxy = wy[:, None] * _ramp(tw, x, w, overlap)[None, :]
            # one tile of one pair per call: peak memory does not grow with the batch size
            for i in range(b):
                crop = (slice(i, i + 1), slice(None), slice(y, y + th), slice(x, x + tw))
                pred = fn(frame0[crop], frame1[crop], t[i : i + 1]).float().cpu()
                out[crop] += pred * wxy
            weight[..., y : y + th, x : x + tw] += wxy
    return out.div_(weight)


# ----------------------------------------------------------------------------------------
# the model as an interpolator


# Modules whose arithmetic must stay in float32 under fp16 autocast: the flow projection turns
# flows into flat pixel indices (H * W exceeds float16's range and precision).
FLOAT32_MODULES = ("FlowProjection",)


def keep_float32(model: nn.Module, device_type: str, names: tuple[str, ...] = FLOAT32_MODULES) -> int:
    """Run the submodules whose class name is in ``names`` outside autocast, on float32 inputs.

    Mixed-precision inference autocasts convolutions to float16; a module that computes
    coordinates or indices from their outputs has to see float32. Patches the instances'
    ``forward`` (weights and state dict are untouched) and returns how many were patched.
    """

    def wrap(forward):
        def fp32_forward(*args, **kwargs):
            def up(x):
                return x.float() if torch.is_tensor(x) and x.is_floating_point() else x

            with torch.autocast(device_type, enabled=False):
                return forward(*[up(a) for a in args], **{k: up(v) for k, v in kwargs.items()})

        fp32_forward.vivid_float32 = True
        return fp32_forward

    count = 0
    for module in model.modules():
        if type(module).__name__ in names and not getattr(module.forward, "vivid_float32", False):
            module.forward = wrap(module.forward)
            count += 1
    return count


# Where the generator's flows come from: its own flow network, or OpenCV's DIS flow (an
# inference-time alternative; the rest of the generator is unchanged).
FLOW_SOURCES = ("network", "dis")


def external_flow(flow: str):
    """The estimator for a ``flow`` source other than the model's own network (None for
    "network"); an unknown source or a missing OpenCV is a VividError."""
    if flow not in FLOW_SOURCES:
        raise VividError(f"--flow must be one of {', '.join(FLOW_SOURCES)}, got {flow!r}")
    if flow == "network":
        return None
    from vivid.interp.baselines import DISFlowInterpolator

    return DISFlowInterpolator()


# Self-ensemble sizes: the model runs on this many flipped / transposed copies of each pair and
# the outputs, mapped back, are averaged. Copy k of 8: flip none, left-right, up-down or both
# (k % 4), on the frames as they are (k < 4) or transposed (k >= 4); n copies are the first n.
ENSEMBLE_SIZES = (1, 2, 4, 8)


def check_ensemble(n: int) -> int:
    """``n`` if it is a self-ensemble size, else a VividError naming the sizes."""
    if n not in ENSEMBLE_SIZES:
        raise VividError(f"--ensemble must be one of {', '.join(map(str, ENSEMBLE_SIZES))}, got {n}")
    return n


def ensemble_view(x: Tensor, k: int, inverse: bool = False) -> Tensor:
    """Copy ``k`` (0-7) of frames ``x`` (..., H, W), or with ``inverse`` the map back."""
    flips = ((), (-1,), (-2,), (-1, -2))[k % 4]
    transpose = k >= 4
    if transpose and not inverse:
        x = x.transpose(-1, -2)
    if flips:
        x = x.flip(flips)
    if transpose and inverse:
        x = x.transpose(-1, -2)
    return x


class ModelInterpolator:
    """A vivid interpolation model as an :data:`Interpolate` callable.

    Moves inputs to ``device``, runs under fp16 autocast on CUDA (``fp16=None`` means "on CUDA
    only"), tiles frames whose height or width exceeds ``tile`` (``tile=0`` never tiles) and
    returns float32 frames on the CPU. ``flow="dis"`` feeds the generator OpenCV's DIS flow
    (computed on the CPU, needs OpenCV) instead of running its flow network. ``ensemble`` (1, 2,
    4 or 8) averages the model's outputs on that many flipped / transposed copies of each pair
    (see :func:`ensemble_view`), at that many times the work. ``flow_settings`` changes how the
    model estimates flow (see :func:`parse_flow_settings`), e.g. ``{"flow_refine": 0}``; like
    the device, it is set on the model itself.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        device: str | torch.device = "cpu",
        fp16: bool | None = None,
        tile: int = DEFAULT_TILE,
        overlap: int = DEFAULT_OVERLAP,
        flow: str = "network",
        ensemble: int = 1,
        flow_settings: dict | None = None,
    ) -> None:
        self._flow_source = external_flow(flow)
        self.ensemble = check_ensemble(ensemble)
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        if flow_settings:
            if not hasattr(self.model, "set_flow_settings"):
                raise VividError(f"{type(self.model).__name__} has no flow settings to change")
            try:
                self.model.set_flow_settings(**flow_settings)
            except ValueError as err:
                raise VividError(str(err)) from err
        self.fp16 = (self.device.type == "cuda") if fp16 is None else bool(fp16)
        if self.fp16 and self.device.type != "cuda":
            raise VividError("fp16 inference needs a CUDA device; drop --fp16 or use --device cuda")
        if tile and tile < 64:
            raise VividError(f"--tile {tile} is too small; use 0 (no tiling) or at least 64 pixels")
        if tile and not 0 <= overlap < tile // 2:
            raise VividError(f"--overlap must be between 0 and half the tile size ({tile // 2}), got {overlap}")
        self.tile, self.overlap = int(tile), int(overlap)
        if self.fp16:
            keep_float32(self.model, self.device.type)

    def _external_flows(self, frame0: Tensor, frame1: Tensor) -> tuple[Tensor, Tensor]:
        """Flows F0->1 and F1->0 (B, 2, H, W) in pixels from the external estimator, on the model's device."""
        pairs = [self._flow_source.flows(a, b) for a, b in zip(to_uint8(frame0), to_uint8(frame1))]
        return tuple(
            torch.stack([torch.from_numpy(p[k]).permute(2, 0, 1) for p in pairs]).to(self.device) for k in (0, 1)
        )

    @torch.no_grad()
    def _run(self, frame0: Tensor, frame1: Tensor, t: Tensor) -> Tensor:
        extra = {"flows": self._external_flows(frame0, frame1)} if self._flow_source is not None else {}
        f0, f1 = frame0.to(self.device), frame1.to(self.device)
        tt = t.to(self.device, torch.float32)
        with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.fp16):
            frame = self.model(f0, f1, tt, **extra).frame
        return frame.float().clamp_(0, 1).cpu()

    def _forward(self, frame0: Tensor, frame1: Tensor, t: Tensor) -> Tensor:
        total = self._run(frame0, frame1, t)
        for k in range(1, self.ensemble):
            view = self._run(ensemble_view(frame0, k), ensemble_view(frame1, k), t)
            total += ensemble_view(view, k, inverse=True)
        return total / self.ensemble

    def __call__(self, frame0: Tensor, frame1: Tensor, t: Tensor) -> Tensor:
        if self.tile:
            return tiled_interpolate(self._forward, frame0, frame1, t, tile=self.tile, overlap=self.overlap)
        return self._forward(frame0, frame1, t)


def load_interpolator(
    model: str | os.PathLike = DEFAULT_MODEL,
    *,
    device: str | torch.device = "cpu",
    fp16: bool | None = None,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    flow: str = "network",
    ensemble: int = 1,
    flow_settings: dict | None = None,
) -> ModelInterpolator:
    """Load a checkpoint (bundled name such as ``interp-default`` or a ``.safetensors`` path);
    ``flow``, ``ensemble`` and ``flow_settings`` as in :class:`ModelInterpolator`."""
    from vivid.core.checkpoints import load_checkpoint

    net, _ = load_checkpoint(model, task="interp", device=device)
    return ModelInterpolator(
        net, device=device, fp16=fp16, tile=tile, overlap=overlap, flow=flow, ensemble=ensemble, flow_settings=flow_settings
    )


def parse_flow_settings(items: list[str]) -> dict:
    """``["flow_scales=1,2,4", "flow_refine=0"]`` -> ``{"flow_scales": [1, 2, 4], "flow_refine": 0}``,
    checked (a VividError names the bad item). The settings are those of
    :data:`vivid.interp.model.FLOW_SETTINGS`."""
    from vivid.interp.model import FLOW_SETTINGS, check_flow_settings, flow_setting_value

    settings: dict = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in FLOW_SETTINGS:
            raise VividError(f"--flow-setting takes NAME=VALUE with NAME one of {', '.join(FLOW_SETTINGS)}, got {item!r}")
        try:
            settings[name] = flow_setting_value(name, value.split(",") if name == "flow_scales" else value)
            check_flow_settings(**{name: settings[name]})
        except ValueError as err:
            raise VividError(f"--flow-setting {item}: {err}") from None
    return settings


def as_interpolator(model: nn.Module | Interpolate, **kwargs) -> Interpolate:
    """An ``nn.Module`` becomes a :class:`ModelInterpolator`; a callable is returned as it is."""
    if isinstance(model, nn.Module):
        return ModelInterpolator(model, **kwargs)
    return model


def interpolate_pair(
    model: nn.Module | Interpolate,
    frame0: Tensor,
    frame1: Tensor,
    t: float | Tensor = 0.5,
    **kwargs,
) -> Tensor:
    """Interpolate between two frames (or two batches of frames).

    Args:
        model: an interpolation model or an :data:`Interpolate` callable; ``kwargs`` (device,
            fp16, tile, overlap) go to :class:`ModelInterpolator` for a model.
        frame0, frame1: (3, H, W) or (B, 3, H, W) float in [0, 1], same shape.
        t: a float or a (B,) tensor in [0, 1].
    Returns:
        The frame(s) at time ``t``, same shape as ``frame0``, float32 on the CPU.
    """
    if frame0.shape != frame1.shape:
        raise ValueError(f"frames differ in shape: {tuple(frame0.shape)} vs {tuple(frame1.shape)}")
    single = frame0.ndim == 3
    if single:
        frame0, frame1 = frame0[None], frame1[None]
    if frame0.ndim != 4 or frame0.shape[1] != 3:
        raise ValueError(f"frames must be (3, H, W) or (B, 3, H, W), got {tuple(frame0.shape)}")
    tt = torch.as_tensor(t, dtype=torch.float32).reshape(-1)
    if tt.numel() == 1:
        tt = tt.expand(frame0.shape[0])
    if tt.numel() != frame0.shape[0]:
        raise ValueError(f"t must be a float or hold one value per pair, got {tt.numel()} for {frame0.shape[0]} pairs")
    out = as_interpolator(model, **kwargs)(frame0.float(), frame1.float(), tt.clone())
    return out[0] if single else out


# ----------------------------------------------------------------------------------------
# reading clips


def open_clip(path: str | os.PathLike, *, fps: float | None = None) -> FrameSource:
    """Open a video file or a folder of frames for streaming; VividError for anything unusable.

    Args:
        path: a video file, or a folder of .png/.jpg frames (natural name order).
        fps: frame rate of a folder of frames (default 25); a video keeps its own timestamps.
    Returns:
        a :class:`vivid.core.video.FrameSource` (``.info`` has fps, width, height, n_frames).
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


# ----------------------------------------------------------------------------------------
# writing clips


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
    refused, and so is an output that is the input.
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


# ----------------------------------------------------------------------------------------
# frame-rate up-conversion


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


def check_rate(in_fps: float, *, factor: int | None = None, fps: float | None = None) -> float:
    """Validate an up-conversion request; return the output frame rate."""
    if (factor is None) == (fps is None):
        raise VividError("give exactly one of --factor N or --fps F")
    if factor is not None:
        if int(factor) != factor or not 2 <= factor <= MAX_FACTOR:
            raise VividError(f"--factor must be a whole number from 2 to {MAX_FACTOR}, got {factor}")
        return in_fps * int(factor)
    if not fps > in_fps:
        raise VividError(f"--fps {fps:g} is not above the input frame rate ({in_fps:g} fps); pick a higher rate")
    if fps > in_fps * MAX_FACTOR:
        raise VividError(f"--fps {fps:g} is more than {MAX_FACTOR}x the input frame rate ({in_fps:g} fps)")
    return float(fps)


def expected_output_count(n_frames: int, in_fps: float, *, factor: int | None = None, fps: float | None = None) -> int:
    """Number of frames :func:`upconvert` produces for ``n_frames`` evenly spaced inputs."""
    if factor is not None:
        return (n_frames - 1) * int(factor) + 1
    duration = (n_frames - 1) / in_fps
    return int(math.floor(duration * fps + 1e-6)) + 1


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
    if (factor is None) == (fps is None):
        raise ValueError("give exactly one of factor or fps")
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


# Output times within this fraction of an input interval from an input frame copy that frame.
_SNAP = 1e-3


# ----------------------------------------------------------------------------------------
# file-level entry points (used by the CLI)


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
    from vivid.core.fileio import read_image

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
) -> UpconvertSummary:
    """Up-convert a video or frame folder ``inp`` into ``out`` (video by suffix, else a folder).

    ``advance(n)`` is called after each written output frame (for a progress bar). See
    :func:`upconvert` for the output grid, scene cuts and batching.
    """
    ensure_distinct(inp, out)
    src = open_clip(inp, fps=input_fps)
    in_fps = src.info.fps
    out_rate = check_rate(float(in_fps), factor=factor, fps=fps)
    out_fps = Fraction(in_fps) * int(factor) if factor is not None else fps
    counts = {"input": 0, "interpolated": 0, "cut": 0}
    n_in = 0

    def counted(frames: Iterable[Frame]) -> Iterator[Frame]:
        nonlocal n_in
        for f in frames:
            n_in += 1
            yield f

    with FrameSink(out, out_fps, source=inp) as sink:
        for o in upconvert(counted(src), interpolate, factor=factor, fps=fps, batch_size=batch_size, scene_cuts=scene_cuts):
            sink.write(o.image, time=o.time)
            counts[o.kind] += 1
            if advance is not None:
                advance(1)
    return UpconvertSummary(n_in, sink.count, float(in_fps), float(out_rate), counts["interpolated"], counts["cut"])
