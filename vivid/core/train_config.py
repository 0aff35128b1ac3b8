"""Training configs without the training machinery: presets, ``key.sub=value`` overrides and the
typed config classes every task's ``CONFIG`` builds on.

Nothing here imports torch or Lightning, so ``vivid train`` refuses a mistyped key or an unknown
task before any heavy import; :mod:`vivid.core.train` runs the checked config.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from vivid.core.config import config_to_dict, parse_config
from vivid.core.errors import VividError
from vivid.core.tasks import get_task


@dataclass
class TrainerConfig:
    """``trainer:`` settings (Lightning's loop; ``batch_size`` is handed to the task's data config
    when that does not set its own)."""

    max_steps: int = 1000
    val_check_interval: int | None = None  # None: a quarter of max_steps
    limit_val_batches: int | float = 1.0
    log_every_n_steps: int = 10
    batch_size: int | None = None
    checkpoint_every_n_steps: int | None = None  # None: a fifth of max_steps
    keep_all_checkpoints: bool = False
    ema_decay: float = 0.0
    use_distributed_sampler: bool = True

    def __post_init__(self) -> None:
        if self.max_steps < 1:
            raise ValueError(f"trainer.max_steps must be at least 1, got {self.max_steps}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"trainer.ema_decay must be a number in [0, 1) (0: off), got {self.ema_decay!r}")


@dataclass
class ExportConfig:
    """``export:`` settings: ``path`` also receives a checkpoint after every validation;
    ``model_config`` holds settings the exported checkpoints carry instead of the trained model's."""

    path: str | None = None
    model_config: dict = field(default_factory=dict)


@dataclass
class TrainConfig:
    """The keys every task's config has; a task's ``CONFIG`` subclasses it with typed
    ``data``, ``loss`` and ``optim`` (and a default ``model``)."""

    model: str = ""
    model_config: dict = field(default_factory=dict)
    init: str | None = None
    init_modules: list[str] = field(default_factory=list)
    freeze_modules: list[str] = field(default_factory=list)
    data: dict = field(default_factory=dict)
    loss: dict = field(default_factory=dict)
    optim: dict = field(default_factory=dict)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    export: ExportConfig = field(default_factory=ExportConfig)



# ----------------------------------------------------------------------------- configs


def presets(task: str) -> list[str]:
    """Names of the preset configs shipped for ``task``."""
    folder = resources.files(get_task(task, trainable=True).package) / "presets"
    if not folder.is_dir():
        return []
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


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
    """Read a preset name (``tiny``) or a YAML path, then apply ``key.sub=value`` overrides.

    Returns the plain mapping; :func:`parse_task_config` checks it against the task's ``CONFIG``.
    """
    row = get_task(task, trainable=True)
    path = Path(config)
    if path.suffix in {".yaml", ".yml"} or path.exists():
        if not path.exists():
            raise VividError(f"config file {path} does not exist")
        text = path.read_text()
    else:
        if config not in presets(task):
            raise VividError(f"no preset {config!r} for {task}; presets: {', '.join(presets(task))}, or give a .yaml path")
        text = (resources.files(row.package) / "presets" / f"{config}.yaml").read_text()
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


def parse_task_config(task: str, cfg: dict) -> TrainConfig:
    """The mapping ``cfg`` checked against ``task``'s typed ``CONFIG`` (VividError on any unknown
    or mistyped key, naming it and the valid ones)."""
    cls = config_class(task)
    raw = copy.deepcopy(cfg)
    batch = raw.get("trainer", {}).get("batch_size") if isinstance(raw.get("trainer"), dict) else None
    data_cls = get_type_hints(cls)["data"]
    takes_batch = dataclasses.is_dataclass(data_cls) and "batch_size" in {f.name for f in dataclasses.fields(data_cls)}
    if batch is not None and takes_batch and isinstance(raw.setdefault("data", {}), dict):
        raw["data"].setdefault("batch_size", batch)  # the data's own batch_size wins
    return parse_config(cls, raw)


def config_class(task: str) -> type:
    """The task's typed config class: ``CONFIG`` of its ``config_module`` (light: no torch), or of
    its recipe module when the table names no config module."""
    row = get_task(task, trainable=True)
    return importlib.import_module(row.config_module or row.recipe_module).CONFIG


def with_max_steps(cfg: TrainConfig, max_steps: int) -> TrainConfig:
    """``cfg`` with ``trainer.max_steps`` replaced, checked as a config override is (at least 1)."""
    trainer = parse_config(TrainerConfig, {**config_to_dict(cfg.trainer), "max_steps": max_steps}, "trainer")
    return dataclasses.replace(cfg, trainer=trainer)
