"""Training recipe for 3D pose: config -> (LightningModule, DataModule) for the harness.

Used by ``vivid train pose3d --config tiny|default|large|path.yaml key.sub=value ...``.

Config keys: ``model``/``model_config`` (registry), ``data`` (:class:`Pose3DDataModule` arguments;
``size`` defaults to the model's input size), ``optim`` (lr, weight_decay, warmup_steps),
``loss`` (lambda_hm, lambda_geo, lambda_reg, lambda_2d, geo_mode, sigma, pretrain_steps,
alternate_2d_per_3d) and ``trainer`` (max_steps, batch_size, ...).
"""

from __future__ import annotations

from vivid.core.errors import VividError
from vivid.core.registry import create_model
from vivid.core.train import Recipe
from vivid.pose3d.data import Pose3DDataModule
from vivid.pose3d.module import Pose3DModule
from vivid.synth.mocap_library import describe_mocap

DATA_KEYS = {"cache_dir", "size", "n_train", "n_val", "three_d_fraction", "use_2d", "label_seed", "batch_size",
             "ratio_2d", "mix", "val_batch_size", "flip", "num_workers", "mocap"}  # fmt: skip
LOSS_KEYS = {"lambda_hm", "lambda_geo", "lambda_reg", "lambda_2d", "geo_mode", "sigma", "pretrain_steps", "alternate_2d_per_3d"}
OPTIM_KEYS = {"lr", "weight_decay", "warmup_steps"}


def _check(section: dict, allowed: set, name: str) -> dict:
    unknown = set(section) - allowed
    if unknown:
        raise VividError(f"unknown {name} key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(allowed))}")
    return section


def build_recipe(cfg: dict) -> Recipe:
    """Build the pose3d recipe from a preset-style config dict."""
    name = cfg.get("model", "pose3d_default")
    model = create_model(name, **dict(cfg.get("model_config") or {}))
    trainer = dict(cfg.get("trainer", {}))
    data = _check(dict(cfg.get("data") or {}), DATA_KEYS, "data")
    data.setdefault("size", model.input_size)
    if data["size"] != model.input_size:
        raise VividError(f"data.size {data['size']} differs from the model's input size {model.input_size}")
    if "batch_size" in trainer:
        data.setdefault("batch_size", trainer["batch_size"])
    loss = _check(dict(cfg.get("loss") or {}), LOSS_KEYS, "loss")
    optim = _check(dict(cfg.get("optim") or {}), OPTIM_KEYS, "optim")
    datamodule = Pose3DDataModule(**data)
    module = Pose3DModule(model, total_steps=int(trainer.get("max_steps", 1000)), mix=data.get("mix", "mix"), **optim, **loss)
    c = datamodule.cfg
    motion = describe_mocap(datamodule.mocap)
    source = (
        f"CMU mocap from {motion['folder']} ({len(motion['train'])} train clips, split by whole takes)"
        if motion["source"] == "mocap" else "procedural and static poses (no mocap folder)"
    )  # fmt: skip
    description = (
        f"vivid.synth body renders cropped to {c['size']}px: {c['n_train']} train (3D-labelled fraction "
        f"{c['three_d_fraction']}, {'rest as 2D-only' if c['use_2d'] else '3D-labelled only'}), {c['n_val']} val; "
        f"motion: {source}"
    )
    return Recipe(task="pose3d", module=module, datamodule=datamodule, model_name=name, data_description=description,
                  data_details={"motion": motion})  # fmt: skip
