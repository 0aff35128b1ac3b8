"""``--quiet`` means quiet: a training run prints only the path it exported."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def test_train_quiet_prints_only_the_export(tmp_path):
    cmd = [sys.executable, "-m", "vivid.cli", "train", "interp", "--config", "tiny", "-o", str(tmp_path / "run"), "-q",
           "trainer.max_steps=2"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "default"})
    assert done.returncode == 0, done.stderr
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert lines == [f"exported {tmp_path / 'run' / 'model.safetensors'}"], lines


def test_models_lists_names_in_full_and_short_metrics():
    from typer.testing import CliRunner

    from vivid.cli import make_app, short_metrics
    from vivid.core.hub import list_bundled

    out = CliRunner().invoke(make_app(), ["models"], env={"COLUMNS": "60"}).output
    for row in list_bundled():
        assert row["name"] in out.split()  # whole, not cut at the terminal width
    assert "{" not in out and "'" not in out  # no raw dicts
    text = short_metrics({"val/psnr": 34.33039, "val/psnr_blend": 30.5, "val/loss": 1.0, "global_step": 400})
    assert text == "psnr 34.33; step 400"
    many = short_metrics({f"val/m{i}": float(i) for i in range(6)}, limit=4)
    assert many == "m0 0; m1 1; m2 2; m3 3 (+2 more in the sidecar)"


START_UP = """
import sys

import pytest
sys.argv = ["vivid", *sys.argv[1:]]
from vivid.cli import main
try:
    main()
except SystemExit:
    pass
print("HEAVY:", sorted(m for m in ("torch", "pytorch_lightning") if m in sys.modules))
"""


@pytest.mark.parametrize(
    "args",
    [["--help"], ["--version"], ["pose", "--help"], ["interp", "missing.mp4", "-o", "x.mp4", "--factor", "2"],
     ["repair", "missing.mp4", "-o", "y.mp4"], ["pose", "missing.jpg", "-o", "p.json"], ["train", "nope"],
     ["train", "interp", "optim.lrr=1"], ["synth", "body", "--size", "10", "-o", "out"],
     ["people", "missing.jpg", "-o", "p.json"], ["body", "missing.mp4", "-o", "out"]],
)  # fmt: skip
def test_help_version_and_argument_errors_import_no_torch(args, tmp_path):
    done = subprocess.run([sys.executable, "-c", START_UP, *args], capture_output=True, text=True, cwd=tmp_path)
    assert "HEAVY: []" in done.stdout, (args, done.stdout[-300:], done.stderr[-300:])


def test_help_shows_no_type_beside_flags():
    from typer.testing import CliRunner

    from vivid.cli import make_app

    out = CliRunner().invoke(make_app(), ["pose", "--help"], env={"COLUMNS": "120"}).output
    line = next(line for line in out.splitlines() if "--overwrite" in line)
    assert "<bool>" not in out and "bool" not in line
    assert "<path>" in out  # options that take a value keep their type
