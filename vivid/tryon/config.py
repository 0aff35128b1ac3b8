"""The typed config of ``vivid train tryon``: every setting and its default."""

from __future__ import annotations

from dataclasses import dataclass, field

from vivid.core.train import TrainConfig


@dataclass
class TryonData:
    """``data``: synthetic try-on pairs (:class:`vivid.tryon.data.TryonDataModule`).

    cache_dir: where rendered clips are kept (rendered on first use). n_train, n_val: clips of
    ``frames`` frames at ``height`` x ``width``; ``clip_frames`` consecutive frames of a clip per
    sample. categories: garment categories drawn (upper, lower, full). photos: "auto" (the shared
    data folder's ``tryon/clothing_train`` for training and ``clothing_validation`` for validation
    when present), "procedural", or a folder of garment photos (used for both). mocap: "auto",
    "procedural" or a BVH folder (:mod:`vivid.synth.mocap_library`). batch_size: clips per step.
    """

    cache_dir: str = ".cache/tryon"
    n_train: int = 96
    n_val: int = 8
    frames: int = 8
    clip_frames: int = 4
    height: int = 128
    width: int = 96
    categories: tuple[str, ...] = ("upper", "lower", "full")
    photos: str = "auto"
    mocap: str = "auto"
    batch_size: int = 2
    num_workers: int = 0


@dataclass
class TryonOptim:
    """``optim``: Adam (betas 0.5, 0.999) for the generator and preprocessing networks at ``lr``
    and for the discriminator at ``lr_d``; generator gradients clipped to norm ``grad_clip``."""

    lr: float = 1e-3
    lr_d: float = 2e-4
    grad_clip: float = 1.0


@dataclass
class TryonLoss:
    """``loss``: lambda1 ``l1`` over all pixels, lambda2 ``region`` L1 over the try-on region,
    lambda3 ``gan`` (temporal PatchGAN, from step ``gan_start``), lambda4 ``perceptual`` (the
    discriminator's features, or VGG-16 features when ``vgg_weights`` names a state-dict file);
    ``warp`` (warped garment against the garment in the frame), ``parse`` (body-part and garment
    segmentation) and ``flat_mask`` (garment-photo mask) train the preprocessing networks."""

    l1: float = 1.0
    region: float = 1.0
    gan: float = 0.01
    perceptual: float = 0.1
    gan_start: int = 200
    vgg_weights: str | None = None
    warp: float = 1.0
    parse: float = 0.5
    flat_mask: float = 0.2


@dataclass
class TryonConfig(TrainConfig):
    """The whole try-on config (see the dataclasses above)."""

    model: str = "tryon_default"
    data: TryonData = field(default_factory=TryonData)
    loss: TryonLoss = field(default_factory=TryonLoss)
    optim: TryonOptim = field(default_factory=TryonOptim)
