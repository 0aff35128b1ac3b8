"""The typed config of ``vivid train bodyvid``: every setting and its default.

Presets (``presets/*.yaml``) and ``key.sub=value`` overrides are checked against these dataclasses
by the harness before anything runs. The model's own settings (enhancement layers, their variants,
the regressor) are ``model_config`` keys of :class:`vivid.bodyvid.model.BodyVidNet`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from vivid.core.train import TrainConfig


@dataclass
class BodyVidData:
    """``data``: synthetic clips (:mod:`vivid.bodyvid.data`), rendered once into ``cache_dir``.

    n_train, n_val: clips per split; clip_frames: frames per clip (>= the model's sequence
    length; training draws a random window of S consecutive frames from a clip, validation
    the first S); render_size: rendered frame side, cropped around the person to the model's
    input size; batch_size: sequences per step; mocap: "auto", "procedural" or a BVH folder
    (:mod:`vivid.synth.mocap_library`, split by whole takes).
    """

    cache_dir: str = ".cache/bodyvid"
    n_train: int = 240
    n_val: int = 16
    clip_frames: int = 16
    render_size: int = 128
    batch_size: int = 8
    num_workers: int = 0
    mocap: str = "auto"


@dataclass
class BodyVidLoss:
    """``loss``: weights of the 3D joint, 2D reprojection, velocity, vertex and parameter losses
    (0 switches one off); ``velocity_mode``: "average" (over the sequence, the method) or
    "frames" (every pair of consecutive frames)."""

    joint: float = 1.0
    reprojection: float = 1.0
    velocity: float = 1.0
    vertex: float = 0.0
    parameter: float = 0.1
    velocity_mode: Literal["average", "frames"] = "average"


@dataclass
class BodyVidOptim:
    """``optim``: AdamW with a linear warm-up and a cosine decay over trainer.max_steps;
    ``backbone_lr_scale`` multiplies the learning rate of the feature extraction layer (below 1
    keeps a pose3d-initialised backbone close to its start)."""

    lr: float = 1e-3
    warmup_steps: int = 100
    weight_decay: float = 1e-4
    backbone_lr_scale: float = 1.0


@dataclass
class BodyVidConfig(TrainConfig):
    """The whole bodyvid config; the model's settings are ``model_config`` keys of BodyVidNet.

    ``backbone_init``: a pose3d checkpoint (bundled name such as ``pose3d-default``, or a path)
    whose network starts the feature extraction layer (needs ``model_config.backbone: pose3d``;
    the harness's ``init`` takes bodyvid checkpoints only).
    """

    model: str = "bodyvid_default"
    backbone_init: str | None = None
    data: BodyVidData = field(default_factory=BodyVidData)
    loss: BodyVidLoss = field(default_factory=BodyVidLoss)
    optim: BodyVidOptim = field(default_factory=BodyVidOptim)
