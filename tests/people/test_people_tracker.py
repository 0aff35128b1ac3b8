"""The tracker on a rendered clip of two people crossing, and on hand-made boxes."""

import numpy as np
import pytest
import torch

from vivid.core.errors import VividError
from vivid.people.boxes import iou_matrix
from vivid.people.data import Backgrounds, _paste, mask_box, scaled_person
from vivid.people.detector import Detection, PersonDetector
from vivid.people.model import people_tiny
from vivid.people.tracker import IoUTracker, track_video

T, H, W = 24, 128, 192
GAP = range(10, 13)  # person A is not detected here (hidden as the two cross)


def crossing_clip(cutouts):
    """Two rendered people walking past each other: A left to right behind, B right to left in front.

    Returns frames (T, H, W, 3) uint8 and each person's box per frame (T, 2, 4).
    """
    rng = np.random.default_rng(0)
    bg = Backgrounds("procedural", "val").draw(rng, W)[:, :H]
    people = [scaled_person(*cutouts.person(i), 90, np.random.default_rng(i)) for i in range(2)]
    frames, boxes = [], np.zeros((T, 2, 4))
    for t in range(T):
        canvas = bg.clone()
        for k, (rgb, alpha) in enumerate(people):
            x = 10 + 6 * t if k == 0 else W - 50 - 6 * t
            mask = _paste(canvas, rgb, alpha, int(x), 20 + 8 * k)
            boxes[t, k] = mask_box(mask.numpy())
        frames.append((canvas.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy())
    return np.stack(frames), boxes


def test_two_people_crossing_give_two_tracks_with_stable_ids_and_a_bridged_gap(cutouts):
    frames, truth = crossing_clip(cutouts)
    assert iou_matrix(truth[11, :1], truth[11, 1:])[0, 0] > 0.3  # they do overlap while crossing

    seen = []

    def detector(image):  # the renders' own boxes, with A missing while hidden
        t = len(seen)
        seen.append(image)
        return [Detection(tuple(truth[t, k]), 0.9) for k in range(2) if not (k == 0 and t in GAP)]

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
