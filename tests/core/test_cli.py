import subprocess
import sys

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
    assert result.stderr.strip().splitlines() == ["error: unknown task 'nosuchtask'; trainable tasks: interp, pose3d"]


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
