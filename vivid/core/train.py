"""Training harness: PyTorch Lightning glue shared by every trainable task.

A task provides ``vivid/<task>/recipe.py`` with ``build_recipe(cfg) -> Recipe`` and preset
configs in ``vivid/<task>/presets/*.yaml``. This module turns a config into a Lightning
``Trainer`` run (one machine or DDP across processes and nodes), keeps resumable training
state as safetensors, and exports the trained model as a vivid checkpoint
(``<out>/model.safetensors`` + ``model.json``).

Config layout (YAML)::

    model: interp_tiny        # registry name
    model_config: {}          # constructor overrides
    data: {...}               # task-specific
    optim: {lr: 1.0e-3}
    loss: {...}
    trainer: {max_steps: 200, val_check_interval: 50, limit_val_batches: 4, log_every_n_steps: 10}
"""

from __future__ import annotations

import copy
import importlib
import json
import logging
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
import yaml
from lightning_fabric.plugins.io.checkpoint_io import CheckpointIO
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from vivid.core.checkpoints import save_checkpoint
from vivid.core.errors import VividError
from vivid.core.fileio import atomic_write

log = logging.getLogger(__name__)

TRAINABLE_TASKS = ("interp", "pose3d")
STATE_SUFFIX = ".state.safetensors"


@dataclass
class Recipe:
    """What a task hands the harness: a LightningModule holding the plain model as
    ``module.model``, its DataModule, names for the exported checkpoint and the settings it
    carries instead of the trained model's (``export_config``, see :func:`save_checkpoint`)."""

    task: str
    module: pl.LightningModule
    datamodule: pl.LightningDataModule
    model_name: str
    data_description: str = ""
    export_config: dict = field(default_factory=dict)
    data_details: dict = field(default_factory=dict)  # JSON-ready record of the data (e.g. which motions)


# ----------------------------------------------------------------------------- configs


def presets(task: str) -> list[str]:
    """Names of the preset configs shipped for ``task``."""
    _check_task(task)
    folder = resources.files(f"vivid.{task}") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def _check_task(task: str) -> None:
    if task not in TRAINABLE_TASKS:
        raise VividError(f"unknown task {task!r}; trainable tasks: {', '.join(TRAINABLE_TASKS)}")


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"optim.lr=1e-4"`` -> (["optim", "lr"], 1e-4); the value is read as YAML."""
    if "=" not in text:
        raise VividError(f"override {text!r} must look like key.sub=value")
    key, value = text.split("=", 1)
    if not key or any(not part for part in key.split(".")):
        raise VividError(f"override {text!r} has an empty key part")
    try:
        parsed = yaml.safe_load(value) if value else ""
    except yaml.YAMLError as err:
        raise VividError(f"override {text!r}: value is not valid YAML ({err})") from err
    if isinstance(parsed, str):
        # YAML 1.1 reads "1e-4" (no dot) as a string; people mean the number.
        try:
            parsed = float(parsed)
        except ValueError:
            pass
    return key.split("."), parsed


def load_config(task: str, config: str, overrides: list[str] | None = None) -> dict:
    """Read a preset name (``tiny``) or a YAML path, then apply ``key.sub=value`` overrides."""
    _check_task(task)
    path = Path(config)
    if path.suffix in {".yaml", ".yml"} or path.exists():
        if not path.exists():
            raise VividError(f"config file {path} does not exist")
        text = path.read_text()
    else:
        if config not in presets(task):
            raise VividError(f"no preset {config!r} for {task}; presets: {', '.join(presets(task))}, or give a .yaml path")
        text = (resources.files(f"vivid.{task}") / "presets" / f"{config}.yaml").read_text()
    try:
        cfg = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise VividError(f"config {config} is not valid YAML: {err}") from err
    if not isinstance(cfg, dict):
        raise VividError(f"config {config} must be a mapping at the top level")
    cfg = copy.deepcopy(cfg)
    for item in overrides or []:
        keys, value = parse_override(item)
        node = cfg
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise VividError(f"override {item!r}: {k} is not a mapping in the config")
        node[keys[-1]] = value
    return cfg


def build_recipe(task: str, cfg: dict) -> Recipe:
    _check_task(task)
    return importlib.import_module(f"vivid.{task}.recipe").build_recipe(cfg)


# ------------------------------------------------------------------ safetensors training state


def _flatten(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Turn a nested checkpoint into a JSON skeleton; tensors go into ``tensors``."""
    if isinstance(obj, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = obj.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {"__dict__": {k: _flatten(v, tensors) for k, v in obj.items()}}
        return {"__items__": [[_flatten(k, tensors), _flatten(v, tensors)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_flatten(v, tensors) for v in obj]}
    if isinstance(obj, list):
        return [_flatten(v, tensors) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return obj.item()
    raise TypeError(f"cannot store {type(obj).__name__} in a safetensors training state")


def _unflatten(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, list):
        return [_unflatten(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__dict__" in obj:
            return {k: _unflatten(v, tensors) for k, v in obj["__dict__"].items()}
        if "__items__" in obj:
            return {_unflatten(k, tensors): _unflatten(v, tensors) for k, v in obj["__items__"]}
        if "__tuple__" in obj:
            return tuple(_unflatten(v, tensors) for v in obj["__tuple__"])
    return obj


class SafetensorsCheckpointIO(CheckpointIO):
    """Lightning training state (weights, optimiser, loops, callbacks) as one safetensors file.

    Tensors are stored as tensors; everything else as a JSON skeleton in the file's metadata.
    Loading parses JSON and raw tensors only, so resuming never unpickles or runs code.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        tensors: dict[str, torch.Tensor] = {}
        skeleton = _flatten(checkpoint, tensors)
        # safetensors refuses tensors that share memory; each entry gets its own copy.
        tensors = {k: v.clone() for k, v in tensors.items()}
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as tmp:
            save_file(tensors, str(tmp), metadata={"vivid_training_state": json.dumps(skeleton)})

    def load_checkpoint(self, path, map_location: Any | None = None, weights_only: bool | None = None) -> dict[str, Any]:
        from safetensors import safe_open

        path = Path(path)
        if not path.exists():
            raise VividError(f"training state {path} does not exist")
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
            tensors = load_file(str(path), device="cpu")
        except (SafetensorError, OSError) as err:
            raise VividError(f"cannot read training state {path}: {err}") from err
        if "vivid_training_state" not in meta:
            raise VividError(f"{path} is not a vivid training state (use the *{STATE_SUFFIX} file from a run's checkpoints/)")
        return _unflatten(json.loads(meta["vivid_training_state"]), tensors)

    def remove_checkpoint(self, path) -> None:
        Path(path).unlink(missing_ok=True)


# ------------------------------------------------------------------------------- training


def train(
    task: str,
    cfg: dict,
    *,
    out_dir: str | os.PathLike,
    devices: int | str = 1,
    num_nodes: int = 1,
    strategy: str = "auto",
    accelerator: str = "auto",
    precision: str = "32-true",
    max_steps: int | None = None,
    resume: str | os.PathLike | None = None,
    seed: int = 0,
    quiet: bool = False,
    command: str | None = None,
) -> Path | None:
    """Train ``task`` from ``cfg``; return the exported weights path (on rank 0, else None).

    ``<out_dir>`` receives ``logs/`` (CSV + TensorBoard), ``checkpoints/`` (resumable
    ``*.state.safetensors``), ``config.yaml`` and the exported ``model.safetensors`` + ``model.json``.
    """
    from pytorch_lightning.callbacks import ModelCheckpoint
    from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger

    out_dir = Path(out_dir)
    tcfg = dict(cfg.get("trainer", {}))
    ema_decay = tcfg.get("ema_decay", 0.0)
    if not isinstance(ema_decay, (int, float)) or not 0.0 <= ema_decay < 1.0:
        raise VividError(f"trainer.ema_decay must be a number in [0, 1) (0: off), got {ema_decay!r}")
    if resume is not None and not Path(resume).exists():
        raise VividError(f"--resume {resume} does not exist")
    pl.seed_everything(seed, workers=True, verbose=False)
    recipe = build_recipe(task, cfg)  # reports bad settings before anything is written
    out_dir.mkdir(parents=True, exist_ok=True)
    steps = int(max_steps if max_steps is not None else tcfg.get("max_steps", 1000))
    ckpt_cb = ModelCheckpoint(
        dirpath=out_dir / "checkpoints",
        filename="step{step:07d}",
        auto_insert_metric_name=False,
        every_n_train_steps=int(tcfg.get("checkpoint_every_n_steps", max(1, steps // 5))),
        save_top_k=-1 if tcfg.get("keep_all_checkpoints") else 1,
        save_last=True,
    )
    ckpt_cb.FILE_EXTENSION = STATE_SUFFIX
    callbacks = [ckpt_cb]
    if ema_decay > 0:
        # An exponential moving average of the weights; validation, checkpoints and the export use it.
        from pytorch_lightning.callbacks import EMAWeightAveraging

        callbacks.append(EMAWeightAveraging(decay=ema_decay))
    trainer = pl.Trainer(
        accelerator=accelerator,
        devices=devices,
        num_nodes=num_nodes,
        strategy=strategy,
        precision=precision,
        max_steps=steps,
        max_epochs=-1,
        val_check_interval=int(tcfg.get("val_check_interval", max(1, steps // 4))),
        check_val_every_n_epoch=None,
        limit_val_batches=tcfg.get("limit_val_batches", 1.0),
        log_every_n_steps=int(tcfg.get("log_every_n_steps", 10)),
        num_sanity_val_steps=0,
        logger=[CSVLogger(out_dir, name="logs", version=""), TensorBoardLogger(out_dir, name="logs", version="")],
        callbacks=callbacks,
        plugins=[SafetensorsCheckpointIO()],
        default_root_dir=out_dir,
        enable_progress_bar=not quiet,
        enable_model_summary=not quiet,
        use_distributed_sampler=bool(tcfg.get("use_distributed_sampler", True)),
    )
    if trainer.is_global_zero:
        with atomic_write(out_dir / "config.yaml") as tmp:
            tmp.write_text(yaml.safe_dump(cfg, sort_keys=False))
    trainer.fit(recipe.module, datamodule=recipe.datamodule, ckpt_path=str(resume) if resume else None)
    summary = {"rank": trainer.global_rank, "world_size": trainer.world_size, "global_step": trainer.global_step}
    with atomic_write(out_dir / f"finished_rank{trainer.global_rank}.json") as tmp:
        tmp.write_text(json.dumps(summary) + "\n")
    if not trainer.is_global_zero:
        return None
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/") and v.numel() == 1}
    metrics["global_step"] = trainer.global_step
    return save_checkpoint(
        out_dir / "model",
        recipe.module.model,
        task=recipe.task,
        model_name=recipe.model_name,
        command=command,
        data=recipe.data_description,
        metrics=metrics,
        extra={"config": cfg, **({"data_details": recipe.data_details} if recipe.data_details else {})},
        model_config=recipe.export_config,
    )
