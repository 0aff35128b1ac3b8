"""What the scene generators return: one dataclass of numpy arrays per scene kind.

``BodySample`` (one image), ``VideoSample`` (a clip with optical flow), ``TryonSample`` (a clip
rendered with two garments) and ``FaceSample`` (a head). The first three share the labels of a
rendered frame (:class:`FrameLabels`; clips carry a leading T axis on each) and the body-model
parameters (:class:`BodyParams`).

On disk (:mod:`vivid.synth.storage`) a sample is a set of arrays named after its fields:
:meth:`Sample.to_arrays` gives them and :meth:`Sample.from_arrays` reads them back.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Mapping, Self

import numpy as np

__all__ = [
    "Sample",
    "FrameLabels",
    "BodyParams",
    "BodySample",
    "VideoSample",
    "TryonSample",
    "FaceSample",
    "SAMPLE_TYPES",
]


@dataclass(kw_only=True, eq=False)
class Sample:
    """Base of the samples: label arrays as fields, ``None`` for a label not made. (No ``==``:
    compare :meth:`to_arrays` with numpy.)"""

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The labels by name (the stored form), leaving out those that are ``None``."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = value
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> Self:
        """A sample from its stored arrays (e.g. :meth:`vivid.synth.storage.SynthDataset.raw`)."""
        names = {f.name for f in fields(cls)}
        unknown = set(arrays) - names
        if unknown:
            raise ValueError(f"{cls.__name__} has no labels {', '.join(sorted(unknown))}")
        return cls(**{k: np.asarray(v) for k, v in arrays.items()})


@dataclass(kw_only=True, eq=False)
class FrameLabels(Sample):
    """Labels of one rendered body image; in clips every field has a leading T axis.

    Joints come in two sets of 17: H36M-17 (``joints2d``, ``visibility``, ``joints3d``) and COCO
    keypoints (``coco2d``, ``coco_visibility``). A joint is visible when the surface seen at its
    pixel belongs to a body part around it (see :func:`vivid.synth.labels.joint_labels`).
    """

    image: np.ndarray
    """uint8 (H, W, 3)."""
    mask: np.ndarray
    """bool (H, W): the person."""
    parts: np.ndarray
    """uint8 (H, W): 0 background, 1.. the body parts of :data:`vivid.core.body.PART_NAMES`."""
    depth: np.ndarray
    """float32 (H, W): camera-frame z in metres, 0 on the background."""
    garment_mask: np.ndarray
    """bool (H, W): the upper garment."""
    joints2d: np.ndarray
    """float32 (17, 2): H36M-17 joints in pixels (x, y)."""
    visibility: np.ndarray
    """float32 (17,): 1 where the H36M joint is seen, else 0."""
    joints3d: np.ndarray
    """float32 (17, 3): H36M-17 joints, camera frame, metres."""
    coco2d: np.ndarray
    """float32 (17, 2): COCO keypoints in pixels."""
    coco_visibility: np.ndarray
    """float32 (17,): 1 where the COCO keypoint is seen, else 0."""
    K: np.ndarray
    """float32 (3, 3): intrinsics."""
    R: np.ndarray
    """float32 (3, 3): world-to-camera rotation (``X_cam = R X + t``)."""
    t: np.ndarray
    """float32 (3,): world-to-camera translation."""
    vertices: np.ndarray | None = None
    """float32 (V, 3): mesh vertices, camera frame (only with ``SceneConfig.vertices``)."""

    @classmethod
    def stack(cls, frames: list[FrameLabels]) -> FrameLabels:
        """The labels of T frames as one, with a leading T axis on every field."""
        arrays = [f.to_arrays() for f in frames]
        return cls(**{k: np.stack([a[k] for a in arrays]) for k in arrays[0]})


@dataclass(kw_only=True, eq=False)
class BodyParams(Sample):
    """The body-model parameters and lighting of a body sample (clips: per frame, leading T axis,
    except ``phenotype``); posing :class:`vivid.core.body.BodyModel` with them gives the labels."""

    phenotype: np.ndarray
    """float32 (6,): Anny phenotype (gender, age, muscle, weight, height, proportions) in [0, 1]."""
    pose: np.ndarray
    """float32 (B, 3): Anny local-ref axis-angle per bone (B = 104)."""
    joint_angles: np.ndarray
    """float32 (J, 3): degrees, the controlled bones of :data:`vivid.synth.motion.CONTROLLED_BONES`."""
    root: np.ndarray
    """float32 (3, 3): root orientation."""
    translation: np.ndarray
    """float32 (3,): body translation in the world frame, metres."""
    sh: np.ndarray
    """float32 (9, 3): spherical-harmonics lighting in the camera frame."""


@dataclass(kw_only=True, eq=False)
class BodySample(BodyParams, FrameLabels):
    """One image of one person (the ``body`` kind)."""

    partial: np.ndarray
    """bool (): whether the camera crops the body."""


@dataclass(kw_only=True, eq=False)
class VideoSample(BodyParams, FrameLabels):
    """T consecutive frames of one motion (the ``video`` kind): the frame labels and body
    parameters with a leading T axis, and the optical flow between consecutive frames (see
    :mod:`vivid.synth.flow` for the convention)."""

    flow_fw: np.ndarray
    """float32 (T-1, H, W, 2): flow from frame k to frame k+1, pixels."""
    flow_fw_valid: np.ndarray
    """bool (T-1, H, W): where ``flow_fw`` is exact (the surface is seen in both frames)."""
    flow_bw: np.ndarray
    """float32 (T-1, H, W, 2): flow from frame k+1 to frame k."""
    flow_bw_valid: np.ndarray
    """bool (T-1, H, W)."""
    moving_camera: np.ndarray
    """bool (): whether the camera moves."""
    fps: np.ndarray
    """float32 (): frame rate of the motion."""


@dataclass(kw_only=True, eq=False)
class TryonSample(BodyParams, FrameLabels):
    """A try-on pair (the ``tryon`` kind): a clip (frame labels with a leading T axis, garment A)
    and the same person, motion, camera, light and background wearing garment B; both garments
    laid out flat and the plain background sequence."""

    image_b: np.ndarray
    """uint8 (T, H, W, 3): the clip with garment B."""
    garment_mask_b: np.ndarray
    """bool (T, H, W): garment B."""
    flat_garment: np.ndarray
    """uint8 (Hf, Wf, 3): garment A laid out flat (Hf = H, Wf = max(16, 3 H / 4))."""
    flat_garment_mask: np.ndarray
    """bool (Hf, Wf)."""
    flat_garment_b: np.ndarray
    """uint8 (Hf, Wf, 3): garment B laid out flat."""
    flat_garment_b_mask: np.ndarray
    """bool (Hf, Wf)."""
    background: np.ndarray
    """uint8 (T, H, W, 3): the background behind the person."""
    garment_kinds: np.ndarray
    """int64 (2,): indices of garments A and B in :data:`vivid.synth.appearance.GARMENT_KINDS`
    (5: a texture cut from a garment photo, :data:`vivid.synth.fabrics.FABRIC_KIND`)."""


@dataclass(kw_only=True, eq=False)
class FaceSample(Sample):
    """A head (the ``face`` kind) with random identity, expression, pose, lighting and albedo."""

    image: np.ndarray
    """uint8 (H, W, 3)."""
    mask: np.ndarray
    """bool (H, W): the face (skin of the face, eyes, mouth)."""
    head_mask: np.ndarray
    """bool (H, W): the whole head and neck."""
    parts: np.ndarray
    """uint8 (H, W): :data:`vivid.core.body.HEAD_PART_NAMES` labels, 0 background."""
    depth: np.ndarray
    """float32 (H, W): camera-frame z in metres, 0 on the background."""
    vertices: np.ndarray
    """float32 (V, 3): head mesh, camera frame."""
    landmarks2d: np.ndarray
    """float32 (68, 2): landmarks in pixels (x, y)."""
    landmarks3d: np.ndarray
    """float32 (68, 3): landmarks, camera frame."""
    landmark_visibility: np.ndarray
    """float32 (68,): 1 where the landmark is seen, else 0."""
    pose_R: np.ndarray
    """float32 (3, 3): head-to-camera rotation."""
    pose_t: np.ndarray
    """float32 (3,): head-to-camera translation."""
    K: np.ndarray
    """float32 (3, 3): intrinsics."""
    R: np.ndarray
    """float32 (3, 3): world-to-camera rotation."""
    t: np.ndarray
    """float32 (3,): world-to-camera translation."""
    sh: np.ndarray
    """float32 (9, 3): spherical-harmonics lighting in the camera frame."""
    albedo: np.ndarray
    """float32 (A,): coefficients of :meth:`vivid.core.body.HeadModel.albedo`."""
    expression: np.ndarray
    """float32 (52,): facial actions."""
    phenotype: np.ndarray
    """float32 (6,): Anny phenotype."""
    local_changes: np.ndarray
    """float32 (L,): face-shape local changes."""


SAMPLE_TYPES: dict[str, type[Sample]] = {
    "body": BodySample,
    "video": VideoSample,
    "tryon": TryonSample,
    "face": FaceSample,
}
