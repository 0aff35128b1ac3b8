import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from vivid.cli import app


def test_help_lists_commands_and_version():
    runner = CliRunner()
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for cmd in ("models", "train", "demo"):
        assert cmd in result.output
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("vivid ")


def test_user_error_is_one_line_without_traceback():
    result = CliRunner().invoke(app, ["train", "nosuchtask"])
    assert result.exit_code == 2
    from vivid.core.tasks import task_names

    expected = f"error: unknown task 'nosuchtask'; trainable tasks: {', '.join(task_names(trainable=True))}"
    assert result.stderr.strip().splitlines() == [expected]


def test_debug_shows_traceback_in_a_real_process():
    cmd = [sys.executable, "-m", "vivid.cli", "--debug", "train", "nosuchtask"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode != 0 and "Traceback" in proc.stderr
    proc = subprocess.run(cmd[:3] + cmd[4:], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "unknown task" in proc.stderr


def test_bad_override_and_missing_config():
    runner = CliRunner()
    result = runner.invoke(app, ["train", "interp", "--config", "missing.yaml"])
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_train_reports_a_loss_setting_that_does_not_fit_the_model(tmp_path):
    args = ["train", "interp", "-c", "tiny", "-o", str(tmp_path / "run"), "loss.flow_level_weights=[1]"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: loss.flow_level_weights needs 2 weights")


def test_train_refuses_a_folder_with_an_earlier_run(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"earlier run")
    result = CliRunner().invoke(app, ["train", "interp", "--config", "tiny", "-o", str(tmp_path)])
    assert result.exit_code == 2 and "earlier run" in result.stderr and "--overwrite" in result.stderr
    assert (tmp_path / "model.safetensors").read_bytes() == b"earlier run"


def test_resume_continues_only_its_own_folder(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "model.safetensors").write_bytes(b"earlier run")
    other = tmp_path / "other" / "checkpoints" / "last.state.safetensors"
    result = CliRunner().invoke(app, ["train", "interp", "-c", "tiny", "-o", str(run), "--resume", str(other)])
    assert result.exit_code == 2 and "earlier run" in result.stderr
    # Resuming the folder's own state passes this check (and here fails later: that state does not exist).
    own = run / "checkpoints" / "last.state.safetensors"
    result = CliRunner().invoke(app, ["train", "interp", "-c", "tiny", "-o", str(run), "--resume", str(own)])
    assert result.exit_code == 2 and "earlier run" not in result.stderr and "last.state.safetensors" in result.stderr
    assert (run / "model.safetensors").read_bytes() == b"earlier run"


def test_demo_refuses_a_folder_with_an_earlier_report(tmp_path):
    (tmp_path / "report.html").write_text("earlier demo")
    result = CliRunner().invoke(app, ["demo", "-o", str(tmp_path), "-q"])
    assert result.exit_code == 2 and "--overwrite" in result.stderr
    assert (tmp_path / "report.html").read_text() == "earlier demo"


def assert_one_line_error(result, *needles):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--max-steps", "0"], "max_steps must be at least 1, got 0"),  # nothing trained, nothing exported
        (["--max-steps", "-5"], "max_steps must be at least 1, got -5"),
        (["--precision", "8-bit"], "--precision '8-bit'"),
        (["--devices", "abc"], "--devices 'abc'"),
        (["--devices", "0"], "--devices '0'"),
        (["optim.lr=fast"], "optim.lr"),
        (["--num-nodes", "0"], "--num-nodes"),
        (["--accelerator", "tpu9"], "--accelerator 'tpu9'"),
        (["--strategy", "nonsense"], "--strategy 'nonsense'"),
        (["--resume", "missing.safetensors"], "--resume missing.safetensors does not exist"),
    ],
)
def test_train_checks_every_option_before_making_the_run_folder(tmp_path, args, needle):
    result = CliRunner().invoke(app, ["train", "interp", "-c", "tiny", "-o", str(tmp_path / "run"), *args])
    assert_one_line_error(result, needle)
    assert not (tmp_path / "run").exists()


def test_train_resume_must_be_a_training_state(tmp_path):
    (tmp_path / "notes.state.safetensors").write_text("not a training state")
    state = tmp_path / "notes.state.safetensors"
    result = CliRunner().invoke(app, ["train", "interp", "-c", "tiny", "-o", str(tmp_path / "run"), "--resume", str(state)])
    assert_one_line_error(result, "cannot read training state")
    assert not (tmp_path / "run").exists()


def test_train_output_folder_must_be_new_empty_or_a_run(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("mine")
    for extra in ([], ["--overwrite"]):
        result = CliRunner().invoke(app, ["train", "interp", "-c", "tiny", "-o", str(run), *extra])
        assert_one_line_error(result, "holds other files (notes.txt)", "new or empty folder")
    assert sorted(p.name for p in run.iterdir()) == ["notes.txt"] and (run / "notes.txt").read_text() == "mine"
    # A run's own files pass the folder check with --overwrite (here the missing state fails next).
    (run / "notes.txt").unlink()
    for name in ("model.safetensors", "model.json", "config.yaml", "finished_rank0.json"):
        (run / name).write_text("earlier run")
    (run / "logs").mkdir()
    args = ["train", "interp", "-c", "tiny", "-o", str(run), "--overwrite", "--resume", str(tmp_path / "no.state.safetensors")]
    result = CliRunner().invoke(app, args)
    assert_one_line_error(result, "no.state.safetensors does not exist")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert_one_line_error(CliRunner().invoke(app, ["train", "interp", "-c", "tiny", "-o", str(blocker)]), "is a file")
    assert blocker.read_text() == "x"


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="no /proc here")
def test_demo_output_folder_is_checked_before_any_work(tmp_path):
    picture = tmp_path / "existing_file.png"
    picture.write_bytes(b"a picture")
    assert_one_line_error(CliRunner().invoke(app, ["demo", "-o", str(picture), "-q"]), "is a file")
    assert picture.read_bytes() == b"a picture"
    # /proc takes no new file, not even from root: creating one is part of the check
    assert_one_line_error(CliRunner().invoke(app, ["demo", "-o", "/proc/x", "-q"]), "cannot create output folder /proc/x")
    assert_one_line_error(CliRunner().invoke(app, ["train", "interp", "-c", "tiny", "-o", "/proc/x"]), "/proc/x")
