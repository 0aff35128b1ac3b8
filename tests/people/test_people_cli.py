import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from vivid.cli import make_app
from vivid.core.checkpoints import save_checkpoint
from vivid.core.fileio import read_image, write_image
from vivid.core.video import VideoWriter
from vivid.people.model import people_tiny


@pytest.fixture
def weights(tmp_path):
    torch.manual_seed(0)
    return save_checkpoint(tmp_path / "people", people_tiny(score_threshold=0.0), task="people", model_name="people_tiny")


def test_image_gives_boxes_and_an_overlay(tmp_path, weights):
    image = tmp_path / "in.png"
    write_image(image, (np.random.default_rng(0).random((60, 80, 3)) * 255).astype(np.uint8))
    out, overlay = tmp_path / "out.json", tmp_path / "over.png"
    result = CliRunner().invoke(make_app(), ["people", str(image), "-o", str(out), "--model", str(weights), "--overlay", str(overlay)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    people = report["frames"][0]["people"]
    assert report["kind"] == "image" and people and "tracks" not in report
    areas = [(p["box"][2] - p["box"][0]) * (p["box"][3] - p["box"][1]) for p in people]
    assert all(a >= b - 0.5 for a, b in zip(areas, areas[1:]))  # boxes are written rounded to 0.1 px
    assert read_image(overlay).shape == (60, 80, 3)


def test_video_gives_track_ids(tmp_path, weights):
    clip = tmp_path / "in.mp4"
    with VideoWriter(clip, fps=10) as w:
        for t in range(5):
            w.write(np.full((48, 64, 3), 90 + 5 * t, np.uint8))
    out = tmp_path / "out.json"
    result = CliRunner().invoke(make_app(), ["people", str(clip), "-o", str(out), "--model", str(weights), "--overlay", str(tmp_path / "o.mp4"), "-q"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["kind"] == "video" and len(report["frames"]) == 5 and "tracks" in report
    ids = {t["id"] for t in report["tracks"]}
    assert all(p["id"] in ids for f in report["frames"] for p in f["people"])


@pytest.mark.parametrize("case", ["missing", "suffix", "overlay", "threshold"])
def test_errors_are_one_line(tmp_path, weights, case):
    image = tmp_path / "in.png"
    write_image(image, np.zeros((32, 32, 3), np.uint8))
    args = {
        "missing": [str(tmp_path / "nope.png"), "-o", str(tmp_path / "o.json")],
        "suffix": [str(image), "-o", str(tmp_path / "o.txt")],
        "overlay": [str(image), "-o", str(tmp_path / "o.json"), "--overlay", str(tmp_path / "o.mp4")],
        "threshold": [str(image), "-o", str(tmp_path / "o.json"), "--threshold", "2"],
    }[case]
    result = CliRunner().invoke(make_app(), ["people", *args, "--model", str(weights)])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert not (tmp_path / "o.json").exists()
