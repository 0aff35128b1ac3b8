"""The real head scan as labels: read its GLB, register it to the face model's topology, render it.

Registration (:func:`register_scan`), in the head frame of :mod:`vivid.face3d.facemodel`:

1. the scan's axes (glTF: y up, the face towards +z) are turned into the head frame, its scale and
   position matched to the mean face by the boxes of their face regions;
2. similarity ICP of the mean face's face-region vertices onto the scan; the scan points nearest
   the model's 68 landmark vertices are its landmarks, and the similarity from them refines the fit;
3. non-rigid fit, first of the identity and expression coefficients (and the similarity), then of
   per-vertex offsets with a Laplacian smoothness term, each minimising the distance of the face
   region to the nearest scan points;
4. the residual: mean distance (mm) from the fitted face-region vertices to the scan surface.

The registered mesh has the model's vertex correspondences (what L3 and L4 need); it is rendered
with per-vertex colours taken from the scan's colour texture (``Map-COL.jpg`` beside the GLB) from
a few views and lights (:func:`scan_label_views`); the benchmark renders it from views and lights
outside the training ranges.
"""

from __future__ import annotations

import json
import logging
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from vivid.core.errors import VividError
from vivid.core.geometry import apply_similarity, euler_to_matrix, nearest_neighbors, point_to_mesh_distance, procrustes
from vivid.face3d.facemodel import FaceModel, face_model

__all__ = ["GlbMesh", "read_glb", "register_scan", "Registration", "scan_label_views", "render_views"]

log = logging.getLogger(__name__)
_COMPONENTS = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}


@dataclass
class GlbMesh:
    """vertices (N, 3) float32, faces (F, 3) int64, uv (N, 2) float32 or None (glTF: v down)."""

    vertices: np.ndarray
    faces: np.ndarray
    uv: np.ndarray | None


def read_glb(path: str | Path) -> GlbMesh:
    """The first mesh primitive of a binary glTF file (positions, triangle indices, texture
    coordinates), read with numpy and json."""
    path = Path(path)
    if not path.is_file():
        raise VividError(f"scan {path} does not exist")
    data = path.read_bytes()
    if len(data) < 20 or data[:4] != b"glTF":
        raise VividError(f"{path} is not a binary glTF (.glb) file")
    json_len = struct.unpack_from("<I", data, 12)[0]
    meta = json.loads(data[20 : 20 + json_len])
    at = 20 + json_len
    bin_len = struct.unpack_from("<I", data, at)[0]
    blob = data[at + 8 : at + 8 + bin_len]

    def accessor(i: int) -> np.ndarray:
        acc = meta["accessors"][i]
        view = meta["bufferViews"][acc["bufferView"]]
        dtype = np.dtype(_COMPONENTS[acc["componentType"]])
        width = _WIDTH[acc["type"]]
        start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
        stride = view.get("byteStride", dtype.itemsize * width)
        raw = np.frombuffer(blob, dtype=np.uint8, count=stride * (acc["count"] - 1) + dtype.itemsize * width, offset=start)
        rows = np.lib.stride_tricks.as_strided(raw, shape=(acc["count"], dtype.itemsize * width), strides=(stride, 1))
        return np.ascontiguousarray(rows).view(dtype).reshape(acc["count"], width)

    prim = meta["meshes"][0]["primitives"][0]
    verts = accessor(prim["attributes"]["POSITION"]).astype(np.float32)
    faces = accessor(prim["indices"]).reshape(-1, 3).astype(np.int64)
    uv = accessor(prim["attributes"]["TEXCOORD_0"]).astype(np.float32) if "TEXCOORD_0" in prim["attributes"] else None
    return GlbMesh(vertices=verts, faces=faces, uv=uv)


@dataclass
class Registration:
    """vertices (V, 3) the registered mesh (model topology, head frame, metres); colours (V, 3) in
    [0, 1] from the scan's texture; residual_mm; scan_vertices (N, 3) and scan_faces (F, 3) the scan
    in the same frame; landmarks (68, 3) on the scan."""

    vertices: Tensor
    colours: Tensor
    residual_mm: float
    scan_vertices: Tensor
    scan_faces: Tensor
    landmarks: Tensor


def _laplacian(faces: Tensor, V: int) -> Tensor:
    """Uniform graph Laplacian as a sparse (V, V) matrix: x_i - mean of its neighbours."""
    e = torch.cat([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    e = torch.cat([e, e.flip(1)]).unique(dim=0)
    deg = torch.bincount(e[:, 0], minlength=V).clamp(min=1).float()
    vals = -1.0 / deg[e[:, 0]]
    idx = torch.cat([e.T, torch.arange(V).repeat(2, 1)], 1)
    return torch.sparse_coo_tensor(idx, torch.cat([vals, torch.ones(V)]), (V, V), check_invariants=False).coalesce()


def _fit_distance(moved: Tensor, scan: Tensor, max_dist: float) -> Tensor:
    d, i = nearest_neighbors(moved.detach(), scan)
    keep = d < max_dist
    return (moved[keep] - scan[i[keep]]).norm(dim=-1).mean()


def register_scan(path: str | Path, fm: FaceModel | None = None, *, coeff_steps: int = 150, offset_steps: int = 150,
                  smooth: float = 20.0) -> Registration:
    """Register the scan in ``path`` to ``fm``'s topology (see the module docstring)."""
    fm = fm or face_model()
    mesh = read_glb(path)
    g = torch.from_numpy(mesh.vertices).double()
    scan = torch.stack([g[:, 0], -g[:, 2], g[:, 1]], -1)  # glTF (y up, face +z) -> head frame (x left, y back, z up)
    mean = fm.mean_shape.double()
    face = fm.face_vertices
    # 1. boxes: the scan's front (its y below the middle) against the model's face region
    front = scan[scan[:, 1] < scan[:, 1].median()]
    lo_s, hi_s = front.min(0).values, front.max(0).values
    lo_m, hi_m = mean[face].min(0).values, mean[face].max(0).values
    s0 = float((hi_m[0] - lo_m[0]) / (hi_s[0] - lo_s[0]))
    scan = (scan - (lo_s + hi_s) / 2) * s0
    scan = scan + torch.tensor([0.0, float(lo_m[1] - scan[:, 1].min()), float((lo_m[2] + hi_m[2]) / 2)], dtype=scan.dtype)
    # 2. similarity ICP of the mean face onto the scan, then landmarks on the scan
    src = mean[face]
    s, R, t = torch.ones((), dtype=src.dtype), torch.eye(3, dtype=src.dtype), torch.zeros(3, dtype=src.dtype)
    for _ in range(30):
        d, i = nearest_neighbors(apply_similarity(src, s, R, t), scan)
        keep = d < d.median() * 3
        s, R, t = procrustes(src[keep], scan[i[keep]])
    # the scan in the model's frame (the inverse similarity), so that the model keeps its metres
    scan = ((scan - t) @ R) / s
    _, li = nearest_neighbors(mean[fm.landmark_vertices], scan)
    landmarks = scan[li]
    # 3a. coefficients (and a similarity of the model) against the scan
    K, E = fm.n_identity, fm.n_expression
    ident = torch.zeros(1, K, dtype=torch.float64, requires_grad=True)
    expr = torch.zeros(1, E, dtype=torch.float64, requires_grad=True)
    rot = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    shift = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    log_s = torch.zeros((), dtype=torch.float64, requires_grad=True)
    ident_b = fm.identity_basis.double()
    std, exp_b = fm.identity_std.double(), fm.expression_basis.double()

    def model_shape():
        v = mean + torch.einsum("bk,kvc->bvc", ident * std, ident_b)[0] + torch.einsum("be,evc->bvc", expr.clamp(0, 1), exp_b)[0]
        Rm = euler_to_matrix(rot)
        return torch.exp(log_s) * v @ Rm.T + shift

    opt = torch.optim.Adam([ident, expr, rot, shift, log_s], lr=0.02)
    for _ in range(coeff_steps):
        v = model_shape()
        loss = _fit_distance(v[face], scan, 0.02) + 10 * (v[fm.landmark_vertices] - landmarks).norm(dim=-1).mean() * 0.1
        loss = loss + 1e-5 * ident.square().sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    base = model_shape().detach()
    # 3b. per-vertex offsets with Laplacian smoothness
    L = _laplacian(fm.faces, fm.num_vertices).double()
    off = torch.zeros_like(base, requires_grad=True)
    opt = torch.optim.Adam([off], lr=5e-4)
    for _ in range(offset_steps):
        v = base + off
        smooth_term = torch.sparse.mm(L, off).square().sum(-1).mean()
        loss = _fit_distance(v[face], scan, 0.01) + smooth * smooth_term
        opt.zero_grad()
        loss.backward()
        opt.step()
    fitted = (base + off).detach().float()
    faces = torch.from_numpy(mesh.faces)
    residual = float(point_to_mesh_distance(fitted[face], scan.float(), faces).mean()) * 1000.0
    colours = _texture_colours(Path(path), mesh, scan.float(), fitted)
    if colours is None:  # no readable colour texture: the model's mean albedo (same topology)
        colours = fm.albedo_mean.clone()
    log.info("registered scan %s: face-region residual %.2f mm", path, residual)
    return Registration(vertices=fitted, colours=colours, residual_mm=residual, scan_vertices=scan.float(),
                        scan_faces=faces, landmarks=landmarks.float())


def _texture_colours(path: Path, mesh: GlbMesh, scan: Tensor, fitted: Tensor) -> Tensor | None:
    """Per-vertex colour of the registered mesh: the scan texture at the nearest scan vertex;
    None when the texture is missing or unreadable."""
    tex_path = path.parent / "Map-COL.jpg"
    if mesh.uv is None or not tex_path.exists():
        return None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(tex_path) as im:
            tex = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError) as err:
        log.warning("scan texture %s unreadable (%s); using the face model's mean albedo", tex_path, err)
        return None
    _, i = nearest_neighbors(fitted, scan)
    uv = mesh.uv[i.numpy()]
    H, W = tex.shape[:2]
    x = np.clip((uv[:, 0] * W).astype(int), 0, W - 1)
    y = np.clip((uv[:, 1] * H).astype(int), 0, H - 1)  # glTF texture coordinates run down
    return torch.from_numpy(tex[y, x])


def registration_cached(path: str | Path, cache_dir: str | Path) -> Registration:
    """:func:`register_scan`, kept in ``cache_dir`` (keyed by the scan's size)."""
    path = Path(path)
    cache = Path(cache_dir) / f"scan-registration-{path.stat().st_size}.pt.npz"
    if cache.exists():
        with np.load(cache) as z:
            return Registration(vertices=torch.from_numpy(z["vertices"]), colours=torch.from_numpy(z["colours"]),
                                residual_mm=float(z["residual_mm"]), scan_vertices=torch.from_numpy(z["scan_vertices"]),
                                scan_faces=torch.from_numpy(z["scan_faces"]), landmarks=torch.from_numpy(z["landmarks"]))
    reg = register_scan(path)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, vertices=reg.vertices.numpy(), colours=reg.colours.numpy(), residual_mm=reg.residual_mm,
             scan_vertices=reg.scan_vertices.numpy(), scan_faces=reg.scan_faces.numpy(), landmarks=reg.landmarks.numpy())
    return reg


def render_views(reg: Registration, n: int, *, size: int, render_size: int = 128, seed: int = 0,
                 held_out: bool = False) -> dict[str, np.ndarray]:
    """Crop records (:mod:`vivid.face3d.data`) of ``n`` renders of the registered mesh with random
    head rotations, SH lights and plain backgrounds. Training views turn the head by up to 25
    degrees of yaw and 10 of pitch; ``held_out`` views by 30-45 degrees of yaw and 12-20 of pitch
    with lights of another seed (views and lights not used in training)."""
    from vivid.core.geometry import intrinsics_from_fov, project
    from vivid.core.render import render
    from vivid.face3d.crop import box_from_landmarks, crop_image, crop_intrinsics, to_crop
    from vivid.face3d.model import FRONTAL
    from vivid.core.fileio import to_uint8
    from vivid.synth.appearance import random_sh

    fm = face_model()
    r = np.random.default_rng([seed, 77 if held_out else 71])
    recs = {k: [] for k in ("image", "K", "landmarks", "visibility", "R", "t", "vertices")}
    K = intrinsics_from_fov(fov_deg=30.0, height=render_size, width=render_size)
    for _ in range(n):
        if held_out:
            yaw = r.choice([-1, 1]) * r.uniform(30, 45)
            pitch = r.choice([-1, 1]) * r.uniform(12, 20)
        else:
            yaw, pitch = r.uniform(-25, 25), r.uniform(-10, 10)
        Rh = torch.from_numpy(euler_to_matrix(np.radians([pitch, r.uniform(-5, 5), yaw]))).float()
        R = FRONTAL @ Rh
        dist = float(K[0, 0]) * 0.133 / (render_size * r.uniform(0.22, 0.3))
        t = torch.tensor([0.0, 0.11, dist]) - R @ torch.tensor([0.0, -0.11, 0.11])
        cam = reg.vertices @ R.T + t
        sh, _ = random_sh(r)
        bg = torch.from_numpy(r.uniform(0.1, 0.9, 3).astype(np.float32))
        out = render(cam[None], fm.faces, K, render_size, render_size, albedo=reg.colours[None],
                     sh=torch.from_numpy(sh).float()[None], background=bg)
        lm = project(cam[fm.landmark_vertices], K).numpy()
        box = box_from_landmarks(lm)
        recs["image"].append(to_uint8(crop_image(out.rgb[0], box, size)))
        recs["K"].append(crop_intrinsics(K.numpy(), box, size))
        recs["landmarks"].append(to_crop(lm, box, size))
        recs["visibility"].append(np.ones(68, np.float32))
        recs["R"].append(R.numpy())
        recs["t"].append(t.numpy())
        recs["vertices"].append(reg.vertices.numpy())
    return {k: np.stack(v).astype(np.uint8 if k == "image" else np.float32) for k, v in recs.items()}


def scan_label_views(path: str | Path, n: int, *, size: int, seed: int = 0,
                     cache_dir: str | Path = ".cache/face3d") -> tuple[dict[str, np.ndarray], float]:
    """Labelled training renders of the registered scan and its registration residual (mm)."""
    reg = registration_cached(path, cache_dir)
    return render_views(reg, n, size=size, seed=seed), reg.residual_mm
