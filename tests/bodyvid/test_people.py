"""``vivid body --person``: one track per person on a rendered clip of two people crossing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from typer.testing import CliRunner

from vivid.core.errors import VividError
from vivid.people.boxes import iou_matrix
from vivid.bodyvid.people import ALL, choose_tracks, parse_person
from vivid.people.tracker import ranked_tracks

GAP = range(10, 13)  # the person behind is not detected here


@dataclass
class _Frame:
    image: np.ndarray
    index: int
    time: float


def _owner(track, truth) -> int:
    """The one true person a track's detected boxes lie on (fails when it switches people)."""
    owners = {int(np.argmax(iou_matrix(np.array([track.box_at(t)]), truth[t])[0])) for t in track.frames if track.detected[t - track.first]}
    assert len(owners) == 1, f"track {track.id} switched people"
    return owners.pop()


def test_two_people_give_two_ranked_tracks_with_stable_identities(crossing_clip, make_truth_detector):
    frames, truth = crossing_clip
    tracks = ranked_tracks(list(frames), make_truth_detector(truth, missing={0: GAP}))
    assert [t.id for t in tracks] == [0, 1]
    assert {_owner(t, truth) for t in tracks} == {0, 1}
    area = lambda t: np.mean([(b[2] - b[0]) * (b[3] - b[1]) for b in t.boxes])  # noqa: E731
    assert area(tracks[0]) >= area(tracks[1])
    first, second = choose_tracks(tracks, 0), choose_tracks(tracks, 1)
    assert _owner(first[0], truth) != _owner(second[0], truth)
    assert choose_tracks(tracks, ALL) == tracks
    with pytest.raises(VividError, match="found 2 people"):
        choose_tracks(tracks, 2)


def test_each_track_gets_its_own_mesh_sequence_on_its_boxes(crossing_clip, make_truth_detector, tiny_checkpoint):
    from vivid.bodyvid.apply import BodyVideoPredictor

    frames, truth = crossing_clip
    clip = [_Frame(im, t, t / 10) for t, im in enumerate(frames)]
    predictor = BodyVideoPredictor(tiny_checkpoint, detector=make_truth_detector(truth, missing={0: GAP}))
    tracks = predictor.track(clip)
    assert len(tracks) == 2
    per_frame = list(predictor.predict_frames(clip, tracks))
    assert [i for i, _, _ in per_frame] == list(range(len(frames)))
    for index, _, preds in per_frame:
        assert [p.person for p in preds] == [0, 1] and all(p.index == index for p in preds)
    for track in tracks:
        owner = _owner(track, truth)
        preds = [p for _, _, ps in per_frame for p in ps if p.person == track.id]
        for p in preds:  # the crop is centred on this person's true box
            x0, y0, x1, y1 = truth[p.index, owner]
            assert abs(p.box[0] - (x0 + x1) / 2) < 0.25 * (x1 - x0) and abs(p.box[1] - (y0 + y1) / 2) < 0.25 * (y1 - y0)
        bridged = [p.index for p in preds if p.box_source == "bridged"]
        assert bridged == (list(GAP) if owner == 0 else [])
        assert {p.box_source for p in preds} <= {"track", "bridged"}
        assert preds[0].to_dict()["person"] == track.id


def test_without_a_detector_one_person_from_the_whole_frame(crossing_clip, tiny_checkpoint):
    from vivid.bodyvid.apply import BodyVideoPredictor

    frames, _ = crossing_clip
    clip = [_Frame(im, t, t / 10) for t, im in enumerate(frames[:6])]
    predictor = BodyVideoPredictor(tiny_checkpoint, detector=None)
    assert predictor.track(clip) == []
    preds = list(predictor.predict(clip))
    assert [p.index for p in preds] == list(range(6)) and all(p.person is None for p in preds)
    assert preds[0].box_source == "frame"


@pytest.mark.parametrize("text, expected", [(None, None), ("0", 0), (" 2 ", 2), ("ALL", ALL), (1, 1)])
def test_parse_person(text, expected):
    assert parse_person(text) == expected


@pytest.mark.parametrize("value", ["-1", "two", "1.5", ""])
def test_bad_person_is_one_line(value, tiny_checkpoint, short_video, tmp_path):
    from vivid.cli import make_app

    r = CliRunner().invoke(make_app(), ["body", str(short_video), "-o", str(tmp_path / "out"), "--model", tiny_checkpoint,
                                        "--person", value])  # fmt: skip
    assert r.exit_code == 2, r.output
    assert "--person must be a whole number" in r.output and len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_person_and_box_together_are_refused(tiny_checkpoint, short_video, tmp_path):
    from vivid.cli import make_app

    r = CliRunner().invoke(make_app(), ["body", str(short_video), "-o", str(tmp_path / "out"), "--model", tiny_checkpoint,
                                        "--person", "1", "--box", "1,1,30,30"])  # fmt: skip
    assert r.exit_code == 2 and "give one of them" in r.output and len(r.output.strip().splitlines()) == 1


def test_person_all_writes_a_mesh_sequence_per_tracked_person(crossing_clip, tiny_checkpoint, tmp_path):
    import json

    from vivid.cli import make_app
    from vivid.core.fileio import write_image

    frames, _ = crossing_clip
    folder = tmp_path / "frames"
    folder.mkdir()
    for t, image in enumerate(frames[:12]):
        write_image(folder / f"{t:03d}.png", image)
    from vivid.pose3d.people import load_detector

    if load_detector()[0] is None:
        pytest.skip("the people-default detector is not available")
    out = tmp_path / "out"
    r = CliRunner().invoke(make_app(), ["body", str(folder), "-o", str(out), "--model", tiny_checkpoint, "--person", "all",
                                        "--glb", "--overlay", "-q", "--device", "cpu"])  # fmt: skip
    assert r.exit_code == 0, r.output
    record = json.loads((out / "body.json").read_text())
    people = record["people"]
    assert people and [p["person"] for p in people] == list(range(len(people))) and record["person"] == "all"
    for p in people:  # each person's frames are their track's, and each has an animation
        frames_of = [f["index"] for f in record["frames"] if f["person"] == p["person"]]
        assert frames_of == list(range(p["track"]["first_frame"], p["track"]["last_frame"] + 1)) == sorted(set(frames_of))
        assert (out / f"body_person{p['person']}.glb").stat().st_size > 0
    assert [f["index"] for f in record["frames"]] == sorted(f["index"] for f in record["frames"])
    from vivid.core.video import probe

    assert probe(out / "overlay.mp4").n_frames == 12
