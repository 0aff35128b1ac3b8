"""The training harness end to end: DDP over two CPU processes, export, and resume."""

import csv
import json
import os
import subprocess
import sys

from vivid.core.checkpoints import load_checkpoint


def _train(out, *extra):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "vivid.cli", "train", "interp", "--config", "tiny", "--accelerator", "cpu",
           "--quiet", "-o", str(out), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_ddp_two_cpu_processes_finish_and_export(tmp_path):
    _train(tmp_path, "--devices", "2", "--strategy", "ddp", "--max-steps", "3")
    ranks = [json.loads((tmp_path / f"finished_rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["rank"] for r in ranks] == [0, 1]
    assert all(r["world_size"] == 2 and r["global_step"] == 3 for r in ranks)
    model, meta = load_checkpoint(tmp_path / "model.safetensors", task="interp")
    assert meta["metrics"]["global_step"] == 3 and "--strategy ddp" in meta["command"]
    assert sum(p.numel() for p in model.parameters()) == meta["num_parameters"]


def test_resume_continues_the_step_count(tmp_path):
    _train(tmp_path, "--max-steps", "3", "trainer.log_every_n_steps=1")
    state = tmp_path / "checkpoints" / "last.state.safetensors"
    assert state.exists()
    resumed = tmp_path / "resumed"
    _train(resumed, "--max-steps", "6", "--resume", str(state), "trainer.log_every_n_steps=1")
    assert json.loads((resumed / "finished_rank0.json").read_text())["global_step"] == 6
    with open(resumed / "logs" / "metrics.csv") as f:
        steps = sorted({int(row["step"]) for row in csv.DictReader(f) if row.get("step")})
    # the resumed run trained only steps 3..5: it did not start again from zero
    assert steps and min(steps) >= 3 and max(steps) == 5


def test_resume_from_missing_state_is_a_clear_error(tmp_path):
    cmd = [sys.executable, "-m", "vivid.cli", "train", "interp", "--config", "tiny", "--resume", str(tmp_path / "no.state.safetensors")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 2 and "does not exist" in proc.stderr and "Traceback" not in proc.stderr
