"""``--quiet`` means quiet: a training run prints only the path it exported."""

from __future__ import annotations

import os
import subprocess
import sys


def test_train_quiet_prints_only_the_export(tmp_path):
    cmd = [sys.executable, "-m", "vivid.cli", "train", "interp", "--config", "tiny", "-o", str(tmp_path / "run"), "-q",
           "trainer.max_steps=2"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "default"})
    assert done.returncode == 0, done.stderr
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert lines == [f"exported {tmp_path / 'run' / 'model.safetensors'}"], lines
