"""The typed config of ``vivid train people``: every setting and its default."""

from __future__ import annotations

from dataclasses import dataclass, field

from vivid.core.train_config import TrainConfig


@dataclass
class PeopleData:
    """``data``: synthetic composites (:mod:`vivid.people.data`).

    cache_dir: where the rendered people (and the validation composites) are kept between runs.
    backgrounds: ``auto`` (the shared background photos and HDR panoramas when they are there,
    else procedural), ``procedural``, or a folder of photos (and ``.hdr`` panoramas).
    mocap: ``auto``, ``procedural`` or a BVH folder (:mod:`vivid.synth.mocap_library`).
    n_people / n_people_val: people rendered for training / validation (each used many times);
    render_size: their render's side. n_train: composites per epoch (made on the fly, each index
    its own draw); n_val: validation composites (made once, cached). size: composite side (px).
    max_people: most people in one composite; empty_share: composites with nobody.
    """

    cache_dir: str = ".cache/people"
    backgrounds: str = "auto"
    mocap: str = "auto"
    n_people: int = 600
    n_people_val: int = 80
    render_size: int = 224
    n_train: int = 200000
    n_val: int = 256
    size: int = 320
    max_people: int = 6
    empty_share: float = 0.15
    seed: int = 0
    batch_size: int = 16
    val_batch_size: int = 32
    num_workers: int = 0

    def __post_init__(self) -> None:
        if self.size % 32:
            raise ValueError(f"data.size must be a multiple of 32, got {self.size}")
        if self.n_people < 1 or self.n_people_val < 1:
            raise ValueError("data.n_people and data.n_people_val must be at least 1")
        if not 0.0 <= self.empty_share < 1.0:
            raise ValueError(f"data.empty_share must be in [0, 1), got {self.empty_share}")


@dataclass
class PeopleLoss:
    """``loss``: weights of the size and offset L1 terms (the heatmap focal loss has weight 1)."""

    size_weight: float = 1.0
    offset_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.size_weight < 0 or self.offset_weight < 0:
            raise ValueError("loss weights must not be negative")


@dataclass
class PeopleOptim:
    """``optim``: AdamW; ``warmup_steps`` of linear warm-up, then cosine decay over trainer.max_steps
    down to ``final_lr_share`` of ``lr``."""

    lr: float = 3e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    final_lr_share: float = 0.02


@dataclass
class PeopleConfig(TrainConfig):
    model: str = "people_default"
    data: PeopleData = field(default_factory=PeopleData)
    loss: PeopleLoss = field(default_factory=PeopleLoss)
    optim: PeopleOptim = field(default_factory=PeopleOptim)


CONFIG = PeopleConfig
