"""The recipe: typed config -> (LightningModule, DataModule) for ``vivid train people``."""

from __future__ import annotations

import dataclasses

from vivid.core.errors import VividError
from vivid.core.registry import create_model
from vivid.core.train import Recipe
from vivid.people.config import PeopleConfig
from vivid.people.data import PeopleDataModule
from vivid.people.module import PeopleModule

CONFIG = PeopleConfig


def build_recipe(cfg: PeopleConfig) -> Recipe:
    model = create_model(cfg.model, **cfg.model_config)
    if cfg.data.size % 32:
        raise VividError(f"data.size {cfg.data.size} must be a multiple of 32")
    datamodule = PeopleDataModule(cfg.data)
    return Recipe(
        task="people",
        module=PeopleModule(model, loss=cfg.loss, optim=cfg.optim, total_steps=cfg.trainer.max_steps),
        datamodule=datamodule,
        model_name=cfg.model,
        data_description=datamodule.describe(),
        data_details={"data": dataclasses.asdict(cfg.data)},
    )
