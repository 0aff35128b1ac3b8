"""Data: crops, the 2D-only flag, the crop cache, Human3.6M (VideoPose3D npz) and COCO JSON loaders."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from vivid.core.errors import VividError
from vivid.core.geometry import project
from vivid.pose3d.crop import crop_and_resize, person_box, to_crop
from vivid.pose3d.data import (
    H36M32_TO_17,
    CachedPoseDataset,
    CocoKeypoints,
    H36MPoses,
    coco_to_h36m,
    flip_sample,
    h36m_world_to_camera,
    label_mask,
    load_h36m_2d,
    load_h36m_3d,
    make_sample,
    save_crop_cache,
)


def random_person(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    j = torch.randn(17, 3, generator=g) * torch.tensor([0.25, 0.5, 0.15])
    return j + torch.tensor([0.2, 0.0, 4.0])


K_IMG = torch.tensor([[300.0, 0.0, 159.5], [0.0, 300.0, 119.5], [0.0, 0.0, 1.0]])


def test_crop_intrinsics_match_cropped_joints():
    joints3d = random_person()
    uv = project(joints3d, K_IMG)
    image = torch.rand(3, 240, 320)
    box = person_box(uv)
    crop, Kc, tf = crop_and_resize(image, K_IMG, box, 64)
    assert crop.shape == (3, 64, 64)
    assert torch.allclose(project(joints3d, Kc), to_crop(uv, tf), atol=1e-4)
    # A box reaching past the image border is zero-padded, not shifted.
    _, _, tf2 = crop_and_resize(image, K_IMG, (5.0, 5.0, 40.0), 20)
    assert tf2[:2] == (-15, -15)


def test_crop_pixels_hand_value():
    image = torch.zeros(3, 8, 8)
    image[:, 2:4, 4:6] = 1.0
    crop, _, tf = crop_and_resize(image, K_IMG, (4.0, 3.0, 4.0), 4)  # box x 2..5, y 1..4, scale 1
    assert tf == (2, 1, 1.0)
    assert torch.equal(crop[0], torch.tensor([[0, 0, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0.0]]))


def test_flip_keeps_projection_consistent():
    joints3d = random_person(1)
    uv = project(joints3d, K_IMG)
    crop, Kc, tf = crop_and_resize(torch.rand(3, 240, 320), K_IMG, person_box(uv), 64)
    s = make_sample(crop, to_crop(uv, tf), torch.ones(17), Kc, joints3d)
    f = flip_sample(s)
    assert torch.allclose(project(f["joints3d"], f["K"]), f["joints2d"], atol=1e-3)
    assert torch.allclose(f["image"], s["image"].flip(-1))
    assert torch.allclose(flip_sample(f)["joints3d"], s["joints3d"])
    assert f["joints3d"][1, 0] == pytest.approx(-s["joints3d"][4, 0].item())  # right hip <- mirrored left hip


def test_label_mask_fraction_and_seed():
    m = label_mask(200, 0.05, seed=3)
    assert m.sum() == 10
    assert np.array_equal(m, label_mask(200, 0.05, seed=3))
    assert not np.array_equal(m, label_mask(200, 0.05, seed=4))
    assert label_mask(10, 0.01, 0).sum() == 1 and label_mask(10, 0.0, 0).sum() == 0
    with pytest.raises(VividError):
        label_mask(10, 1.5, 0)


def test_cache_round_trip_and_2d_only_flag(tmp_path):
    samples = []
    for i in range(20):
        j3 = random_person(i)
        uv = project(j3, K_IMG)
        crop, Kc, tf = crop_and_resize(torch.rand(3, 240, 320), K_IMG, person_box(uv), 32)
        samples.append(make_sample(crop, to_crop(uv, tf), torch.ones(17), Kc, j3))
    path = save_crop_cache(tmp_path / "c.npz", samples, {"split": "test"})
    full = CachedPoseDataset(path)
    assert len(full) == 20 and full.meta == {"split": "test"}
    item = full[3]
    assert torch.allclose(item["joints3d"], samples[3]["joints3d"])
    assert torch.allclose(item["image"], samples[3]["image"], atol=1 / 255)
    mixed = CachedPoseDataset(path, three_d_fraction=0.25, label_seed=1)
    flags = torch.stack([mixed[i]["has3d"] for i in range(20)])
    assert int(flags.sum()) == 5
    two_d = [mixed[i] for i in range(20) if not mixed[i]["has3d"]]
    assert all(torch.equal(s["joints3d"], torch.zeros(17, 3)) for s in two_d)
    assert len(CachedPoseDataset(path, three_d_fraction=0.25, label_seed=1, subset="3d")) == 5
    assert len(CachedPoseDataset(path, three_d_fraction=0.25, label_seed=1, subset="2d")) == 15
    assert CachedPoseDataset(path, three_d_fraction=0.25, label_seed=1).joints3d_labelled().shape == (5, 17, 3)


# ----------------------------------------------------------------------------- Human3.6M


def write_h36m(tmp_path):
    """Files laid out exactly as VideoPose3D's data/prepare_data_h36m.py writes them."""
    rng = np.random.default_rng(0)
    positions_3d = {
        "S1": {"Walking": rng.normal(size=(5, 32, 3)).astype("float32"), "Sitting 1": rng.normal(size=(3, 32, 3)).astype("float32")},
        "S5": {"Walking": rng.normal(size=(4, 32, 3)).astype("float32")},
    }
    np.savez_compressed(tmp_path / "data_3d_h36m", positions_3d=positions_3d)
    positions_2d = {
        s: {a: [rng.uniform(0, 1000, size=(len(p), 17, 2)).astype("float32") for _ in range(4)] for a, p in acts.items()}
        for s, acts in positions_3d.items()
    }
    metadata = {"num_joints": 17, "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]}
    np.savez_compressed(tmp_path / "data_2d_h36m_gt", positions_2d=positions_2d, metadata=metadata)
    return positions_3d, positions_2d


def test_h36m_loaders_read_videopose3d_files(tmp_path):
    p3, p2 = write_h36m(tmp_path)
    poses = load_h36m_3d(tmp_path / "data_3d_h36m.npz")
    assert set(poses) == {"S1", "S5"} and poses["S1"]["Sitting 1"].shape == (3, 17, 3)
    assert np.array_equal(poses["S1"]["Walking"][:, 9], p3["S1"]["Walking"][:, 14])  # nose/neck = joint 14 of 32
    assert np.array_equal(poses["S5"]["Walking"], p3["S5"]["Walking"][:, list(H36M32_TO_17)])
    pos2d, meta = load_h36m_2d(tmp_path / "data_2d_h36m_gt.npz")
    assert meta["num_joints"] == 17 and len(pos2d["S1"]["Walking"]) == 4
    assert np.array_equal(pos2d["S5"]["Walking"][2], p2["S5"]["Walking"][2])
    ds = H36MPoses(tmp_path / "data_3d_h36m.npz", tmp_path / "data_2d_h36m_gt.npz", subjects=["S1"], stride=2)
    assert len(ds) == 4 * (3 + 2)  # 4 cameras x (ceil(5/2) + ceil(3/2)) frames
    item = ds[0]
    assert item["joints3d"].shape == (17, 3) and torch.allclose(item["joints3d_rel"][0], torch.zeros(3))
    with pytest.raises(VividError):
        H36MPoses(tmp_path / "data_3d_h36m.npz", subjects=["S9"])


def test_h36m_camera_transform(tmp_path):
    # Camera rotated 90 degrees about z, placed at (1, 2, 3) m: X_cam = R^T (X - t).
    c, s = np.cos(np.pi / 4), np.sin(np.pi / 4)
    q = [c, 0.0, 0.0, s]
    out = h36m_world_to_camera(np.array([[1.0, 3.0, 3.0]]), q, [1000.0, 2000.0, 3000.0])
    assert np.allclose(out, [[1.0, 0.0, 0.0]], atol=1e-6)  # (0, 1, 0) rotated by -90 deg about z
    write_h36m(tmp_path)
    cams = {"S1": [{"orientation": q, "translation": [0, 0, 0], "focal_length": [1145.0, 1144.0], "center": [512.5, 515.5]}] * 4}
    (tmp_path / "cams.json").write_text(json.dumps(cams))
    ds = H36MPoses(tmp_path / "data_3d_h36m.npz", tmp_path / "data_2d_h36m_gt.npz", subjects=["S1"], cameras=tmp_path / "cams.json")
    assert ds[0]["K"][0, 0] == pytest.approx(1145.0) and ds[0]["K"][1, 2] == pytest.approx(515.5)


def test_h36m_reader_refuses_code_in_pickles(tmp_path):
    np.savez(tmp_path / "evil.npz", positions_3d=np.array([os.getcwd], dtype=object), allow_pickle=True)
    with pytest.raises(VividError, match="refusing"):
        load_h36m_3d(tmp_path / "evil.npz")
    np.savez(tmp_path / "other.npz", something=np.zeros(3))
    with pytest.raises(VividError, match="positions_3d"):
        load_h36m_3d(tmp_path / "other.npz")


# ----------------------------------------------------------------------------- COCO


def test_coco_mapping_hand_values():
    kp = np.zeros((17, 3))
    kp[:, 2] = 2
    kp[:, 0] = np.arange(17) * 10
    kp[:, 1] = 100
    kp[3, 2] = 0  # left ear unlabelled (unused by the mapping anyway)
    kp[6, 2] = 0  # right shoulder unlabelled -> no thorax, no right shoulder
    joints, labelled = coco_to_h36m(kp)
    assert joints[0, 0] == pytest.approx((110 + 120) / 2)  # pelvis = mid-hips
    assert joints[1, 0] == 120 and joints[6, 0] == 150 and joints[9, 0] == 0  # r_hip, l_ankle, nose
    assert labelled[7] == 0 and labelled[10] == 0  # spine and head top have no COCO counterpart
    assert labelled[8] == 0 and labelled[14] == 0 and labelled[11] == 1


def test_coco_dataset_reads_keypoint_json(tmp_path):
    from PIL import Image

    Image.fromarray(np.full((120, 160, 3), 128, np.uint8)).save(tmp_path / "000001.jpg")
    kp = np.zeros((17, 3))
    kp[:, 0] = np.linspace(60, 100, 17)
    kp[:, 1] = np.linspace(20, 100, 17)
    kp[:, 2] = 2
    coco = {
        "images": [{"id": 1, "file_name": "000001.jpg", "width": 160, "height": 120}],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 1, "iscrowd": 0, "num_keypoints": 17, "keypoints": kp.reshape(-1).tolist(), "bbox": [60, 20, 40, 80], "area": 3200},
            {"id": 11, "image_id": 1, "category_id": 1, "iscrowd": 1, "num_keypoints": 17, "keypoints": kp.reshape(-1).tolist(), "bbox": [0, 0, 1, 1], "area": 1},
            {"id": 12, "image_id": 1, "category_id": 1, "iscrowd": 0, "num_keypoints": 2, "keypoints": [0] * 51, "bbox": [0, 0, 1, 1], "area": 1},
        ],
        "categories": [{"id": 1, "name": "person", "keypoints": ["nose"], "skeleton": []}],
    }
    (tmp_path / "person_keypoints_val.json").write_text(json.dumps(coco))
    ds = CocoKeypoints(tmp_path / "person_keypoints_val.json", tmp_path, size=32)
    assert len(ds) == 1
    s = ds[0]
    assert s["image"].shape == (3, 32, 32) and not bool(s["has3d"])
    assert s["weight2d"][7] == 0 and s["weight2d"][3] == 1
    # The labelled joints fit inside the crop around them.
    lab = s["weight2d"] > 0
    assert (s["joints2d"][lab] >= 0).all() and (s["joints2d"][lab] <= 31).all()
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(VividError):
        CocoKeypoints(tmp_path / "bad.json", tmp_path)


def test_render_parts_resume_and_merge(tmp_path, monkeypatch):
    """A render is written in parts; a stopped one reuses its finished parts and the merged cache
    holds every sample in order, with the parts removed."""
    import types

    import vivid.pose3d.data as data

    def fake_crop(raw, size, rng):
        j3 = random_person(raw)
        uv = project(j3, K_IMG)
        crop, Kc, tf = crop_and_resize(torch.full((3, 240, 320), raw / 10), K_IMG, person_box(uv), size)
        return make_sample(crop, to_crop(uv, tf), torch.ones(17), Kc, j3)

    calls = []
    gen = types.SimpleNamespace(cfg=types.SimpleNamespace(seed=0),
                                generate=lambda i: calls.append(i) or types.SimpleNamespace(to_arrays=lambda: i))
    monkeypatch.setattr(data, "crop_synth_sample", fake_crop)
    monkeypatch.setattr(data, "PART_SIZE", 3)
    path = tmp_path / "c.npz"
    first = data._render_parts(path, gen, 5, 16, False, "test")
    assert [p.name for p in first] == ["part_0000000_0000003.npz", "part_0000003_0000005.npz"]
    first[1].unlink()  # as if the render had stopped in its second part
    calls.clear()
    parts = data._render_parts(path, gen, 5, 16, False, "test")
    assert calls == [3, 4]
    data.merge_crop_parts(path, parts, {"split": "test"})
    ds = CachedPoseDataset(path)
    assert len(ds) == 5 and ds.meta == {"split": "test"}
    assert [round(float(ds[i]["image"].mean()) * 10) for i in range(5)] == [0, 1, 2, 3, 4]
    assert torch.allclose(ds[4]["joints3d"], random_person(4))
    assert not (tmp_path / "c.parts").exists()


def test_a_joint_at_the_camera_plane_neither_blows_up_the_crop_nor_gets_a_2d_label():
    """A body cut by the frame edge may have the camera almost touching it: such a joint projects
    far off the image and must not make the crop box (a 24 GB pad once) or train the 2D loss."""
    from vivid.pose3d.data import NEAR_Z, crop_synth_sample

    j3 = random_person(5)
    j3[15] = torch.tensor([0.4, 0.1, 0.01])  # a hand 1 cm in front of the camera
    uv = project(j3, K_IMG)
    assert uv[15].abs().max() > 5000  # it projects tens of image sizes away
    raw = {"image": np.zeros((240, 320, 3), np.uint8), "joints2d": uv.numpy(), "joints3d": j3.numpy(), "K": K_IMG.numpy()}
    s = crop_synth_sample(raw, 32)
    assert s["image"].shape == (3, 32, 32)
    assert s["weight2d"][15] == 0 and (j3[:, 2] > NEAR_Z).sum() == 16
    side = 32 / float(s["K"][0, 0] / K_IMG[0, 0])
    assert side < 2.0 * 320 + 1  # the box comes from the other joints (and is capped)
