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


def test_train_refuses_a_folder_with_an_earlier_run(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"earlier run")
    result = CliRunner().invoke(app, ["train", "interp", "--config", "tiny", "-o", str(tmp_path)])
    assert result.exit_code == 2 and "earlier run" in result.stderr and "--overwrite" in result.stderr
    assert (tmp_path / "model.safetensors").read_bytes() == b"earlier run"
