"""Training harness: PyTorch Lightning glue shared by every trainable task.

A trainable task (a row of :data:`vivid.core.tasks.TASKS` with a ``recipe_module``) provides
``CONFIG``, its typed config class (a :class:`TrainConfig` subclass whose ``data``, ``loss`` and
``optim`` are the task's dataclasses), ``build_recipe(cfg: CONFIG) -> Recipe`` and preset configs
in ``<package>/presets/*.yaml``. This module checks a config against ``CONFIG`` before anything is
built or written, turns it into a Lightning ``Trainer`` run (one machine or DDP across processes
and nodes), keeps resumable training state as safetensors, and exports the trained model as a
vivid checkpoint (``<out>/model.safetensors`` + ``model.json``).

Features every task gets from here, with no code of its own:

- ``init``: start from a checkpoint's weights (a bundled name or a ``.safetensors`` path);
  ``init_modules`` limits that to some submodules (e.g. ``[flow]``), the rest start fresh;
- ``freeze_modules``: submodules whose weights stay fixed;
- ``export.path``: also write a vivid checkpoint there after every validation;
  ``export.model_config``: settings without weights that the exported checkpoints carry instead
  of the training ones (the task may limit which);
- ``trainer.ema_decay``: an exponential moving average of the weights for validation, state and export.

Config layout (YAML)::

    model: interp_tiny        # registry name
    model_config: {}          # constructor overrides
    init: null                # or a checkpoint; init_modules: [...]; freeze_modules: [...]
    data: {...}               # task-specific
    optim: {lr: 1.0e-3}
    loss: {...}
    trainer: {max_steps: 200, val_check_interval: 50, limit_val_batches: 4, log_every_n_steps: 10}
    export: {path: null, model_config: {}}
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
import yaml
from lightning_fabric.plugins.io.checkpoint_io import CheckpointIO
from lightning_fabric.utilities.exceptions import MisconfigurationException
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from vivid.core.checkpoints import save_checkpoint
from vivid.core.config import config_to_dict
from vivid.core.errors import VividError
from vivid.core.fileio import atomic_write
from vivid.core.tasks import get_task
from vivid.core.train_config import (  # noqa: F401 (the configs' home; re-exported for callers)
    ExportConfig,
    TrainConfig,
    TrainerConfig,
    load_config,
    parse_override,
    parse_task_config,
    presets,
    with_max_steps,
)

log = logging.getLogger(__name__)

STATE_SUFFIX = ".state.safetensors"
PRECISIONS = ("32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true", "64-true", "32", "16", "bf16", "64")


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


def build_recipe(task: str, cfg: dict | TrainConfig) -> Recipe:
    """The task's recipe from a config (a mapping is checked first), with the harness's features
    applied to its model: ``init``/``init_modules`` and ``freeze_modules``."""
    typed = cfg if isinstance(cfg, TrainConfig) else parse_task_config(task, cfg)
    recipe = load_task_module(get_task(task, trainable=True).recipe_module).build_recipe(typed)
    model = recipe.module.model
    if typed.init:
        # init_modules alone changes nothing (a preset may name them and leave init to the command line).
        init_weights(model, typed.init, task=task, model_name=recipe.model_name, only=typed.init_modules)
    freeze(model, typed.freeze_modules, model_name=recipe.model_name)
    if not recipe.export_config:
        recipe.export_config = dict(typed.export.model_config)
    return recipe


def init_weights(model: torch.nn.Module, source: str, *, task: str, model_name: str, only: list[str]) -> None:
    """Load a checkpoint's weights into ``model`` (all, or only the submodules ``only``).

    Settings without weights of their own may differ from the checkpoint's, and the configured
    model may add modules, which start fresh (logged).
    """
    from vivid.core.checkpoints import load_checkpoint

    init, meta = load_checkpoint(source, task=task)
    theirs, ours = init.state_dict(), model.state_dict()
    if only:
        unknown = [m for m in only if not any(k.startswith(f"{m}.") for k in theirs)]
        if unknown:
            raise VividError(f"init_modules: {', '.join(unknown)} not in the init checkpoint {source}")
        theirs = {k: v for k, v in theirs.items() if any(k.startswith(f"{m}.") for m in only)}
    if meta["model_name"] != model_name or any(k not in ours or ours[k].shape != v.shape for k, v in theirs.items()):
        raise VividError(f"init checkpoint {source} ({meta['model_name']}) does not have the weights of {model_name} as configured")
    added = [m for m, sub in model.named_modules() if m and sub.state_dict() and all(f"{m}.{k}" not in theirs for k in sub.state_dict())]
    added = [m for m in added if not any(m.startswith(f"{a}.") for a in added)]
    if added:
        log.warning("init: %s not taken from %s; they start fresh", ", ".join(added), source)
    model.load_state_dict(theirs, strict=False)


def freeze(model: torch.nn.Module, names: list[str], *, model_name: str) -> None:
    """Turn off gradients of the named direct submodules of ``model``."""
    children = dict(model.named_children())
    unknown = [m for m in names if m not in children]
    if unknown:
        raise VividError(f"freeze_modules: {', '.join(unknown)} not a module of {model_name} (it has {', '.join(children)})")
    for m in names:
        children[m].requires_grad_(False)


def load_task_module(name: str):
    return importlib.import_module(name)


# ------------------------------------------------------------------ safetensors training state


def _flatten(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Turn a nested checkpoint into a JSON skeleton; tensors go into ``tensors``."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):  # typed settings in the hyperparameters
        return _flatten(config_to_dict(obj), tensors)
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


def _state_skeleton(path: Path) -> Any:
    """The JSON skeleton of a training state file (read from its header; no tensors are loaded)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError) as err:
        raise VividError(f"cannot read training state {path}: {err}") from err
    if "vivid_training_state" not in meta:
        raise VividError(f"{path} is not a vivid training state (use the *{STATE_SUFFIX} file from a run's checkpoints/)")
    return json.loads(meta["vivid_training_state"])


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
        path = Path(path)
        if not path.exists():
            raise VividError(f"training state {path} does not exist")
        skeleton = _state_skeleton(path)
        try:
            tensors = load_file(str(path), device="cpu")
        except (SafetensorError, OSError) as err:
            raise VividError(f"cannot read training state {path}: {err}") from err
        return _unflatten(skeleton, tensors)

    def remove_checkpoint(self, path) -> None:
        Path(path).unlink(missing_ok=True)


# ------------------------------------------------------------------------------- options


def check_trainer_options(
    *, devices: int | str, num_nodes: int, strategy: str, accelerator: str, precision: str
) -> int | str:
    """The Lightning options of :func:`train`, checked before anything is built or written
    (VividError naming the option); returns ``devices`` as Lightning takes it (a count, -1,
    ``"auto"`` or a string of GPU indices such as ``"0,1"``)."""
    from pytorch_lightning.accelerators import AcceleratorRegistry
    from pytorch_lightning.strategies import StrategyRegistry

    text = str(devices).strip()
    if text == "-1" or (text.isdigit() and int(text) >= 1):
        devices = int(text)
    elif text == "auto" or ("," in text and all(p.strip().isdigit() for p in text.split(",") if p.strip())):
        devices = text
    else:
        raise VividError(f"--devices {text!r} must be a number of devices (at least 1), -1 (all), auto or GPU indices like 0,1")
    if isinstance(num_nodes, bool) or not isinstance(num_nodes, int) or num_nodes < 1:
        raise VividError(f"--num-nodes must be a number of machines (at least 1), got {num_nodes!r}")
    accelerators = ["auto", "gpu", *sorted(AcceleratorRegistry.available_accelerators())]
    if accelerator not in accelerators:
        raise VividError(f"--accelerator {accelerator!r} is not one of {', '.join(accelerators)}")
    if strategy != "auto" and strategy not in StrategyRegistry.available_strategies():
        raise VividError(f"--strategy {strategy!r} is not a Lightning strategy; use auto, ddp, ddp_spawn, fsdp, deepspeed, ...")
    if str(precision) not in PRECISIONS:
        raise VividError(f"--precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    return devices


def check_resume(path: str | os.PathLike) -> None:
    """A ``--resume`` file that exists and is a vivid training state (its header only is read)."""
    if not Path(path).exists():
        raise VividError(f"--resume {path} does not exist")
    _state_skeleton(Path(path))


# ------------------------------------------------------------------------------- training


def train(
    task: str,
    cfg: dict | TrainConfig,
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
    typed = cfg if isinstance(cfg, TrainConfig) else parse_task_config(task, cfg)
    if max_steps is not None:
        typed = with_max_steps(typed, max_steps)
    tcfg = typed.trainer
    devices = check_trainer_options(
        devices=devices, num_nodes=num_nodes, strategy=strategy, accelerator=accelerator, precision=precision
    )
    if resume is not None:
        check_resume(resume)
    pl.seed_everything(seed, workers=True, verbose=False)
    recipe = build_recipe(task, typed)  # reports bad settings before anything is written
    steps = tcfg.max_steps
    ckpt_cb = ModelCheckpoint(
        dirpath=out_dir / "checkpoints",
        filename="step{step:07d}",
        auto_insert_metric_name=False,
        every_n_train_steps=tcfg.checkpoint_every_n_steps or max(1, steps // 5),
        save_top_k=-1 if tcfg.keep_all_checkpoints else 1,
        save_last=True,
    )
    ckpt_cb.FILE_EXTENSION = STATE_SUFFIX
    callbacks = [ckpt_cb]
    if typed.export.path:
        # Before the weight average's callback: its validation weights are the ones exported.
        callbacks.append(ExportAfterValidation(typed.export.path, recipe, command=command))
    if tcfg.ema_decay > 0:
        # An exponential moving average of the weights; validation, checkpoints and the export use it.
        from pytorch_lightning.callbacks import EMAWeightAveraging

        callbacks.append(EMAWeightAveraging(decay=tcfg.ema_decay))
    with _quiet_lightning(quiet):
        try:  # before the folder is made: Lightning refuses options that this machine cannot run
            trainer = pl.Trainer(
                accelerator=accelerator,
                devices=devices,
                num_nodes=num_nodes,
                strategy=strategy,
                precision=precision,
                max_steps=steps,
                max_epochs=-1,
                val_check_interval=tcfg.val_check_interval or max(1, steps // 4),
                check_val_every_n_epoch=None,
                limit_val_batches=tcfg.limit_val_batches,
                log_every_n_steps=tcfg.log_every_n_steps,
                num_sanity_val_steps=0,
                logger=[CSVLogger(out_dir, name="logs", version=""), TensorBoardLogger(out_dir, name="logs", version="")],
                callbacks=callbacks,
                plugins=[SafetensorsCheckpointIO()],
                default_root_dir=out_dir,
                enable_progress_bar=not quiet,
                enable_model_summary=not quiet,
                use_distributed_sampler=tcfg.use_distributed_sampler,
            )
        except (MisconfigurationException, ValueError) as err:
            asked = f"--accelerator {accelerator} --devices {devices} --num-nodes {num_nodes} --strategy {strategy}"
            asked += f" --precision {precision}"
            raise VividError(f"{asked}: {str(err).strip().splitlines()[0]}") from err
        out_dir.mkdir(parents=True, exist_ok=True)
        if trainer.is_global_zero:
            with atomic_write(out_dir / "config.yaml") as tmp:
                tmp.write_text(yaml.safe_dump(config_to_dict(typed), sort_keys=False))
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
        extra={"config": config_to_dict(typed), **({"data_details": recipe.data_details} if recipe.data_details else {})},
        model_config=recipe.export_config,
    )


@contextlib.contextmanager
def _quiet_lightning(quiet: bool):
    """With ``quiet``, Lightning's info lines and warnings are silenced for the run (errors still show)."""
    if not quiet:
        yield
        return
    loggers = [logging.getLogger(n) for n in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


class ExportAfterValidation(pl.Callback):
    """Writes a vivid checkpoint of the model after every validation (``export.path``)."""

    def __init__(self, path: str | os.PathLike, recipe: Recipe, *, command: str | None = None) -> None:
        self.path, self.recipe, self.command = Path(path), recipe, command

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero or trainer.sanity_checking:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/") and v.numel() == 1}
        metrics["global_step"] = int(trainer.global_step)
        save_checkpoint(
            self.path,
            pl_module.model,
            task=self.recipe.task,
            model_name=self.recipe.model_name,
            command=self.command,
            data=self.recipe.data_description,
            metrics=metrics,
            extra={"note": "periodic export during training"},
            model_config=self.recipe.export_config,
        )
        log.info("exported %s at step %d", self.path, trainer.global_step)
