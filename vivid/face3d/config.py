"""The typed config of ``vivid train face3d``: every setting and its default.

``stage`` picks what is trained: 0 the landmark network, 1 self-supervised (unlabelled images),
2 supervised (labelled images), 3 mixed batches. Each stage runs alone; ``init=`` a previous
stage's checkpoint continues from it (``init_modules=[landmarks]`` takes only the landmark
network, e.g. for stage 2 from scratch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from vivid.core.train import TrainConfig


@dataclass
class Face3DData:
    """``data``: synthetic face crops (rendered once into ``cache_dir``) and real portraits.

    render_size: side of the rendered images the crops come from. n_landmark: images for the
    landmark network (stage 0). n_unlabelled / n_labelled: the unlabelled pool (images only;
    landmarks come from the landmark network) and the labelled one (images with their meshes),
    an order of magnitude fewer. n_val: validation images (with meshes, for the error).
    n_scan_views: labelled renders of the registered real head scan (0: none; needs ``scan``).
    scan: the scan's GLB ("auto": ../shared/data/faces/lee_perry_smith_head_scan/LeePerrySmith.glb
    when present). real_dir: real portraits used as unlabelled images ("auto": ../shared/data/faces
    when present; "" none), except the files named in real_holdout (kept for testing);
    real_repeat: jittered crops per real face. occlude / blur / jpeg: chances of each corruption
    of an unlabelled or landmark image. seed: base seed of the renders.
    """

    cache_dir: str = ".cache/face3d"
    render_size: int = 128
    n_landmark: int = 1000
    n_unlabelled: int = 1500
    n_labelled: int = 150
    n_val: int = 64
    n_scan_views: int = 24
    scan: str = "auto"
    real_dir: str = "auto"
    real_holdout: list[str] = field(default_factory=lambda: ["nasa_astronaut_eileen_collins.png", "Pilots.png"])
    real_repeat: int = 8
    occlude: float = 0.3
    blur: float = 0.3
    jpeg: float = 0.3
    batch_size: int = 16
    val_batch_size: int = 32
    seed: int = 0


@dataclass
class Face3DMix:
    """``mix`` (stage 3): ``ratio`` unlabelled per labelled sample ("auto": from the labels'
    quality, :func:`vivid.face3d.ratio.ratio_from_quality` with ``quality_thresholds`` in mm; or
    1, 2, 3); ``dynamic``: raise the labelled share when the SSIM of reconstructions of
    ``n_targets`` validation images falls below ``threshold``, checked every ``adjust_every`` steps."""

    ratio: Literal["auto", 1, 2, 3] = "auto"
    quality_thresholds: list[float] = field(default_factory=lambda: [0.5, 1.5])
    dynamic: bool = True
    threshold: float = 0.8
    adjust_every: int = 100
    n_targets: int = 16


@dataclass
class Face3DLoss:
    """``loss`` weights: photometric (L1), landmark (L2, crop-normalised), vertex (L3, metres),
    normal (L4), label photometric (L5), label landmark (L6), coefficient prior, and for stage 0
    the heatmap cross-entropy and the face/no-face score."""

    photo: float = 1.0
    landmark: float = 100.0
    vertex: float = 300.0
    normal: float = 1.0
    label_photo: float = 1.0
    label_landmark: float = 100.0
    prior: float = 1.0e-3
    heatmap: float = 1.0
    score: float = 0.2
    icp_iters: int = 3


@dataclass
class Face3DOptim:
    """``optim``: Adam; the learning rate decays by cosine over trainer.max_steps."""

    lr: float = 1.0e-3
    weight_decay: float = 0.0


@dataclass
class Face3DConfig(TrainConfig):
    """The whole face3d config."""

    model: str = "face3d_default"
    stage: Literal[0, 1, 2, 3] = 1
    data: Face3DData = field(default_factory=Face3DData)
    mix: Face3DMix = field(default_factory=Face3DMix)
    loss: Face3DLoss = field(default_factory=Face3DLoss)
    optim: Face3DOptim = field(default_factory=Face3DOptim)
