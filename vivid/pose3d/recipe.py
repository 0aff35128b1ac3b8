"""Training recipe for 3D pose: config -> (LightningModule, DataModule) for the harness.

Used by ``vivid train pose3d --config tiny|default|large|path.yaml key.sub=value ...``. The
settings and their defaults are the dataclasses of :mod:`vivid.pose3d.config`; the harness gives
every task ``init``/``init_modules``, ``freeze_modules`` and ``export``.
"""

from __future__ import annotations

import dataclasses

from vivid.core.errors import VividError
from vivid.core.registry import create_model
from vivid.core.train import Recipe
from vivid.pose3d.config import Pose3DConfig
from vivid.pose3d.data import Pose3DDataModule
from vivid.pose3d.module import Pose3DModule
from vivid.synth.mocap_library import describe_mocap

CONFIG = Pose3DConfig


def build_recipe(cfg: Pose3DConfig) -> Recipe:
    """Build the pose3d recipe from its typed config."""
    model = create_model(cfg.model, **cfg.model_config)
    data = cfg.data if cfg.data.size is not None else dataclasses.replace(cfg.data, size=model.input_size)
    if data.size != model.input_size:
        raise VividError(f"data.size {data.size} differs from the model's input size {model.input_size}")
    datamodule = Pose3DDataModule(data)
    module = Pose3DModule(model, loss=cfg.loss, optim=cfg.optim, total_steps=cfg.trainer.max_steps, mix=data.mix)
    motion = describe_mocap(datamodule.mocap)
    source = (
        f"CMU mocap from {motion['folder']} ({len(motion['train'])} train clips, split by whole takes)"
        if motion["source"] == "mocap" else "procedural and static poses (no mocap folder)"
    )  # fmt: skip
    description = (
        f"vivid.synth body renders cropped to {data.size}px: {data.n_train} train (3D-labelled fraction "
        f"{data.three_d_fraction}, {'rest as 2D-only' if data.use_2d else '3D-labelled only'}), {data.n_val} val; "
        f"motion: {source}"
    )
    return Recipe(task="pose3d", module=module, datamodule=datamodule, model_name=cfg.model, data_description=description,
                  data_details={"motion": motion})  # fmt: skip
