"""The task's section of ``vivid demo``."""

from __future__ import annotations

from pathlib import Path

import torch

from vivid.core.report import Report


def run_demo(out_dir: Path, report: Report, *, device: str = "cpu", quick: bool = False) -> None:
    from .model import mytask_tiny

    torch.manual_seed(0)
    image = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        colour = mytask_tiny()(image)[0]
    report.section("mytask", "An untrained model's colour of a random image, beside the true mean.")
    report.table([{"model": [round(float(v), 3) for v in colour], "truth": [round(float(v), 3) for v in image.mean(dim=(0, 2, 3))]}])
