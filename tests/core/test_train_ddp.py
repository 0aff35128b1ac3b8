"""The training harness end to end: DDP over two CPU processes, export, resume, and the weight average."""

import csv
import json
import os
import subprocess
import sys

import pytest
import torch

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


def test_ema_export_is_the_moving_average_of_the_weights(tmp_path):
    # Same seed, same data: the runs differ only in how many steps they take and in the average.
    for steps in (1, 2):
        _train(tmp_path / f"plain{steps}", "--max-steps", str(steps))
    _train(tmp_path / "ema", "--max-steps", "2", "trainer.ema_decay=0.25")
    w1, w2, ema = (load_checkpoint(tmp_path / d / "model.safetensors", task="interp")[0].state_dict()
                   for d in ("plain1", "plain2", "ema"))
    # the first update copies the weights, the second keeps 0.25 of the average: 0.25 w1 + 0.75 w2
    moved = [k for k in w1 if w1[k].is_floating_point() and not torch.equal(w1[k], w2[k])]
    assert moved
    for k in moved:
        torch.testing.assert_close(ema[k], 0.25 * w1[k] + 0.75 * w2[k], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("setting", ["trainer.ema_decay=1.5", "loss.flow_level_weights=[1,2,3,4,5,6,7]"])
def test_bad_setting_is_a_clear_error_and_writes_nothing(tmp_path, setting):
    cmd = [sys.executable, "-m", "vivid.cli", "train", "interp", "--config", "tiny", "-o", str(tmp_path / "run"), setting]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    name = setting.split("=")[0].split(".")[-1]
    assert proc.returncode == 2 and name in proc.stderr and "Traceback" not in proc.stderr
    assert not tmp_path.joinpath("run").exists()  # nothing written
