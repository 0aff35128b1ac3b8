"""Training recipe for interpolation: config -> (LightningModule, DataModule) for the harness.

Used by ``vivid train interp --config tiny|default|large|path.yaml key.sub=value ...``. The
settings and their defaults are the dataclasses of :mod:`vivid.interp.config`; the harness gives
every task ``init``/``init_modules``, ``freeze_modules`` and ``export``. Here ``stage`` is "full",
or "flow" to pretrain the flow network alone, and ``export.model_config`` may set only the
settings without weights: the flow settings (:class:`vivid.interp.flow_settings.FlowSettings`)
and ``match_brightness``.
"""

from __future__ import annotations

import dataclasses

from vivid.core.errors import VividError
from vivid.core.registry import create_model
from vivid.core.train import Recipe
from vivid.interp.config import InterpConfig
from vivid.interp.data import InterpDataModule
from vivid.interp.flow_settings import FlowSettings
from vivid.interp.module import InterpModule

CONFIG = InterpConfig


def build_recipe(cfg: InterpConfig) -> Recipe:
    """Build the interpolation recipe from its typed config."""
    if cfg.stage == "flow" and "flow" in cfg.freeze_modules:
        raise VividError("freeze_modules: stage 'flow' trains only the flow network; it cannot be frozen")
    export_config = dict(cfg.export.model_config)
    allowed = (*FlowSettings.names(), "match_brightness")
    unknown = [k for k in export_config if k not in allowed]
    if unknown:
        raise VividError(f"export.model_config: {', '.join(unknown)} cannot differ from training (only {', '.join(allowed)} can)")
    if not isinstance(export_config.get("match_brightness", False), bool):
        raise VividError("export.model_config.match_brightness must be true or false")
    try:
        FlowSettings().replace(**{k: v for k, v in export_config.items() if k != "match_brightness"})  # checks the values
    except ValueError as err:
        raise VividError(f"export.model_config: {err}") from err
    model = create_model(cfg.model, **cfg.model_config)
    datamodule = InterpDataModule(cfg.data)
    optim = dataclasses.replace(cfg.optim, max_steps=cfg.optim.max_steps or cfg.trainer.max_steps)
    try:
        module = InterpModule(model, optim=optim, loss=cfg.loss, stage=cfg.stage)
    except ValueError as err:  # a loss setting that does not fit the model
        raise VividError(str(err)) from err
    return Recipe(
        task="interp",
        module=module,
        datamodule=datamodule,
        model_name=cfg.model,
        data_description=datamodule.describe(),
        export_config=export_config,
    )
