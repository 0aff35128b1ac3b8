"""The recipe: typed config -> (LightningModule, DataModule) for ``vivid train bodyvid``."""

from __future__ import annotations

from vivid.core.registry import create_model
from vivid.core.train import Recipe
from vivid.bodyvid.config import BodyVidConfig
from vivid.bodyvid.data import BodyVidDataModule
from vivid.bodyvid.module import BodyVidModule
from vivid.synth.mocap_library import describe_mocap

CONFIG = BodyVidConfig


def build_recipe(cfg: BodyVidConfig) -> Recipe:
    model = create_model(cfg.model, **cfg.model_config)
    datamodule = BodyVidDataModule(cfg.data, size=model.input_size, seq_len=model.seq_len)
    module = BodyVidModule(model, loss=cfg.loss, optim=cfg.optim, total_steps=cfg.trainer.max_steps)
    motion = describe_mocap(datamodule.mocap)
    source = (f"CMU mocap from {motion['folder']} ({len(motion['train'])} train clips, split by whole takes) and procedural"
              if motion["source"] == "mocap" else "procedural motion (no mocap folder)")  # fmt: skip
    d = cfg.data
    description = (
        f"vivid.synth video clips: {d.n_train} train and {d.n_val} val clips of {d.clip_frames} frames rendered at "
        f"{d.render_size}px, cropped per frame around the person to {model.input_size}px; sequences of {model.seq_len}; "
        f"motion: {source}"
    )
    return Recipe(task="bodyvid", module=module, datamodule=datamodule, model_name=cfg.model,
                  data_description=description, data_details={"motion": motion})  # fmt: skip
