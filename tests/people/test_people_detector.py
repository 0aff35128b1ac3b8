import numpy as np
import pytest
import torch

from vivid.core.checkpoints import save_checkpoint
from vivid.core.errors import VividError
from vivid.people.detector import Detection, PersonDetector, hog_detector, sort_by_area, to_detections
from vivid.people.model import people_tiny


def test_detections_are_clipped_suppressed_and_largest_first():
    boxes = np.array([[-5, 0, 20, 30], [0, 0, 21, 30], [40, 40, 90, 200], [10, 10, 10.5, 10.5]])
    dets = to_detections(boxes, np.array([0.9, 0.5, 0.3, 0.99]), (100, 80))
    assert [d.box for d in dets] == [(40.0, 40.0, 80.0, 100.0), (0.0, 0.0, 20.0, 30.0)]
    assert sort_by_area([Detection((0, 0, 1, 1), 0.9), Detection((0, 0, 5, 5), 0.1)])[0].score == 0.1


def test_detector_from_a_checkpoint_keeps_its_threshold(tmp_path):
    torch.manual_seed(0)
    model = people_tiny(score_threshold=0.0)
    path = save_checkpoint(tmp_path / "m", model, task="people", model_name="people_tiny")
    det = PersonDetector(path)
    assert det.score_threshold == 0.0 and det.input_size == 128
    image = (np.random.default_rng(0).random((90, 120, 3)) * 255).astype(np.uint8)
    found = det(image)
    assert found and all(0 <= d.box[0] < d.box[2] <= 120 and 0 <= d.box[1] < d.box[3] <= 90 for d in found)
    assert [d.area for d in found] == sorted((d.area for d in found), reverse=True)
    assert PersonDetector(path, score_threshold=1.0)(image) == []
    with pytest.raises(VividError, match="uint8"):
        det(image.astype(np.float32))
    with pytest.raises(VividError, match="not a 'people' model|not found"):
        PersonDetector("interp-default")


def _hog_or_skip():
    try:
        return hog_detector()
    except VividError as err:
        assert "OpenCV" in str(err)  # the message says what is missing
        pytest.skip(str(err))


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


# The standing player of the bundled basketball photo (640x480), boxed by eye: x0, y0, x1, y1.
BASKETBALL_PLAYER = (30.0, 75.0, 165.0, 475.0)


def test_hog_finds_the_standing_player_and_nobody_in_a_flat_image():
    from vivid.core.assets import demo_input
    from vivid.core.fileio import read_image

    hog = _hog_or_skip()
    assert hog(np.zeros((128, 96, 3), np.uint8)) == []
    assert hog(np.full((240, 320, 3), 128, np.uint8)) == []
    found = hog(read_image(demo_input("basketball1.png").path))
    assert found and all(0.0 < d.score < 1.0 for d in found)
    assert max(_iou(d.box, BASKETBALL_PLAYER) for d in found) >= 0.5, [d.box for d in found]
    assert _iou(found[0].box, BASKETBALL_PLAYER) >= 0.5  # largest first: the player
    with pytest.raises(VividError, match="uint8"):
        hog(np.zeros((64, 64, 3), np.float32))


def test_hog_boxes_are_in_the_input_pixels_whatever_the_working_size():
    from vivid.core.assets import demo_input
    from vivid.core.fileio import read_image

    _hog_or_skip()
    image = read_image(demo_input("basketball1.png").path)
    small = hog_detector(long_side=640)(image)
    big = hog_detector(long_side=None)(image)  # 640 already: the same pass
    assert [d.box for d in small] == [d.box for d in big]
    half = hog_detector(long_side=480)(image)  # boxes scaled back to 640x480 pixels
    assert half and max(_iou(d.box, BASKETBALL_PLAYER) for d in half) >= 0.5


def test_people_cli_falls_back_to_hog(tmp_path):
    from typer.testing import CliRunner

    from vivid.cli import make_app
    from vivid.core.assets import demo_input

    _hog_or_skip()
    out = tmp_path / "out.json"
    r = CliRunner().invoke(make_app(), ["people", str(demo_input("basketball1.png").path), "-o", str(out), "--hog"])
    assert r.exit_code == 0, r.output
    import json

    report = json.loads(out.read_text())
    assert report["detector"] == "hog" and report["score_threshold"] is None
    boxes = [p["box"] for p in report["frames"][0]["people"]]
    assert boxes and _iou(boxes[0], BASKETBALL_PLAYER) >= 0.5
