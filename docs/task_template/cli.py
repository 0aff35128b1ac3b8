"""The task's command: ``vivid mytask IMAGE --model WEIGHTS``."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("mytask")
    def mytask_cmd(
        image: Path = typer.Argument(..., help="An image file."),
        model: Path = typer.Option(..., "--model", help="A mytask checkpoint (.safetensors)."),
    ) -> None:
        """Print an image's mean colour as the model sees it."""
        from .apply import mean_colour_of_file

        typer.echo(" ".join(f"{v:.4f}" for v in mean_colour_of_file(str(model), str(image))))
