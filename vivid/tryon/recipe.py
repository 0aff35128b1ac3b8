"""The recipe: typed config -> (LightningModule, DataModule) for the harness (``vivid train tryon``)."""

from __future__ import annotations

from vivid.core.errors import VividError
from vivid.core.registry import create_model
from vivid.core.train import Recipe

from .config import TryonConfig
from .data import TryonDataModule
from .module import TryonModule

CONFIG = TryonConfig


def build_recipe(cfg: TryonConfig) -> Recipe:
    model = create_model(cfg.model, **cfg.model_config)
    try:
        model.check_size(cfg.data.height, cfg.data.width)
    except ValueError as err:
        raise VividError(f"data.height x data.width: {err} (use multiples of 32, e.g. 128x96 or 256x192)") from err
    data = TryonDataModule(cfg.data)
    d = cfg.data
    return Recipe(
        task="tryon",
        module=TryonModule(model, loss=cfg.loss, optim=cfg.optim),
        datamodule=data,
        model_name=cfg.model,
        data_description=(f"{d.n_train} synthetic try-on clips of {d.frames} frames at {d.height}x{d.width} "
                          f"({', '.join(d.categories)} garments; photos {d.photos}; motion {data.motion_tag()})"),
        data_details=data.describe(),
    )
