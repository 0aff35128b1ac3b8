"""The H36M-17 skeleton: joint names, bones, the bone sets of the geometric loss, and
reference mean bone lengths.

Joint order (shared data contract)::

    0 pelvis, 1 r_hip, 2 r_knee, 3 r_ankle, 4 l_hip, 5 l_knee, 6 l_ankle, 7 spine, 8 thorax,
    9 neck/nose, 10 head, 11 l_shoulder, 12 l_elbow, 13 l_wrist, 14 r_shoulder, 15 r_elbow,
    16 r_wrist

The geometric loss compares the ratios ``l_b / lbar_b`` of predicted bone lengths to reference
mean bone lengths ``lbar_b``: by default (the method's definition) against Human3.6M's mean bone
lengths (:data:`H36M_BONE_LENGTHS`), over all bones of all images of a batch; as a variant,
within each bone set R_i (:data:`BONE_SETS`) of one image, against the 3D-labelled training
data's mean lengths (:func:`mean_bone_lengths`). Those training means are also stored with the
model as a buffer (the root depth is estimated from them), so a checkpoint always carries the
proportions it was trained with.
"""

from __future__ import annotations

import torch
from torch import Tensor

NUM_JOINTS = 17

JOINT_NAMES = (
    "pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "spine", "thorax",
    "neck", "head", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist",
)  # fmt: skip
JOINT_INDEX = {name: i for i, name in enumerate(JOINT_NAMES)}
ROOT = 0

# (parent, child) pairs; the kinematic tree of H36M-17.
BONES = (
    (0, 1), (1, 2), (2, 3),          # right leg: hip girdle, thigh, shin
    (0, 4), (4, 5), (5, 6),          # left leg
    (0, 7), (7, 8), (8, 9), (9, 10),  # trunk and head
    (8, 11), (11, 12), (12, 13),     # left arm: shoulder girdle, upper arm, forearm
    (8, 14), (14, 15), (15, 16),     # right arm
)  # fmt: skip
BONE_NAMES = (
    "r_hip", "r_thigh", "r_shin", "l_hip", "l_thigh", "l_shin",
    "lower_spine", "upper_spine", "neck", "head",
    "l_clavicle", "l_upper_arm", "l_forearm", "r_clavicle", "r_upper_arm", "r_forearm",
)  # fmt: skip
NUM_BONES = len(BONES)

# The bone sets R_i of the per-image variant of the geometric loss (indices into BONES). Bones in one set are expected to
# scale together: legs, arms, the two girdles, and the trunk with the head.
BONE_SETS = (
    (1, 2, 4, 5),     # legs: thighs and shins
    (11, 12, 14, 15),  # arms: upper arms and forearms
    (0, 3, 10, 13),   # girdles: hips and clavicles
    (6, 7, 8, 9),     # trunk and head
)  # fmt: skip

# Left/right joint pairs, for horizontal flips and symmetry measures.
FLIP_PAIRS = ((1, 4), (2, 5), (3, 6), (11, 14), (12, 15), (13, 16))

# Generic adult bone lengths in metres (same order as BONES). Only a starting value for a freshly
# built model: training replaces them with the mean over the 3D-labelled training set.
DEFAULT_BONE_LENGTHS = (
    0.13, 0.44, 0.43, 0.13, 0.44, 0.43,
    0.23, 0.25, 0.11, 0.12,
    0.15, 0.28, 0.25, 0.15, 0.28, 0.25,
)  # fmt: skip

# Human3.6M's mean bone lengths in millimetres (BONES order), the reference ``lbar_b`` of the
# method's geometric loss. They are the segment lengths of the skeleton that Human3.6M's metadata
# defines for its 32-joint layout, as published with widely used Human3.6M code (hip 132.95,
# thigh 442.89, shin 454.21, lower spine 233.38, upper spine 257.08, neck 121.13, head 115.00,
# clavicle 151.03, upper arm 278.88, forearm 251.73; left and right equal). They are taken as
# published, not recomputed: no Human3.6M data is available here.
H36M_BONE_LENGTHS_MM = (
    132.95, 442.89, 454.21, 132.95, 442.89, 454.21,
    233.38, 257.08, 121.13, 115.00,
    151.03, 278.88, 251.73, 151.03, 278.88, 251.73,
)  # fmt: skip
H36M_BONE_LENGTHS = tuple(v / 1000.0 for v in H36M_BONE_LENGTHS_MM)  # metres


def flip_permutation() -> list[int]:
    """Joint permutation that swaps left and right."""
    perm = list(range(NUM_JOINTS))
    for a, b in FLIP_PAIRS:
        perm[a], perm[b] = b, a
    return perm


def bone_vectors(joints: Tensor) -> Tensor:
    """Child minus parent for each bone.

    Args:
        joints: (..., 17, D) joint coordinates.
    Returns:
        (..., 16, D) bone vectors in BONES order.
    """
    if joints.shape[-2] != NUM_JOINTS:
        raise ValueError(f"joints must have shape (..., {NUM_JOINTS}, D), got {tuple(joints.shape)}")
    parents = torch.tensor([p for p, _ in BONES], device=joints.device)
    children = torch.tensor([c for _, c in BONES], device=joints.device)
    return joints[..., children, :] - joints[..., parents, :]


def bone_lengths(joints: Tensor, eps: float = 0.0) -> Tensor:
    """Euclidean bone lengths.

    Args:
        joints: (..., 17, D) joint coordinates (metres for 3D).
        eps: added under the square root so that gradients stay finite at zero length.
    Returns:
        (..., 16) lengths in BONES order.
    """
    v = bone_vectors(joints)
    return (v.pow(2).sum(-1) + eps).sqrt()


def bone_visibility(visibility: Tensor) -> Tensor:
    """A bone counts as visible when both of its joints are.

    Args:
        visibility: (..., 17) in [0, 1].
    Returns:
        (..., 16) products of the two joint visibilities.
    """
    parents = torch.tensor([p for p, _ in BONES], device=visibility.device)
    children = torch.tensor([c for _, c in BONES], device=visibility.device)
    return visibility[..., parents] * visibility[..., children]


def mean_bone_lengths(joints3d: Tensor) -> Tensor:
    """Reference mean bone lengths ``lbar_b`` over a set of 3D skeletons.

    Args:
        joints3d: (N, 17, 3) metres; rows with any non-finite value are ignored.
    Returns:
        (16,) mean lengths in metres.
    """
    if joints3d.ndim != 3 or joints3d.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"joints3d must have shape (N, {NUM_JOINTS}, 3), got {tuple(joints3d.shape)}")
    keep = torch.isfinite(joints3d).all(dim=(1, 2))
    if not bool(keep.any()):
        raise ValueError("no finite 3D skeleton to compute reference bone lengths from")
    return bone_lengths(joints3d[keep].double()).mean(0).float()
