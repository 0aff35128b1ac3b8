"""A vivid interpolation model as an interpolator.

An *interpolator* is any callable ``f(frame0, frame1, t) -> frame`` with frames (B, 3, H, W)
float in [0, 1] on the CPU and ``t`` a (B,) float tensor in (0, 1). :class:`ModelInterpolator`
wraps a vivid interpolation model (device, fp16 on CUDA, tiling, self-ensemble, flow
settings); the classical baselines of :mod:`vivid.interp.baselines` have the same signature,
so every tool and the benchmark run them through the same code.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import os
from typing import Callable, Iterator

import torch
from torch import Tensor, nn

from vivid.core.errors import VividError
from vivid.core.fileio import to_uint8
from vivid.interp.defaults import DEFAULT_MODEL
from vivid.interp.flow_settings import PRESETS, FlowSettings, auto_scale, parse_scale
from vivid.interp.tiling import DEFAULT_OVERLAP, DEFAULT_TILE, check_tiling, tiled_interpolate

Interpolate = Callable[[Tensor, Tensor, Tensor], Tensor]


# Where the generator's flows come from: its own flow network, or OpenCV's DIS flow (an
# inference-time alternative; the rest of the generator is unchanged).
FLOW_SOURCES = ("network", "dis")

# Self-ensemble sizes: the model runs on this many flipped / transposed copies of each pair and
# the outputs, mapped back, are averaged. Copy k of 8: flip none, left-right, up-down or both
# (k % 4), on the frames as they are (k < 4) or transposed (k >= 4); n copies are the first n.
ENSEMBLE_SIZES = (1, 2, 4, 8)


def external_flow(flow: str):
    """The estimator for a ``flow`` source other than the model's own network (None for
    "network"); an unknown source or a missing OpenCV is a VividError."""
    if flow not in FLOW_SOURCES:
        raise VividError(f"--flow must be one of {', '.join(FLOW_SOURCES)}, got {flow!r}")
    if flow == "network":
        return None
    from vivid.interp.baselines import DISFlowInterpolator

    return DISFlowInterpolator()


def check_ensemble(n: int) -> int:
    """``n`` if it is a self-ensemble size, else a VividError naming the sizes."""
    if n not in ENSEMBLE_SIZES:
        raise VividError(f"--ensemble must be one of {', '.join(map(str, ENSEMBLE_SIZES))}, got {n}")
    return n


def check_fp16(fp16: bool | None, device: torch.device) -> bool:
    """Whether to run in half precision: ``None`` means on CUDA only; asking for it on another
    device is a VividError."""
    if fp16 is None:
        return device.type == "cuda"
    if fp16 and device.type != "cuda":
        raise VividError("--fp16 needs a CUDA device; drop it or use --device cuda")
    return bool(fp16)


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


def _on_device(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` itself when all its tensors are on ``device``, else a copy moved there (the
    caller's model stays where it is)."""
    if all(x.device == device for x in itertools.chain(model.parameters(), model.buffers())):
        return model
    return copy.deepcopy(model).to(device)


@contextlib.contextmanager
def _evaluating(model: nn.Module) -> Iterator[None]:
    """``model`` in eval mode inside the block; each submodule's own mode is restored after it."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


def _flow_settings(model: nn.Module, settings: FlowSettings | dict | None) -> FlowSettings | None:
    """The settings a :class:`ModelInterpolator` passes to every call of ``model``: ``settings``
    itself, or a dict of changes to the model's own; None keeps the model's own."""
    if not settings:
        return None
    own = getattr(model, "flow_settings", None)
    if not isinstance(own, FlowSettings):
        raise VividError(f"{type(model).__name__} has no flow settings to change")
    if isinstance(settings, FlowSettings):
        return settings
    try:
        return own.replace(**settings)
    except ValueError as err:
        raise VividError(str(err)) from err


class ModelInterpolator:
    """A vivid interpolation model as an :data:`Interpolate` callable.

    Runs the model in eval mode on ``device`` (a model elsewhere is copied there), under fp16
    autocast on CUDA (``fp16=None`` means "on CUDA only"), tiles frames whose height or width
    exceeds ``tile`` (``tile=0`` never tiles) and returns float32 frames on the CPU.
    ``flow="dis"`` feeds the generator OpenCV's DIS flow (computed on the CPU, needs OpenCV)
    instead of running its flow network. ``ensemble`` (1, 2, 4 or 8) averages the model's
    outputs on that many flipped / transposed copies of each pair (see :func:`ensemble_view`),
    at that many times the work. ``flow_settings`` changes how the model estimates flow: a
    :class:`~vivid.interp.flow_settings.FlowSettings`, or a dict of changes to the model's own
    (e.g. ``{"flow_refine": 0}``); they are passed to each call, and the caller's model is
    left as it was (its mode, its settings). ``scale`` is the internal resolution of the
    model's local features (see :meth:`vivid.interp.model.InterpNet.forward`): one of 1, 0.5,
    0.25, or ``"auto"``: picked from each frame's size (the whole frame, not a tile) with
    :func:`~vivid.interp.flow_settings.auto_scale` and ``max_side`` (pixels; the ``quality``
    preset's by default).
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
        flow_settings: FlowSettings | dict | None = None,
        scale: float | str = 1.0,
        max_side: int = PRESETS["quality"][1],
    ) -> None:
        self.scale = parse_scale(scale)
        self.max_side = int(max_side)
        self._frame_scale = 1.0 if self.scale == "auto" else self.scale
        self._flow_source = external_flow(flow)
        self.ensemble = check_ensemble(ensemble)
        self.device = torch.device(device)
        if self.device.type == "cuda" and self.device.index is None:
            self.device = torch.device("cuda", torch.cuda.current_device())
        self.fp16 = check_fp16(fp16, self.device)
        check_tiling(tile, overlap)
        self.tile, self.overlap = int(tile), int(overlap)
        self.model = _on_device(model, self.device)
        self.flow_settings = _flow_settings(self.model, flow_settings)

    def _external_flows(self, frame0: Tensor, frame1: Tensor) -> tuple[Tensor, Tensor]:
        """Flows F0->1 and F1->0 (B, 2, H, W) in pixels from the external estimator, on the model's device."""
        pairs = [self._flow_source.flows(a, b) for a, b in zip(to_uint8(frame0), to_uint8(frame1))]
        return tuple(
            torch.stack([torch.from_numpy(p[k]).permute(2, 0, 1) for p in pairs]).to(self.device) for k in (0, 1)
        )

    @torch.no_grad()
    def _run(self, frame0: Tensor, frame1: Tensor, t: Tensor) -> Tensor:
        extra = {"flows": self._external_flows(frame0, frame1)} if self._flow_source is not None else {}
        if self.flow_settings is not None:
            extra["flow_settings"] = self.flow_settings
        if self._frame_scale != 1.0:
            extra["scale"] = self._frame_scale
        f0, f1 = frame0.to(self.device), frame1.to(self.device)
        tt = t.to(self.device, torch.float32)
        with _evaluating(self.model), torch.autocast(self.device.type, dtype=torch.float16, enabled=self.fp16):
            frame = self.model(f0, f1, tt, **extra).frame
        return frame.float().clamp_(0, 1).cpu()

    def _forward(self, frame0: Tensor, frame1: Tensor, t: Tensor) -> Tensor:
        total = self._run(frame0, frame1, t)
        for k in range(1, self.ensemble):
            view = self._run(ensemble_view(frame0, k), ensemble_view(frame1, k), t)
            total += ensemble_view(view, k, inverse=True)
        return total / self.ensemble

    def scale_for(self, height: int, width: int) -> float:
        """The internal resolution frames of this size run at."""
        return auto_scale(height, width, self.max_side) if self.scale == "auto" else self.scale

    def __call__(self, frame0: Tensor, frame1: Tensor, t: Tensor) -> Tensor:
        self._frame_scale = self.scale_for(*frame0.shape[-2:])
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
    flow_settings: FlowSettings | dict | None = None,
    scale: float | str = 1.0,
    max_side: int = PRESETS["quality"][1],
) -> ModelInterpolator:
    """Load a checkpoint (bundled name such as ``interp-default`` or a ``.safetensors`` path);
    ``flow``, ``ensemble``, ``flow_settings``, ``scale`` and ``max_side`` as in :class:`ModelInterpolator`."""
    from vivid.core.checkpoints import load_checkpoint

    net, _ = load_checkpoint(model, task="interp", device=device)
    return ModelInterpolator(
        net, device=device, fp16=fp16, tile=tile, overlap=overlap, flow=flow, ensemble=ensemble,
        flow_settings=flow_settings, scale=scale, max_side=max_side,
    )  # fmt: skip


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
            fp16, tile, overlap, ...) go to :class:`ModelInterpolator` for a model.
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
