"""The interpolation recipe's typed config: every setting of ``vivid train interp`` and its default.

Presets (``presets/*.yaml``) and ``key.sub=value`` overrides are checked against these
dataclasses by the harness (:func:`vivid.core.train.parse_task_config`) before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from vivid.core.train_config import TrainConfig


@dataclass
class FlyingData:
    """``data.flying``: the synthetic flying-layers part (:class:`vivid.synth.flying.FlyingLayers`).

    ``fraction`` is the share of flying-layer items in each training batch (1.0 when there is no
    real footage); ``size`` defaults to ``data.crop``.
    """

    train: int = 2000
    val: int = 32
    fraction: float = 0.5
    size: tuple[int, int] | None = None
    random_t: bool = True
    cache_file: str | None = None
    texture_images: str | list[str] | None = None
    sprites: tuple[int, int] = (2, 6)
    max_motion: float = 0.15
    background_motion: float = 0.06
    max_rotation: float = 0.25
    max_scale_change: float = 0.15
    nonrigid: float = 2.0
    image_prob: float = 0.5
    sprite_size: tuple[float, float] = (0.08, 0.25)
    flat_prob: float = 0.0
    static_prob: float = 0.0
    band_prob: float = 0.0

    def layer_settings(self) -> dict:
        """The :class:`FlyingLayers` keyword arguments."""
        keys = ("sprites", "max_motion", "background_motion", "max_rotation", "max_scale_change", "nonrigid",
                "image_prob", "sprite_size", "flat_prob", "static_prob", "band_prob")  # fmt: skip
        return {k: getattr(self, k) for k in keys}


@dataclass
class InterpData:
    """``data``: real footage (videos, Vimeo-90K) mixed with flying layers.

    videos: video files / folders (triplets drawn on the fly); each is used at every size in
    ``long_sides`` (motion scales), with frame gaps ``gaps``; the last ``video_val_fraction`` of
    every clip is held out for validation. ``cache_dir`` keeps decoded frames (.npy);
    ``teacher="dis"`` gives the video triplets flow labels from OpenCV's DIS flow (consistent pixels
    only). ``vimeo``: root of a Vimeo-90K triplet folder. ``epoch_length`` items per epoch of the
    real part; validation on ``val_items`` crops of ``val_crop``.
    """

    batch_size: int = 8
    crop: tuple[int, int] = (128, 128)
    num_workers: int = 0
    flying: FlyingData = field(default_factory=FlyingData)
    videos: list[str] = field(default_factory=list)
    long_sides: tuple[int, ...] = (640, 320)
    gaps: tuple[int, ...] = (2, 3, 4)
    video_val_fraction: float = 0.1
    max_frames: int | None = None
    cache_dir: str | None = None
    teacher: Literal["dis", "none"] | None = None
    vimeo: str | None = None
    epoch_length: int = 2000
    val_crop: tuple[int, int] = (256, 448)
    val_items: int = 16


@dataclass
class GanLoss:
    """``loss.gan``: the relativistic average GAN term (VGG-13-style discriminator of ``widths``)."""

    enabled: bool = False
    weight: float = 0.005
    start_step: int = 0
    widths: tuple[int, ...] = (16, 32, 64, 128, 128)


@dataclass
class InterpLoss:
    """``loss``: weights of L_f (flow), L_d (depth ordering), L_w (photometric warp) and the GAN.

    ``flow_level_weights``: one weight per flow-pyramid estimate, coarse to fine (None: halving per level).
    """

    flow_weight: float = 0.01
    depth_weight: float = 0.1
    warp_weight: float = 0.0
    flow_level_weights: tuple[float, ...] | None = None
    gan: GanLoss = field(default_factory=GanLoss)


@dataclass
class InterpOptim:
    """``optim``: AdamW with a linear warm-up and a cosine decay to ``min_lr_ratio`` x ``lr``.

    ``max_steps`` of the schedule (None: ``trainer.max_steps``); ``lr_d`` of the discriminator
    (None: ``lr``); gradients clipped to norm ``grad_clip``.
    """

    lr: float = 5e-4
    weight_decay: float = 0.0
    min_lr_ratio: float = 0.1
    warmup_steps: int = 50
    max_steps: int | None = None
    grad_clip: float = 1.0
    lr_d: float | None = None


@dataclass
class InterpConfig(TrainConfig):
    """The whole interpolation config. ``stage``: "full", or "flow" to pretrain the flow network alone."""

    model: str = "interp_default"
    data: InterpData = field(default_factory=InterpData)
    loss: InterpLoss = field(default_factory=InterpLoss)
    optim: InterpOptim = field(default_factory=InterpOptim)
    stage: Literal["full", "flow"] = "full"


CONFIG = InterpConfig
