"""Camera geometry, point-set alignment and rotation conversions.

Conventions used throughout vivid:

* Camera frame: x right, y down, z forward (OpenCV). A world point ``X`` maps to the camera
  frame as ``R @ X + t`` (``R``, ``t`` are the world->camera extrinsics).
* Intrinsics ``K`` are 3x3 pixel matrices ``[[fx, s, cx], [0, fy, cy], [0, 0, 1]]``; pixel
  coordinates ``(u, v)`` grow right and down, measured in whatever origin ``cx, cy`` use.
* Point sets are ``(..., N, D)`` tensors; leading dimensions are batch dimensions and broadcast.
* 6D rotations follow Zhou et al., "On the Continuity of Rotation Representations in Neural
  Networks" (CVPR 2019): the first two *columns* of the matrix, concatenated as
  ``(R[:, 0], R[:, 1])``.

All functions are differentiable torch code. Shape errors raise ``ValueError`` (they are
programming errors, not user input).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import roma
import torch
from torch import Tensor, nn

__all__ = [
    "project",
    "unproject",
    "intrinsics_from_fov",
    "look_at",
    "world_to_camera",
    "camera_to_world",
    "procrustes",
    "rigid_align",
    "apply_similarity",
    "nearest_neighbors",
    "icp",
    "IcpResult",
    "point_to_mesh_distance",
    "axis_angle_to_matrix",
    "matrix_to_axis_angle",
    "matrix_to_rotation_6d",
    "rotation_6d_to_matrix",
    "euler_to_matrix",
    "Project",
]


def _check_last(x: Tensor, size: int, name: str) -> None:
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim < 1 or x.shape[-1] != size:
        raise ValueError(f"{name} must have shape (..., {size}), got {tuple(x.shape)}")


def _check_matrix(x: Tensor, rows: int, cols: int, name: str) -> None:
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim < 2 or x.shape[-2:] != (rows, cols):
        raise ValueError(f"{name} must have shape (..., {rows}, {cols}), got {tuple(x.shape)}")


def _check_point_sets(x: Tensor, y: Tensor, xname: str = "X", yname: str = "Y") -> None:
    for t, n in ((x, xname), (y, yname)):
        if not isinstance(t, Tensor) or t.ndim < 2:
            raise ValueError(f"{n} must be a tensor of shape (..., N, D)")
    if x.shape != y.shape:
        raise ValueError(f"{xname} and {yname} must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")


# ----------------------------------------------------------------------------- projection


def project(points: Tensor, K: Tensor) -> Tensor:
    """Perspective projection of camera-frame points to pixels.

    ``(u, v) = (K @ p)[:2] / z``.

    Args:
        points: (..., 3) camera-frame points, z > 0 in front of the camera.
        K: (..., 3, 3) intrinsics; broadcasts against the leading dimensions of ``points``
            (e.g. points (B, N, 3) with K (B, 1, 3, 3), or K (3, 3) for all).
    Returns:
        (..., 2) pixel coordinates.
    """
    _check_last(points, 3, "points")
    _check_matrix(K, 3, 3, "K")
    p = (K @ points.unsqueeze(-1)).squeeze(-1)
    return p[..., :2] / p[..., 2:3]


def unproject(uv: Tensor, depth: Tensor, K: Tensor) -> Tensor:
    """Lift pixels with known depth (camera z) back to camera-frame points.

    Inverse of :func:`project`: ``p = depth * K^-1 [u, v, 1]``.

    Args:
        uv: (..., 2) pixel coordinates.
        depth: (...) or (..., 1) z of each point in the camera frame.
        K: (..., 3, 3) intrinsics, broadcasting like in :func:`project`.
    Returns:
        (..., 3) camera-frame points.
    """
    _check_last(uv, 2, "uv")
    _check_matrix(K, 3, 3, "K")
    if depth.shape == uv.shape[:-1]:
        depth = depth.unsqueeze(-1)
    elif depth.shape != uv.shape[:-1] + (1,):
        raise ValueError(f"depth must have shape {tuple(uv.shape[:-1])} or (..., 1), got {tuple(depth.shape)}")
    homo = torch.cat([uv, torch.ones_like(uv[..., :1])], dim=-1)
    Kb = K.expand(*torch.broadcast_shapes(K.shape[:-2], homo.shape[:-1]), 3, 3)
    rays = torch.linalg.solve(Kb, homo.expand(*Kb.shape[:-2], 3).unsqueeze(-1)).squeeze(-1)
    # Solving gives z = 1 for a proper K (last row 0 0 1); scaling by depth sets the camera z.
    return rays * depth


def intrinsics_from_fov(*, fov_deg: float, height: int, width: int) -> Tensor:
    """Pinhole intrinsics (3, 3) float32 with square pixels, ``fov_deg`` across the larger image
    side and the principal point at the image centre (the renderer's pixel centres:
    ``cx = (width - 1) / 2``, ``cy = (height - 1) / 2``).

    ``f = max(height, width) / 2 / tan(fov / 2)``.
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    if not 0.0 < fov_deg < 180.0:
        raise ValueError(f"field of view must lie in (0, 180) degrees, got {fov_deg}")
    f = 0.5 * max(height, width) / math.tan(math.radians(fov_deg) / 2)
    return torch.tensor([[f, 0.0, (width - 1) / 2], [0.0, f, (height - 1) / 2], [0.0, 0.0, 1.0]], dtype=torch.float32)


class Project(nn.Module):
    """Module wrapper of :func:`project` holding fixed intrinsics ``K`` (3, 3) as a buffer."""

    def __init__(self, K: Tensor) -> None:
        super().__init__()
        _check_matrix(K, 3, 3, "K")
        self.register_buffer("K", K.clone())

    def forward(self, points: Tensor) -> Tensor:
        """points: (..., 3) camera frame -> (..., 2) pixels."""
        return project(points, self.K)


# ----------------------------------------------------------------------------- camera frames


def look_at(eye: Tensor, target: Tensor, up: Tensor) -> tuple[Tensor, Tensor]:
    """World->camera extrinsics of a camera at ``eye`` looking at ``target``.

    The camera axes are z forward (towards the target), x right and y down, with ``up`` (the
    world's up direction) appearing upwards in the image, i.e. camera y is along ``-up``
    projected orthogonally to z. ``x = z x up``, ``y = z x x``.

    Args:
        eye: (..., 3) camera centre in world coordinates.
        target: (..., 3) point the camera looks at.
        up: (..., 3) world up vector (need not be unit or orthogonal to the view direction,
            but must not be parallel to it).
    Returns:
        R: (..., 3, 3) rotation whose rows are the camera axes in world coordinates.
        t: (..., 3) translation, so that ``X_cam = R @ X_world + t`` and ``R @ eye + t = 0``.
    """
    for v, n in ((eye, "eye"), (target, "target"), (up, "up")):
        _check_last(v, 3, n)
    eye, target, up = torch.broadcast_tensors(eye, target, up)
    z = target - eye
    z = z / z.norm(dim=-1, keepdim=True)
    x = torch.linalg.cross(z, up.to(z.dtype))
    x_norm = x.norm(dim=-1, keepdim=True)
    if bool((x_norm < 1e-8).any()):
        raise ValueError("look_at: up is parallel to the viewing direction")
    x = x / x_norm
    y = torch.linalg.cross(z, x)
    R = torch.stack([x, y, z], dim=-2)
    t = -(R @ eye.unsqueeze(-1)).squeeze(-1)
    return R, t


def world_to_camera(points: Tensor, R: Tensor, t: Tensor) -> Tensor:
    """Map world points to the camera frame: ``R @ X + t``.

    Args:
        points: (..., N, 3) world points.
        R: (..., 3, 3) world->camera rotation. t: (..., 3) translation.
    Returns:
        (..., N, 3) camera-frame points.
    """
    _check_last(points, 3, "points")
    _check_matrix(R, 3, 3, "R")
    _check_last(t, 3, "t")
    return points @ R.transpose(-1, -2) + t.unsqueeze(-2)


def camera_to_world(points: Tensor, R: Tensor, t: Tensor) -> Tensor:
    """Inverse of :func:`world_to_camera`: ``R^T (X_cam - t)``.

    Args:
        points: (..., N, 3) camera-frame points.
        R: (..., 3, 3) world->camera rotation. t: (..., 3) translation.
    Returns:
        (..., N, 3) world points.
    """
    _check_last(points, 3, "points")
    _check_matrix(R, 3, 3, "R")
    _check_last(t, 3, "t")
    return (points - t.unsqueeze(-2)) @ R


# ----------------------------------------------------------------------------- alignment


def procrustes(
    X: Tensor, Y: Tensor, scale: bool = True, weights: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """Least-squares similarity (or rigid) transform taking ``X`` onto ``Y`` (Umeyama 1991).

    Minimises ``sum_i w_i || s R x_i + t - y_i ||^2`` over a proper rotation ``R`` (det +1),
    scale ``s > 0`` (fixed to 1 when ``scale=False``) and translation ``t``. With centred sets
    ``Xc, Yc`` and ``Sigma = Yc^T W Xc = U D V^T``: ``R = U S V^T`` with
    ``S = diag(1, ..., 1, det(U V^T))``, ``s = tr(D S) / sum_i w_i ||xc_i||^2``,
    ``t = mean(Y) - s R mean(X)``.

    Args:
        X: (..., N, D) source points. Y: (..., N, D) target points (row i matches row i).
        scale: estimate the scale; False gives a rigid transform with ``s = 1``.
        weights: optional (..., N) non-negative weights per correspondence.
    Returns:
        s: (...) scale. R: (..., D, D) rotation. t: (..., D) translation.
        Apply with :func:`apply_similarity`.
    """
    _check_point_sets(X, Y)
    if X.shape[-2] < 2:
        raise ValueError("procrustes needs at least 2 corresponding points")
    if weights is None:
        w = torch.full(X.shape[:-1], 1.0 / X.shape[-2], dtype=X.dtype, device=X.device)
    else:
        if weights.shape != X.shape[:-1]:
            raise ValueError(f"weights must have shape {tuple(X.shape[:-1])}, got {tuple(weights.shape)}")
        w = weights.to(X.dtype) / weights.sum(dim=-1, keepdim=True).to(X.dtype)
    w = w.unsqueeze(-1)  # (..., N, 1)
    mu_x = (w * X).sum(dim=-2)
    mu_y = (w * Y).sum(dim=-2)
    Xc = X - mu_x.unsqueeze(-2)
    Yc = Y - mu_y.unsqueeze(-2)
    sigma = Yc.transpose(-1, -2) @ (w * Xc)  # (..., D, D) cross-covariance
    U, D, Vh = torch.linalg.svd(sigma)
    # Flip the last singular direction when the best orthogonal matrix is a reflection.
    sign = torch.sign(torch.linalg.det(U @ Vh)).detach()
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    S = torch.ones_like(D)
    S = torch.cat([S[..., :-1], sign.unsqueeze(-1)], dim=-1)
    R = U @ (S.unsqueeze(-1) * Vh)
    if scale:
        var_x = (w * Xc.square()).sum(dim=(-2, -1))
        s = (D * S).sum(dim=-1) / var_x
    else:
        s = torch.ones(X.shape[:-2], dtype=X.dtype, device=X.device)
    t = mu_y - s.unsqueeze(-1) * (R @ mu_x.unsqueeze(-1)).squeeze(-1)
    return s, R, t


def rigid_align(X: Tensor, Y: Tensor, weights: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Least-squares rigid transform (rotation + translation) taking ``X`` onto ``Y``.

    :func:`procrustes` with ``scale=False``.

    Args:
        X, Y: (..., N, D) corresponding point sets. weights: optional (..., N).
    Returns:
        R: (..., D, D) rotation. t: (..., D) translation; ``Y ~ X @ R^T + t``.
    """
    _, R, t = procrustes(X, Y, scale=False, weights=weights)
    return R, t


def apply_similarity(X: Tensor, s: Tensor | float, R: Tensor, t: Tensor) -> Tensor:
    """``s R x + t`` for every row of ``X``.

    Args:
        X: (..., N, D) points. s: (...) or float scale. R: (..., D, D). t: (..., D).
    Returns:
        (..., N, D) transformed points.
    """
    s = torch.as_tensor(s, dtype=X.dtype, device=X.device)
    return s[..., None, None] * (X @ R.transpose(-1, -2)) + t.unsqueeze(-2)


def nearest_neighbors(a: Tensor, b: Tensor, chunk: int = 4096) -> tuple[Tensor, Tensor]:
    """For each row of ``a``, its nearest row of ``b`` (Euclidean), computed in chunks.

    Memory is ``O(chunk * M)`` instead of ``O(N * M)``.

    Args:
        a: (N, D) query points. b: (M, D) reference points. chunk: query rows per block.
    Returns:
        dist: (N,) distance to the nearest neighbour. idx: (N,) long index into ``b``.
    """
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"nearest_neighbors needs (N, D) and (M, D), got {tuple(a.shape)} and {tuple(b.shape)}")
    if b.shape[0] == 0:
        raise ValueError("nearest_neighbors: reference set is empty")
    dists, idxs = [], []
    for start in range(0, a.shape[0], chunk):
        d = torch.cdist(a[start : start + chunk], b)
        dmin, imin = d.min(dim=1)
        dists.append(dmin)
        idxs.append(imin)
    if not dists:
        return a.new_zeros(0), torch.zeros(0, dtype=torch.long, device=a.device)
    return torch.cat(dists), torch.cat(idxs)


@dataclass
class IcpResult:
    """Result of :func:`icp`: ``dst ~ s * src @ R.T + t``.

    s: () scale (1 unless ``scale=True``). R: (D, D). t: (D,). rmse: () root mean squared
    nearest-neighbour distance after alignment. iterations: steps run. converged: whether the
    change in rmse fell below the tolerance before ``iters`` ran out.
    """

    s: Tensor
    R: Tensor
    t: Tensor
    rmse: Tensor
    iterations: int
    converged: bool

    def apply(self, points: Tensor) -> Tensor:
        """(..., N, D) points -> transformed points."""
        return apply_similarity(points, self.s, self.R, self.t)


@torch.no_grad()
def icp(
    src: Tensor,
    dst: Tensor,
    iters: int = 50,
    *,
    scale: bool = False,
    init: tuple[Tensor, Tensor] | None = None,
    tol: float = 1e-7,
    max_dist: float | None = None,
    chunk: int = 4096,
) -> IcpResult:
    """Iterative closest point: align point cloud ``src`` to ``dst`` (Besl & McKay 1992).

    Each step matches every transformed source point to its nearest destination point
    (chunked ``torch.cdist``), then solves the best rigid (or similarity) transform of the
    matches in closed form with :func:`procrustes`. Converges to a local optimum: the
    initial misalignment must be small relative to the shape's features.

    Args:
        src: (N, D) source points. dst: (M, D) destination points.
        iters: maximum number of iterations.
        scale: also estimate a uniform scale.
        init: optional initial (R (D, D), t (D,)).
        tol: stop when the rmse changes by less than this between iterations.
        max_dist: ignore matches farther than this (outlier rejection).
        chunk: rows per nearest-neighbour block (memory control).
    Returns:
        :class:`IcpResult` with the transform from the original ``src`` to ``dst``.
    """
    if src.ndim != 2 or dst.ndim != 2 or src.shape[1] != dst.shape[1]:
        raise ValueError(f"icp needs (N, D) and (M, D) point clouds, got {tuple(src.shape)} and {tuple(dst.shape)}")
    if src.shape[0] < 3 or dst.shape[0] < 1:
        raise ValueError("icp needs at least 3 source points and 1 destination point")
    D = src.shape[1]
    if init is None:
        R = torch.eye(D, dtype=src.dtype, device=src.device)
        t = torch.zeros(D, dtype=src.dtype, device=src.device)
    else:
        R, t = (x.to(src) for x in init)
    s = torch.ones((), dtype=src.dtype, device=src.device)
    prev = None
    converged = False
    rmse = torch.zeros((), dtype=src.dtype, device=src.device)
    it = 0
    for it in range(1, iters + 1):
        moved = apply_similarity(src, s, R, t)
        dist, idx = nearest_neighbors(moved, dst, chunk=chunk)
        keep = torch.ones_like(dist, dtype=torch.bool) if max_dist is None else dist <= max_dist
        if int(keep.sum()) < 3:
            raise ValueError("icp: fewer than 3 matches within max_dist")
        rmse = dist[keep].square().mean().sqrt()
        # Solve from the original source so the result is the full transform, not an increment.
        s, R, t = procrustes(src[keep], dst[idx[keep]], scale=scale)
        if prev is not None and abs(float(prev - rmse)) < tol:
            converged = True
            break
        prev = rmse
    dist, _ = nearest_neighbors(apply_similarity(src, s, R, t), dst, chunk=chunk)
    rmse = dist.square().mean().sqrt() if max_dist is None else dist[dist <= max_dist].square().mean().sqrt()
    return IcpResult(s=s, R=R, t=t, rmse=rmse, iterations=it, converged=converged)


# ----------------------------------------------------------------------------- point to mesh


def _point_triangle_distance(p: Tensor, a: Tensor, b: Tensor, c: Tensor) -> Tensor:
    """Distance between points and triangles, all broadcasting; p, a, b, c: (..., 3) -> (...).

    The closest point of a triangle is either the orthogonal projection onto its plane (when
    that projection lies inside) or the closest point on one of its three edges.
    """

    def seg_dist(p: Tensor, a: Tensor, b: Tensor) -> Tensor:
        ab = b - a
        denom = (ab * ab).sum(-1).clamp_min(1e-30)
        u = (((p - a) * ab).sum(-1) / denom).clamp(0.0, 1.0)
        return (p - (a + u.unsqueeze(-1) * ab)).norm(dim=-1)

    p, a, b, c = torch.broadcast_tensors(p, a, b, c)
    ab, ac, ap = b - a, c - a, p - a
    n = torch.linalg.cross(ab, ac)
    n2 = (n * n).sum(-1)
    safe_n2 = n2.clamp_min(1e-30)
    # Barycentric coordinates of the projection of p onto the plane (via signed sub-areas).
    w_b = (torch.linalg.cross(ap, ac) * n).sum(-1) / safe_n2
    w_c = (torch.linalg.cross(ab, ap) * n).sum(-1) / safe_n2
    w_a = 1.0 - w_b - w_c
    inside = (w_a >= 0) & (w_b >= 0) & (w_c >= 0) & (n2 > 1e-24)
    plane = (ap * n).sum(-1).abs() / safe_n2.sqrt()
    edges = torch.minimum(torch.minimum(seg_dist(p, a, b), seg_dist(p, b, c)), seg_dist(p, c, a))
    return torch.where(inside, plane, edges)


def point_to_mesh_distance(points: Tensor, vertices: Tensor, faces: Tensor, chunk_pairs: int = 1_000_000) -> Tensor:
    """Exact Euclidean distance from each point to a triangle mesh surface.

    Brute force over all triangles would cost ``P * F`` point-triangle tests (minutes for a
    body mesh); instead each point only tests the triangles that can beat its nearest mesh
    vertex: a triangle with bounding sphere (centre ``c``, radius ``r``) is at least
    ``|p - c| - r`` away and the nearest vertex distance ``d_v`` bounds the answer from above,
    so only triangles with ``|p - c| - r <= d_v`` are tested. The triangles around the nearest
    vertex always pass, so the result is exact. The candidate search uses k-d trees (scipy,
    on the CPU, no gradient); the distances themselves are torch and differentiable in
    ``points`` and ``vertices``.

    Args:
        points: (P, 3) query points.
        vertices: (V, 3) mesh vertices. faces: (F, 3) long vertex indices.
        chunk_pairs: point-triangle pairs evaluated at once (memory control).
    Returns:
        (P,) distance of each point to the closest triangle.
    """
    from scipy.spatial import cKDTree

    _check_last(points, 3, "points")
    _check_last(vertices, 3, "vertices")
    if points.ndim != 2 or vertices.ndim != 2:
        raise ValueError("point_to_mesh_distance: points (P, 3) and vertices (V, 3) must be 2D")
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.shape[0] == 0:
        raise ValueError(f"faces must have shape (F, 3) with F > 0, got {tuple(faces.shape)}")
    if points.shape[0] == 0:
        return points.new_zeros(0)
    faces = faces.long()
    tri = vertices[faces]  # (F, 3, 3)

    # Candidate pairs (no gradient needed: they only select which distances to compute).
    p_np = points.detach().cpu().double().numpy()
    tri_np = tri.detach().cpu().double().numpy()
    centre = tri_np.mean(axis=1)
    radius = np.linalg.norm(tri_np - centre[:, None], axis=-1).max(axis=1)
    used = vertices.detach().cpu().double().numpy()[np.unique(faces.cpu().numpy())]
    bound, _ = cKDTree(used).query(p_np)
    slack = 1e-6 * float(np.linalg.norm(used.max(0) - used.min(0))) + 1e-12
    lists = cKDTree(centre).query_ball_point(p_np, r=bound + radius.max() + slack, return_sorted=False)
    counts = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
    pi = np.repeat(np.arange(len(lists)), counts)
    fi = np.concatenate([np.asarray(x, dtype=np.int64) for x in lists])
    keep = np.linalg.norm(p_np[pi] - centre[fi], axis=-1) - radius[fi] <= bound[pi] + slack
    pi = torch.from_numpy(pi[keep]).to(points.device)
    fi = torch.from_numpy(fi[keep]).to(points.device)

    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    best = torch.full((points.shape[0],), float("inf"), dtype=points.dtype, device=points.device)
    for start in range(0, pi.shape[0], chunk_pairs):
        pp, ff = pi[start : start + chunk_pairs], fi[start : start + chunk_pairs]
        d = _point_triangle_distance(points[pp], a[ff], b[ff], c[ff])
        best = best.scatter_reduce(0, pp, d, reduce="amin", include_self=True)
    return best


# ----------------------------------------------------------------------------- rotations


def axis_angle_to_matrix(rotvec: Tensor) -> Tensor:
    """Axis-angle (rotation vector, angle = norm in radians) (..., 3) -> rotation matrix (..., 3, 3)."""
    _check_last(rotvec, 3, "rotvec")
    return roma.rotvec_to_rotmat(rotvec)


def matrix_to_axis_angle(R: Tensor) -> Tensor:
    """Rotation matrix (..., 3, 3) -> axis-angle (..., 3) with angle in [0, pi]."""
    _check_matrix(R, 3, 3, "R")
    return roma.rotmat_to_rotvec(R)


def matrix_to_rotation_6d(R: Tensor) -> Tensor:
    """Rotation matrix (..., 3, 3) -> 6D representation (..., 6): first column then second column."""
    _check_matrix(R, 3, 3, "R")
    return torch.cat([R[..., :, 0], R[..., :, 1]], dim=-1)


def rotation_6d_to_matrix(d6: Tensor) -> Tensor:
    """6D representation (..., 6) -> rotation matrix (..., 3, 3) by Gram-Schmidt (Zhou et al. 2019).

    The first three values give the (normalised) first column; the second three, made orthogonal
    to it, the second column; the third column is their cross product.
    """
    _check_last(d6, 6, "d6")
    return roma.special_gramschmidt(torch.stack([d6[..., :3], d6[..., 3:]], dim=-1))


def _axis_rotation(angle, axis: int):
    """Rotation by ``angle`` (...) radians about coordinate axis ``axis`` -> (..., 3, 3), in the
    array type of ``angle`` (numpy or torch)."""
    if isinstance(angle, np.ndarray):
        c, s = np.cos(angle), np.sin(angle)
        m = np.zeros(angle.shape + (3, 3), dtype=np.result_type(angle.dtype, np.float32))
    else:
        c, s = torch.cos(angle), torch.sin(angle)
        m = angle.new_zeros(angle.shape + (3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    m[..., axis, axis] = 1.0
    m[..., i, i] = c
    m[..., j, j] = c
    m[..., i, j] = -s
    m[..., j, i] = s
    return m


def euler_to_matrix(angles, axes: str = "xyz"):
    """Intrinsic Euler angles -> rotation matrices ``R = R_axes[0](a_0) @ R_axes[1](a_1) @ ...``.

    ``"xyz"`` gives ``Rx(a) @ Ry(b) @ Rz(c)``; a BVH joint with channels ``Zrotation Xrotation
    Yrotation`` uses ``"zxy"``.

    Args:
        angles: (..., k) radians, one per axis; a tensor, or a numpy array (then the result is
            one too, computed in numpy).
        axes: k letters from ``x``, ``y``, ``z``, in the order the rotations are composed.
    Returns:
        (..., 3, 3) rotation matrices.
    """
    if not axes or any(a not in "xyz" for a in axes):
        raise ValueError(f"axes must be letters from 'xyz', got {axes!r}")
    if angles.ndim < 1 or angles.shape[-1] != len(axes):
        raise ValueError(f"angles must have shape (..., {len(axes)}) for axes {axes!r}, got {tuple(angles.shape)}")
    out = _axis_rotation(angles[..., 0], "xyz".index(axes[0]))
    for k in range(1, len(axes)):
        out = out @ _axis_rotation(angles[..., k], "xyz".index(axes[k]))
    return out
