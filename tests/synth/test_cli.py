"""`vivid synth` command line: outputs, preview, resume and bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from vivid.cli import app
from vivid.synth.cli import parse_size


def _run(*args):
    return CliRunner().invoke(app, ["synth", *map(str, args)])


@pytest.mark.parametrize("size", ["0x64", "64x-3", "abc", "64x64x3", "-5"])
def test_bad_size_is_one_line_error(tmp_path, size):
    result = _run("body", "--n", 2, "--size", size, "-o", tmp_path / "o")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --size")
    assert not (tmp_path / "o").exists()


def test_parse_size():
    assert parse_size("256x192") == (256, 192) and parse_size("64") == (64, 64)


@pytest.mark.parametrize(
    "args, words",
    [
        (["body", "--n", "0"], "--n must be a positive"),
        (["body", "--n", "-3"], "--n must be a positive"),
        (["dance", "--n", "2"], "unknown kind"),
        (["body", "--n", "2", "--workers", "0"], "--workers"),
        (["body", "--n", "2", "--phenotype-low", "0,0"], "--phenotype-low"),
        (["body", "--n", "2", "--motion-sources", "ballet"], "motion source"),
        (["body", "--n", "2", "--preview", "sheet.gif"], "--preview"),
    ],
)
def test_bad_options(tmp_path, args, words):
    result = _run(*args, "-o", tmp_path / "o")
    assert result.exit_code == 2 and words in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_unwritable_output_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = _run("body", "--n", 2, "--size", "32x32", "-o", blocker / "out", "--motion-sources", "static")
    assert result.exit_code == 2 and "cannot create output folder" in result.stderr


def test_broken_mocap_file_writes_nothing(tmp_path):
    bad = tmp_path / "bad.bvh"
    bad.write_text("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 6 Xposition\n")
    result = _run("video", "--n", 2, "--size", "32x32", "-o", tmp_path / "o", "--mocap", bad)
    assert result.exit_code == 2 and "does not parse as BVH" in result.stderr and str(bad) in result.stderr
    assert not (tmp_path / "o").exists()


def test_generate_preview_and_rerun(tmp_path, kit):
    out, sheet = tmp_path / "o", tmp_path / "sheet.png"
    args = ["body", "--n", 3, "--size", "48x40", "-o", out, "--seed", 4, "--shard-size", 2, "--preview", sheet, "-q"]
    result = _run(*args)
    assert result.exit_code == 0, result.stderr
    index = json.loads((out / "index.json").read_text())
    assert index["complete"] and index["n"] == 3 and index["seed"] == 4 and index["config"]["height"] == 48
    from vivid.core.fileio import read_image

    img = read_image(sheet)
    assert img.shape[0] >= 3 * 48 and img.std() > 5
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert _run(*args).exit_code == 0  # complete already: shards untouched
    after = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert {k: v for k, v in after.items() if k != "index.json"} == {
        k: v for k, v in before.items() if k != "index.json"
    }
    result = _run("body", "--n", 3, "--size", "48x40", "-o", out, "--seed", 5, "-q")
    assert result.exit_code == 2 and "different seed" in result.stderr
    from vivid.synth.storage import SynthDataset

    ds = SynthDataset(out)
    assert ds[0]["image"].shape == (3, 48, 40) and np.isfinite(ds[1]["joints3d"].numpy()).all()


def test_size_beyond_the_memory_limit_is_refused_up_front(tmp_path):
    result = _run("body", "--n", 2, "--size", "100000x100000", "-o", tmp_path / "o")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --size 100000x100000 needs about") and "GB per worker" in lines[0]
    assert not (tmp_path / "o").exists()  # no index.json that would bind the folder to this size


def test_memory_estimate_grows_with_the_data_held(tmp_path):
    from vivid.synth.cli import WORKER_MEMORY_LIMIT, build_config, estimate_worker_bytes

    small = estimate_worker_bytes(build_config("body", "64x64", 0), n=100, shard_size=64)
    assert estimate_worker_bytes(build_config("body", "128x128", 0), n=100, shard_size=64) == 4 * small
    assert estimate_worker_bytes(build_config("body", "64x64", 0), n=100, shard_size=8) < small
    video = estimate_worker_bytes(build_config("video", "64x64", 0, frames=8), n=100, shard_size=64)
    assert video > 8 * 64 * 64 * 64 * 20  # 64 clips of 8 frames with flow
    # the defaults fit easily
    assert estimate_worker_bytes(build_config("video", "256x256", 0), n=10_000, shard_size=64) < WORKER_MEMORY_LIMIT / 2


def test_output_folder_must_be_new_empty_or_an_earlier_run(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = _run("body", "--n", 2, "--size", "32x32", "-o", out)
    assert result.exit_code == 2 and "holds other files (notes.txt)" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    (tmp_path / "sheet.png").write_bytes(b"a picture")
    result = _run("body", "--n", 2, "--size", "32x32", "-o", tmp_path / "new", "--preview", tmp_path / "sheet.png")
    assert result.exit_code == 2 and "--overwrite" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert (tmp_path / "sheet.png").read_bytes() == b"a picture" and not (tmp_path / "new").exists()
    result = _run("body", "--n", 2, "--size", "32x32", "-o", tmp_path / "new", "--preview", tmp_path / "nodir" / "s.png")
    assert result.exit_code == 2 and "nodir does not exist" in result.stderr


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="no /proc here")
def test_unwritable_place_is_found_before_the_body_model_is_built(tmp_path):
    result = _run("body", "--n", 2, "--size", "32x32", "-o", "/proc/x")
    assert result.exit_code == 2 and "cannot create output folder /proc/x" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_sigterm_leaves_complete_shards_only(tmp_path, kit):
    """SIGTERM ends the run like Ctrl-C: exit 143, one line, no temporaries; the run continues later."""
    out = tmp_path / "o"
    cmd = [sys.executable, "-m", "vivid.cli", "synth", "body", "--n", "4000", "--size", "32x32", "--shard-size", "2",
           "--motion-sources", "static", "-q", "-o", str(out)]  # fmt: skip
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while proc.poll() is None and time.monotonic() < deadline and not (out / "shard-000001.npz").exists():
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be stopped"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143
    assert err.strip().splitlines()[-1] == "terminated; outputs under their final names are complete or absent"
    names = sorted(p.name for p in out.iterdir())
    assert not [n for n in names if n.startswith(".")] and "index.json" in names
    index = json.loads((out / "index.json").read_text())
    assert not index["complete"] and {f"shard-{s['shard']:06d}.npz" for s in index["shards"]} == set(names) - {"index.json"}
