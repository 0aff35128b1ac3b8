"""Losses: hand-worked values, function and Module agree."""

from __future__ import annotations

import pytest
import torch

from vivid.bodyvid.camera import project_joints
from vivid.bodyvid.losses import (
    JointLoss,
    ReprojectionLoss,
    VelocityLoss,
    joint_loss,
    project_labels,
    reprojection_loss,
    velocity_loss,
)


def _moving(S=8, fps=30.0):
    """Two joints over S frames: the root still, joint 1 moving 1 cm per frame along x."""
    j = torch.zeros(1, S, 2, 3)
    j[0, :, 1, 0] = 0.01 * torch.arange(S)
    return j, (torch.arange(S) / fps)[None]


def test_velocity_loss_is_zero_on_identical_motion():
    j, t = _moving()
    assert float(velocity_loss(j, j.clone(), t)) == 0.0
    assert float(velocity_loss(j, j.clone(), t, mode="frames")) == 0.0


def test_velocity_loss_of_a_joint_moving_one_centimetre_per_frame():
    j, t = _moving(S=8, fps=30.0)
    still = torch.zeros_like(j)
    # Average velocity: 7 cm over 7/30 s = 0.3 m/s for joint 1, 0 for the root; mean over 2 joints.
    assert float(velocity_loss(still, j, t)) == pytest.approx(0.15, rel=1e-5)
    assert float(VelocityLoss()(still, j, t)) == pytest.approx(0.15, rel=1e-5)
    # Uneven timestamps: the sequence's own span counts.
    t2 = t.clone()
    t2[0, -1] = 14 / 30
    assert float(velocity_loss(still, j, t2)) == pytest.approx(0.5 * 0.07 / (14 / 30), rel=1e-5)


def test_velocity_loss_ignores_a_common_translation():
    j, t = _moving()
    shifted = j + torch.linspace(0, 1, 8).view(1, 8, 1, 1)
    assert float(velocity_loss(shifted, j, t)) == pytest.approx(0.0, abs=1e-6)


def test_joint_loss_is_root_relative_mean_distance():
    a = torch.zeros(1, 3, 3)
    b = a.clone()
    b[0, 2] = torch.tensor([0.03, 0.04, 0.0])
    b += 5.0  # a common offset does not count
    assert float(joint_loss(a, b)) == pytest.approx(0.05 / 3, rel=1e-5)
    assert float(JointLoss()(a, b)) == float(joint_loss(a, b))


def test_reprojection_against_a_hand_projection():
    size, f = 64, 100.0
    K = torch.tensor([[f, 0.0, 31.5], [0.0, f, 31.5], [0.0, 0.0, 1.0]])
    joints = torch.tensor([[[0.0, 0.0, 0.0], [0.1, -0.2, 0.0]]])
    camera = torch.tensor([[1.0, 0.0, 0.0]])  # s = 1: root at depth 2 f / (S s) = 3.125 m, centred
    uv = project_joints(joints, camera, K[None], size)
    tz = 2 * f / size
    assert torch.allclose(uv[0, 0], torch.tensor([31.5, 31.5]))
    assert torch.allclose(uv[0, 1], torch.tensor([31.5 + f * 0.1 / tz, 31.5 - f * 0.2 / tz]))
    # Labels: the labelled 3D joints through the frame's own camera.
    labels = project_labels(joints + torch.tensor([0.0, 0.0, tz]), K[None])
    assert torch.allclose(labels, uv, atol=1e-5)
    target = uv.clone()
    target[0, 1, 0] += 6.4  # one joint 6.4 px off: 0.1 crop sides, mean over 2 joints
    assert float(reprojection_loss(uv, target, size)) == pytest.approx(0.05, rel=1e-4)
    assert float(ReprojectionLoss(size)(uv, target)) == pytest.approx(0.05, rel=1e-4)
    w = torch.tensor([[1.0, 0.0]])
    assert float(reprojection_loss(uv, target, size, w)) == pytest.approx(0.0, abs=1e-7)


def test_weak_perspective_projection():
    joints = torch.tensor([[[0.0, 0.0, 0.0], [0.5, 0.0, 0.3]]])
    uv = project_joints(joints, torch.tensor([[1.0, 0.0, 0.0]]), torch.eye(3)[None], 64, mode="weak")
    assert torch.allclose(uv[0, 1], torch.tensor([(0.5 + 1) * 32 - 0.5, 31.5]))
