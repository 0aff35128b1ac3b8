"""Anny's skeleton as fast, differentiable forward kinematics: body parameters -> H36M-17 joints.

The full mesh (:class:`vivid.core.body.BodyModel`, 13,718 vertices) costs about 50 ms per body on
a CPU, forward and again twice that backward; training and real-time inference need only the
joints. :class:`AnnySkeleton` computes them from the same parameters by Anny's own kinematics
(``"local-ref"``, see :mod:`vivid.core.body`): with ``G_c`` a bone's world rotation relative to
its reference axes, ``G_c = G_parent D_c`` (``D_c`` its pose rotation) and its head is
``head_parent + G_parent A_parent (h_c - h_parent)``, ``h`` the rest heads and ``A = U R^T``
the rest-to-reference rotations. The 15 H36M joints that are bone heads come out exactly.

Shape (phenotype, 6 values in [0, 1]) moves the rest heads through Anny's own blendshapes: the
phenotype's blendshape coefficients (Anny's piecewise-linear interpolation between anchors) times
the bone-head blendshapes. The nose and the head top are linear in the vertices, and the vertices
are linearly blend-skinned, so each is a sum over its few skinning bones of their transforms of
precomputed skinning-weighted rest points (blendshape-linear too): exact as well. The rest bone
orientations follow Anny's "cached" rest model (the rotation nearest a blendshape-linear matrix).
The result equals the body model's joints to well under a millimetre (tests/bodyvid/test_skeleton.py)
at a fraction of the cost (about 1 ms per body on one CPU core, against about 50 ms).

Predicted bones: the root (the body's orientation in the camera frame, ``global_rot`` of the
body model) and the 23 controlled bones of the synthetic motions (:data:`BONES`); every other
bone stays at its rest rotation.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor, nn

from vivid.core.body import COCO_JOINTS, H36M_JOINTS, PHENOTYPE_NAMES

# The bones a body prediction holds: the root first, then the bones the synthetic motions move
# (vivid.synth.motion.CONTROLLED_BONES, in that order; tests check the two lists agree).
BONES: list[str] = [
    "root", "spine05", "spine04", "spine03", "spine02", "spine01", "neck01", "neck02", "neck03", "head",
    "upperleg01.L", "upperleg01.R", "lowerleg01.L", "lowerleg01.R", "foot.L", "foot.R", "clavicle.L",
    "clavicle.R", "upperarm01.L", "upperarm01.R", "lowerarm01.L", "lowerarm01.R", "wrist.L", "wrist.R",
]  # fmt: skip
NUM_BONES = len(BONES)
NUM_JOINTS = len(H36M_JOINTS)
ROOT_JOINT = 0  # the pelvis, H36M index 0

# H36M joints that are bone heads (as in vivid.core.body); the other two are vertex points.
_JOINT_BONE = {
    "pelvis": "root", "r_hip": "upperleg01.R", "r_knee": "lowerleg01.R", "r_ankle": "foot.R",
    "l_hip": "upperleg01.L", "l_knee": "lowerleg01.L", "l_ankle": "foot.L", "spine": "spine02",
    "thorax": "neck01", "l_shoulder": "upperarm01.L", "l_elbow": "lowerarm01.L", "l_wrist": "wrist.L",
    "r_shoulder": "upperarm01.R", "r_elbow": "lowerarm01.R", "r_wrist": "wrist.R",
}  # fmt: skip
_POINTS = ("neck_nose", "head")
_INTERPOLATED = ("age", "gender", "muscle", "weight", "height", "proportions", "cupsize", "firmness")


@functools.lru_cache(maxsize=1)
def shared_body_model():
    """One :class:`vivid.core.body.BodyModel` per process (CPU, eval), for the skeleton's tables
    and the exports' meshes."""
    from vivid.core.body import BodyModel

    return BodyModel().eval()


class AnnySkeleton(nn.Module):
    """Body parameters -> H36M-17 joints of the Anny body, pelvis-relative (see the module docstring).

    Args:
        body: a :class:`vivid.core.body.BodyModel` to take the tables from (default: the shared one).

    Buffers (constants, not saved): the phenotype anchors and blendshape mask and projection,
    the chain bones' template heads and head blendshapes, and the skinning-weighted rest points
    of the nose and head top. ``chain``: the Anny bones on the joints' kinematic chains.
    """

    def __init__(self, body=None) -> None:
        super().__init__()
        body = body if body is not None else shared_body_model()
        anny = body.anny
        names, parents = list(body.bone_names), list(body.bone_parents)
        self.bone_names, self.bone_parents = names, parents
        from vivid.core.body import _HEAD_TOP_VERTEX

        V = anny.template_vertices.shape[0]
        r = torch.zeros(len(_POINTS), V, dtype=torch.float64)
        r[0] = body.coco_regressor[COCO_JOINTS.index("nose")].double()
        r[1, _HEAD_TOP_VERTEX] = 1.0
        w_all = torch.zeros(V, len(names), dtype=torch.float64)
        w_all.scatter_add_(1, anny.vertex_bone_indices.long(), anny.vertex_bone_weights.double())
        rw_all = r[:, :, None] * w_all[None]  # (P, V, bones)
        skinning = set(torch.nonzero(rw_all.abs().sum((0, 1)) > 1e-9).flatten().tolist())
        moving = {names.index(b) for b in BONES}
        needed = {names.index(_JOINT_BONE[j]) for j in _JOINT_BONE}
        chain: set[int] = set()
        for b in needed | moving | skinning:
            while b >= 0 and b not in chain:
                chain.add(b)
                b = parents[b]
        self.chain = sorted(chain)  # Anny lists parents before children
        slot = {b: k for k, b in enumerate(self.chain)}
        self.parent_slot = [slot.get(parents[b], -1) for b in self.chain]
        pred = {names.index(b): i for i, b in enumerate(BONES)}
        self.chain_pred = [pred.get(b, -1) for b in self.chain]
        self.joint_slots = [slot[names.index(_JOINT_BONE[j])] if j in _JOINT_BONE else -1 for j in H36M_JOINTS]

        # Phenotype -> blendshape coefficients, as Anny computes them.
        self.phenotype_labels = list(anny.phenotype_labels)
        self.extrapolate = bool(anny.extrapolate_phenotypes)
        for label in _INTERPOLATED:
            self.register_buffer(f"anchor_{label}", anny.anchors[label].float().clone(), persistent=False)
        self.register_buffer("mask", anny.stacked_phenotype_blend_shapes_mask.float().clone(), persistent=False)
        proj = anny.phenotype_blendshape_projection
        self.register_buffer("projection", None if proj is None else proj.float().clone(), persistent=False)
        n = self.mask.shape[0] if proj is None else proj.shape[1]

        idx = torch.tensor(self.chain)
        self.register_buffer("heads0", anny.template_bone_heads[idx].float().clone(), persistent=False)
        self.register_buffer("heads_blend", anny.bone_heads_blendshapes[:n, idx].float().clone(), persistent=False)

        # Rest orientations R_c, as Anny's "cached" rest model makes them: the rotation nearest a
        # matrix linear in the blendshape coefficients; A_c = U_c R_c^T turns rest offsets into
        # reference offsets (Anny's kinematics).
        if anny.bone_orientation != "cached" or anny.rest_orientation_refiner is not None:
            raise RuntimeError("AnnySkeleton expects Anny's cached bone orientations without a refiner")
        self.root_identity = bool(anny.root_identity_orientation)
        self.register_buffer("orient0", anny.bone_template_orientation_matrices[idx].float().clone(), persistent=False)
        self.register_buffer("orient_blend", anny.bone_orientation_blendshapes[:n, idx].float().clone(), persistent=False)
        self.register_buffer("reference", anny.reference_bone_orientations[idx].float().clone(), persistent=False)
        self.root_slots = [k for k, b in enumerate(self.chain) if parents[b] < 0]

        # Nose (COCO regressor over vertices) and head top (one vertex), linearly blend-skinned: per
        # chain bone, the skinning-weighted sums of their vertex weights and rest positions.
        rw = rw_all[:, :, idx]  # (P, V, chain)
        self.register_buffer("point_weights", rw.sum(1).float(), persistent=False)  # (P, chain)
        self.register_buffer("points0", torch.einsum("pvk,vd->pkd", rw, anny.template_vertices.double()).float(),
                             persistent=False)  # fmt: skip
        self.register_buffer("points_blend", torch.einsum("pvk,nvd->npkd", rw, anny.blendshapes[:n].double()).float(),
                             persistent=False)  # fmt: skip

    def coefficients(self, phenotype: Tensor) -> Tensor:
        """(N, 6) phenotype -> (N, K) Anny blendshape coefficients."""
        from anny.models.phenotype import phenotype_blendshape_weights

        anchors = {label: getattr(self, f"anchor_{label}") for label in _INTERPOLATED}
        w = phenotype_blendshape_weights(phenotype.to(self.mask.dtype), self.phenotype_labels, anchors, self.mask,
                                         extrapolate=self.extrapolate)  # fmt: skip
        return w @ self.projection if self.projection is not None else w

    def forward(self, rotations: Tensor, phenotype: Tensor) -> Tensor:
        """Posed joints.

        Args:
            rotations: (N, 24, 3, 3) rotations of :data:`BONES`: the root's is the body's
                orientation in the output frame (``global_rot``), the others local-ref.
            phenotype: (N, 6) in [0, 1] (:data:`vivid.core.body.PHENOTYPE_NAMES`).
        Returns:
            (N, 17, 3) H36M joints, metres, pelvis at the origin.
        """
        if rotations.ndim != 4 or rotations.shape[1:] != (NUM_BONES, 3, 3):
            raise ValueError(f"rotations must have shape (N, {NUM_BONES}, 3, 3), got {tuple(rotations.shape)}")
        if phenotype.shape != (rotations.shape[0], len(PHENOTYPE_NAMES)):
            raise ValueError(f"phenotype must have shape ({rotations.shape[0]}, 6), got {tuple(phenotype.shape)}")
        dtype = rotations.dtype
        coef = self.coefficients(phenotype).to(dtype)
        rest = self.heads0.to(dtype) + torch.einsum("nk,kjd->njd", coef, self.heads_blend.to(dtype))
        points = self.points0.to(dtype) + torch.einsum("nk,kpjd->npjd", coef, self.points_blend.to(dtype))
        N = rotations.shape[0]
        eye = torch.eye(3, dtype=dtype, device=rotations.device).expand(N, 3, 3)
        import roma

        R = roma.special_procrustes(self.orient0.to(dtype) + torch.einsum("nk,kjab->njab", coef, self.orient_blend.to(dtype)))
        if self.root_identity:  # Anny keeps the root's rest orientation at the identity
            R = R.clone()
            R[:, self.root_slots] = torch.eye(3, dtype=dtype, device=R.device)
        skin_rot = self.reference.to(dtype) @ R.transpose(-1, -2)  # (N, chain, 3, 3)
        offset_rot = skin_rot.clone()
        offset_rot[:, self.root_slots] = torch.eye(3, dtype=dtype, device=R.device)
        G: list[Tensor] = []  # world rotation of each chain bone relative to its reference axes
        heads: list[Tensor] = []
        for k in range(len(self.chain)):
            D = rotations[:, self.chain_pred[k]] if self.chain_pred[k] >= 0 else eye
            p = self.parent_slot[k]
            if p < 0:
                G.append(D)
                heads.append(torch.zeros_like(rest[:, k]))
                continue
            step = (offset_rot[:, p] @ (rest[:, k] - rest[:, p])[..., None])[..., 0]
            heads.append(heads[p] + (G[p] @ step[..., None])[..., 0])
            G.append(G[p] @ D)
        Gs, H = torch.stack(G, 1), torch.stack(heads, 1)  # (N, chain, 3, 3), (N, chain, 3)
        # Skinning transform of bone k: x -> G_k A_k (x - h_k) + head_k.
        M = Gs @ skin_rot
        shift = H - torch.einsum("nkij,nkj->nki", M, rest)
        skinned = torch.einsum("nkij,npkj->npi", M, points) + torch.einsum("pk,nki->npi", self.point_weights.to(dtype), shift)
        joints = [H[:, s] if s >= 0 else skinned[:, _POINTS.index(name)] for s, name in zip(self.joint_slots, H36M_JOINTS)]
        out = torch.stack(joints, 1)
        return out - out[:, ROOT_JOINT : ROOT_JOINT + 1]


def body_vertices(rotations: Tensor, phenotype: Tensor) -> Tensor:
    """(N, 24, 3, 3) rotations and (N, 6) phenotypes -> (N, V, 3) Anny mesh vertices (camera axes,
    pelvis at the origin) through the shared :class:`vivid.core.body.BodyModel` (slow: for exports,
    overlays and metrics)."""
    body = shared_body_model().to(rotations.device)
    pose, glob = full_pose(rotations, body.bone_names)
    return body(pose=pose, phenotype=phenotype, global_rot=glob).vertices


def full_pose(rotations: Tensor, bone_names: list[str]) -> tuple[Tensor, Tensor]:
    """(N, 24, 3, 3) :data:`BONES` rotations -> the arguments of :class:`vivid.core.body.BodyModel`:
    (N, J_all, 3, 3) local-ref pose (root and unpredicted bones at rest) and (N, 3, 3) ``global_rot``."""
    N = rotations.shape[0]
    pose = torch.eye(3, dtype=rotations.dtype, device=rotations.device).repeat(N, len(bone_names), 1, 1)
    idx = torch.tensor([bone_names.index(b) for b in BONES[1:]], device=rotations.device)
    pose[:, idx] = rotations[:, 1:]
    return pose, rotations[:, 0]


# Parent of each of :data:`BONES` among them (the nearest predicted ancestor in Anny's rig;
# tests check it against the rig).
BONE_PARENTS: list[int] = [
    -1, 0, 1, 2, 3, 4, 5, 6, 7, 8,  # root, spine05 .. spine01, neck01 .. neck03, head
    0, 0, 10, 11, 12, 13,  # upper legs, lower legs, feet
    5, 5, 16, 17, 18, 19, 20, 21,  # clavicles, upper arms, lower arms, wrists
]  # fmt: skip
