"""Flow settings: how the generator turns its flow network's estimates into the flows it uses.

They have no weights (see :meth:`vivid.interp.model.InterpNet.estimate_flow` for what each
one does). A model trains with its constructor's values; a checkpoint carries the values it
should run with in its sidecar's ``model_config``; a user picks a named preset
(``--flow-preset``, :func:`flow_preset`) and may change single settings on top of it
(``--flow-setting NAME=VALUE``, :meth:`FlowSettings.parse`). Every value is checked in one
place, :class:`FlowSettings` itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from vivid.core.errors import VividError

# The named presets: "fast" is what the checkpoint's model trained with, "quality" what the
# checkpoint carries for inference (the bundled one: wider matching windows, a refine pass, medians,
# still background; chosen on validation data, benchmarks/results/interp_flow_settings.md).
FLOW_PRESETS = ("fast", "quality")


def _integer(name: str, value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an integer, got {value!r}") from None


def _odd_or_off(name: str, value: int) -> None:
    if value < 0 or (value > 0 and value % 2 == 0):
        raise ValueError(f"{name} must be 0 (off) or an odd number of pixels, got {value}")


@dataclasses.dataclass(frozen=True)
class FlowSettings:
    """The flow settings of an :class:`~vivid.interp.model.InterpNet`, checked on creation
    (ValueError naming the setting); values are converted to the types below.

    flow_scales: the flow network also runs on the frames downscaled by these factors; the
        first is 1 (the full-resolution estimate), e.g. ``(1, 2, 4)``;
    flow_window: odd side (pixels) of the square over which candidates are matched;
    flow_refine: number of residual passes;
    flow_contrast: gain of the contrast-normalised candidate (0: off);
    flow_median: 0 (off) or the odd side of the median window at quarter resolution;
    flow_still: 0 (off) or the odd side of the window of the still-background test.
    """

    flow_scales: tuple[int, ...] = (1,)
    flow_window: int = 9
    flow_refine: int = 0
    flow_contrast: float = 0.0
    flow_median: int = 0
    flow_still: int = 0

    def __post_init__(self) -> None:
        scales = self.flow_scales
        if isinstance(scales, (int, str)) or not isinstance(scales, Iterable):
            raise ValueError(f"flow_scales must be a sequence of integers starting with 1, got {scales!r}")
        scales = tuple(_integer("flow_scales", s) for s in scales)
        if not scales or scales[0] != 1 or any(s < 1 for s in scales):
            raise ValueError(f"flow_scales must start with 1 and hold integers >= 1, got {list(scales)}")
        window, refine = _integer("flow_window", self.flow_window), _integer("flow_refine", self.flow_refine)
        if window < 1 or window % 2 == 0:
            raise ValueError(f"flow_window must be an odd number of pixels >= 1, got {window}")
        if refine < 0:
            raise ValueError(f"flow_refine must be a number of passes >= 0, got {refine}")
        try:
            contrast = float(self.flow_contrast)
        except (TypeError, ValueError):
            raise ValueError(f"flow_contrast must be a number, got {self.flow_contrast!r}") from None
        if not contrast >= 0:
            raise ValueError(f"flow_contrast must be a gain >= 0 (0: off), got {contrast}")
        median, still = _integer("flow_median", self.flow_median), _integer("flow_still", self.flow_still)
        _odd_or_off("flow_median", median)
        _odd_or_off("flow_still", still)
        for name, value in zip(self.names(), (scales, window, refine, contrast, median, still)):
            object.__setattr__(self, name, value)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The setting names, in order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_config(cls, config: Mapping) -> "FlowSettings":
        """The settings held in a model config (e.g. a sidecar's ``model_config``); other keys
        are ignored and missing settings take the defaults."""
        return cls(**{k: v for k, v in config.items() if k in cls.names()})

    def replace(self, **changes) -> "FlowSettings":
        """A copy with ``changes``; ValueError for a name that is not a setting or a bad value."""
        unknown = [k for k in changes if k not in self.names()]
        if unknown:
            raise ValueError(f"{unknown[0]} is not a flow setting (those are {', '.join(self.names())})")
        return dataclasses.replace(self, **changes)

    def as_config(self) -> dict:
        """The settings as model-config entries (JSON types: ``flow_scales`` a list)."""
        values = {name: getattr(self, name) for name in self.names()}
        return {**values, "flow_scales": list(self.flow_scales)}

    def parse(self, items: Iterable[str]) -> "FlowSettings":
        """These settings with ``--flow-setting`` items applied in order: ``["flow_scales=1,2,4",
        "flow_refine=0"]``; VividError naming the bad item."""
        settings = self
        for item in items:
            name, sep, value = item.partition("=")
            name = name.strip()
            if not sep or name not in self.names():
                raise VividError(f"--flow-setting takes NAME=VALUE with NAME one of {', '.join(self.names())}, got {item!r}")
            try:
                settings = settings.replace(**{name: value.split(",") if name == "flow_scales" else value.strip()})
            except ValueError as err:
                raise VividError(f"--flow-setting {item}: {err}") from None
        return settings


# ----------------------------------------------------------------------------- speed presets

# The internal resolutions a model can run its local features at (``InterpNet.forward(scale=)``).
SCALES = (1.0, 0.5, 0.25)
# ``--preset``: which flow preset it takes, and the longest side (pixels) it lets the local
# features (flow, depth, projection, kernels) run at before ``--scale auto`` halves them.
PRESETS = {"quality": ("quality", 1024), "fast": ("fast", 640)}
# The ``fast`` limit was chosen on validation data (held-out tails of the training clips, frames
# up to 640 px): the smallest internal size whose mean PSNR stays within 0.3 dB of ``quality`` at
# scale 1. At 640 px, fast@1 was 0.16 dB below it and fast@0.5 0.52 dB (benchmarks/interp.py,
# presets section). The ``quality`` limit (1024) is a rule, not tuned: no validation clip is larger.


def auto_scale(height: int, width: int, max_side: int) -> float:
    """The largest of :data:`SCALES` that brings the frame's long side to at most ``max_side``
    pixels (the smallest scale when none does): the internal resolution ``--scale auto``
    picks from the frame size, as RIFE picks 0.5 for 4K and 1 below."""
    for s in SCALES:
        if max(height, width) * s <= max_side:
            return s
    return SCALES[-1]


def check_scale(scale) -> float:
    """``scale`` as one of :data:`SCALES` (a float); ValueError otherwise."""
    try:
        value = float(scale)
    except (TypeError, ValueError):
        value = None
    if value not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(f'{x:g}' for x in SCALES)}, got {scale!r}")
    return value


def parse_scale(value) -> float | str:
    """``--scale``: ``"auto"`` or one of :data:`SCALES` (as a float); VividError otherwise."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        return check_scale(value)
    except ValueError:
        raise VividError(f"--scale must be auto or one of {', '.join(f'{x:g}' for x in SCALES)}, got {value!r}") from None


def check_preset(name: str) -> str:
    if name not in PRESETS:
        raise VividError(f"--preset must be one of {', '.join(PRESETS)}, got {name!r}")
    return name


# The setting names (a checkpoint's inference-only entries of model_config).
FLOW_SETTINGS = FlowSettings.names()


def check_flow_settings(**settings) -> None:
    """ValueError for a name outside :data:`FLOW_SETTINGS` or a bad value among ``settings``."""
    FlowSettings().replace(**settings)


def flow_preset(name: str, meta: Mapping) -> FlowSettings:
    """The settings of preset ``name`` (one of :data:`FLOW_PRESETS`) for the checkpoint whose
    sidecar is ``meta``.

    ``quality``: the settings the checkpoint carries (its ``model_config``). ``fast``: those its
    model trained with: the training config's ``model_config`` (kept in the sidecar's
    ``extra.config`` by ``vivid train``) over the constructor defaults.
    """
    if name == "quality":
        return FlowSettings.from_config(meta.get("model_config") or {})
    if name == "fast":
        training = ((meta.get("extra") or {}).get("config") or {}).get("model_config") or {}
        return FlowSettings.from_config(training)
    raise VividError(f"--flow-preset must be one of {', '.join(FLOW_PRESETS)}, got {name!r}")
