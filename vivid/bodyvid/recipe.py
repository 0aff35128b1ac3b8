"""The recipe: typed config -> (LightningModule, DataModule) for ``vivid train bodyvid``."""

from __future__ import annotations

from vivid.core.registry import create_model
from vivid.core.train import Recipe
from vivid.bodyvid.config import BodyVidConfig
from vivid.bodyvid.data import BodyVidDataModule
from vivid.bodyvid.module import BodyVidModule
from vivid.synth.mocap_library import describe_mocap

CONFIG = BodyVidConfig


def _sha256(path) -> str:
    import hashlib

    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def build_recipe(cfg: BodyVidConfig) -> Recipe:
    model = create_model(cfg.model, **cfg.model_config)
    details = {}
    if cfg.backbone_init:
        from vivid.bodyvid.model import init_backbone_from_pose3d
        from vivid.core.checkpoints import _resolve

        meta = init_backbone_from_pose3d(model, cfg.backbone_init)
        details["backbone_init"] = {"checkpoint": cfg.backbone_init, "sha256": _sha256(_resolve(cfg.backbone_init)),
                                    "model_name": meta["model_name"], "metrics": meta.get("metrics", {})}  # fmt: skip
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
                  data_description=description, data_details={"motion": motion, **details})  # fmt: skip
