"""Stutter repair: detection of repeated frames, the auto threshold, and the repair itself."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
import torch

from vivid.core.errors import VividError
from vivid.core.fileio import to_tensor, to_uint8
from vivid.core.video import Frame, VideoWriter, iter_frames, probe
from vivid.interp.repair import (
    AUTO_CAP,
    AUTO_FLOOR,
    RepairResult,
    auto_threshold,
    find_repeats,
    frame_differences,
    group_runs,
    parse_threshold,
    repair_file,
    repair_frames,
)

REPEATED = [5, 12, 13, 20]  # 5 and 20 single repeats, 12-13 a double


def blend(frame0, frame1, t):
    t = t.reshape(-1, 1, 1, 1)
    return (1 - t) * frame0 + t * frame1


def moving_square_clip(n: int = 26, h: int = 48, w: int = 64) -> list[np.ndarray]:
    """A square moving 2 px per frame over a fixed textured background."""
    rng = np.random.default_rng(0)
    background = (rng.uniform(40, 200, (h, w, 3))).astype(np.uint8)
    frames = []
    for i in range(n):
        img = background.copy()
        x = 4 + 2 * i
        img[12:32, x : x + 16] = (230, 40, 40)
        frames.append(img)
    return frames


def stutter(frames: list[np.ndarray], repeated: list[int]) -> list[np.ndarray]:
    out = list(frames)
    for i in sorted(repeated):
        out[i] = out[i - 1]
    return out


def as_frames(images: list[np.ndarray], fps: float = 25.0) -> list[Frame]:
    return [Frame(image=im, pts=i, time=i / fps, index=i) for i, im in enumerate(images)]


def test_group_runs_and_find_repeats_hand_values():
    assert group_runs([9, 3, 4]) == [(3, 2), (9, 1)]
    assert group_runs([]) == []
    assert find_repeats(np.array([5.0, 0.0, 0.2, 3.0, 0.5]), 0.5) == [2, 3, 5]


def test_auto_threshold_rule():
    # median of the moving differences (> floor) is 5 -> 0.2 * 5 = 1.0
    assert auto_threshold(np.array([0.0, 0.01, 4.0, 5.0, 6.0])) == pytest.approx(1.0)
    assert auto_threshold(np.zeros(10)) == AUTO_FLOOR  # a still video
    assert auto_threshold(np.array([0.0, 1.0, 1.0])) == AUTO_FLOOR  # 0.2 clipped up to the floor
    assert auto_threshold(np.array([0.0, 50.0, 60.0])) == AUTO_CAP  # 12 clipped down to the cap


def test_parse_threshold():
    assert parse_threshold("auto") is None and parse_threshold("AUTO ") is None
    assert parse_threshold("0.5") == 0.5 and parse_threshold(2) == 2.0
    for bad in ("fast", "-1", "nan"):
        with pytest.raises(VividError, match="threshold"):
            parse_threshold(bad)


def test_repair_finds_exactly_the_repeated_frames():
    clean = moving_square_clip()
    frames = as_frames(stutter(clean, REPEATED))
    diffs = frame_differences(frames)
    thr = auto_threshold(diffs)
    assert find_repeats(diffs, thr) == REPEATED
    result = RepairResult()
    out = list(repair_frames(frames, blend, threshold=thr, result=result))
    assert result.repaired == REPEATED
    assert result.runs == [{"start": 5, "length": 1}, {"start": 12, "length": 2}, {"start": 20, "length": 1}]
    assert result.skipped == []
    # frame count and timestamps unchanged; untouched frames are the input frames
    assert [f.index for f in out] == list(range(len(frames)))
    assert [f.time for f in out] == [f.time for f in frames]
    for f, g in zip(out, frames):
        if f.index not in REPEATED:
            assert f.image is g.image
    # replaced frames are interpolated between the surrounding distinct frames at t = i/(k+1)
    def expect(a, b, t):
        return to_uint8(blend(to_tensor(clean[a])[None], to_tensor(clean[b])[None], torch.tensor([t])))[0]

    assert np.array_equal(out[5].image, expect(4, 6, 0.5))
    assert np.array_equal(out[12].image, expect(11, 14, 1 / 3))
    assert np.array_equal(out[13].image, expect(11, 14, 2 / 3))


def test_repair_through_a_lossy_video_file(tmp_path):
    """H.264 coding noise must neither hide the repeats nor create false ones."""
    src = tmp_path / "stutter.mp4"
    with VideoWriter(src, Fraction(25)) as w:
        for im in stutter(moving_square_clip(), REPEATED):
            w.write(im)
    out, report = tmp_path / "fixed.mp4", tmp_path / "report.json"
    result = repair_file(src, out, blend, threshold="auto", report=report)
    assert result.repaired == REPEATED and result.threshold_rule == "auto"
    payload = json.loads(report.read_text())
    assert payload["repaired"] == REPEATED and payload["n_frames"] == 26
    a, b = probe(src, exact=True), probe(out, exact=True)
    assert (a.n_frames, a.fps) == (b.n_frames, b.fps) == (26, 25)
    assert [f.time for f in iter_frames(src)] == pytest.approx([f.time for f in iter_frames(out)], abs=1e-4)


def test_runs_that_cannot_be_repaired_are_kept():
    clean = moving_square_clip(30)
    # a run at the very end, and a run longer than max_run
    frames = as_frames(stutter(clean, [3, *range(10, 16), 28, 29]))
    result = RepairResult()
    out = list(repair_frames(frames, blend, threshold=0.5, max_run=4, result=result))
    assert result.repaired == [3]
    assert result.skipped == [
        {"start": 10, "length": 6, "reason": "run longer than max_run=4 (still scene)"},
        {"start": 28, "length": 2, "reason": "run reaches the end of the video"},
    ]
    assert len(out) == 30
    for i in [*range(10, 16), 28, 29]:
        assert np.array_equal(out[i].image, frames[i].image)


def test_no_repair_across_a_scene_cut():
    clean = moving_square_clip(12)
    other = [255 - (im // 2) for im in moving_square_clip(12)]
    images = clean[:6] + [clean[5]] + other[7:]  # frame 6 repeats 5, then the scene changes
    result = RepairResult()
    out = list(repair_frames(as_frames(images), blend, threshold=0.5, result=result))
    assert result.repaired == [] and result.skipped[0]["reason"].startswith("scene cut")
    assert np.array_equal(out[6].image, images[6])


def test_repair_file_rejects_bad_input(tmp_path):
    one = tmp_path / "one.mp4"
    with VideoWriter(one, 25) as w:
        w.write(moving_square_clip(1)[0])
    with pytest.raises(VividError, match="at least 2"):
        repair_file(one, tmp_path / "o.mp4", blend)
    assert not (tmp_path / "o.mp4").exists()
    with pytest.raises(VividError, match="input"):
        repair_file(one, one, blend)
    with pytest.raises(VividError, match="does not exist"):
        repair_file(tmp_path / "missing.mp4", tmp_path / "o.mp4", blend)
