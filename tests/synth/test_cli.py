"""`vivid synth` command line: outputs, preview, resume and bad input."""

from __future__ import annotations

import json

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
