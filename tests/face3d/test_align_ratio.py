"""Stage 2's alignment recovers a known similarity; the ratio mapping and the dynamic adjustment."""

from __future__ import annotations

import pytest
import torch

from vivid.core.geometry import apply_similarity, euler_to_matrix
from vivid.face3d.align import align_label, keypoint_subset
from vivid.face3d.ratio import DynamicRatio, batch_split, label_quality, ratio_from_quality


def test_alignment_recovers_a_known_similarity(fm):
    pred = fm.mean_shape[None].double()
    R = torch.from_numpy(euler_to_matrix(torch.tensor([0.2, -0.1, 0.4]).numpy())).double()
    label = apply_similarity(pred, 1.3, R, torch.tensor([0.05, -0.02, 0.3], dtype=torch.float64))
    aligned, s, R_est, t = align_label(label, pred, fm.landmark_vertices, keypoint_subset(fm.face_vertices))
    assert (aligned - pred).norm(dim=-1).max() < 1e-6
    assert float(s[0]) == pytest.approx(1 / 1.3, rel=1e-6)
    assert torch.allclose(R_est[0], R.T, atol=1e-6)


def test_alignment_is_batched_like_per_item(fm):
    pred = torch.stack([fm.mean_shape, fm.mean_shape * 1.05])
    label = pred.flip(0) + 0.01
    together, *_ = align_label(label, pred, fm.landmark_vertices, keypoint_subset(fm.face_vertices))
    alone = torch.cat([align_label(label[i : i + 1], pred[i : i + 1], fm.landmark_vertices,
                                   keypoint_subset(fm.face_vertices))[0] for i in range(2)])
    assert torch.allclose(together, alone, atol=1e-6)


def test_ratio_from_quality():
    assert ratio_from_quality(0.0) == 1
    assert ratio_from_quality(0.5) == 1
    assert ratio_from_quality(1.0) == 2
    assert ratio_from_quality(3.0) == 3
    assert ratio_from_quality(1.0, (1.0, 2.0)) == 1
    assert label_quality([0.0, 0.0, 3.0]) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        ratio_from_quality(-1.0)


def test_batch_split():
    assert batch_split(16, 1) == (8, 8)
    assert batch_split(16, 3) == (12, 4)
    assert batch_split(15, 2) == (10, 5)
    assert batch_split(4, 100) == (3, 1)


def test_dynamic_adjustment_on_a_scripted_similarity_sequence():
    d = DynamicRatio(ratio=3.0, threshold=0.8)
    changes = [d.update(step, sim) for step, sim in [(100, 0.85), (200, 0.7), (300, 0.82), (400, 0.75), (500, 0.6),
                                                     (600, 0.5)]]
    assert changes == [False, True, False, True, True, True]
    assert [(a.step, a.ratio) for a in d.history] == [(200, 2.0), (400, 1.0), (500, 0.5), (600, 0.25)]
    assert d.history[0].similarity == pytest.approx(0.7)
    assert not d.update(700, 0.1)  # at min_ratio: no further change
