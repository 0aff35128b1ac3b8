"""Step 7 of the method: the losses, each a function and a thin Module (its weight is a setting of
:class:`vivid.bodyvid.config.BodyVidLoss`; the total is their weighted sum, in the module).

- :func:`joint_loss`: per frame, mean L2 distance of the pelvis-relative 3D joints to the labels;
- :func:`reprojection_loss`: per frame, predicted joints projected with the predicted camera
  against the labelled 3D joints projected with the frame's camera (the 2D labels), mean L2
  distance in units of the crop side;
- :func:`velocity_loss`: per sequence, the average velocity of every joint over the sequence,
  ``(x_last - x_first) / (t_last - t_first)`` with the frames' own timestamps, predicted against
  labelled, L2, averaged over joints and sequences (``mode="frames"``: the same for each pair of
  consecutive frames, an option);
- :func:`vertex_loss` and :func:`parameter_loss`: optional, where the synthetic labels have them.
"""

from __future__ import annotations

from torch import Tensor, nn

from vivid.core.geometry import project

VELOCITY_MODES = ("average", "frames")


def _check(pred: Tensor, target: Tensor, name: str) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"{name}: prediction {tuple(pred.shape)} and label {tuple(target.shape)} differ in shape")


def _weighted_mean(dist: Tensor, weight: Tensor | None) -> Tensor:
    if weight is None:
        return dist.mean()
    weight = weight.to(dist.dtype).expand_as(dist)
    return (dist * weight).sum() / weight.sum().clamp(min=1e-6)


def joint_loss(pred: Tensor, target: Tensor, root: int = 0) -> Tensor:
    """3D joint loss: (..., J, 3) joints, both made relative to joint ``root`` -> mean L2 distance (metres)."""
    _check(pred, target, "joint_loss")
    rel = lambda x: x - x[..., root : root + 1, :]  # noqa: E731
    return (rel(pred) - rel(target)).norm(dim=-1).mean()


def reprojection_loss(pred_2d: Tensor, target_2d: Tensor, size: float, weight: Tensor | None = None) -> Tensor:
    """2D loss: (..., J, 2) pixels -> mean L2 distance over ``size`` (the crop side); ``weight``
    (..., J) leaves joints out (0) or in (1)."""
    _check(pred_2d, target_2d, "reprojection_loss")
    return _weighted_mean((pred_2d - target_2d).norm(dim=-1) / size, weight)


def project_labels(joints3d: Tensor, K: Tensor) -> Tensor:
    """Labelled camera-frame joints (..., J, 3) projected with the frame's intrinsics (..., 3, 3) -> (..., J, 2)."""
    return project(joints3d, K[..., None, :, :])


def sequence_velocity(joints: Tensor, times: Tensor, mode: str = "average") -> Tensor:
    """(B, S, J, 3) joints and (B, S) timestamps in seconds -> velocities in units per second:
    (B, J, 3) the average over the sequence, or (B, S - 1, J, 3) per step with ``mode="frames"``."""
    if mode not in VELOCITY_MODES:
        raise ValueError(f"velocity mode must be one of {VELOCITY_MODES}, got {mode!r}")
    if joints.ndim != 4 or times.shape != joints.shape[:2] or joints.shape[1] < 2:
        raise ValueError(f"need joints (B, S, J, 3) with S >= 2 and times (B, S), got {tuple(joints.shape)}, {tuple(times.shape)}")
    if mode == "average":
        span = (times[:, -1] - times[:, 0]).clamp(min=1e-6)
        return (joints[:, -1] - joints[:, 0]) / span[:, None, None]
    step = (times[:, 1:] - times[:, :-1]).clamp(min=1e-6)
    return (joints[:, 1:] - joints[:, :-1]) / step[..., None, None]


def velocity_loss(pred: Tensor, target: Tensor, times: Tensor, root: int = 0, mode: str = "average") -> Tensor:
    """Velocity loss of pelvis-relative joints (B, S, J, 3) with the frames' timestamps (B, S):
    mean over joints and sequences of ``||v_pred - v_label||`` (metres per second)."""
    _check(pred, target, "velocity_loss")
    rel = lambda x: x - x[..., root : root + 1, :]  # noqa: E731
    return (sequence_velocity(rel(pred), times, mode) - sequence_velocity(rel(target), times, mode)).norm(dim=-1).mean()


def vertex_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Mean L2 distance of (..., V, 3) vertices, each set made relative to its own mean."""
    _check(pred, target, "vertex_loss")
    return ((pred - pred.mean(-2, keepdim=True)) - (target - target.mean(-2, keepdim=True))).norm(dim=-1).mean()


def parameter_loss(pred_rot: Tensor, target_rot: Tensor, pred_phen: Tensor, target_phen: Tensor) -> Tensor:
    """Rotations (..., K, 3, 3) (mean squared Frobenius difference) plus phenotypes (..., 6) (mean squared error)."""
    _check(pred_rot, target_rot, "parameter_loss")
    _check(pred_phen, target_phen, "parameter_loss")
    return (pred_rot - target_rot).square().sum((-1, -2)).mean() + (pred_phen - target_phen).square().mean()


class JointLoss(nn.Module):
    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return joint_loss(pred, target)


class ReprojectionLoss(nn.Module):
    def __init__(self, size: float) -> None:
        super().__init__()
        self.size = size

    def forward(self, pred_2d: Tensor, target_2d: Tensor, weight: Tensor | None = None) -> Tensor:
        return reprojection_loss(pred_2d, target_2d, self.size, weight)


class VelocityLoss(nn.Module):
    def __init__(self, mode: str = "average") -> None:
        super().__init__()
        self.mode = mode

    def forward(self, pred: Tensor, target: Tensor, times: Tensor) -> Tensor:
        return velocity_loss(pred, target, times, mode=self.mode)


class VertexLoss(nn.Module):
    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return vertex_loss(pred, target)


class ParameterLoss(nn.Module):
    def forward(self, pred_rot: Tensor, target_rot: Tensor, pred_phen: Tensor, target_phen: Tensor) -> Tensor:
        return parameter_loss(pred_rot, target_rot, pred_phen, target_phen)


__all__ = [
    "joint_loss", "reprojection_loss", "velocity_loss", "vertex_loss", "parameter_loss", "sequence_velocity",
    "project_labels", "JointLoss", "ReprojectionLoss", "VelocityLoss", "VertexLoss", "ParameterLoss",
]  # fmt: skip
