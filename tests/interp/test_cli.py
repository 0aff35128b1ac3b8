"""`vivid interp` and `vivid repair`: working runs with a tiny checkpoint, and one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from vivid.cli import app
from vivid.core.checkpoints import save_checkpoint
from vivid.core.fileio import read_image, write_image
from vivid.core.registry import create_model
from vivid.core.video import VideoWriter, probe


def frames(n: int, h: int = 32, w: int = 48) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    bg = rng.uniform(30, 220, (h, w + 4 * n, 3)).astype(np.uint8)
    return [np.ascontiguousarray(bg[:, 4 * i : 4 * i + w]) for i in range(n)]


def write_video(path, images, fps=25):
    with VideoWriter(path, Fraction(fps)) as w:
        for im in images:
            w.write(im)
    return path


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    torch.manual_seed(0)
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny", create_model("interp_tiny"), task="interp", model_name="interp_tiny")


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def assert_one_line_error(result, *needles):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for n in needles:
        assert n in lines[0], lines[0]


def test_interp_image_pair(tmp_path, tiny_ckpt):
    a, b = frames(2, 40, 56)
    write_image(tmp_path / "a.png", a)
    write_image(tmp_path / "b.jpg", b)
    res = run("interp", tmp_path / "a.png", tmp_path / "b.jpg", "-o", tmp_path / "mid.png", "--t", "0.25", "--model", tiny_ckpt)
    assert res.exit_code == 0, res.output
    assert read_image(tmp_path / "mid.png").shape == (40, 56, 3)
    res = run("interp", tmp_path / "a.png", tmp_path / "b.jpg", "-o", tmp_path / "mid_dis.png", "--flow", "dis", "--model", tiny_ckpt)
    assert res.exit_code == 0, res.output
    assert read_image(tmp_path / "mid_dis.png").shape == (40, 56, 3)
    res = run("interp", tmp_path / "a.png", tmp_path / "b.jpg", "-o", tmp_path / "mid_ens.png", "--ensemble", "8", "--model", tiny_ckpt)
    assert res.exit_code == 0, res.output
    assert read_image(tmp_path / "mid_ens.png").shape == (40, 56, 3)
    res = run(
        "interp", tmp_path / "a.png", tmp_path / "b.jpg", "-o", tmp_path / "mid_fs.png", "--model", tiny_ckpt,
        "--flow-setting", "flow_scales=1,2", "--flow-setting", "flow_refine=1",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert read_image(tmp_path / "mid_fs.png").shape == (40, 56, 3)
    # An existing output is kept unless --overwrite is given.
    before = (tmp_path / "mid.png").read_bytes()
    res = run("interp", tmp_path / "a.png", tmp_path / "b.jpg", "-o", tmp_path / "mid.png", "--model", tiny_ckpt)
    assert_one_line_error(res, "exists", "--overwrite")
    assert (tmp_path / "mid.png").read_bytes() == before
    res = run("interp", tmp_path / "a.png", tmp_path / "b.jpg", "-o", tmp_path / "mid.png", "--t", "0.75", "--model", tiny_ckpt, "--overwrite")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "mid.png").read_bytes() != before


def test_interp_video_factor_and_repair(tmp_path, tiny_ckpt):
    src = write_video(tmp_path / "in.mp4", frames(4))
    res = run("interp", src, "-o", tmp_path / "up.mp4", "--factor", "3", "--model", tiny_ckpt, "--quiet", "--device", "cpu")
    assert res.exit_code == 0, res.output
    info = probe(tmp_path / "up.mp4", exact=True)
    assert (info.n_frames, info.fps) == (10, 75)
    res = run("interp", src, "-o", tmp_path / "up_folder", "--fps", "40", "--model", tiny_ckpt, "-q", "--batch", "2")
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "up_folder").glob("*.png"))) == 5  # 0.12 s at 40 fps: 0, 0.025, ... 0.1

    images = frames(10)
    images[4] = images[3]
    stut = write_video(tmp_path / "stutter.mp4", images)
    res = run("repair", stut, "-o", tmp_path / "fixed.mp4", "--report", tmp_path / "r.json", "--model", tiny_ckpt, "-q")
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "r.json").read_text())["repaired"] == [4]
    assert probe(tmp_path / "fixed.mp4", exact=True).n_frames == 10
    for out, report in ((tmp_path / "fixed.mp4", tmp_path / "r2.json"), (tmp_path / "fixed2.mp4", tmp_path / "r.json")):
        res = run("repair", stut, "-o", out, "--report", report, "--model", tiny_ckpt, "-q")
        assert_one_line_error(res, "exists", "--overwrite")
    assert not (tmp_path / "r2.json").exists() and not (tmp_path / "fixed2.mp4").exists()
    res = run("interp", src, "-o", tmp_path / "up.mp4", "--factor", "2", "--model", tiny_ckpt, "-q")
    assert_one_line_error(res, "exists", "--overwrite")
    assert probe(tmp_path / "up.mp4", exact=True).n_frames == 10
    res = run("interp", src, "-o", tmp_path / "up.mp4", "--factor", "2", "--model", tiny_ckpt, "-q", "--overwrite")
    assert res.exit_code == 0, res.output
    assert probe(tmp_path / "up.mp4", exact=True).n_frames == 7


def test_flow_preset_and_settings_reach_the_interpolator(tmp_path):
    """--flow-preset picks the training settings (fast) or the checkpoint's (quality, the
    default); --flow-setting changes single settings on top; both commands take them."""
    from vivid.interp.cli import InterpOptions, _LazyInterpolator
    from vivid.interp.flow_settings import FlowSettings

    torch.manual_seed(0)
    trained = create_model("interp_tiny", flow_scales=[1, 2])
    ckpt = save_checkpoint(
        tmp_path / "ckpt", trained, task="interp", model_name="interp_tiny",
        extra={"config": {"model_config": {"flow_scales": [1, 2]}}}, model_config={"flow_refine": 1, "flow_window": 5},
    )  # fmt: skip

    def chosen(**options):
        return _LazyInterpolator(InterpOptions(model=str(ckpt), device="cpu", **options)).check()._args["flow_settings"]

    quality = FlowSettings(flow_scales=(1, 2), flow_refine=1, flow_window=5)
    assert chosen() is None  # the checkpoint's own, unchanged
    assert chosen(flow_preset="quality") == quality
    assert chosen(flow_preset="fast") == FlowSettings(flow_scales=(1, 2))
    assert chosen(flow_setting=["flow_refine=0"]) == FlowSettings(flow_scales=(1, 2), flow_window=5)
    assert chosen(flow_preset="fast", flow_setting=["flow_window=3"]) == FlowSettings(flow_scales=(1, 2), flow_window=3)

    a, b = frames(2, 32, 48)
    write_image(tmp_path / "a.png", a)
    write_image(tmp_path / "b.png", b)
    res = run("interp", tmp_path / "a.png", tmp_path / "b.png", "-o", tmp_path / "mid.png", "--model", ckpt, "--flow-preset", "fast")
    assert res.exit_code == 0, res.output
    stut = write_video(tmp_path / "stutter.mp4", [a, a, b])
    res = run("repair", stut, "-o", tmp_path / "fixed.mp4", "--model", ckpt, "-q", "--flow-preset", "quality", "--flow-setting", "flow_refine=0")
    assert res.exit_code == 0, res.output
    res = run("interp", stut, "-o", tmp_path / "o.mp4", "--factor", "2", "--model", ckpt, "--flow-preset", "best")
    assert_one_line_error(res, "--flow-preset must be one of fast, quality")
    res = run("repair", stut, "-o", tmp_path / "r.mp4", "--model", ckpt, "--flow", "dis", "--flow-preset", "fast")
    assert_one_line_error(res, "--flow-preset", "--flow dis")


def test_preset_and_scale_reach_the_interpolator(tmp_path):
    """--preset fast takes the training flow settings and the small side limit of --scale auto;
    --scale picks a fixed internal resolution; bad values are one-line errors."""
    from vivid.interp.cli import InterpOptions, _LazyInterpolator
    from vivid.interp.flow_settings import PRESETS, FlowSettings

    torch.manual_seed(0)
    ckpt = save_checkpoint(
        tmp_path / "ckpt", create_model("interp_tiny", flow_scales=[1, 2]), task="interp", model_name="interp_tiny",
        extra={"config": {"model_config": {"flow_scales": [1, 2]}}}, model_config={"flow_refine": 1},
    )  # fmt: skip

    def args(**options):
        return _LazyInterpolator(InterpOptions(model=str(ckpt), device="cpu", **options)).check()._args

    quality = args()
    assert quality["flow_settings"] is None and quality["scale"] == "auto" and quality["max_side"] == PRESETS["quality"][1]
    fast = args(preset="fast")
    assert fast["flow_settings"] == FlowSettings(flow_scales=(1, 2)) and fast["max_side"] == PRESETS["fast"][1]
    assert args(preset="fast", flow_preset="quality")["flow_settings"] == FlowSettings(flow_scales=(1, 2), flow_refine=1)
    assert args(scale="0.5")["scale"] == 0.5

    src = write_video(tmp_path / "in.mp4", frames(3, 32, 48))
    res = run("interp", src, "-o", tmp_path / "o.mp4", "--factor", "2", "--model", ckpt, "-q", "--preset", "fast", "--scale", "0.5")
    assert res.exit_code == 0, res.output
    assert probe(tmp_path / "o.mp4", exact=True).n_frames == 5
    res = run("interp", src, "-o", tmp_path / "p.mp4", "--factor", "2", "--model", ckpt, "--scale", "0.3")
    assert_one_line_error(res, "--scale must be auto or one of 1, 0.5, 0.25")
    res = run("interp", src, "-o", tmp_path / "p.mp4", "--factor", "2", "--model", ckpt, "--preset", "fastest")
    assert_one_line_error(res, "--preset must be one of quality, fast")
    assert not (tmp_path / "p.mp4").exists()


def test_errors_are_one_line(tmp_path, tiny_ckpt):
    src = write_video(tmp_path / "in.mp4", frames(3))
    one = write_video(tmp_path / "one.mp4", frames(1))
    write_image(tmp_path / "a.png", frames(1, 32, 32)[0])
    write_image(tmp_path / "b.png", frames(1, 32, 40)[0])
    (tmp_path / "junk.mp4").write_bytes(b"this is not a video")

    assert_one_line_error(run("interp", tmp_path / "missing.mp4", "-o", tmp_path / "o.mp4", "--factor", "2"), "does not exist")
    assert_one_line_error(run("interp", tmp_path / "a.png", tmp_path / "b.png", "-o", tmp_path / "m.png"), "same size")
    assert_one_line_error(run("interp", one, "-o", tmp_path / "o.mp4", "--factor", "2"), "at least 2")
    assert_one_line_error(run("interp", tmp_path / "junk.mp4", "-o", tmp_path / "o.mp4", "--factor", "2"), "cannot read")
    assert_one_line_error(run("interp", src, "-o", tmp_path / "o.mp4", "--factor", "1"), "2 to 16")
    assert_one_line_error(run("interp", src, "-o", tmp_path / "o.mp4", "--factor", "40"), "2 to 16")
    assert_one_line_error(run("interp", src, "-o", tmp_path / "o.mp4", "--fps", "20"), "not above")
    assert_one_line_error(run("interp", src, "-o", tmp_path / "o.mp4"), "--factor")
    assert_one_line_error(run("interp", src, "-o", src, "--factor", "2", "--model", tiny_ckpt), "is the input")
    assert_one_line_error(run("interp", tmp_path / "a.png", tmp_path / "a.png", "-o", tmp_path / "a.png"), "is the input")
    assert_one_line_error(run("interp", tmp_path / "a.png", "-o", tmp_path / "o.mp4", "--factor", "2"), "single image")
    assert_one_line_error(run("repair", src, "-o", src), "is the input")
    assert_one_line_error(run("repair", one, "-o", tmp_path / "r.mp4"), "at least 2")
    assert_one_line_error(run("repair", src, "-o", tmp_path / "r.mp4", "--threshold", "high"), "threshold")
    assert_one_line_error(run("interp", src, "-o", tmp_path / "o.mp4", "--factor", "2", "--model", "nope"), "not found")
    assert_one_line_error(run("interp", src, "-o", tmp_path / "o.mp4", "--factor", "2", "--flow", "raft", "--model", tiny_ckpt), "--flow")
    assert_one_line_error(run("repair", src, "-o", tmp_path / "r.mp4", "--flow", "raft", "--model", tiny_ckpt), "--flow")
    assert_one_line_error(run("interp", src, "-o", tmp_path / "o.mp4", "--factor", "2", "--ensemble", "3", "--model", tiny_ckpt), "--ensemble")
    assert_one_line_error(run("repair", src, "-o", tmp_path / "r.mp4", "--ensemble", "0", "--model", tiny_ckpt), "--ensemble")
    for bad, needle in (("flow_window=4", "odd"), ("flow_scales=2,4", "start with 1"), ("depth=1", "NAME=VALUE"), ("flow_refine", "NAME=VALUE")):
        res = run("interp", src, "-o", tmp_path / "o.mp4", "--factor", "2", "--flow-setting", bad, "--model", tiny_ckpt)
        assert_one_line_error(res, "--flow-setting", needle)
    assert_one_line_error(run("repair", src, "-o", tmp_path / "r.mp4", "--flow-setting", "flow_refine=x", "--model", tiny_ckpt), "flow_refine=x")
    res = run("interp", src, "-o", tmp_path / "o.mp4", "--factor", "2", "--flow", "dis", "--flow-setting", "flow_refine=0", "--model", tiny_ckpt)
    assert_one_line_error(res, "--flow-setting", "--flow dis")
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(("o.", ".o.", "r.", ".r.", "m.", ".m."))]


@pytest.mark.slow
def test_demo_section(tmp_path):
    """The demo section runs on the bundled clip and checkpoint and reports its numbers."""
    from vivid.core.report import Report
    from vivid.interp.demo import REAL_REPEATS, SYNTH_REPEATS, run_demo

    report = Report("demo")
    run_demo(tmp_path, report, device="cpu")
    items = report.sections[-1].items
    tables = [i.payload for i in items if i.kind == "table"]
    assert len(tables) == 2 and len([i for i in items if i.kind == "image"]) == 4
    assert {r["method"] for r in tables[0]} == {"frame repetition", "linear blend", "vivid"}
    real, synth = tables[1]
    assert set(REAL_REPEATS) <= set(json.loads(real["detected"]))
    assert json.loads(synth["detected"]) == SYNTH_REPEATS
    assert synth["PSNR vivid (dB)"] > synth["PSNR left stuttered (dB)"]
    report.save(tmp_path / "report.html")


def test_outputs_are_checked_before_the_model_or_any_frame(tmp_path, tiny_ckpt):
    """A bad output path is reported first: "--model nope" would fail the moment the model is read."""
    a, b = frames(2)
    write_image(tmp_path / "a.png", a)
    write_image(tmp_path / "b.png", b)
    src = write_video(tmp_path / "in.mp4", frames(3))
    pair = ("interp", tmp_path / "a.png", tmp_path / "b.png", "--model", "nope", "-o")
    assert_one_line_error(run(*pair, tmp_path / "nodir" / "x.png"), "nodir does not exist")
    assert_one_line_error(run(*pair, tmp_path / "x.gif"), "must be a")
    assert_one_line_error(run(*pair, tmp_path), "is a folder")
    assert_one_line_error(run("interp", src, "-o", tmp_path / "nodir" / "x.mp4", "--factor", "2", "--model", "nope"), "nodir")
    stutter = write_video(tmp_path / "stutter.mp4", [a, a, b])
    report_dir = tmp_path / "reports"
    report_dir.mkdir()
    for report, needle in ((report_dir, "--report"), (tmp_path / "nodir" / "r.json", "nodir"), (tmp_path / "r.txt", ".json")):
        res = run("repair", stutter, "-o", tmp_path / "fixed.mp4", "--report", report, "--model", tiny_ckpt, "-q")
        assert_one_line_error(res, needle)
        assert not (tmp_path / "fixed.mp4").exists()  # nothing written
    assert list(report_dir.iterdir()) == []


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="no /proc here")
def test_an_unwritable_place_is_found_by_creating_the_temporary_file(tmp_path):
    """Root may write anywhere the permission bits say, but not into /proc: the check creates
    (and removes) the temporary file the writer will use."""
    a, b = frames(2)
    write_image(tmp_path / "a.png", a)
    write_image(tmp_path / "b.png", b)
    src = write_video(tmp_path / "in.mp4", frames(3))
    assert_one_line_error(run("interp", src, "-o", "/proc/x.mp4", "--factor", "2", "--model", "nope"), "/proc")
    assert_one_line_error(run("repair", src, "-o", "/proc/x.mp4", "--model", "nope"), "/proc")
    assert_one_line_error(run("interp", tmp_path / "a.png", tmp_path / "b.png", "-o", "/proc/x.png", "--model", "nope"), "/proc")


def test_sigterm_removes_temporary_files_and_exits_143(tmp_path, tiny_ckpt):
    """kill, timeout and job schedulers send SIGTERM: it ends the run like Ctrl-C, with one line."""
    src = write_video(tmp_path / "in.mp4", frames(40, 64, 96))
    cmd = [sys.executable, "-m", "vivid.cli", "interp", str(src), "-o", str(tmp_path / "up.mp4"), "--factor", "8",
           "--model", str(tiny_ckpt), "-q", "--device", "cpu"]  # fmt: skip
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]:
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be stopped"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143
    assert err.strip().splitlines() == ["terminated; outputs under their final names are complete or absent"]
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no output, no hidden temporary
