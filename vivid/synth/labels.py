"""Labels of rendered scenes: 2D joints and face landmarks with their visibility, the labels of
one rendered body frame, and the body-model parameters of a sample."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from vivid.core.fileio import to_uint8
from vivid.core.geometry import matrix_to_axis_angle, project
from vivid.synth.samples import BodyParams, FrameLabels

if TYPE_CHECKING:
    from vivid.synth.body_scenes import Frames
    from vivid.synth.kit import BodyKit
    from vivid.synth.motion import Motion

__all__ = ["rotvec", "joint_labels", "landmark_labels", "frame_labels", "body_params"]


def rotvec(R: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 3) axis-angle, numpy."""
    return matrix_to_axis_angle(torch.from_numpy(np.ascontiguousarray(R))).numpy()


def _pixels(points: torch.Tensor, K: torch.Tensor, height: int, width: int):
    """Project camera-frame points (N, 3): pixels (N, 2), whether each lands inside the image,
    and the column and row (N,) of its pixel, clamped to the image."""
    uv = project(points, K)
    u, v = uv[:, 0], uv[:, 1]
    inside = (u > -0.5) & (u < width - 0.5) & (v > -0.5) & (v < height - 0.5)
    ui = u.round().long().clamp(0, width - 1)
    vi = v.round().long().clamp(0, height - 1)
    return uv, inside, ui, vi


def joint_labels(
    joints_cam: torch.Tensor,
    K: torch.Tensor,
    depth: torch.Tensor,
    parts: torch.Tensor,
    joint_parts: torch.Tensor,
) -> tuple[np.ndarray, np.ndarray]:
    """2D joints (N, 2) and visibility (N,) float32 of camera-frame joints (N, 3) in one image.

    A joint is visible when it projects inside the image and the surface seen at its pixel
    is one of the body parts around that joint, no more than 0.25 m in front of it
    (otherwise another part, or another limb, hides it).

    Args:
        K: (3, 3); depth: (H, W) metres, 0 on the background; parts: (H, W) part labels;
        joint_parts: (N, parts) bool, the parts around each joint (:class:`BodyKit` tables).
    """
    H, W = depth.shape
    uv, inside, ui, vi = _pixels(joints_cam, K, H, W)
    inside = inside & (joints_cam[:, 2] > 0)
    seen_part = parts[vi, ui]
    seen_depth = depth[vi, ui]
    ok = joint_parts[torch.arange(len(joint_parts)), seen_part.long()]
    close = (joints_cam[:, 2] - seen_depth) < 0.25
    vis = inside & ok & close & (seen_part > 0)
    return uv.numpy().astype(np.float32), vis.numpy().astype(np.float32)


def landmark_labels(landmarks_cam: torch.Tensor, K: torch.Tensor, depth: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """2D landmarks (N, 2) and visibility (N,) float32 of camera-frame landmarks (N, 3), which
    lie on the rendered surface: one is visible when the depth seen at its pixel is its own
    (within 1 cm). ``K``: (3, 3); ``depth``: (H, W) metres, 0 on the background."""
    H, W = depth.shape
    uv, inside, ui, vi = _pixels(landmarks_cam, K, H, W)
    seen = depth[vi, ui]
    vis = inside & (seen > 0) & ((seen - landmarks_cam[:, 2]).abs() < 0.01)
    return uv.numpy().astype(np.float32), vis.numpy().astype(np.float32)


def frame_labels(
    fr: Frames,
    b: int,
    verts_cam: torch.Tensor,
    joints_cam: torch.Tensor,
    coco_cam: torch.Tensor,
    K: torch.Tensor,
    R: torch.Tensor,
    t: torch.Tensor,
    kit: BodyKit,
    *,
    vertices: bool = False,
) -> FrameLabels:
    """Labels of frame ``b`` of a rendered batch.

    Args:
        fr: the rendered batch; verts_cam: (B, V, 3), joints_cam and coco_cam: (B, 17, 3)
            camera frame; K, R: (B, 3, 3); t: (B, 3); kit: the tables of joint parts.
        vertices: also return the vertices.
    """
    j2d, vis = joint_labels(joints_cam[b], K[b], fr.depth[b], fr.parts[b], kit.h36m_parts)
    c2d, cvis = joint_labels(coco_cam[b], K[b], fr.depth[b], fr.parts[b], kit.coco_parts)
    return FrameLabels(
        image=to_uint8(fr.rgb[b]),
        mask=(fr.triangle_id[b] >= 0).numpy(),
        parts=fr.parts[b].numpy().astype(np.uint8),
        depth=fr.depth[b].numpy().astype(np.float32),
        garment_mask=fr.garment[b].numpy(),
        joints2d=j2d,
        visibility=vis,
        joints3d=joints_cam[b].numpy().astype(np.float32),
        coco2d=c2d,
        coco_visibility=cvis,
        K=K[b].numpy().astype(np.float32),
        R=R[b].numpy().astype(np.float32),
        t=t[b].numpy().astype(np.float32),
        vertices=verts_cam[b].numpy().astype(np.float32) if vertices else None,
    )


def body_params(motion: Motion, deltas: np.ndarray, phenotype: np.ndarray, sh: np.ndarray) -> BodyParams:
    """The body parameters of a clip: its motion (T frames), local-ref deltas (T, B, 3, 3),
    phenotype (6,) and camera-frame lighting (T, 9, 3)."""
    return BodyParams(
        phenotype=phenotype.astype(np.float32),
        pose=rotvec(deltas).astype(np.float32),
        joint_angles=motion.angles.astype(np.float32),
        root=motion.root.astype(np.float32),
        translation=motion.translation.astype(np.float32),
        sh=sh.astype(np.float32),
    )
