"""The recipe: typed config -> (LightningModule, DataModule) for the harness (``vivid train mytask``)."""

from __future__ import annotations

from vivid.core.registry import create_model
from vivid.core.train import Recipe

from .config import MyConfig
from .data import MyDataModule
from .module import MyModule

CONFIG = MyConfig


def build_recipe(cfg: MyConfig) -> Recipe:
    model = create_model(cfg.model, **cfg.model_config)
    return Recipe(
        task="mytask",
        module=MyModule(model, loss=cfg.loss, optim=cfg.optim),
        datamodule=MyDataModule(cfg.data),
        model_name=cfg.model,
        data_description=f"{cfg.data.n_train} random {cfg.data.size}px images",
    )
