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


def test_hog_detector_runs_or_says_why_not():
    try:
        hog = hog_detector()
    except VividError as err:
        assert "OpenCV" in str(err)
        return
    assert hog(np.zeros((128, 96, 3), np.uint8)) == []
