"""Action parameters: joint angles and related measures from 3D joints (H36M-17, metres).

All angles are in degrees. "Included" angles are the angle at a joint between its two segments,
180 for a straight limb. Directions follow the camera frame of the shared data contract
(x right, y down, z forward), so "up" defaults to -y; pass ``up`` for a tilted camera.

Measures (each a tensor with the leading shape of the input):

- ``knee_l``, ``knee_r``: included angle hip-knee-ankle; ``knee_mean``, ``knee_min``.
- ``hip_l``, ``hip_r``: included angle thorax-hip-knee (180 standing, ~90 thigh level with an
  upright trunk); ``hip_mean``.
- ``elbow_l``, ``elbow_r``: included angle shoulder-elbow-wrist; ``elbow_mean``.
- ``shoulder_l``, ``shoulder_r``: angle between the upper arm and the trunk's downward direction
  (0 arm hanging, 90 arm sideways/forwards, 180 arm overhead); ``shoulder_min``.
- ``trunk_lean``: angle between the trunk (pelvis -> thorax) and up.
- ``body_line``: included angle thorax-pelvis-(mid-ankle), 180 for a straight plank.
- ``knee_over_toe_l``, ``knee_over_toe_r``: horizontal forward offset of the knee ahead of the
  ankle, in shin lengths (forward = facing direction from the hip axis and up). H36M-17 has no toe
  joint; a foot is about 0.5 shin lengths long, so values above ~0.5 put the knee past the toes.
- ``wrist_above_head_l``, ``wrist_above_head_r``: height of the wrist above the head (metres).
- ``symmetry_knee``, ``symmetry_hip``, ``symmetry_elbow``, ``symmetry_shoulder``: absolute
  left/right differences of those angles.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from vivid.pose3d.bones import JOINT_INDEX as J

MEASURES = (
    "knee_l", "knee_r", "knee_mean", "knee_min", "hip_l", "hip_r", "hip_mean", "elbow_l", "elbow_r",
    "elbow_mean", "shoulder_l", "shoulder_r", "shoulder_min", "trunk_lean", "body_line",
    "knee_over_toe_l", "knee_over_toe_r", "wrist_above_head_l", "wrist_above_head_r",
    "symmetry_knee", "symmetry_hip", "symmetry_elbow", "symmetry_shoulder",
)  # fmt: skip


def angle_between(a: Tensor, b: Tensor) -> Tensor:
    """Angle in degrees between vectors a and b (..., 3) -> (...)."""
    # atan2 of |a x b| and a.b is accurate near 0 and 180 degrees, unlike acos.
    cross = torch.linalg.cross(a, b, dim=-1).norm(dim=-1)
    return torch.rad2deg(torch.atan2(cross, (a * b).sum(-1)))


def included_angle(joints: Tensor, a: int, b: int, c: int) -> Tensor:
    """Angle at joint b between b->a and b->c, degrees. joints (..., 17, 3) -> (...)."""
    return angle_between(joints[..., a, :] - joints[..., b, :], joints[..., c, :] - joints[..., b, :])


def joint_angles(joints3d: Tensor | np.ndarray, up: tuple[float, float, float] = (0.0, -1.0, 0.0)) -> dict[str, Tensor]:
    """All measures listed in the module docstring.

    Args:
        joints3d: (..., 17, 3) metres (camera or world frame; only differences are used).
        up: the upward direction in that frame.
    Returns:
        dict name -> (...) float tensor.
    """
    x = torch.as_tensor(joints3d, dtype=torch.float64)
    if x.ndim < 2 or x.shape[-2:] != (17, 3):
        raise ValueError(f"joints3d must have shape (..., 17, 3), got {tuple(x.shape)}")
    upv = torch.tensor(up, dtype=x.dtype)
    upv = upv / upv.norm()
    out: dict[str, Tensor] = {}
    for side, (hip, knee, ankle, sh, el, wr) in {
        "l": ("l_hip", "l_knee", "l_ankle", "l_shoulder", "l_elbow", "l_wrist"),
        "r": ("r_hip", "r_knee", "r_ankle", "r_shoulder", "r_elbow", "r_wrist"),
    }.items():
        out[f"knee_{side}"] = included_angle(x, J[hip], J[knee], J[ankle])
        out[f"hip_{side}"] = included_angle(x, J["thorax"], J[hip], J[knee])
        out[f"elbow_{side}"] = included_angle(x, J[sh], J[el], J[wr])
        trunk_down = x[..., J["pelvis"], :] - x[..., J["thorax"], :]
        out[f"shoulder_{side}"] = angle_between(x[..., J[el], :] - x[..., J[sh], :], trunk_down)
        out[f"wrist_above_head_{side}"] = ((x[..., J[wr], :] - x[..., J["head"], :]) * upv).sum(-1)
    # Facing direction: perpendicular to the hip axis (right -> left) and to up, in the ground plane.
    hip_axis = x[..., J["l_hip"], :] - x[..., J["r_hip"], :]
    forward = torch.linalg.cross(hip_axis, upv.expand_as(hip_axis), dim=-1)
    forward = forward - (forward * upv).sum(-1, keepdim=True) * upv
    forward = forward / forward.norm(dim=-1, keepdim=True).clamp_min(1e-9)
    for side, (knee, ankle) in {"l": ("l_knee", "l_ankle"), "r": ("r_knee", "r_ankle")}.items():
        shin = (x[..., J[knee], :] - x[..., J[ankle], :]).norm(dim=-1).clamp_min(1e-9)
        ahead = ((x[..., J[knee], :] - x[..., J[ankle], :]) * forward).sum(-1)
        out[f"knee_over_toe_{side}"] = ahead / shin
    out["trunk_lean"] = angle_between(x[..., J["thorax"], :] - x[..., J["pelvis"], :], upv.expand(*x.shape[:-2], 3))
    mid_ankle = (x[..., J["l_ankle"], :] + x[..., J["r_ankle"], :]) / 2
    out["body_line"] = angle_between(x[..., J["thorax"], :] - x[..., J["pelvis"], :], mid_ankle - x[..., J["pelvis"], :])
    for name in ("knee", "hip", "elbow", "shoulder"):
        out[f"symmetry_{name}"] = (out[f"{name}_l"] - out[f"{name}_r"]).abs()
    out["knee_mean"] = (out["knee_l"] + out["knee_r"]) / 2
    out["knee_min"] = torch.minimum(out["knee_l"], out["knee_r"])
    out["hip_mean"] = (out["hip_l"] + out["hip_r"]) / 2
    out["elbow_mean"] = (out["elbow_l"] + out["elbow_r"]) / 2
    out["shoulder_min"] = torch.minimum(out["shoulder_l"], out["shoulder_r"])
    return {k: out[k] for k in MEASURES}


def angles_to_floats(angles: dict[str, Tensor]) -> dict[str, float]:
    """Scalar measures as plain floats (rounded to 0.01), for JSON."""
    return {k: round(float(v), 2) if math.isfinite(float(v)) else None for k, v in angles.items()}
