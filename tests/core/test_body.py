"""Tests of vivid.core.body on the real Anny model (one build per session, see conftest)."""

from __future__ import annotations

import pytest
import torch

from vivid.core import body as body_mod
from vivid.core.body import COCO_JOINTS, H36M_JOINTS, PART_NAMES
from vivid.core.geometry import axis_angle_to_matrix, matrix_to_rotation_6d


def _random_inputs(model, batch, seed=0, scale=0.7):
    g = torch.Generator().manual_seed(seed)
    limits = model.joint_limits()
    pose = limits.to_axis_angle(limits.sample(batch, generator=g, scale=scale))
    phenotype = torch.rand(batch, 6, generator=g)
    global_rot = torch.randn(batch, 3, generator=g) * 0.5
    transl = torch.randn(batch, 3, generator=g)
    return pose, phenotype, global_rot, transl


def test_shapes_and_dtypes(body_model):
    out = body_model()
    V, F, J = body_model.num_vertices, body_model.faces.shape[0], body_model.num_bones
    assert (V, F, J) == (13718, 27420, 104)
    assert out.vertices.shape == (1, V, 3) and out.vertices.dtype == torch.float32
    assert out.joints["h36m"].shape == (1, 17, 3) and out.joints["coco"].shape == (1, 17, 3)
    assert out.bone_poses.shape == (1, J, 4, 4)
    assert out.faces.dtype == torch.int64 and int(out.faces.max()) == V - 1
    assert body_model.uv.shape[1] == 2 and body_model.uv_faces.shape == (F, 3)
    assert len(H36M_JOINTS) == 17 and len(COCO_JOINTS) == 17


def test_checkpoint_state_is_empty(body_model):
    # Every buffer is non-persistent: saving a model that holds the body never stores the mesh.
    assert body_model.state_dict() == {}


def test_batched_equals_per_item(body_model):
    pose, phen, rot, transl = _random_inputs(body_model, 3)
    batched = body_model(pose, phen, rot, transl)
    for i in range(3):
        one = body_model(pose[i:i + 1], phen[i:i + 1], rot[i:i + 1], transl[i:i + 1])
        assert torch.allclose(batched.vertices[i], one.vertices[0], atol=1e-5)
        for name in ("h36m", "coco"):
            assert torch.allclose(batched.joints[name][i], one.joints[name][0], atol=1e-5)


def test_rotation_parameterisations_give_the_same_mesh(body_model):
    pose, phen, rot, transl = _random_inputs(body_model, 2, seed=1)
    mats = axis_angle_to_matrix(pose)
    a = body_model(pose, phen, rot, transl)
    b = body_model(matrix_to_rotation_6d(mats), phen, matrix_to_rotation_6d(axis_angle_to_matrix(rot)), transl)
    c = body_model(mats, phen, axis_angle_to_matrix(rot), transl)
    assert torch.allclose(a.vertices, b.vertices, atol=1e-5)
    assert torch.allclose(a.vertices, c.vertices, atol=1e-5)


def test_global_transform_is_rigid_about_the_root(body_model):
    pose, phen, rot, transl = _random_inputs(body_model, 2, seed=2)
    local = body_model(pose, phen)
    moved = body_model(pose, phen, rot, transl)
    R = axis_angle_to_matrix(rot)
    expected = local.vertices @ R.transpose(1, 2) + transl[:, None]
    assert torch.allclose(moved.vertices, expected, atol=1e-5)
    # The pelvis (root) sits at the origin before the transform, so it ends at transl.
    assert torch.allclose(local.joints["h36m"][:, 0], torch.zeros(2, 3), atol=1e-6)
    assert torch.allclose(moved.joints["h36m"][:, 0], transl, atol=1e-5)
    assert torch.allclose(moved.bone_heads, local.bone_heads @ R.transpose(1, 2) + transl[:, None], atol=1e-5)


def test_coco_joints_match_anny_regressor_and_h36m(body_model):
    import anny

    pose, phen, _, _ = _random_inputs(body_model, 2, seed=3)
    out = body_model(pose, phen)
    reg = anny.KeypointsRegressor.coco(body_model.anny, labels=COCO_JOINTS)
    assert torch.allclose(out.joints["coco"], reg({"vertices": out.vertices}), atol=1e-5)
    # Same anatomical points in both sets (bone heads vs surface regressor) agree within a few cm.
    pairs = {"l_knee": "left_knee", "r_knee": "right_knee", "l_ankle": "left_ankle", "r_ankle": "right_ankle",
             "l_elbow": "left_elbow", "r_elbow": "right_elbow", "l_wrist": "left_wrist", "r_wrist": "right_wrist",
             "l_shoulder": "left_shoulder", "r_shoulder": "right_shoulder", "neck_nose": "nose"}
    for h, c in pairs.items():
        d = (out.joints["h36m"][:, H36M_JOINTS.index(h)] - out.joints["coco"][:, COCO_JOINTS.index(c)]).norm(dim=-1)
        assert torch.all(d < 0.05), (h, d)


def test_joint_layout_in_rest_pose(body_model):
    j = body_model().joints["h36m"][0]
    idx = {n: i for i, n in enumerate(H36M_JOINTS)}
    # Body frame: x towards the subject's left, z up.
    for side, sign in (("l", 1.0), ("r", -1.0)):
        for part in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist"):
            assert sign * j[idx[f"{side}_{part}"], 0] > 0.05
    z = j[:, 2]
    assert z[idx["l_ankle"]] < z[idx["l_knee"]] < z[idx["l_hip"]] < z[idx["spine"]] < z[idx["thorax"]]
    assert z[idx["thorax"]] < z[idx["neck_nose"]] < z[idx["head"]]
    height = body_model().vertices[0, :, 2].max() - body_model().vertices[0, :, 2].min()
    assert 1.4 < height < 1.9


def test_knee_flexion_moves_the_shank_backwards(body_model):
    pose = torch.zeros(1, body_model.num_bones, 3)
    pose[0, body_model.bone_names.index("lowerleg01.L"), 0] = 1.2
    bent = body_model(pose).joints["h36m"][0, H36M_JOINTS.index("l_ankle")]
    rest = body_model().joints["h36m"][0, H36M_JOINTS.index("l_ankle")]
    assert bent[1] > rest[1] + 0.2 and bent[2] > rest[2] + 0.1  # +y is backwards


def test_joint_limits(body_model):
    limits = body_model.joint_limits()
    names = limits.names
    assert limits.lower.shape == limits.upper.shape == (len(names), 3)
    assert torch.all(limits.lower <= limits.upper)
    moving = (limits.upper - limits.lower).abs().sum(-1) > 0
    assert 18 <= int(moving.sum()) <= 30
    assert not moving[names.index("finger2-1.L")]
    # Left and right ranges mirror each other (x kept, y and z flipped) except in hinge frames.
    i, k = names.index("upperarm01.L"), names.index("upperarm01.R")
    flip = torch.tensor([1.0, -1.0, -1.0])
    assert torch.allclose(limits.lower[k], torch.minimum(limits.lower[i] * flip, limits.upper[i] * flip))
    # Samples stay inside the ranges and give rotations.
    angles = limits.sample(16, generator=torch.Generator().manual_seed(0))
    assert torch.all(angles >= limits.lower - 1e-6) and torch.all(angles <= limits.upper + 1e-6)
    mats = limits.to_matrix(angles)
    assert torch.allclose(mats @ mats.transpose(-1, -2), torch.eye(3).expand_as(mats), atol=1e-5)
    assert torch.allclose(limits.to_axis_angle(torch.zeros(1, len(names), 3)), torch.zeros(1, len(names), 3))


def test_elbow_hinge_straightens_and_bends_the_arm(body_model):
    limits = body_model.joint_limits()
    j = body_model.bone_names.index("lowerarm01.L")
    names = body_model.bone_names

    def bend(angle):
        angles = torch.zeros(1, len(names), 3)
        angles[0, j, 0] = angle
        heads = body_model(limits.to_axis_angle(angles)).bone_heads[0]
        s, e, w = (heads[names.index(n)] for n in ("upperarm01.L", "lowerarm01.L", "wrist.L"))
        cos = torch.dot(torch.nn.functional.normalize(e - s, dim=0), torch.nn.functional.normalize(w - e, dim=0))
        return torch.arccos(cos.clamp(-1, 1)).item()

    rest = bend(0.0)
    assert bend(-rest) < 0.05  # flexing by minus the rest bend straightens the arm
    assert bend(1.0) == pytest.approx(rest + 1.0, abs=0.05)  # pure hinge: no sideways bend


def test_part_labels_and_garment_region(body_model):
    parts = body_model.vertex_parts
    assert parts.shape == (body_model.num_vertices,)
    assert int(parts.min()) >= 1 and int(parts.max()) == len(PART_NAMES) - 1
    counts = torch.bincount(parts, minlength=len(PART_NAMES))
    assert torch.all(counts[1:] > 100)
    for left in ("upper_arm", "lower_arm", "hand", "upper_leg", "lower_leg", "foot"):
        assert counts[PART_NAMES.index(f"left_{left}")] == counts[PART_NAMES.index(f"right_{left}")]
    rest = body_model().vertices[0]
    idx = {n: i for i, n in enumerate(PART_NAMES)}

    def centre(name):
        return rest[parts == idx[name]].mean(0)

    assert centre("head")[2] > centre("torso")[2] > centre("left_upper_leg")[2] > centre("left_foot")[2]
    assert centre("left_hand")[0] > centre("left_lower_arm")[0] > centre("left_upper_arm")[0] > 0
    garment = body_model.garment_vertices
    expected = torch.isin(parts, torch.tensor([idx["torso"], idx["left_upper_arm"], idx["right_upper_arm"]]))
    assert torch.equal(garment, expected)
    face_garment = body_model.garment_faces
    assert torch.equal(face_garment, torch.isin(body_model.face_parts, torch.tensor([2, 3, 4])))


def test_gradients_flow_to_pose_and_phenotype(body_model):
    pose, phen, rot, transl = _random_inputs(body_model, 1, seed=4)
    pose.requires_grad_(True)
    phen.requires_grad_(True)
    out = body_model(pose, phen, rot, transl)
    loss = out.joints["h36m"].square().sum() + out.vertices[:, ::50].square().sum()
    loss.backward()
    assert torch.isfinite(pose.grad).all() and pose.grad.abs().sum() > 0
    assert torch.isfinite(phen.grad).all() and phen.grad.abs().sum() > 0
    # A directional finite difference agrees with the gradient.
    direction = torch.randn_like(phen) * 0.05
    eps = 1e-2
    with torch.no_grad():
        up = body_model(pose, phen + eps * direction, rot, transl)
        down = body_model(pose, phen - eps * direction, rot, transl)

        def f(o):
            return o.joints["h36m"].square().sum() + o.vertices[:, ::50].square().sum()

        fd = (f(up) - f(down)) / (2 * eps)
    assert fd.item() == pytest.approx((phen.grad * direction).sum().item(), rel=0.05, abs=1e-4)


def test_bad_inputs_raise(body_model):
    J = body_model.num_bones
    with pytest.raises(ValueError):
        body_model(torch.zeros(1, J - 1, 3))
    with pytest.raises(ValueError):
        body_model(torch.zeros(1, J, 4))
    with pytest.raises(ValueError):
        body_model(phenotype=torch.zeros(1, 5))
    with pytest.raises(ValueError):
        body_model(global_rot=torch.zeros(1, 4))


def test_rotations_to_matrix_tells_batches_from_matrices():
    three_vectors = torch.tensor([[0.1, 0.0, 0.0], [0.0, 0.2, 0.0], [0.0, 0.0, 0.3]])
    mats = body_mod.rotations_to_matrix(three_vectors, batch_dims=1)
    assert mats.shape == (3, 3, 3)
    assert torch.allclose(mats[1], axis_angle_to_matrix(three_vectors[1]))
    assert body_mod.rotations_to_matrix(mats[0][None], batch_dims=1).shape == (1, 3, 3)


def test_cache_dir_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("ANNY_CACHE_DIR", str(tmp_path))
    assert body_mod.anny_cache_dir() == tmp_path
    monkeypatch.delenv("ANNY_CACHE_DIR")
    assert body_mod.anny_cache_dir().parts[-2:] == ("vivid", "anny")


# ----------------------------------------------------------------------------- head model

_MIRROR_PAIRS = [(i, 16 - i) for i in range(8)] + [(17 + i, 26 - i) for i in range(5)] + [
    (31, 35), (32, 34), (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46), (48, 54), (49, 53),
    (50, 52), (59, 55), (58, 56), (60, 64), (61, 63), (67, 65)]
_MIDLINE = [8, 27, 28, 29, 30, 33, 51, 57, 62, 66]


def test_head_shapes_and_landmarks(head_model):
    out = head_model()
    V = head_model.num_vertices
    assert out.vertices.shape == (1, V, 3) and out.landmarks.shape == (1, 68, 3)
    assert len(head_model.expression_names) == 52 and "jawOpen" in head_model.expression_names
    assert len(head_model.local_change_names) > 50
    assert all(n.split("-")[0 if n[1] != "-" else 1] in body_mod._HEAD_CHANGE_STEMS
               for n in head_model.local_change_names)
    assert torch.equal(out.landmarks, out.vertices[:, head_model.landmark_vertices])
    assert len(set(body_mod.HEAD_LANDMARK_VERTICES)) >= 64  # closed lips share at most a few points
    assert head_model.state_dict() == {}


def test_head_landmarks_layout(head_model):
    lm = head_model().landmarks[0]
    # Mirror pairs are mirror images (x -> -x), midline points sit on x = 0 (mm precision).
    for r, l in _MIRROR_PAIRS:
        assert torch.allclose(lm[r] * torch.tensor([-1.0, 1.0, 1.0]), lm[l], atol=1e-3), (r, l)
    assert torch.all(lm[_MIDLINE, 0].abs() < 2.5e-3)
    x, z = lm[:, 0], lm[:, 2]
    assert torch.all(x[0:8] < 0) and torch.all(x[9:17] > 0)  # jaw starts on the subject's right (-x)
    assert z[8] < z[57] < z[51] < z[33] < z[30] < z[27] < z[19]  # chin, lips, nose, brows upwards
    assert z[36:48].mean() < z[17:27].mean()
    assert lm[30, 1] < lm[27, 1]  # the nose tip is in front (-y) of the nasion


def test_head_expression_and_identity(head_model):
    names = head_model.expression_names
    e = torch.zeros(3, 52)
    e[1, names.index("jawOpen")] = 1.0
    e[2, names.index("eyeBlinkRight")] = 1.0
    lm = head_model(expression=e).landmarks
    gap = (lm[:, 66] - lm[:, 62]).norm(dim=-1)
    assert gap[1] > gap[0] + 0.01  # the mouth opens
    lid = (lm[:, 37] - lm[:, 41]).norm(dim=-1)  # subject's right eye
    assert lid[2] < 0.5 * lid[0]
    lc = torch.zeros(1, len(head_model.local_change_names))
    lc[0, head_model.local_change_names.index("nose-trans-forward")] = 1.0
    moved = head_model(local_changes=lc).landmarks[0, 30]
    assert moved[1] < lm[0, 30, 1] - 1e-3  # nose tip forwards


def test_head_batched_equals_per_item(head_model):
    g = torch.Generator().manual_seed(0)
    phen = torch.rand(2, 6, generator=g)
    lc = torch.rand(2, len(head_model.local_change_names), generator=g) - 0.5
    ex = torch.rand(2, 52, generator=g) * 0.5
    rot, transl = torch.randn(2, 3, generator=g) * 0.3, torch.randn(2, 3, generator=g)
    both = head_model(phen, lc, ex, rot, transl)
    for i in range(2):
        one = head_model(phen[i:i + 1], lc[i:i + 1], ex[i:i + 1], rot[i:i + 1], transl[i:i + 1])
        assert torch.allclose(both.vertices[i], one.vertices[0], atol=1e-5)


def test_head_albedo_model(head_model):
    from vivid.core.body import HEAD_PART_NAMES

    K = len(head_model.ALBEDO_BASES)
    mean = head_model.albedo()
    assert mean.shape == (head_model.num_vertices, 3)
    assert torch.all((mean >= 0) & (mean <= 1))
    assert torch.allclose(head_model.albedo(torch.zeros(1, K))[0], mean)
    c = torch.zeros(2, K)
    c[0, 0], c[1, 0] = -1.5, 1.5
    a = head_model.albedo(c)
    skin_v = head_model.faces[head_model.face_parts == HEAD_PART_NAMES.index("face")].reshape(-1)
    assert a[1, skin_v].mean() < mean[skin_v].mean() < a[0, skin_v].mean()  # tone basis
    # Bases are smooth over the face: neighbouring vertices differ little.
    f = head_model.faces
    for k in range(K):
        b = head_model.albedo_basis[k]
        assert (b[f[:, 0]] - b[f[:, 1]]).abs().max() < 0.25
    counts = torch.bincount(head_model.face_parts, minlength=len(HEAD_PART_NAMES))
    assert counts[0] == 0 and torch.all(counts[1:] > 100)
    with pytest.raises(ValueError):
        head_model.albedo(torch.zeros(1, K + 1))


def test_head_bad_inputs_raise(head_model):
    with pytest.raises(ValueError):
        head_model(expression=torch.zeros(1, 51))
    with pytest.raises(ValueError):
        head_model(local_changes=torch.zeros(1, 3))


def test_unusable_cache_folder_raises_vivid_error(tmp_path):
    from vivid.core.errors import VividError

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(VividError):
        body_mod._build_anny(blocker / "cache")


def test_joint_limit_extremes_are_anatomical(body_model):
    limits = body_model.joint_limits()
    names = body_model.bone_names
    idx = {n: i for i, n in enumerate(H36M_JOINTS)}

    def joints_at(bone, axis, bound):
        angles = torch.zeros(1, len(names), 3)
        i = names.index(bone)
        angles[0, i, axis] = (limits.lower if bound == "lower" else limits.upper)[i, axis]
        return body_model(limits.to_axis_angle(angles)).joints["h36m"][0]

    rest = body_model().joints["h36m"][0]
    for side, sign in (("L", 1.0), ("R", -1.0)):
        s = side.lower()
        # Hip: flexion lifts the knee forwards (-y) and up; abduction moves the ankle outwards.
        flexed = joints_at(f"upperleg01.{side}", 0, "lower")
        assert flexed[idx[f"{s}_knee"], 1] < rest[idx[f"{s}_knee"], 1] - 0.2
        assert flexed[idx[f"{s}_knee"], 2] > rest[idx[f"{s}_knee"], 2] + 0.2
        out_ = joints_at(f"upperleg01.{side}", 1, "lower" if side == "L" else "upper")
        assert sign * out_[idx[f"{s}_ankle"], 0] > sign * rest[idx[f"{s}_ankle"], 0] + 0.1
        # Shoulder: raising the arm sideways brings the wrist above the shoulder.
        raised = joints_at(f"upperarm01.{side}", 1, "lower" if side == "L" else "upper")
        assert raised[idx[f"{s}_wrist"], 2] > raised[idx[f"{s}_shoulder"], 2] + 0.2
        # Knee: full flexion brings the ankle up behind the knee.
        bent = joints_at(f"lowerleg01.{side}", 0, "upper")
        assert bent[idx[f"{s}_ankle"], 1] > rest[idx[f"{s}_knee"], 1] + 0.2
    # Spine flexion bends the thorax forwards.
    bent = joints_at("spine03", 0, "upper")
    assert bent[idx["thorax"], 1] < rest[idx["thorax"], 1] - 0.05


def test_building_the_body_prints_nothing(tmp_path):
    """Anny's build and Warp's native "CUDA driver not found" line stay off the terminal."""
    import os
    import subprocess
    import sys

    code = "from vivid.core.body import BodyModel; BodyModel()"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and "Warp" not in done.stderr and done.stderr.strip() == ""


def test_captured_output_catches_native_writes():
    import os

    from vivid.core.body import captured_output

    with captured_output() as out:
        os.write(2, b"native line\n")
        print("python line")
    assert "native line" in out.getvalue() and "python line" in out.getvalue()
