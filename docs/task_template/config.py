"""The typed config of ``vivid train mytask``: every setting and its default."""

from __future__ import annotations

from dataclasses import dataclass, field

from vivid.core.train_config import TrainConfig


@dataclass
class MyData:
    """``data``: ``n_train`` / ``n_val`` random images of ``size`` pixels, ``batch_size`` per step."""

    n_train: int = 64
    n_val: int = 8
    size: int = 16
    batch_size: int = 8


@dataclass
class MyLoss:
    weight: float = 1.0


@dataclass
class MyOptim:
    lr: float = 1e-2


@dataclass
class MyConfig(TrainConfig):
    model: str = "mytask_tiny"
    data: MyData = field(default_factory=MyData)
    loss: MyLoss = field(default_factory=MyLoss)
    optim: MyOptim = field(default_factory=MyOptim)
