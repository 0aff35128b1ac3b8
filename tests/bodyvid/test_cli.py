"""``vivid body``: outputs on a short video, and one-line errors for bad input."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from .conftest import write_video


def _run(args):
    from vivid.cli import make_app

    return CliRunner().invoke(make_app(), ["body", *args])


def test_body_writes_json_glb_bvh_obj_and_overlay(tiny_checkpoint, short_video, tmp_path):
    out = tmp_path / "out"
    r = _run([str(short_video), "-o", str(out), "--model", tiny_checkpoint, "--glb", "--bvh", "--obj", "--overlay", "-q",
              "--device", "cpu"])  # fmt: skip
    assert r.exit_code == 0, r.output
    record = json.loads((out / "body.json").read_text())
    assert len(record["frames"]) == 6 and record["sequence_length"] == 4
    assert "vivid.people" in record["person_box"] or "detector" in record["person_box"]
    assert [f["index"] for f in record["frames"]] == list(range(6))
    assert len(record["frames"][0]["joints3d"]) == 17 and len(record["frames"][0]["rotations_axis_angle"]) == 24
    assert (out / "body.glb").stat().st_size > 0 and (out / "body.bvh").exists()
    assert len(list((out / "meshes").glob("*.obj"))) == 6
    from vivid.core.video import probe

    assert probe(out / "overlay.mp4").n_frames == 6


def test_user_box_and_overlapping_sequences(tiny_checkpoint, short_video, tmp_path):
    out = tmp_path / "out"
    r = _run([str(short_video), "-o", str(out), "--model", tiny_checkpoint, "--box", "4,4,60,60", "--stride", "2", "-q"])
    assert r.exit_code == 0, r.output
    record = json.loads((out / "body.json").read_text())
    assert record["person_box"].startswith("user box") and record["stride"] == 2
    assert all(f["box_source"] == "user" for f in record["frames"])


@pytest.mark.parametrize("case", ["missing", "one_frame", "seq_len_short", "seq_len_other", "bad_box"])
def test_errors_are_one_line(case, tiny_checkpoint, short_video, tmp_path):
    args = [str(short_video), "-o", str(tmp_path / "out"), "--model", tiny_checkpoint]
    if case == "missing":
        args[0] = str(tmp_path / "nope.mp4")
        expected = "does not exist"
    elif case == "one_frame":
        args[0] = str(write_video(tmp_path / "one.mp4", 1))
        expected = "at least 2 frames"
    elif case == "seq_len_short":
        args += ["--seq-len", "1"]
        expected = "at least 2 frames"
    elif case == "seq_len_other":
        args += ["--seq-len", "6"]
        expected = "trained on sequences of 4 frames"
    else:
        args += ["--box", "1,2,3"]
        expected = "four numbers"
    r = _run(args)
    assert r.exit_code == 2, r.output
    assert expected in r.output and "Traceback" not in r.output
