"""The tracker on a rendered clip of two people crossing (tests/conftest.py), and on hand-made boxes."""

import numpy as np
import pytest
import torch

from vivid.core.errors import VividError
from vivid.people.boxes import iou_matrix
from vivid.people.detector import Detection, PersonDetector
from vivid.people.model import people_tiny
from vivid.people.tracker import IoUTracker, track_video

GAP = range(10, 13)  # person A is not detected here (hidden as the two cross)


def test_two_people_crossing_give_two_tracks_with_stable_ids_and_a_bridged_gap(crossing_clip, make_truth_detector):
    frames, truth = crossing_clip
    T = len(frames)
    assert iou_matrix(truth[11, :1], truth[11, 1:])[0, 0] > 0.3  # they do overlap while crossing

    detector = make_truth_detector(truth, missing={0: GAP})  # the renders' own boxes, with A missing while hidden
    tracks = track_video(list(frames), detector)
    assert len(tracks) == 2
    by_person = {}
    for track in tracks:
        assert track.frames == list(range(T))
        ious = [iou_matrix(np.array([track.boxes[t]]), truth[t])[0] for t in range(T) if track.detected[t]]
        owners = {int(np.argmax(i)) for i in ious}
        assert len(owners) == 1, "a track switched people"
        by_person[owners.pop()] = track
    a, b = by_person[0], by_person[1]
    assert [t for t in range(T) if not a.detected[t]] == list(GAP) and all(b.detected)
    for t in GAP:  # the bridged boxes lie on A's true path
        assert iou_matrix(np.array([a.boxes[t]]), truth[t, :1])[0, 0] > 0.7
        assert a.scores[t] == 0.0


def test_a_gap_longer_than_allowed_starts_a_new_track():
    box = np.array([[0, 0, 10, 20]])
    tracker = IoUTracker(max_gap=2, min_length=1)
    for t in (0, 1, 2):
        tracker.update(t, box + [t, 0, t, 0])
    tracker.update(6, box + [6, 0, 6, 0])  # missed 3, 4, 5
    ids = [t.id for t in tracker.tracks()]
    assert ids == [1, 2]
    tracker = IoUTracker(max_gap=3, min_length=1)
    for t in (0, 1, 2, 6):
        tracker.update(t, box + [t, 0, t, 0])
    (track,) = tracker.tracks()
    assert track.frames == list(range(7)) and track.detected == [True, True, True, False, False, False, True]
    np.testing.assert_allclose(track.box_at(4), (4, 0, 14, 20))


def test_short_flickers_are_dropped_and_frames_must_increase():
    tracker = IoUTracker(min_length=3)
    for t in range(5):
        boxes = [[0, 0, 10, 20]] + ([[50, 50, 60, 70]] if t == 2 else [])
        tracker.update(t, np.array(boxes))
    assert len(tracker.tracks()) == 1
    with pytest.raises(VividError):
        tracker.update(3, np.zeros((0, 4)))


def test_track_video_runs_the_network_detector():
    torch.manual_seed(0)
    detector = PersonDetector(people_tiny(), score_threshold=0.0)
    frames = [np.full((48, 64, 3), 100 + 10 * t, np.uint8) for t in range(3)]
    tracks = track_video(frames, detector, min_length=1)
    assert tracks and all(t.first == 0 or t.first in (1, 2) for t in tracks)
    assert all(isinstance(d, Detection) for d in detector(frames[0]))
