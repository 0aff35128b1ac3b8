"""``vivid tryon --person``: who is dressed, on a rendered clip of two people crossing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from vivid.core.errors import VividError
from vivid.people.boxes import iou_matrix
from vivid.tryon.apply import TryOn, box_masks, parse_person, person_boxes

GAP = range(10, 13)  # the person behind is not detected here


@pytest.fixture(scope="module")
def tiny_tryon(tmp_path_factory):
    from vivid.core.checkpoints import save_checkpoint
    from vivid.core.registry import create_model

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    return str(save_checkpoint(path, create_model("tryon_tiny"), task="tryon", model_name="tryon_tiny"))


def _owner(boxes, truth) -> int:
    """The one true person a run of boxes lies on (fails when it switches people)."""
    owners = {int(np.argmax(iou_matrix(np.array([b]), truth[t])[0])) for t, b in enumerate(boxes) if b is not None}
    assert len(owners) == 1, "the boxes switched people"
    return owners.pop()


def test_two_tracked_people_and_person_chooses_one(crossing_clip, make_truth_detector, tiny_tryon):
    frames, truth = crossing_clip
    images = list(frames)
    tool = TryOn(tiny_tryon, detector=make_truth_detector(truth, missing={0: GAP}))
    people = tool.people(images)
    assert len(people) == len(images) and {p.id for frame in people for p in frame} == {0, 1}
    by_id = {k: person_boxes(people, k) for k in (0, 1)}
    assert all(all(b is not None for b in boxes) for boxes in by_id.values())  # the gap is bridged
    assert {_owner(boxes, truth) for boxes in by_id.values()} == {0, 1}
    tool.detector = make_truth_detector(truth, missing={0: GAP})
    first = tool.choose(images, 0)
    tool.detector = make_truth_detector(truth, missing={0: GAP})
    second = tool.choose(images, 1)
    assert _owner(first, truth) != _owner(second, truth)
    with pytest.raises(VividError, match="found 2 people"):
        person_boxes(people, 2)


def test_pose_crops_follow_the_chosen_track(crossing_clip, tiny_tryon):
    frames, truth = crossing_clip
    calls = []

    class Pose:  # records which crop each frame's joints come from
        def predict_box(self, image, box, score=None):
            calls.append(("box", tuple(box)))
            return _Joints()

        def predict(self, image, previous=None):
            calls.append(("previous", previous is not None))
            return _Joints()

    class _Joints:
        joints2d, confidence = np.zeros((17, 2)), np.ones(17)

    tool = TryOn(tiny_tryon, detector=None)
    tool._pose = Pose()
    boxes = [tuple(truth[t, 1]) for t in range(3)] + [None]
    j, c = tool.joints(list(frames[:4]), boxes)
    assert j.shape == (4, 17, 2) and c.shape == (4, 17)
    assert calls == [("box", boxes[0]), ("box", boxes[1]), ("box", boxes[2]), ("previous", True)]
    assert tool.choose(list(frames[:4]), 0) is None  # no detector: the one person of the whole frame
    with pytest.raises(VividError, match="needs the people detector"):
        tool.choose(list(frames[:4]), 1)


def test_box_masks_grow_the_box_and_scale_it_to_the_working_size():
    m = box_masks([(20.0, 40.0, 60.0, 120.0), None], (160, 80), 80, 40, margin=0.25)
    # (20, 40)-(60, 120) grown by 10 x 20 px -> (10, 20)-(70, 140), halved at 80 x 40
    rows, cols = m[0].any(1).nonzero().flatten(), m[0].any(0).nonzero().flatten()
    assert (int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])) == (10, 69, 5, 34)
    assert int(m[0].sum()) == 60 * 30 and bool(m[1].all())


def test_parse_person():
    assert parse_person(None) is None and parse_person("0") == 0 and parse_person(" 3") == 3
    for bad in ("-1", "1.5", "x"):
        with pytest.raises(VividError, match="whole number"):
            parse_person(bad)
    with pytest.raises(VividError, match="one person"):
        parse_person("all")


@pytest.mark.parametrize("value", ["-1", "two", "all"])
def test_bad_person_is_one_line(value, tiny_tryon, tmp_path):
    from vivid.cli import make_app
    from vivid.core.fileio import write_image

    image = tmp_path / "person.png"
    write_image(image, np.full((64, 48, 3), 128, np.uint8))
    r = CliRunner().invoke(make_app(), ["tryon", str(image), str(image), "-o", str(tmp_path / "out.png"), "--model", tiny_tryon,
                                        "--person", value])  # fmt: skip
    assert r.exit_code == 2, r.output
    assert "--person" in r.output and len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "out.png").exists()
