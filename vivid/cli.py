"""The ``vivid`` command: one entry point, one subcommand per tool.

Every task of the task table (:data:`vivid.core.tasks.TASKS`) adds its commands through its
``cli_module``'s ``register(app)`` and its demo section through ``demo_module``'s ``run_demo``;
``vivid train`` and ``vivid models`` read the same table. User errors (``VividError``) end with
one line on stderr and exit status 2; ``--debug`` shows the traceback instead. Ctrl-C and
SIGTERM end a command with one line (exit status 130 and 143), temporary files removed.
"""

from __future__ import annotations

import importlib
import logging
import shlex
import sys
import time
from pathlib import Path
from typing import Optional

import typer
from typer.core import TyperGroup, TyperOption

import vivid
from vivid.core.errors import VividError
from vivid.core.tasks import TASKS, Task


def _flags_without_type(option_class=TyperOption) -> None:
    """Help shows no ``<bool>`` beside flags that take no value (typer prints the annotation's
    type for every option, flags included)."""
    shown = option_class.display_type_rich
    if getattr(shown, "vivid_flags", False):
        return

    def display_type_rich(self, ctx):
        return None if self.is_flag else shown(self, ctx)

    display_type_rich.vivid_flags = True
    option_class.display_type_rich = display_type_rich


_flags_without_type()


class _Group(TyperGroup):
    """Turns user errors into one line on stderr and a non-zero exit; SIGTERM ends a command
    like Ctrl-C (temporary files removed), with the exit status a shell gives it (143)."""

    def invoke(self, ctx):
        from vivid.core.cli_utils import Terminated, terminate_as_interrupt

        try:
            with terminate_as_interrupt():
                return super().invoke(ctx)
        except VividError as err:
            if ctx.meta.get("vivid.debug"):
                raise
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None
        except Terminated:
            typer.echo("terminated; outputs under their final names are complete or absent", err=True)
            raise typer.Exit(143) from None
        except KeyboardInterrupt:
            typer.echo("interrupted; outputs under their final names are complete or absent", err=True)
            raise typer.Exit(130) from None


def make_app(tasks: list[Task] | None = None) -> typer.Typer:
    """The ``vivid`` command for the rows of ``tasks`` (default: the task table)."""
    tasks = TASKS if tasks is None else tasks
    app = typer.Typer(
        name="vivid",
        cls=_Group,
        help="vivid: human-centric video and 3D models.\n\n" + "\n\n".join(f"{t.name}: {t.summary}" for t in tasks),
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_main)
    app.command("models")(_models_command(tasks))
    app.command("train")(_train_command(tasks))
    app.command("demo")(_demo_command(tasks))
    for task in tasks:
        module = _optional_import(task.cli_module) if task.cli_module else None
        if module is not None:
            module.register(app)
    return app


def _version(value: bool) -> None:
    if value:
        typer.echo(f"vivid {vivid.__version__}")
        raise typer.Exit()


def _main(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks for errors."),
) -> None:
    ctx.meta["vivid.debug"] = debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def short_metrics(metrics: dict, limit: int = 4) -> str:
    """A checkpoint's recorded metrics as one short readable string: the validation scores first
    (losses and baseline scores left out), then the training step; nested groups by their name."""
    parts = []
    for key, value in metrics.items():
        if isinstance(value, dict):
            inner = [f"{k} {v:.4g}" for k, v in value.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
            parts.append(f"{key}: " + ", ".join(inner[:limit]))
        elif isinstance(value, (int, float)) and key.startswith("val/") and not any(w in key for w in ("loss", "blend", "charbonnier")):
            parts.append(f"{key[4:]} {value:.4g}")
    shown = parts[:limit] + ([f"step {metrics['global_step']}"] if "global_step" in metrics else [])
    more = max(0, len(parts) - limit)
    return "; ".join(shown) + (f" (+{more} more in the sidecar)" if more else "")


def _models_command(tasks: list[Task]):
    def models_cmd() -> None:
        """List bundled checkpoints (names in full, task, size, headline metrics) and every task's model variants."""
        from vivid.core.hub import list_bundled
        from vivid.core.registry import list_models

        rows = [
            (r["name"], r["task"], r["model_name"], f"{r['num_parameters'] or 0:,}", f"{r['size_mb']:.2f} MB", short_metrics(r["metrics"]))
            for r in list_bundled()
        ]
        header = ("name", "task", "model", "params", "size")
        widths = [max(len(x[i]) for x in [header, *rows]) for i in range(len(header))]
        typer.echo("bundled checkpoints (use the name with --model)")
        typer.echo("  ".join(h.ljust(w) for h, w in zip(header, widths)))
        for row in rows:
            typer.echo("  ".join(c.ljust(w) for c, w in zip(row[:5], widths)).rstrip())
            typer.echo(f"    {row[5]}")
        typer.echo("")
        typer.echo("model variants (vivid train TASK model=NAME)")
        for task in tasks:
            if task.model_module:
                typer.echo(f"  {task.name}: {', '.join(list_models(task.name))}")

    return models_cmd


def _train_command(tasks: list[Task]):
    names = ", ".join(t.name for t in tasks if t.trainable)

    def train_cmd(
        task: str = typer.Argument(..., help=f"Task to train: {names}."),
        overrides: Optional[list[str]] = typer.Argument(None, help="Config overrides, e.g. optim.lr=1e-4 trainer.max_steps=500."),
        config: str = typer.Option("default", "--config", "-c", help="Preset name (tiny, default, large) or a YAML file."),
        out: Path = typer.Option(Path("runs/train"), "--out", "-o", help="Output folder (logs, training state, exported model)."),
        devices: str = typer.Option("1", "--devices", help="Devices per node (a number, or 'auto')."),
        num_nodes: int = typer.Option(1, "--num-nodes", help="Number of machines (DDP)."),
        strategy: str = typer.Option("auto", "--strategy", help="Lightning strategy: auto, ddp, ..."),
        accelerator: str = typer.Option("auto", "--accelerator", help="auto, cpu or gpu."),
        precision: str = typer.Option("32-true", "--precision", help="32-true, 16-mixed, bf16-mixed."),
        max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Override trainer.max_steps."),
        resume: Optional[Path] = typer.Option(None, "--resume", help="Resume from a *.state.safetensors training state."),
        seed: int = typer.Option(0, "--seed"),
        overwrite: bool = typer.Option(False, "--overwrite", help="Train into a folder that holds an earlier run, replacing it."),
        quiet: bool = typer.Option(False, "--quiet", "-q"),
    ) -> None:
        """Train a task's model with PyTorch Lightning (one machine or DDP) and export it."""
        from vivid.core.train_config import load_config, parse_task_config, with_max_steps

        _check_task(task, tasks, trainable=True)
        # The config is checked before torch and Lightning are imported (a typo answers at once).
        cfg = parse_task_config(task, load_config(task, config, overrides or []))
        if max_steps is not None:
            cfg = with_max_steps(cfg, max_steps)
        from vivid.core.train import check_resume, check_trainer_options, train

        n_devices = check_trainer_options(
            devices=devices, num_nodes=num_nodes, strategy=strategy, accelerator=accelerator, precision=precision
        )
        _check_run_folder(out, cfg, resume=resume, overwrite=overwrite)
        if resume is not None:
            check_resume(resume)
        command = "vivid " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        path = train(
            task, cfg, out_dir=out, devices=n_devices, num_nodes=num_nodes, strategy=strategy, accelerator=accelerator,
            precision=precision, resume=resume, seed=seed, quiet=quiet, command=command,
        )
        if path is not None:
            typer.echo(f"exported {path}")

    return train_cmd


# What vivid.core.train.train leaves in its folder, with atomic_write's temporaries.
_RUN_FILES = ("model.safetensors", "model.json", "config.yaml", "checkpoints", "logs", "finished_rank*.json", ".*.tmp*")


def _check_run_folder(out: Path, cfg, *, resume: Path | None, overwrite: bool) -> None:
    """A training run's folder: new, empty or a run's own (refused when it holds an earlier run,
    unless ``--resume`` continues it or ``--overwrite``); ``export.path`` must be writable too."""
    from vivid.core.fileio import check_output_folder

    own = list(_RUN_FILES)
    export = Path(cfg.export.path) if cfg.export.path else None
    if export is not None:
        check_output_folder(export.parent)
        if export.parent.resolve() == out.resolve():
            own.append(f"{export.stem}.*")
    names = check_output_folder(out, own=own)
    earlier_run = "model.safetensors" in names or (out / "checkpoints").is_dir()
    # Resuming continues the run in its own folder; any other run's folder is kept unless --overwrite.
    resumes_here = resume is not None and out.resolve() in resume.resolve().parents
    if earlier_run and not resumes_here and not overwrite:
        raise VividError(f"output folder {out} holds an earlier run; give a new -o, --resume its own state or pass --overwrite")


def _check_task(name: str, tasks: list[Task], *, trainable: bool) -> None:
    rows = [t.name for t in tasks if t.trainable or not trainable]
    if name not in rows:
        raise VividError(f"unknown task {name!r}; {'trainable ' if trainable else ''}tasks: {', '.join(rows)}")


def _demo_command(tasks: list[Task]):
    def demo_cmd(
        out: Path = typer.Option(Path("demo_out"), "--out", "-o", help="Output folder for report.html and pictures."),
        device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
        seed: int = typer.Option(0, "--seed"),
        overwrite: bool = typer.Option(False, "--overwrite", help="Write into a folder that holds an earlier demo, replacing it."),
        quick: bool = typer.Option(False, "--quick", help="Fewer and smaller examples (a smoke run)."),
        only: Optional[str] = typer.Option(None, "--only", help="Comma list of the sections to run (task names)."),
        quiet: bool = typer.Option(False, "--quiet", "-q"),
    ) -> None:
        """Run every capability on bundled inputs and write demo_out/report.html."""
        from vivid.core.cli_utils import resolve_device, seed_everything
        from vivid.core.fileio import check_output_folder, refuse_existing
        from vivid.core.report import Report

        rows = [t for t in tasks if t.demo_module]
        if only:
            wanted = [w.strip() for w in only.split(",") if w.strip()]
            unknown = [w for w in wanted if w not in {t.name for t in rows}]
            if unknown:
                raise VividError(f"--only: no demo section {', '.join(unknown)}; sections: {', '.join(t.name for t in rows)}")
            rows = [t for t in rows if t.name in wanted]
        check_output_folder(out)
        refuse_existing(out / "report.html", overwrite)
        dev = resolve_device(device)
        seed_everything(seed)
        out.mkdir(parents=True, exist_ok=True)
        report = Report("vivid demo")
        timings = []
        for task in rows:
            module = _optional_import(task.demo_module)
            if module is None:
                continue
            start = time.perf_counter()
            if not quiet:
                typer.echo(f"running {task.name} ...", err=True)
            module.run_demo(out, report, device=str(dev), quick=quick)
            timings.append({"section": task.name, "seconds": round(time.perf_counter() - start, 1)})
        report.section("Run", f"vivid {vivid.__version__} on {dev}; seed {seed}.")
        report.table(timings, "time per section")
        path = report.save(out / "report.html")
        typer.echo(f"report written to {path.resolve()}")

    return demo_cmd


def _optional_import(name: str):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        # Only a task package that is absent is skipped; a broken import inside it is a bug.
        if err.name is not None and name.startswith(err.name):
            return None
        raise


app = make_app()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
