"""``vivid tryon``: one-line errors for people (no person, unreadable garment photo, bad sizes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from vivid.cli import make_app
from vivid.core.checkpoints import save_checkpoint
from vivid.core.registry import create_model
from vivid.core.video import VideoWriter


@pytest.fixture(scope="module")
def blind_model(tmp_path_factory):
    """A tiny checkpoint whose parser sees no one (background everywhere)."""
    model = create_model("tryon_tiny")
    with torch.no_grad():
        model.parser.out.bias[0] = 100.0
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "blind.safetensors", model, task="tryon", model_name="tryon_tiny")


@pytest.fixture(scope="module")
def grey_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "grey.mp4"
    with VideoWriter(path, fps=10) as w:
        for _ in range(3):
            w.write(np.full((96, 64, 3), 128, np.uint8))
    return path


@pytest.fixture(scope="module")
def garment_photo(tmp_path_factory):
    from vivid.core.fileio import write_image

    img = np.full((80, 60, 3), 255, np.uint8)
    img[10:70, 10:50] = (200, 40, 40)
    path = tmp_path_factory.mktemp("garment") / "shirt.png"
    write_image(path, img)
    return path


def _run(*args):
    return CliRunner().invoke(make_app(), ["tryon", *map(str, args)])


def test_no_person_found(blind_model, grey_video, garment_photo, tmp_path):
    r = _run(grey_video, garment_photo, "-o", tmp_path / "out.mp4", "--model", blind_model, "-q")
    assert r.exit_code == 2 and "no person found" in r.output and len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "out.mp4").exists()


def test_no_person_found_by_the_parser(blind_model, grey_video, tmp_path):
    r = _run(grey_video, "-o", tmp_path / "parts.mp4", "--model", blind_model, "--parse-only", "-q")
    assert r.exit_code == 0, r.output  # parsing alone writes what it sees (nothing)
    from vivid.tryon.apply import TryOn, preprocess, to_frames

    tool = TryOn(str(blind_model))
    frames = [np.full((96, 64, 3), 128, np.uint8)] * 2
    from vivid.core.errors import VividError

    with pytest.raises(VividError, match="no person found"):
        preprocess(tool.model, frames, height=128, width=96, category="upper", joints2d=np.zeros((2, 17, 2)), confidence=np.ones((2, 17)))
    assert to_frames(frames, 128, 96).shape == (2, 3, 128, 96)


def test_unreadable_garment_photo(blind_model, grey_video, tmp_path):
    bad = tmp_path / "garment.jpg"
    bad.write_text("not a picture")
    r = _run(grey_video, bad, "-o", tmp_path / "out.mp4", "--model", blind_model)
    assert r.exit_code == 2 and "garment photo" in r.output and "unreadable" in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_mismatched_sizes_and_bad_options(blind_model, grey_video, garment_photo, tmp_path):
    from vivid.core.fileio import write_image

    folder = tmp_path / "frames"
    folder.mkdir()
    write_image(folder / "a.png", np.zeros((40, 30, 3), np.uint8))
    write_image(folder / "b.png", np.zeros((44, 30, 3), np.uint8))
    r = _run(folder, garment_photo, "-o", tmp_path / "out.mp4", "--model", blind_model, "-q")
    assert r.exit_code == 2 and "one size" in r.output
    r = _run(grey_video, garment_photo, "-o", tmp_path / "out2.mp4", "--model", blind_model, "--size", "100x75")
    assert r.exit_code == 2 and "--size 100x75" in r.output
    r = _run(grey_video, garment_photo, "-o", tmp_path / "out3.mp4", "--model", blind_model, "--category", "hat")
    assert r.exit_code == 2 and "upper, lower or full" in r.output
