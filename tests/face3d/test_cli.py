"""``vivid face``: the outputs of one portrait, and one-line errors (no face found included)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from vivid.core.fileio import write_image
from vivid.core.hub import is_bundled


@pytest.fixture(scope="module")
def app():
    from vivid.cli import make_app

    return make_app()


needs_weights = pytest.mark.skipif(not is_bundled("face3d-default"), reason="face3d-default is not bundled")


def test_missing_input_is_one_line(app, tmp_path):
    r = CliRunner().invoke(app, ["face", str(tmp_path / "nothing.png"), "-o", str(tmp_path / "out")])
    assert r.exit_code == 2 and "does not exist" in r.output and "Traceback" not in r.output


def test_bad_box_is_refused(app, tmp_path):
    write_image(tmp_path / "a.png", np.zeros((32, 32, 3), np.uint8))
    r = CliRunner().invoke(app, ["face", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--box", "1,2,3"])
    assert r.exit_code == 2 and "--box" in r.output


@needs_weights
def test_no_face_found_is_a_message(app, tmp_path):
    write_image(tmp_path / "grey.png", np.full((96, 96, 3), 128, np.uint8))
    r = CliRunner().invoke(app, ["face", str(tmp_path / "grey.png"), "-o", str(tmp_path / "out"), "-q",
                                 "--detector", "search"])
    assert r.exit_code == 2 and "no face found" in r.output and "Traceback" not in r.output


@needs_weights
def test_a_portrait_gives_meshes_pose_light_and_arkit_weights(app, tmp_path):
    from vivid.core.assets import demo_input

    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["face", str(demo_input("astronaut_portrait.jpg").path), "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output
    rec = json.loads((out / "astronaut_portrait_face0.json").read_text())
    assert len(rec["arkit_blendshapes"]) == 52 and "jawOpen" in rec["arkit_blendshapes"]
    assert np.array(rec["sh_lighting"]).shape == (9, 3) and np.array(rec["pose"]["R"]).shape == (3, 3)
    for suffix in (".obj", ".ply", ".glb", ".mtl", "_texture.png"):
        assert (out / f"astronaut_portrait_face0{suffix}").exists()
    assert (out / "astronaut_portrait_overlay.png").exists()
    again = CliRunner().invoke(app, ["face", str(demo_input("astronaut_portrait.jpg").path), "-o", str(out), "-q"])
    assert again.exit_code == 2 and "not empty" in again.output


@needs_weights
def test_landmarks_only(app, tmp_path):
    from vivid.core.assets import demo_input

    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["face", str(demo_input("grace_hopper_portrait.jpg").path), "-o", str(out), "-q",
                                 "--landmarks-only"])
    assert r.exit_code == 0, r.output
    rec = json.loads((out / "grace_hopper_portrait_face0.json").read_text())
    assert np.array(rec["landmarks"]).shape == (68, 2) and not (out / "grace_hopper_portrait_face0.obj").exists()
