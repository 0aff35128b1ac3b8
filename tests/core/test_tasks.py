"""The task table: every row's modules import, its presets train and export, its demo runs; a new
task folder plus one row appears in ``vivid --help``, ``vivid train``, ``vivid models`` and
``vivid demo`` (shown with the template folder of docs/task_template)."""

from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vivid.core import tasks as task_table
from vivid.core.checkpoints import load_checkpoint
from vivid.core.registry import list_models
from vivid.core.report import Report
from vivid.core.tasks import TASKS, Task

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "docs" / "task_template"
ROWS = {t.name: t for t in TASKS}


@pytest.mark.parametrize("name", sorted(ROWS))
def test_each_row_names_modules_that_import(name):
    row = ROWS[name]
    for module in (row.model_module, row.recipe_module, row.cli_module, row.demo_module):
        if module:
            importlib.import_module(module)
    if row.benchmark:
        assert (REPO / row.benchmark).is_file()
    if row.model_module:
        assert list_models(name), f"{name} registers no model"
    if row.trainable:
        from vivid.core.train import presets

        recipe = importlib.import_module(row.recipe_module)
        assert callable(recipe.build_recipe) and hasattr(recipe, "CONFIG")
        assert {"tiny", "default"} <= set(presets(name))


@pytest.mark.parametrize("name", sorted(t.name for t in TASKS if t.trainable))
def test_each_trainable_task_trains_its_tiny_preset_and_exports(name, tmp_path):
    from vivid.cli import make_app

    out = tmp_path / "run"
    overrides = ["trainer.max_steps=2"]
    if _data_has(name, "cache_dir"):  # keep renders out of the repository
        overrides.append(f"data.cache_dir={tmp_path / 'cache'}")
    result = CliRunner().invoke(make_app(), ["train", name, "--config", "tiny", "-o", str(out), "-q", *overrides])
    assert result.exit_code == 0, result.output
    model, meta = load_checkpoint(out / "model.safetensors", task=name)
    assert meta["task"] == name and meta["metrics"]["global_step"] == 2


@pytest.mark.parametrize("name", sorted(t.name for t in TASKS if t.demo_module))
def test_each_demo_section_runs_quick(name, tmp_path):
    module = importlib.import_module(ROWS[name].demo_module)
    report = Report("demo")
    module.run_demo(tmp_path, report, device="cpu", quick=True)
    assert report.sections and report.sections[-1].items, f"{name}'s demo added nothing"


def _data_has(name, key):
    import dataclasses
    from typing import get_type_hints

    data = get_type_hints(importlib.import_module(ROWS[name].recipe_module).CONFIG)["data"]
    return key in {f.name for f in dataclasses.fields(data)}


@pytest.fixture
def dummy_task(tmp_path, monkeypatch):
    """The template folder copied as package ``dummytask`` (task ``dummy``) and one table row."""
    package = tmp_path / "pkgs" / "dummytask"
    shutil.copytree(TEMPLATE, package)
    for path in package.rglob("*.py"):
        path.write_text(path.read_text().replace("mytask", "dummy"))
    for path in package.rglob("*.yaml"):
        path.write_text(path.read_text().replace("mytask", "dummy"))
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    row = Task(
        "dummy", "a task made from the template", "dummytask", model_module="dummytask.model",
        recipe_module="dummytask.recipe", cli_module="dummytask.cli", demo_module="dummytask.demo",
    )  # fmt: skip
    monkeypatch.setattr(task_table, "TASKS", [*TASKS, row])
    yield row
    for mod in [m for m in sys.modules if m == "dummytask" or m.startswith("dummytask.")]:
        del sys.modules[mod]


def test_a_new_folder_and_one_row_make_a_task(dummy_task, tmp_path):
    from vivid.cli import make_app

    app = make_app(task_table.TASKS)
    runner = CliRunner()
    help_text = runner.invoke(app, ["--help"]).output
    assert "dummy: a task made from the template" in help_text and "dummy" in runner.invoke(app, ["dummy", "--help"]).output

    result = runner.invoke(app, ["train", "dummy", "--config", "tiny", "-o", str(tmp_path / "run"), "-q"])
    assert result.exit_code == 0, result.output
    weights = tmp_path / "run" / "model.safetensors"
    model, meta = load_checkpoint(weights, task="dummy")
    assert meta["model_name"] == "dummy_tiny" and meta["metrics"]["global_step"] == 4

    import numpy as np

    from vivid.core.fileio import write_image

    image = tmp_path / "grey.png"
    write_image(image, np.full((8, 8, 3), 128, np.uint8))
    applied = runner.invoke(app, ["dummy", str(image), "--model", str(weights)])
    assert applied.exit_code == 0 and len(applied.output.split()) == 3, applied.output

    models = runner.invoke(app, ["models"])
    assert models.exit_code == 0 and "dummy_tiny" in models.output

    demo = runner.invoke(app, ["demo", "-o", str(tmp_path / "demo"), "--only", "dummy", "-q"])
    assert demo.exit_code == 0, demo.output
    assert "dummy" in (tmp_path / "demo" / "report.html").read_text()

    typo = runner.invoke(app, ["train", "dummy", "--config", "tiny", "-o", str(tmp_path / "typo"), "optim.lrr=0.1"])
    assert typo.exit_code == 2 and "unknown key optim.lrr; valid keys of optim: lr" in typo.output
    assert not (tmp_path / "typo").exists()
