import math

import pytest
import roma
import torch

from vivid.core import metrics as M

F64 = torch.float64


def _skeleton(n=17, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, dtype=F64, generator=g) * 300.0  # millimetres


# ----------------------------------------------------------------------------- images


def test_psnr_of_known_mse():
    target = torch.full((2, 3, 8, 8), 0.5)
    pred = target.clone()
    pred[0] += 0.1  # MSE 0.01 -> 20 dB
    pred[1, :, :4] += 0.2  # half the pixels off by 0.2: MSE 0.02 -> 10 log10(50) dB
    got = M.psnr(pred, target)
    assert got.shape == (2,)
    assert torch.allclose(got, torch.tensor([20.0, 10 * math.log10(50.0)]), atol=1e-4)


def test_psnr_data_range():
    target = torch.zeros(1, 3, 4, 4)
    pred = torch.full((1, 3, 4, 4), 25.5)  # MSE 650.25 with range 255 -> 20 dB
    assert torch.allclose(M.psnr(pred, target, data_range=255.0), torch.tensor([20.0]), atol=1e-4)


def test_ssim_identical_is_one_and_batch_equals_per_item():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(3, 3, 24, 24, generator=g)
    b = (a + 0.1 * torch.randn(3, 3, 24, 24, generator=g)).clamp(0, 1)
    assert torch.allclose(M.ssim(a, a), torch.ones(3), atol=1e-6)
    batched = M.ssim(a, b)
    assert batched.shape == (3,)
    assert (batched < 0.99).all()
    for i in range(3):
        assert torch.allclose(batched[i : i + 1], M.ssim(a[i : i + 1], b[i : i + 1]), atol=1e-6)


def test_ssim_constant_images_hand_worked():
    # Constant images: sigma terms vanish, SSIM = (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1).
    a = torch.full((1, 3, 16, 16), 0.2, dtype=F64)
    b = torch.full((1, 3, 16, 16), 0.6, dtype=F64)
    c1 = 0.01**2
    expected = (2 * 0.2 * 0.6 + c1) / (0.2**2 + 0.6**2 + c1)
    assert torch.allclose(M.ssim(a, b), torch.tensor([expected], dtype=F64), atol=1e-6)


def test_image_metrics_bad_shapes_raise():
    with pytest.raises(ValueError):
        M.psnr(torch.zeros(3, 8, 8), torch.zeros(3, 8, 8))
    with pytest.raises(ValueError):
        M.psnr(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9))
    with pytest.raises(ValueError):
        M.ssim(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))  # smaller than the window


# ----------------------------------------------------------------------------- joints


def test_mpjpe_of_translated_skeleton_is_translation_norm_and_pa_is_zero():
    gt = _skeleton()
    shift = torch.tensor([30.0, -40.0, 120.0], dtype=F64)  # norm 130
    pred = gt + shift
    assert torch.allclose(M.mpjpe(pred, gt), torch.tensor(130.0, dtype=F64))
    assert torch.allclose(M.mpjpe(pred, gt, root=0), torch.tensor(0.0, dtype=F64), atol=1e-9)
    assert float(M.pa_mpjpe(pred, gt)) < 1e-9


def test_mpjpe_hand_worked_single_joint_off():
    gt = torch.zeros(4, 3)
    pred = gt.clone()
    pred[2] = torch.tensor([3.0, 4.0, 0.0])  # one joint 5 away, four joints: mean 1.25
    assert torch.allclose(M.mpjpe(pred, gt), torch.tensor(1.25))


def test_pa_mpjpe_zero_for_scaled_rotated_copy_and_batched():
    gts = torch.stack([_skeleton(seed=i) for i in range(4)])
    R = roma.random_rotmat(4, dtype=F64)
    preds = 0.7 * gts @ R.transpose(-1, -2) + torch.tensor([5.0, 6.0, 7.0], dtype=F64)
    pa = M.pa_mpjpe(preds, gts)
    assert pa.shape == (4,)
    assert (pa < 1e-8).all()
    assert (M.mpjpe(preds, gts) > 10.0).all()


def test_pa_mpjpe_batch_equals_per_item():
    g = torch.Generator().manual_seed(3)
    preds = torch.randn(5, 17, 3, dtype=F64, generator=g)
    gts = torch.randn(5, 17, 3, dtype=F64, generator=g)
    batched = M.pa_mpjpe(preds, gts)
    for i in range(5):
        assert torch.allclose(batched[i], M.pa_mpjpe(preds[i], gts[i]))
    # Alignment can only reduce the error.
    assert (batched <= M.mpjpe(preds, gts) + 1e-12).all()


def test_pve_with_and_without_alignment():
    gt = _skeleton(100, seed=5)
    pred = gt + torch.tensor([0.0, 0.0, 2.0], dtype=F64)
    assert torch.allclose(M.pve(pred, gt), torch.tensor(2.0, dtype=F64))
    assert float(M.pve(pred, gt, align="rigid")) < 1e-9
    scaled = 1.5 * gt
    assert float(M.pve(scaled, gt, align="rigid")) > 1.0
    assert float(M.pve(scaled, gt, align="similarity")) < 1e-9
    with pytest.raises(ValueError):
        M.pve(pred, gt, align="affine")


def test_acceleration_error_constant_velocity_is_zero():
    t = torch.arange(10, dtype=F64)[:, None, None]
    gt = torch.zeros(10, 5, 3, dtype=F64)
    pred = gt + t * torch.tensor([1.0, 2.0, 3.0], dtype=F64)  # constant velocity
    err = M.acceleration_error(pred, gt)
    assert err.shape == (8,)
    assert torch.allclose(err, torch.zeros(8, dtype=F64))


def test_acceleration_error_of_known_quadratic():
    # x(t) = 0.5 * a t^2 along x with a = 4 mm/frame^2: second difference is exactly a.
    t = torch.arange(6, dtype=F64)
    pred = torch.zeros(6, 3, 3, dtype=F64)
    pred[:, :, 0] = 0.5 * 4.0 * t[:, None] ** 2
    gt = torch.zeros_like(pred)
    assert torch.allclose(M.acceleration_error(pred, gt), torch.full((4,), 4.0, dtype=F64))
    # Only one joint of three accelerating: the mean over joints is a / 3.
    pred[:, 1:, 0] = 0.0
    assert torch.allclose(M.acceleration_error(pred, gt), torch.full((4,), 4.0 / 3.0, dtype=F64))


def test_acceleration_error_batched_and_bad_length():
    g = torch.Generator().manual_seed(4)
    p = torch.randn(2, 7, 4, 3, generator=g)
    q = torch.randn(2, 7, 4, 3, generator=g)
    batched = M.acceleration_error(p, q)
    assert batched.shape == (2, 5)
    assert torch.allclose(batched[1], M.acceleration_error(p[1], q[1]))
    with pytest.raises(ValueError):
        M.acceleration_error(torch.zeros(2, 4, 3), torch.zeros(2, 4, 3))


def test_pck3d_half_joints_over_threshold():
    gt = torch.zeros(2, 10, 3)
    pred = gt.clone()
    pred[0, :5, 0] = 200.0  # 5 of 10 joints beyond 150 mm
    pred[0, 5:, 1] = 100.0  # the other 5 within
    pred[1, :, 2] = 150.0  # exactly at the threshold counts as correct
    assert torch.allclose(M.pck3d(pred, gt), torch.tensor([50.0, 100.0]))
    assert torch.allclose(M.pck3d(pred / 1000.0, gt, threshold=0.15), torch.tensor([50.0, 100.0]))


def test_joint_metrics_bad_shapes_raise():
    with pytest.raises(ValueError):
        M.mpjpe(torch.zeros(17, 3), torch.zeros(16, 3))
    with pytest.raises(ValueError):
        M.pa_mpjpe(torch.zeros(17, 2), torch.zeros(17, 2))
    with pytest.raises(ValueError):
        M.pck3d(torch.zeros(3), torch.zeros(3))


# ----------------------------------------------------------------------------- meshes


def _square_mesh():
    verts = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0]], dtype=F64)
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    return verts, faces


def test_vertex_to_mesh_point_above_triangle_at_height_h():
    verts, faces = _square_mesh()
    pred = torch.tensor([[0.25, 0.5, 0.3], [0.75, 0.25, -0.1]], dtype=F64)
    # No alignment: distances are the heights 0.3 and 0.1.
    d = M.vertex_to_mesh_distance(pred, verts, faces, align="none")
    assert torch.allclose(d, torch.tensor(0.2, dtype=F64))


def test_vertex_to_mesh_zero_after_rigid_motion_same_topology():
    verts, faces = _square_mesh()
    R = roma.rotvec_to_rotmat(torch.tensor([0.3, -0.2, 0.5], dtype=F64))
    pred = verts @ R.T + torch.tensor([3.0, 1.0, -2.0], dtype=F64)
    assert float(M.vertex_to_mesh_distance(pred, verts, faces, align="none")) > 0.5
    assert float(M.vertex_to_mesh_distance(pred, verts, faces)) < 1e-9
    # A scaled copy needs the similarity option.
    assert float(M.vertex_to_mesh_distance(2.0 * verts, verts, faces, align="rigid")) > 0.1
    assert float(M.vertex_to_mesh_distance(2.0 * verts, verts, faces, align="similarity")) < 1e-9


def test_vertex_to_mesh_points_on_surface_different_topology_after_icp():
    # GT: a grid surface z = 0.2 x^2 - 0.1 y^3 (no symmetry for ICP to slide along).
    n = 12
    xs = torch.linspace(-1, 1, n, dtype=F64)
    gx, gy = torch.meshgrid(xs, xs, indexing="ij")
    gz = 0.2 * gx**2 - 0.1 * gy**3
    verts = torch.stack([gx, gy, gz], dim=-1).reshape(-1, 3)
    idx = torch.arange(n * n).reshape(n, n)
    a, b, c, d = idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]
    faces = torch.cat([torch.stack([a, b, c], -1).reshape(-1, 3), torch.stack([a, c, d], -1).reshape(-1, 3)])
    # Prediction: a subset of the GT vertices (they lie on the surface), slightly moved; the
    # subset's centroid is off the GT's, so the as-given start is the one that works.
    pred = verts[::3]
    R = roma.rotvec_to_rotmat(torch.tensor([0.02, 0.03, -0.02], dtype=F64))
    moved = pred @ R.T + torch.tensor([0.03, -0.02, 0.01], dtype=F64)
    assert float(M.vertex_to_mesh_distance(moved, verts, faces, align="none")) > 0.005
    assert float(M.vertex_to_mesh_distance(moved, verts, faces)) < 1e-6
    # Far away (in another frame), shuffled, a few vertices dropped: needs the centroid start.
    keep = torch.randperm(n * n, generator=torch.Generator().manual_seed(7))[: n * n - 6]
    R2 = roma.rotvec_to_rotmat(torch.tensor([0.0, 0.0, 0.05], dtype=F64))
    far = verts[keep] @ R2.T + torch.tensor([5.0, -3.0, 2.0], dtype=F64)
    assert float(M.vertex_to_mesh_distance(far, verts, faces)) < 1e-6


def test_vertex_to_mesh_batched_equals_per_item():
    verts, faces = _square_mesh()
    g = torch.Generator().manual_seed(6)
    preds = verts + 0.1 * torch.randn(3, 4, 3, dtype=F64, generator=g)
    gts = verts.expand(3, 4, 3)
    batched = M.vertex_to_mesh_distance(preds, gts, faces)
    assert batched.shape == (3,)
    for i in range(3):
        assert torch.allclose(batched[i], M.vertex_to_mesh_distance(preds[i], gts[i], faces))
