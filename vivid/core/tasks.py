"""The task table: every capability of vivid in one list.

A task is a folder (``vivid/<task>/``, see ``docs/adding_a_task.md``) plus one row here. The
registry (models), the training harness (recipes and presets), the ``vivid`` command (its
subcommands, ``vivid train``, ``vivid models``, ``vivid demo``) and ``make bench`` read this table;
nothing else lists the tasks. Module paths are strings so that reading the table imports nothing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from vivid.core.errors import VividError


@dataclass(frozen=True)
class Task:
    """One capability.

    Attributes:
        name: the task's name (``vivid train NAME``, checkpoint sidecars' ``task``).
        summary: one line for ``vivid --help``.
        package: the Python package holding the task's folder (its ``presets/*.yaml``).
        model_module: module that registers the task's model variants (``@register_model``), or None.
        recipe_module: module with ``build_recipe(cfg)`` (and ``CONFIG``, the typed config
            class, unless ``config_module`` holds it), or None for a task that does not train.
        cli_module: module with ``register(app)`` adding the task's commands, or None.
        demo_module: module with ``run_demo(out_dir, report, *, device, quick)``, or None.
        benchmark: benchmark script relative to the repository root, or None.
        config_module: module with ``CONFIG`` that imports no torch, so that ``vivid train`` checks
            a config before any heavy import (default: the recipe module).
    """

    name: str
    summary: str
    package: str
    model_module: str | None = None
    recipe_module: str | None = None
    cli_module: str | None = None
    demo_module: str | None = None
    benchmark: str | None = None
    config_module: str | None = None

    @property
    def trainable(self) -> bool:
        return self.recipe_module is not None


TASKS: list[Task] = [
    Task(
        "interp", "frame interpolation, stutter repair and frame-rate up-conversion", "vivid.interp",
        model_module="vivid.interp.model", recipe_module="vivid.interp.recipe", cli_module="vivid.interp.cli",
        demo_module="vivid.interp.demo", benchmark="benchmarks/interp.py", config_module="vivid.interp.config",
    ),
    Task(
        "synth", "synthetic people, clips, try-on pairs and faces with every label", "vivid.synth",
        cli_module="vivid.synth.cli", demo_module="vivid.synth.demo", benchmark="benchmarks/synth.py",
    ),
    Task(
        "pose3d", "3D human pose from one image, joint angles and coaching", "vivid.pose3d",
        model_module="vivid.pose3d.model", recipe_module="vivid.pose3d.recipe", cli_module="vivid.pose3d.cli",
        demo_module="vivid.pose3d.demo", benchmark="benchmarks/pose3d.py", config_module="vivid.pose3d.config",
    ),
    Task(
        "people", "finds the people in images and video", "vivid.people",
        model_module="vivid.people.model", recipe_module="vivid.people.recipe", cli_module="vivid.people.cli",
        demo_module="vivid.people.demo", benchmark="benchmarks/people.py", config_module="vivid.people.config",
    ),
    Task(
        "bodyvid", "smooth 3D body meshes from video, with glTF/BVH export (vivid body)", "vivid.bodyvid",
        model_module="vivid.bodyvid.model", recipe_module="vivid.bodyvid.recipe", cli_module="vivid.bodyvid.cli",
        demo_module="vivid.bodyvid.demo", benchmark="benchmarks/bodyvid.py",
    ),
    Task(
        "tryon", "video virtual try-on: a person video and a garment photo in, a try-on video out", "vivid.tryon",
        model_module="vivid.tryon.model", recipe_module="vivid.tryon.recipe", cli_module="vivid.tryon.cli",
        demo_module="vivid.tryon.demo", benchmark="benchmarks/tryon.py",
    ),
    Task(
        "face3d", "3D face mesh, pose, lighting and ARKit-52 expressions from one image", "vivid.face3d",
        model_module="vivid.face3d.model", recipe_module="vivid.face3d.recipe", cli_module="vivid.face3d.cli",
        demo_module="vivid.face3d.demo", benchmark="benchmarks/face3d.py",
    ),
]  # fmt: skip


def get_task(name: str, *, trainable: bool = False) -> Task:
    """The table row ``name``; VividError naming the known tasks otherwise."""
    rows = [t for t in TASKS if t.trainable or not trainable]
    for task in rows:
        if task.name == name:
            return task
    kind = "trainable tasks" if trainable else "tasks"
    raise VividError(f"unknown task {name!r}; {kind}: {', '.join(t.name for t in rows)}")


def load(module: str) -> ModuleType:
    """Import one of a task's modules."""
    return importlib.import_module(module)


def task_names(*, trainable: bool = False) -> list[str]:
    return [t.name for t in TASKS if t.trainable or not trainable]
