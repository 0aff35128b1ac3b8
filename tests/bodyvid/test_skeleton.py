"""Anny's skeleton as forward kinematics: the body model's joints for random poses and shapes."""

from __future__ import annotations

import torch

from vivid.bodyvid.skeleton import BONE_PARENTS, BONES, AnnySkeleton, full_pose, shared_body_model
from vivid.core.geometry import axis_angle_to_matrix


def test_bones_are_the_synthetic_motions_controlled_bones_and_parents_follow_the_rig():
    from vivid.synth.motion import CONTROLLED_BONES

    assert BONES[0] == "root" and BONES[1:] == CONTROLLED_BONES
    body = shared_body_model()
    names, parents = body.bone_names, body.bone_parents
    for j, b in enumerate(BONES):
        p = parents[names.index(b)]
        while p >= 0 and names[p] not in BONES:
            p = parents[p]
        assert BONE_PARENTS[j] == (BONES.index(names[p]) if p >= 0 else -1)


def test_skeleton_joints_equal_the_body_models_within_a_millimetre():
    g = torch.Generator().manual_seed(3)
    rot = axis_angle_to_matrix(torch.randn(6, len(BONES), 3, generator=g) * 0.4)
    phen = torch.rand(6, 6, generator=g)
    body = shared_body_model()
    joints = AnnySkeleton(body)(rot, phen)
    pose, glob = full_pose(rot, body.bone_names)
    with torch.no_grad():
        ref = body(pose=pose, phenotype=phen, global_rot=glob).joints["h36m"]
    ref = ref - ref[:, :1]
    assert float((joints - ref).norm(dim=-1).max()) < 1e-3


def test_skeleton_batched_equals_per_item_and_has_gradients():
    g = torch.Generator().manual_seed(4)
    rot = axis_angle_to_matrix(torch.randn(3, len(BONES), 3, generator=g) * 0.3).requires_grad_()
    phen = torch.rand(3, 6, generator=g).requires_grad_()
    sk = AnnySkeleton()
    out = sk(rot, phen)
    each = torch.cat([sk(rot[i : i + 1], phen[i : i + 1]) for i in range(3)])
    assert torch.allclose(out, each, atol=1e-6)
    out.square().sum().backward()
    assert rot.grad.abs().sum() > 0 and phen.grad.abs().sum() > 0
