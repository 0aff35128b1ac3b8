import math

import numpy as np
import pytest
import roma
import torch

from vivid.core import geometry as G

F64 = torch.float64


def _K(dtype=F64):
    return torch.tensor([[500.0, 0.0, 320.0], [0.0, 400.0, 240.0], [0.0, 0.0, 1.0]], dtype=dtype)


def _random_similarity(n, generator):
    R = roma.rotvec_to_rotmat(torch.randn(n, 3, dtype=F64, generator=generator))
    s = torch.rand(n, dtype=F64, generator=generator) + 0.5
    t = torch.randn(n, 3, dtype=F64, generator=generator)
    return s, R, t


# ----------------------------------------------------------------------------- projection


def test_project_hand_worked_value():
    # x = 500 * 1 / 2 + 320 = 570, y = 400 * (-0.5) / 2 + 240 = 140
    uv = G.project(torch.tensor([1.0, -0.5, 2.0], dtype=F64), _K())
    assert torch.allclose(uv, torch.tensor([570.0, 140.0], dtype=F64))


def test_project_with_skew_hand_worked_value():
    K = torch.tensor([[100.0, 10.0, 5.0], [0.0, 50.0, 7.0], [0.0, 0.0, 1.0]], dtype=F64)
    # u = (100 * 2 + 10 * 4) / 4 + 5 = 65, v = 50 * 4 / 4 + 7 = 57
    uv = G.project(torch.tensor([2.0, 4.0, 4.0], dtype=F64), K)
    assert torch.allclose(uv, torch.tensor([65.0, 57.0], dtype=F64))


def test_project_unproject_round_trip():
    g = torch.Generator().manual_seed(0)
    pts = torch.randn(4, 50, 3, dtype=F64, generator=g)
    pts[..., 2] = pts[..., 2].abs() + 1.0
    uv = G.project(pts, _K())
    back = G.unproject(uv, pts[..., 2], _K())
    assert torch.allclose(back, pts, atol=1e-10)
    back1 = G.unproject(uv, pts[..., 2:3], _K())
    assert torch.allclose(back1, pts, atol=1e-10)


def test_project_batched_K_equals_per_item():
    g = torch.Generator().manual_seed(1)
    pts = torch.randn(3, 7, 3, dtype=F64, generator=g)
    pts[..., 2] += 5.0
    Ks = torch.stack([_K(), _K() * torch.tensor([2.0, 2.0, 1.0], dtype=F64)[:, None], _K()])
    Ks[2, 0, 2] = 10.0
    batched = G.project(pts, Ks[:, None])
    for i in range(3):
        assert torch.allclose(batched[i], G.project(pts[i], Ks[i]))


def test_project_module_matches_function():
    pts = torch.tensor([[0.3, 0.2, 3.0], [-1.0, 0.5, 2.0]], dtype=F64)
    assert torch.allclose(G.Project(_K())(pts), G.project(pts, _K()))


def test_project_gradcheck():
    g = torch.Generator().manual_seed(2)
    pts = torch.randn(5, 3, dtype=F64, generator=g)
    pts[:, 2] += 4.0
    pts.requires_grad_(True)
    K = _K().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(G.project, (pts, K))


@pytest.mark.parametrize(
    "points, K",
    [
        (torch.zeros(5, 2), _K()),
        (torch.zeros(5, 3), torch.eye(4)),
        (torch.zeros(5, 3), torch.eye(3)[:2]),
    ],
)
def test_project_bad_shapes_raise(points, K):
    with pytest.raises(ValueError):
        G.project(points, K.to(points.dtype))


def test_unproject_bad_depth_shape_raises():
    with pytest.raises(ValueError):
        G.unproject(torch.zeros(5, 2), torch.zeros(4), torch.eye(3))


def test_intrinsics_from_fov_hand_worked_value():
    # 90 degrees across the larger side (200 px): f = 100 / tan(45 deg) = 100; centre (99.5, 49.5)
    K = G.intrinsics_from_fov(fov_deg=90.0, height=100, width=200)
    expected = torch.tensor([[100.0, 0.0, 99.5], [0.0, 100.0, 49.5], [0.0, 0.0, 1.0]])
    assert K.dtype == torch.float32 and torch.allclose(K, expected)
    # the rays at +-fov/2 across the larger side meet the outer borders of the edge pixels
    for fov, (h, w) in ((50.0, (64, 48)), (70.0, (30, 90))):
        K = G.intrinsics_from_fov(fov_deg=fov, height=h, width=w).double()
        half = math.tan(math.radians(fov) / 2)
        rays = torch.tensor([[-half, 0.0, 1.0], [half, 0.0, 1.0]], dtype=F64)
        if h > w:
            rays = rays[:, [1, 0, 2]]
        uv = G.project(rays, K)[:, 0 if w >= h else 1]
        assert torch.allclose(uv, torch.tensor([-0.5, max(h, w) - 0.5], dtype=F64), atol=1e-9)


def test_intrinsics_from_fov_is_keyword_only_and_checks_input():
    with pytest.raises(TypeError):
        G.intrinsics_from_fov(60.0, 100, 200)
    with pytest.raises(ValueError):
        G.intrinsics_from_fov(fov_deg=60.0, height=0, width=200)
    with pytest.raises(ValueError):
        G.intrinsics_from_fov(fov_deg=180.0, height=100, width=200)


# ----------------------------------------------------------------------------- camera frames


def test_look_at_axes_and_centre():
    eye = torch.tensor([0.0, 0.0, -5.0], dtype=F64)
    target = torch.zeros(3, dtype=F64)
    up = torch.tensor([0.0, 1.0, 0.0], dtype=F64)
    R, t = G.look_at(eye, target, up)
    # Looking along +z with world up +y: camera y (down) is world -y, camera x (right) is world -x.
    assert torch.allclose(R, torch.diag(torch.tensor([-1.0, -1.0, 1.0], dtype=F64)))
    cam = G.world_to_camera(torch.stack([eye, target, up]), R, t)
    assert torch.allclose(cam[0], torch.zeros(3, dtype=F64))  # eye at the camera centre
    assert torch.allclose(cam[1], torch.tensor([0.0, 0.0, 5.0], dtype=F64))  # target straight ahead
    assert cam[2, 1] < 0  # a point above the target appears higher in the image (smaller y)
    assert torch.allclose(torch.linalg.det(R), torch.tensor(1.0, dtype=F64))


def test_look_at_projects_target_to_principal_point_batched():
    g = torch.Generator().manual_seed(3)
    eye = torch.randn(6, 3, dtype=F64, generator=g) * 4
    target = torch.randn(6, 3, dtype=F64, generator=g)
    up = torch.tensor([0.0, 0.0, 1.0], dtype=F64).expand(6, 3)
    R, t = G.look_at(eye, target, up)
    assert torch.allclose(R @ R.transpose(-1, -2), torch.eye(3, dtype=F64).expand(6, 3, 3), atol=1e-12)
    cam = G.world_to_camera(target[:, None], R, t)[:, 0]
    uv = G.project(cam, _K())
    assert torch.allclose(uv, torch.tensor([320.0, 240.0], dtype=F64).expand(6, 2), atol=1e-9)
    for i in range(6):
        Ri, ti = G.look_at(eye[i], target[i], up[i])
        assert torch.allclose(Ri, R[i]) and torch.allclose(ti, t[i])


def test_look_at_parallel_up_raises():
    with pytest.raises(ValueError):
        G.look_at(torch.zeros(3), torch.tensor([0.0, 1.0, 0.0]), torch.tensor([0.0, 1.0, 0.0]))


def test_world_camera_round_trip():
    g = torch.Generator().manual_seed(4)
    R = roma.random_rotmat(2, dtype=F64)
    t = torch.randn(2, 3, dtype=F64, generator=g)
    X = torch.randn(2, 10, 3, dtype=F64, generator=g)
    assert torch.allclose(G.camera_to_world(G.world_to_camera(X, R, t), R, t), X, atol=1e-12)


# ----------------------------------------------------------------------------- alignment


def test_procrustes_recovers_known_similarity():
    g = torch.Generator().manual_seed(5)
    X = torch.randn(30, 3, dtype=F64, generator=g)
    angle = math.radians(40.0)
    R = torch.tensor(
        [[math.cos(angle), -math.sin(angle), 0.0], [math.sin(angle), math.cos(angle), 0.0], [0.0, 0.0, 1.0]],
        dtype=F64,
    )
    Y = 2.5 * X @ R.T + torch.tensor([1.0, -2.0, 0.5], dtype=F64)
    s, R_est, t = G.procrustes(X, Y)
    assert torch.allclose(s, torch.tensor(2.5, dtype=F64))
    assert torch.allclose(R_est, R, atol=1e-12)
    assert torch.allclose(t, torch.tensor([1.0, -2.0, 0.5], dtype=F64))


def test_procrustes_batch_equals_per_item_and_proper_rotation():
    g = torch.Generator().manual_seed(6)
    X = torch.randn(4, 12, 3, dtype=F64, generator=g)
    Y = torch.randn(4, 12, 3, dtype=F64, generator=g)  # unrelated sets: reflections are tempting
    s, R, t = G.procrustes(X, Y)
    assert torch.allclose(torch.linalg.det(R), torch.ones(4, dtype=F64))
    for i in range(4):
        si, Ri, ti = G.procrustes(X[i], Y[i])
        assert torch.allclose(si, s[i]) and torch.allclose(Ri, R[i]) and torch.allclose(ti, t[i])


def test_procrustes_never_returns_reflection_for_mirrored_input():
    g = torch.Generator().manual_seed(7)
    X = torch.randn(20, 3, dtype=F64, generator=g)
    Y = X * torch.tensor([-1.0, 1.0, 1.0], dtype=F64)  # a mirror image: no rotation reproduces it
    _, R, _ = G.procrustes(X, Y)
    assert torch.allclose(torch.linalg.det(R), torch.tensor(1.0, dtype=F64))


def test_rigid_align_has_unit_scale_and_recovers_rigid_motion():
    g = torch.Generator().manual_seed(8)
    s, R, t = _random_similarity(3, g)
    X = torch.randn(3, 15, 3, dtype=F64, generator=g)
    Y = G.apply_similarity(X, torch.ones(3, dtype=F64), R, t)
    R_est, t_est = G.rigid_align(X, Y)
    assert torch.allclose(R_est, R, atol=1e-10) and torch.allclose(t_est, t, atol=1e-10)


def test_procrustes_weights_ignore_outlier():
    g = torch.Generator().manual_seed(9)
    s, R, t = _random_similarity(1, g)
    X = torch.randn(10, 3, dtype=F64, generator=g)
    Y = G.apply_similarity(X, s[0], R[0], t[0])
    Y[0] += 100.0
    w = torch.ones(10, dtype=F64)
    w[0] = 0.0
    s_est, R_est, t_est = G.procrustes(X, Y, weights=w)
    assert torch.allclose(s_est, s[0]) and torch.allclose(R_est, R[0], atol=1e-10)


def test_procrustes_gradcheck():
    g = torch.Generator().manual_seed(10)
    X = torch.randn(6, 3, dtype=F64, generator=g, requires_grad=True)
    Y = torch.randn(6, 3, dtype=F64, generator=g, requires_grad=True)

    def aligned(X, Y):
        return G.apply_similarity(X, *G.procrustes(X, Y))

    assert torch.autograd.gradcheck(aligned, (X, Y))


@pytest.mark.parametrize(
    "X, Y",
    [(torch.zeros(5, 3), torch.zeros(4, 3)), (torch.zeros(3), torch.zeros(3)), (torch.zeros(1, 3), torch.zeros(1, 3))],
)
def test_procrustes_bad_shapes_raise(X, Y):
    with pytest.raises(ValueError):
        G.procrustes(X, Y)


def test_nearest_neighbors_chunked_equals_full():
    g = torch.Generator().manual_seed(11)
    a = torch.randn(100, 3, generator=g)
    b = torch.randn(37, 3, generator=g)
    d1, i1 = G.nearest_neighbors(a, b, chunk=7)
    full = torch.cdist(a, b)
    assert torch.equal(i1, full.argmin(1))
    assert torch.allclose(d1, full.min(1).values)


def test_icp_recovers_small_rigid_motion():
    g = torch.Generator().manual_seed(12)
    # A non-symmetric cloud: points on an elongated, irregular blob.
    dst = torch.randn(400, 3, dtype=F64, generator=g) * torch.tensor([1.0, 0.5, 0.25], dtype=F64)
    dst = dst + 0.3 * dst[:, :1] ** 2
    R_true = roma.rotvec_to_rotmat(torch.tensor([0.05, -0.08, 0.1], dtype=F64))
    t_true = torch.tensor([0.05, -0.03, 0.02], dtype=F64)
    # src is dst moved by the inverse motion; ICP must find (R_true, t_true) taking src onto dst.
    src = (dst - t_true) @ R_true
    res = G.icp(src, dst, iters=100)
    assert torch.allclose(res.R, R_true, atol=1e-6)
    assert torch.allclose(res.t, t_true, atol=1e-6)
    assert float(res.rmse) < 1e-6
    assert torch.allclose(res.apply(src), dst, atol=1e-6)


def test_icp_bad_shapes_raise():
    with pytest.raises(ValueError):
        G.icp(torch.zeros(10, 3), torch.zeros(10, 2))


# ----------------------------------------------------------------------------- point to mesh


def test_point_to_mesh_distance_hand_worked():
    verts = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=F64)
    faces = torch.tensor([[0, 1, 2]])
    pts = torch.tensor(
        [
            [0.25, 0.25, 0.7],  # above the interior: height 0.7
            [0.25, 0.25, -0.3],  # below the interior: 0.3
            [2.0, 0.0, 0.0],  # beyond vertex 1 on the x axis: 1
            [0.5, -2.0, 0.0],  # beside edge 0-1 in-plane: 2
            [1.0, 1.0, 0.0],  # beyond the hypotenuse: sqrt(0.5)
            [-3.0, -4.0, 0.0],  # beyond vertex 0: 5
        ],
        dtype=F64,
    )
    d = G.point_to_mesh_distance(pts, verts, faces)
    expected = torch.tensor([0.7, 0.3, 1.0, 2.0, math.sqrt(0.5), 5.0], dtype=F64)
    assert torch.allclose(d, expected)


def test_point_to_mesh_distance_takes_closest_triangle_and_chunks():
    # Unit square in z=0 split into two triangles, plus a far triangle.
    verts = torch.tensor(
        [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [10, 10, 10], [11, 10, 10], [10, 11, 10]], dtype=F64
    )
    faces = torch.tensor([[0, 1, 2], [0, 2, 3], [4, 5, 6]])
    g = torch.Generator().manual_seed(13)
    xy = torch.rand(50, 2, dtype=F64, generator=g)
    h = torch.rand(50, 1, dtype=F64, generator=g) * 2 - 1
    pts = torch.cat([xy, h], dim=1)
    d = G.point_to_mesh_distance(pts, verts, faces, chunk_pairs=7)
    assert torch.allclose(d, h[:, 0].abs())


def _sphere_mesh(n=10):
    th = torch.linspace(0.2, math.pi - 0.2, n, dtype=F64)
    ph = torch.linspace(0, 2 * math.pi, 2 * n + 1, dtype=F64)[:-1]
    T, P = torch.meshgrid(th, ph, indexing="ij")
    verts = torch.stack([T.sin() * P.cos(), T.sin() * P.sin(), T.cos()], -1).reshape(-1, 3)
    idx = torch.arange(n * 2 * n).reshape(n, 2 * n)
    a, b, c, d = idx[:-1], idx[1:], idx[1:].roll(-1, 1), idx[:-1].roll(-1, 1)
    faces = torch.cat([torch.stack([a, b, c], -1).reshape(-1, 3), torch.stack([a, c, d], -1).reshape(-1, 3)])
    return verts, faces


def test_point_to_mesh_distance_equals_brute_force():
    verts, faces = _sphere_mesh()
    g = torch.Generator().manual_seed(15)
    pts = torch.cat([verts + 0.05 * torch.randn_like(verts), 2.0 * torch.randn(50, 3, dtype=F64, generator=g)])
    tri = verts[faces]
    brute = G._point_triangle_distance(pts[:, None], tri[None, :, 0], tri[None, :, 1], tri[None, :, 2]).min(1).values
    assert torch.allclose(G.point_to_mesh_distance(pts, verts, faces), brute, atol=1e-12)


def test_point_to_mesh_distance_gradcheck():
    verts = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.1], [0.0, 1.0, -0.1]], dtype=F64, requires_grad=True)
    faces = torch.tensor([[0, 1, 2]])
    pts = torch.tensor([[0.2, 0.3, 0.5], [1.5, -0.2, 0.3], [-0.4, 0.5, 0.2]], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p, v: G.point_to_mesh_distance(p, v, faces), (pts, verts))


# ----------------------------------------------------------------------------- rotations


def test_axis_angle_matrix_hand_worked_and_round_trip():
    R = G.axis_angle_to_matrix(torch.tensor([0.0, 0.0, math.pi / 2], dtype=F64))
    expected = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=F64)
    assert torch.allclose(R, expected, atol=1e-12)
    g = torch.Generator().manual_seed(14)
    v = torch.randn(20, 3, dtype=F64, generator=g)
    v = v / v.norm(dim=-1, keepdim=True) * torch.rand(20, 1, dtype=F64, generator=g) * 3.0  # angle < pi
    assert torch.allclose(G.matrix_to_axis_angle(G.axis_angle_to_matrix(v)), v, atol=1e-9)


def test_rotation_6d_round_trip_and_layout():
    R = roma.random_rotmat(10, dtype=F64)
    d6 = G.matrix_to_rotation_6d(R)
    assert d6.shape == (10, 6)
    assert torch.allclose(d6[:, :3], R[:, :, 0]) and torch.allclose(d6[:, 3:], R[:, :, 1])
    assert torch.allclose(G.rotation_6d_to_matrix(d6), R, atol=1e-12)


def test_rotation_6d_orthonormalises_arbitrary_input():
    d6 = torch.tensor([2.0, 0.0, 0.0, 1.0, 3.0, 0.0], dtype=F64)
    # Gram-Schmidt: first column x; second column (1,3,0) minus its x part -> y; third z.
    assert torch.allclose(G.rotation_6d_to_matrix(d6), torch.eye(3, dtype=F64))


def test_euler_to_matrix_hand_worked_values():
    q = math.pi / 2
    Rz = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=F64)
    assert torch.allclose(G.euler_to_matrix(torch.tensor([q], dtype=F64), "z"), Rz, atol=1e-12)
    # Rx(90) = [[1,0,0],[0,0,-1],[0,1,0]], Ry(90) = [[0,0,1],[0,1,0],[-1,0,0]]; their product:
    R = G.euler_to_matrix(torch.tensor([q, q, 0.0], dtype=F64))
    expected = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=F64)
    assert torch.allclose(R, expected, atol=1e-12)
    # Rz(90) @ Rx(90): x -> y, y -> z, z -> x
    R = G.euler_to_matrix(torch.tensor([q, q], dtype=F64), "zx")
    assert torch.allclose(R, torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=F64), atol=1e-12)


def test_euler_to_matrix_order_batch_numpy_and_axis_angle_agree():
    g = torch.Generator().manual_seed(3)
    a = (torch.rand(4, 5, 3, dtype=F64, generator=g) - 0.5) * 6
    one = [G.euler_to_matrix(a[..., k : k + 1], ax) for k, ax in enumerate("zyx")]
    R = G.euler_to_matrix(a, "zyx")
    assert R.shape == (4, 5, 3, 3)
    assert torch.allclose(R, one[0] @ one[1] @ one[2], atol=1e-12)
    assert torch.allclose(R[2, 3], G.euler_to_matrix(a[2, 3], "zyx"), atol=1e-12)
    # each factor is the axis-angle rotation about its coordinate axis
    assert torch.allclose(one[0], G.axis_angle_to_matrix(a[..., 0:1] * torch.tensor([0.0, 0.0, 1.0], dtype=F64)), atol=1e-12)
    out = G.euler_to_matrix(a.numpy(), "zyx")
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    np.testing.assert_allclose(out, R.numpy(), atol=1e-12)
    assert G.euler_to_matrix(a.float()).dtype == torch.float32


def test_euler_to_matrix_gradcheck_and_bad_input():
    a = torch.tensor([[0.3, -1.1, 2.0], [0.5, 0.2, -0.7]], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: G.euler_to_matrix(x, "yxz"), (a,))
    with pytest.raises(ValueError):
        G.euler_to_matrix(torch.zeros(3), "xyw")
    with pytest.raises(ValueError):
        G.euler_to_matrix(torch.zeros(2), "xyz")


def test_rotation_bad_shapes_raise():
    with pytest.raises(ValueError):
        G.rotation_6d_to_matrix(torch.zeros(5))
    with pytest.raises(ValueError):
        G.axis_angle_to_matrix(torch.zeros(4))
    with pytest.raises(ValueError):
        G.matrix_to_rotation_6d(torch.zeros(3, 2))
