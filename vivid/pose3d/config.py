"""The 3D pose recipe's typed config: every setting of ``vivid train pose3d`` and its default.

Presets (``presets/*.yaml``) and ``key.sub=value`` overrides are checked against these
dataclasses by the harness (:func:`vivid.core.train.parse_task_config`) before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from vivid.core.train_config import TrainConfig


@dataclass
class Pose3DData:
    """``data``: synthetic crops, a 3D-labelled pool and a 2D-only pool (:class:`Pose3DDataModule`).

    cache_dir: folder of the crop caches (rendered on first use). size: crop size (None: the
    model's input size). n_train, n_val: samples rendered for and used from the caches.
    three_d_fraction: share of training samples that keep their 3D labels; use_2d: feed the others
    as 2D-only data (the method), or train on the 3D-labelled pool alone (the 3D-only baseline).
    label_seed: seed of the 3D/2D choice. batch_size samples per step. ``mix="alternate"`` (the
    method's training order, the default): whole batches from one pool at a time, the heatmap
    channels trained on 2D-only batches and all channels on 3D-labelled ones
    (``loss.alternate_2d_per_3d`` sets the ratio); ``mix="mix"`` (a variant): every batch holds
    both pools, ``ratio_2d`` of it from the 2D-only pool.
    flip: random horizontal flips. mocap: "auto", "procedural" or a BVH folder
    (:mod:`vivid.synth.mocap_library`). realism: "off", "effects" (camera effects and occluders)
    or "auto" (also the shared data's real backdrops, panorama light and fabrics when present;
    :func:`vivid.pose3d.data.build_synth_cache`).
    """

    cache_dir: str = ".cache/pose3d"
    size: int | None = None
    n_train: int = 4000
    n_val: int = 300
    three_d_fraction: float = 1.0
    use_2d: bool = True
    label_seed: int = 0
    batch_size: int = 32
    ratio_2d: float = 0.75
    mix: Literal["mix", "alternate"] = "alternate"
    val_batch_size: int = 64
    flip: bool = True
    num_workers: int = 0
    mocap: str = "auto"
    realism: Literal["off", "effects", "auto"] = "off"


@dataclass
class Pose3DLoss:
    """``loss``: weights of the heatmap, geometric (bone-length ratio), depth regression and 2D
    terms; ``geo_mode`` "strict" (the method: 2D-only images train only the heatmap channels) or
    "depth" (depth-informed, a variant: their geometric loss also trains the depth channels);
    ``geo_variant`` "batch" (the method: one mean ratio over all bones of the batch) or
    "per_image_sets" (a variant: per image, four bone sets); ``geo_reference`` the reference mean
    bone lengths of the geometric loss: "h36m" (Human3.6M's published means, the method's) or
    "train" (the 3D-labelled training data's); ``sigma`` the Gaussian target width in heatmap
    pixels; ``pretrain_steps`` of 2D pre-training at the start; with ``mix="alternate"``,
    ``alternate_2d_per_3d`` 2D batches for each 3D batch."""

    lambda_hm: float = 1.0
    lambda_geo: float = 5.0
    lambda_reg: float = 100.0
    lambda_2d: float = 0.1
    geo_mode: Literal["strict", "depth"] = "strict"
    geo_variant: Literal["batch", "per_image_sets"] = "batch"
    geo_reference: Literal["h36m", "train"] = "h36m"
    sigma: float = 1.0
    pretrain_steps: int = 0
    alternate_2d_per_3d: int = 3


@dataclass
class Pose3DOptim:
    """``optim``: AdamW; the learning rate follows a warm-up and a cosine schedule over trainer.max_steps."""

    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 50


@dataclass
class Pose3DConfig(TrainConfig):
    """The whole 3D pose config."""

    model: str = "pose3d_default"
    data: Pose3DData = field(default_factory=Pose3DData)
    loss: Pose3DLoss = field(default_factory=Pose3DLoss)
    optim: Pose3DOptim = field(default_factory=Pose3DOptim)


CONFIG = Pose3DConfig
