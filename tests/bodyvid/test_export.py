"""Exports: the GLB opens with a glTF reader and holds the frames and joints; the BVH parses back
to the same joint positions; OBJ and PLY hold the mesh."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vivid.bodyvid.export import (
    CAMERA_TO_YUP,
    body_animation,
    bvh_clip,
    read_accessor,
    read_glb,
    write_bvh_file,
    write_glb,
    write_obj,
    write_ply,
)
from vivid.bodyvid.skeleton import BONES, AnnySkeleton, shared_body_model
from vivid.core.geometry import axis_angle_to_matrix
from vivid.core.body import H36M_JOINTS


def _animation(T=5):
    g = torch.Generator().manual_seed(2)
    rot = axis_angle_to_matrix(torch.randn(T, len(BONES), 3, generator=g) * 0.3)
    root = np.stack([np.array([0.1 * t, 0.0, 3.0 + 0.05 * t]) for t in range(T)])
    phen = np.full(6, 0.5, dtype=np.float32)
    return rot, root, phen, np.arange(T) / 25.0


def test_glb_opens_with_a_gltf_reader_and_holds_frames_and_joints(tmp_path):
    rot, root, phen, times = _animation()
    path = tmp_path / "body.glb"
    write_glb(path, body_animation(rot.numpy(), phen, root), times)
    gltf, binary = read_glb(path)
    J = shared_body_model().num_bones
    assert len(gltf["skins"][0]["joints"]) == J
    anim = gltf["animations"][0]
    t = read_accessor(gltf, binary, anim["samplers"][0]["input"])
    assert t.shape == (5,) and np.allclose(t, times)
    rotation_channels = [c for c in anim["channels"] if c["target"]["path"] == "rotation"]
    assert len(rotation_channels) == J
    q = read_accessor(gltf, binary, anim["samplers"][rotation_channels[3]["sampler"]]["output"])
    assert q.shape == (5, 4) and np.allclose(np.linalg.norm(q, axis=1), 1, atol=1e-5)
    ibm = read_accessor(gltf, binary, gltf["skins"][0]["inverseBindMatrices"])
    assert ibm.shape == (J, 16)
    positions = read_accessor(gltf, binary, gltf["meshes"][0]["primitives"][0]["attributes"]["POSITION"])
    assert positions.shape == (shared_body_model().num_vertices, 3)
    trimesh = pytest.importorskip("trimesh")
    scene = trimesh.load(path)
    mesh = next(iter(scene.geometry.values()))
    assert mesh.vertices.shape == positions.shape and len(mesh.faces) == len(shared_body_model().faces)


def test_glb_skinning_reproduces_the_posed_body(tmp_path):
    """glTF's skinning (joint world pose x inverse bind) of the exported data gives Anny's posed mesh."""
    rot, root, phen, times = _animation(T=2)
    anim = body_animation(rot.numpy(), phen, root)
    bind = np.eye(4)
    bind[:3, :3] = CAMERA_TO_YUP
    bind = bind @ anim["rest_poses"]
    M = anim["poses"][1] @ np.linalg.inv(bind)  # (J, 4, 4)
    v = anim["rest_vertices"] @ CAMERA_TO_YUP.T
    vh = np.concatenate([v, np.ones((len(v), 1))], 1)
    skinned = np.einsum("vk,vkij,vj->vi", anim["weights"], M[anim["indices"]], vh)[:, :3]
    from vivid.bodyvid.skeleton import body_vertices

    with torch.no_grad():
        posed = body_vertices(rot[1:2], torch.from_numpy(phen)[None])[0].double().numpy()
    expected = (posed + root[1] - root[0]) @ CAMERA_TO_YUP.T
    assert np.abs(skinned - expected).max() < 1e-4


def test_bvh_parses_back_to_the_same_joint_positions(tmp_path):
    from vivid.synth.bvh import read_bvh

    rot, root, phen, times = _animation()
    body = shared_body_model()
    with torch.no_grad():
        heads = body(phenotype=torch.from_numpy(phen)[None]).bone_heads[0]
    heads = heads[[body.bone_names.index(b) for b in BONES]].numpy()
    path = tmp_path / "body.bvh"
    write_bvh_file(path, bvh_clip(rot.numpy(), heads, root, times))
    clip = read_bvh(path)
    assert clip.num_frames == 5 and len(clip.joints) == len(BONES)
    _, positions = clip.forward_kinematics()  # (T, 24, 3) centimetres, y up
    joints = AnnySkeleton()(rot, torch.from_numpy(phen)[None].expand(5, 6)).double().numpy()
    expected = (joints + (root - root[0])[:, None]) @ CAMERA_TO_YUP.T * 100
    from vivid.bodyvid.skeleton import _JOINT_BONE

    for j, name in enumerate(H36M_JOINTS):
        if name in _JOINT_BONE:
            b = clip.index(_JOINT_BONE[name].replace(".", "_"))
            assert np.abs(positions[:, b] - expected[:, j]).max() < 0.1  # 1 mm


def test_obj_and_ply_hold_the_mesh(tmp_path):
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=np.float32)
    f = np.array([[0, 1, 2]])
    write_obj(tmp_path / "m.obj", v, f)
    write_ply(tmp_path / "m.ply", v, f)
    text = (tmp_path / "m.obj").read_text().split("\n")
    assert text[1] == "v 1.00000 0.00000 0.00000" and text[3] == "f 1 2 3"
    trimesh = pytest.importorskip("trimesh")
    mesh = trimesh.load(tmp_path / "m.ply")
    assert np.allclose(mesh.vertices, v) and mesh.faces.tolist() == [[0, 1, 2]]
