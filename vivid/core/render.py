"""Mesh rendering: z-buffer rasterisation, differentiable interpolation, SH shading.

The renderer follows nvdiffrast's split between a non-differentiable visibility step and
differentiable shading:

1. :func:`rasterize` finds, for every pixel, the nearest triangle with a z-buffer (per-pixel
   triangle id, perspective-correct barycentrics and depth). It runs as compiled Warp kernels
   (one thread per triangle scanning its bounding box, then one per pixel), on the CPU or the GPU
   of the input tensors. The z-buffer packs depth (quantised to about 1 micrometre) above the
   face id into one int64, so a single atomic min keeps the nearest face and equal depths go to
   the lower face id: the result is deterministic, also on a GPU.
2. :func:`barycentrics` recomputes the barycentrics of the covered pixels in torch from the
   triangle ids and the vertex positions, so gradients reach the vertices; :func:`interpolate`
   blends vertex (or face-corner) attributes with them, so gradients reach the attributes too.
   Silhouette edges are not differentiable (as in nvdiffrast without its antialias op): moving
   a vertex changes what a covered pixel sees, not which pixels are covered.
3. :func:`shade_sh` multiplies albedo by second-order spherical-harmonics irradiance
   (9 coefficients per colour channel) evaluated at the interpolated normals, and
   :func:`render` composites the result over a background, with optional supersampling.
   When no input needs gradients, :func:`render` does the same shading, compositing and label
   lookup in one Warp pass over the pixels (equal to the torch path to about 1e-5), which is
   what makes synthetic data fast on a CPU.

Conventions: vertices are in the camera frame (x right, y down, z forward, metres), see
:mod:`vivid.core.geometry`. ``K`` is a 3x3 pinhole matrix and pixel ``(row i, column j)`` is
sampled at its centre, the pixel coordinate ``(u, v) = (j, i)``; so ``cx = (W - 1) / 2`` puts
the principal point at the image centre. Triangles with a vertex closer than ``near`` are not
drawn (no clipping), nor are faces beyond 2^18 m; both windings are drawn unless
``cull_backfaces`` is set.
Images are channel-first: ``rgb (B, 3, H, W)``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn


__all__ = [
    "Rasterization",
    "RenderOutput",
    "Renderer",
    "rasterize",
    "barycentrics",
    "interpolate",
    "vertex_normals",
    "sh_basis",
    "shade_sh",
    "default_sh",
    "render",
    "intrinsics",
    "tune_cpu_allocator",
]

log = logging.getLogger(__name__)

SH_COEFFS = 9

# --------------------------------------------------------------------------- Warp kernels

_wp = None
_kernels: dict[str, object] = {}


def _warp():
    """Import and initialise Warp once, keeping its banner out of stdout."""
    global _wp
    if _wp is None:
        import warp as wp

        with contextlib.redirect_stdout(io.StringIO()) as out:
            wp.config.log_level = max(wp.config.log_level, wp.LOG_WARNING)
            wp.init()
        if out.getvalue().strip():
            log.debug("warp: %s", out.getvalue().strip())
        _wp = wp
        _build_kernels(wp)
    return _wp


# The z-buffer holds one int64 per pixel, quantised depth above the face id, so that a single
# atomic min keeps the nearest face (ties go to the lower face id, deterministically).
_DEPTH_SCALE = float(2**20)  # depth quantum: about 1 micrometre
_ID_RANGE = 2**24  # at most 16.7 M faces
_FAR = 2.0**18  # farther faces are not drawn (keeps the packed key below 2**63)
_EMPTY = 2**63 - 1


def _build_kernels(wp) -> None:
    wp.set_module_options({"enable_backward": False})

    @wp.func
    def edge(ax: float, ay: float, bx: float, by: float, px: float, py: float):
        # Twice the signed area of (a, b, p); positive when p is left of a->b in a y-down image.
        return (bx - ax) * (py - ay) - (by - ay) * (px - ax)

    @wp.kernel
    def raster_triangles(
        screen: wp.array(dtype=wp.float32),  # (B*V*3,) u, v, z per vertex
        faces: wp.array(dtype=wp.int32),  # (F*3,)
        num_vertices: int,
        num_faces: int,
        height: int,
        width: int,
        near: float,
        cull: int,
        zbuf: wp.array(dtype=wp.int64),  # (B*H*W,) packed depth and face id
    ):
        tid = wp.tid()
        b = tid // num_faces
        f = tid - b * num_faces
        i0 = (b * num_vertices + faces[3 * f + 0]) * 3
        i1 = (b * num_vertices + faces[3 * f + 1]) * 3
        i2 = (b * num_vertices + faces[3 * f + 2]) * 3
        x0 = screen[i0]
        y0 = screen[i0 + 1]
        z0 = screen[i0 + 2]
        x1 = screen[i1]
        y1 = screen[i1 + 1]
        z1 = screen[i1 + 2]
        x2 = screen[i2]
        y2 = screen[i2 + 1]
        z2 = screen[i2 + 2]
        if z0 <= near or z1 <= near or z2 <= near:
            return
        if z0 >= _FAR or z1 >= _FAR or z2 >= _FAR:
            return
        area = edge(x0, y0, x1, y1, x2, y2)
        if not wp.isfinite(area) or wp.abs(area) < 1.0e-12:
            return
        # In a y-down image a triangle wound counter-clockwise in the camera frame (outward
        # normal towards the camera) has negative signed area.
        if cull != 0 and area > 0.0:
            return
        # Clamp in floats first: vertices near the camera plane project very far away.
        fw = float(width)
        fh = float(height)
        xmin = int(wp.ceil(wp.clamp(wp.min(x0, wp.min(x1, x2)), -1.0, fw)))
        xmax = int(wp.floor(wp.clamp(wp.max(x0, wp.max(x1, x2)), -1.0, fw)))
        ymin = int(wp.ceil(wp.clamp(wp.min(y0, wp.min(y1, y2)), -1.0, fh)))
        ymax = int(wp.floor(wp.clamp(wp.max(y0, wp.max(y1, y2)), -1.0, fh)))
        xmin = wp.max(xmin, 0)
        xmax = wp.min(xmax, width - 1)
        ymin = wp.max(ymin, 0)
        ymax = wp.min(ymax, height - 1)
        inv_area = 1.0 / area
        iz0 = 1.0 / z0
        iz1 = 1.0 / z1
        iz2 = 1.0 / z2
        base = b * height * width
        for py in range(ymin, ymax + 1):
            fy = float(py)
            for px in range(xmin, xmax + 1):
                fx = float(px)
                l0 = edge(x1, y1, x2, y2, fx, fy) * inv_area
                l1 = edge(x2, y2, x0, y0, fx, fy) * inv_area
                l2 = 1.0 - l0 - l1
                if l0 >= 0.0 and l1 >= 0.0 and l2 >= 0.0:
                    # Perspective-correct depth: 1/z is affine in screen space.
                    z = 1.0 / (l0 * iz0 + l1 * iz1 + l2 * iz2)
                    key = wp.int64(z * _DEPTH_SCALE) * wp.int64(_ID_RANGE) + wp.int64(f)
                    wp.atomic_min(zbuf, base + py * width + px, key)

    @wp.kernel
    def resolve_pixels(
        screen: wp.array(dtype=wp.float32),
        faces: wp.array(dtype=wp.int32),
        zbuf: wp.array(dtype=wp.int64),
        num_vertices: int,
        height: int,
        width: int,
        tri: wp.array(dtype=wp.int64),  # (B*H*W,)
        bary: wp.array(dtype=wp.float32),  # (B*H*W*3,)
        depth: wp.array(dtype=wp.float32),  # (B*H*W,)
    ):
        p = wp.tid()
        key = zbuf[p]
        if key == wp.int64(_EMPTY):
            tri[p] = wp.int64(-1)
            bary[3 * p + 0] = 0.0
            bary[3 * p + 1] = 0.0
            bary[3 * p + 2] = 0.0
            depth[p] = 0.0
            return
        f = int(key % wp.int64(_ID_RANGE))
        tri[p] = wp.int64(f)
        b = p // (height * width)
        rem = p - b * height * width
        py = rem // width
        px = rem - py * width
        i0 = (b * num_vertices + faces[3 * f + 0]) * 3
        i1 = (b * num_vertices + faces[3 * f + 1]) * 3
        i2 = (b * num_vertices + faces[3 * f + 2]) * 3
        x0 = screen[i0]
        y0 = screen[i0 + 1]
        x1 = screen[i1]
        y1 = screen[i1 + 1]
        x2 = screen[i2]
        y2 = screen[i2 + 1]
        inv_area = 1.0 / edge(x0, y0, x1, y1, x2, y2)
        l0 = edge(x1, y1, x2, y2, float(px), float(py)) * inv_area
        l1 = edge(x2, y2, x0, y0, float(px), float(py)) * inv_area
        l2 = 1.0 - l0 - l1
        w0 = l0 / screen[i0 + 2]
        w1 = l1 / screen[i1 + 2]
        w2 = l2 / screen[i2 + 2]
        s = w0 + w1 + w2
        bary[3 * p + 0] = w0 / s
        bary[3 * p + 1] = w1 / s
        bary[3 * p + 2] = w2 / s
        depth[p] = 1.0 / s

    @wp.kernel
    def accumulate_normals(
        verts: wp.array(dtype=wp.vec3),  # (B*V,)
        faces: wp.array(dtype=wp.int32),  # (F*3,)
        num_vertices: int,
        num_faces: int,
        normals: wp.array(dtype=wp.vec3),  # (B*V,)
    ):
        tid = wp.tid()
        b = tid // num_faces
        f = tid - b * num_faces
        i0 = b * num_vertices + faces[3 * f + 0]
        i1 = b * num_vertices + faces[3 * f + 1]
        i2 = b * num_vertices + faces[3 * f + 2]
        n = wp.cross(verts[i1] - verts[i0], verts[i2] - verts[i0])
        wp.atomic_add(normals, i0, n)
        wp.atomic_add(normals, i1, n)
        wp.atomic_add(normals, i2, n)

    @wp.kernel
    def shade_pixels(
        tri: wp.array(dtype=wp.int64),  # (B*H*W,)
        bary: wp.array(dtype=wp.float32),  # (B*H*W*3,)
        faces: wp.array(dtype=wp.int32),  # (F*3,)
        albedo: wp.array(dtype=wp.float32),  # (B*V*3,) or (V*3,) with albedo_stride 0
        albedo_stride: int,
        normals: wp.array(dtype=wp.float32),  # (B*V*3,)
        num_vertices: int,
        height: int,
        width: int,
        sh: wp.array(dtype=wp.float32),  # (B*9*3,)
        use_tex: int,
        tex_faces: wp.array(dtype=wp.int32),  # (F,) 1 where the face is textured
        uv: wp.array(dtype=wp.float32),  # (T*2,)
        uv_faces: wp.array(dtype=wp.int32),  # (F*3,)
        tex: wp.array(dtype=wp.float32),  # (B*Ht*Wt*3,) channels last, or one texture with tex_stride 0
        tex_h: int,
        tex_w: int,
        tex_stride: int,
        use_bg: int,
        bg: wp.array(dtype=wp.float32),  # (B*3*H*W,) or (3*H*W,) or (3,): see bg_stride, bg_plane
        bg_stride: int,
        bg_plane: int,
        label_table: wp.array(dtype=wp.int64),  # (F,) face labels, when use_labels
        use_labels: int,
        rgb: wp.array(dtype=wp.float32),  # (B*3*H*W,) channels first
        nrm: wp.array(dtype=wp.float32),  # (B*3*H*W,)
        labels: wp.array(dtype=wp.int64),  # (B*H*W,)
    ):
        p = wp.tid()
        f = int(tri[p])
        hw = height * width
        b = p // hw
        rem = p - b * hw
        o = b * 3 * hw + rem
        if f < 0:
            if use_bg != 0:
                q = b * bg_stride + rem * bg_plane
                qs = bg_plane * hw
                rgb[o] = bg[q]
                rgb[o + hw] = bg[q + wp.max(qs, 1)]
                rgb[o + 2 * hw] = bg[q + 2 * wp.max(qs, 1)]
            else:
                rgb[o] = 0.0
                rgb[o + hw] = 0.0
                rgb[o + 2 * hw] = 0.0
            nrm[o] = 0.0
            nrm[o + hw] = 0.0
            nrm[o + 2 * hw] = 0.0
            if use_labels != 0:
                labels[p] = wp.int64(0)
            return
        if use_labels != 0:
            labels[p] = label_table[f]
        w0 = bary[3 * p + 0]
        w1 = bary[3 * p + 1]
        w2 = bary[3 * p + 2]
        a0 = faces[3 * f + 0]
        a1 = faces[3 * f + 1]
        a2 = faces[3 * f + 2]
        nb = b * num_vertices * 3
        nx = w0 * normals[nb + 3 * a0 + 0] + w1 * normals[nb + 3 * a1 + 0] + w2 * normals[nb + 3 * a2 + 0]
        ny = w0 * normals[nb + 3 * a0 + 1] + w1 * normals[nb + 3 * a1 + 1] + w2 * normals[nb + 3 * a2 + 1]
        nz = w0 * normals[nb + 3 * a0 + 2] + w1 * normals[nb + 3 * a1 + 2] + w2 * normals[nb + 3 * a2 + 2]
        inv = 1.0 / wp.sqrt(wp.max(nx * nx + ny * ny + nz * nz, 1.0e-24))
        nx = nx * inv
        ny = ny * inv
        nz = nz * inv
        ab = b * albedo_stride
        cr = w0 * albedo[ab + 3 * a0 + 0] + w1 * albedo[ab + 3 * a1 + 0] + w2 * albedo[ab + 3 * a2 + 0]
        cg = w0 * albedo[ab + 3 * a0 + 1] + w1 * albedo[ab + 3 * a1 + 1] + w2 * albedo[ab + 3 * a2 + 1]
        cb = w0 * albedo[ab + 3 * a0 + 2] + w1 * albedo[ab + 3 * a1 + 2] + w2 * albedo[ab + 3 * a2 + 2]
        if use_tex != 0:
            if tex_faces[f] != 0:
                t0 = uv_faces[3 * f + 0]
                t1 = uv_faces[3 * f + 1]
                t2 = uv_faces[3 * f + 2]
                u = w0 * uv[2 * t0] + w1 * uv[2 * t1] + w2 * uv[2 * t2]
                v = w0 * uv[2 * t0 + 1] + w1 * uv[2 * t1 + 1] + w2 * uv[2 * t2 + 1]
                # Same texel convention as _bilinear: centres at (i + 0.5) / size, clamped.
                x = wp.clamp(u * float(tex_w) - 0.5, 0.0, float(tex_w - 1))
                y = wp.clamp((1.0 - v) * float(tex_h) - 0.5, 0.0, float(tex_h - 1))
                x0 = wp.min(int(wp.floor(x)), wp.max(tex_w - 2, 0))
                y0 = wp.min(int(wp.floor(y)), wp.max(tex_h - 2, 0))
                fx = x - float(x0)
                fy = y - float(y0)
                x1 = wp.min(x0 + 1, tex_w - 1)
                y1 = wp.min(y0 + 1, tex_h - 1)
                tb = b * tex_stride
                i00 = tb + (y0 * tex_w + x0) * 3
                i01 = tb + (y0 * tex_w + x1) * 3
                i10 = tb + (y1 * tex_w + x0) * 3
                i11 = tb + (y1 * tex_w + x1) * 3
                cr = (tex[i00] * (1.0 - fx) + tex[i01] * fx) * (1.0 - fy) + (tex[i10] * (1.0 - fx) + tex[i11] * fx) * fy
                cg = (tex[i00 + 1] * (1.0 - fx) + tex[i01 + 1] * fx) * (1.0 - fy) + (
                    tex[i10 + 1] * (1.0 - fx) + tex[i11 + 1] * fx) * fy
                cb = (tex[i00 + 2] * (1.0 - fx) + tex[i01 + 2] * fx) * (1.0 - fy) + (
                    tex[i10 + 2] * (1.0 - fx) + tex[i11 + 2] * fx) * fy
        y_0 = _SH_C0
        y_1 = _SH_C1 * ny
        y_2 = _SH_C1 * nz
        y_3 = _SH_C1 * nx
        y_4 = _SH_C2 * nx * ny
        y_5 = _SH_C2 * ny * nz
        y_6 = _SH_C3 * (3.0 * nz * nz - 1.0)
        y_7 = _SH_C2 * nx * nz
        y_8 = _SH_C4 * (nx * nx - ny * ny)
        sb = b * 27
        ir = (y_0 * sh[sb + 0] + y_1 * sh[sb + 3] + y_2 * sh[sb + 6] + y_3 * sh[sb + 9] + y_4 * sh[sb + 12]
              + y_5 * sh[sb + 15] + y_6 * sh[sb + 18] + y_7 * sh[sb + 21] + y_8 * sh[sb + 24])
        ig = (y_0 * sh[sb + 1] + y_1 * sh[sb + 4] + y_2 * sh[sb + 7] + y_3 * sh[sb + 10] + y_4 * sh[sb + 13]
              + y_5 * sh[sb + 16] + y_6 * sh[sb + 19] + y_7 * sh[sb + 22] + y_8 * sh[sb + 25])
        ib = (y_0 * sh[sb + 2] + y_1 * sh[sb + 5] + y_2 * sh[sb + 8] + y_3 * sh[sb + 11] + y_4 * sh[sb + 14]
              + y_5 * sh[sb + 17] + y_6 * sh[sb + 20] + y_7 * sh[sb + 23] + y_8 * sh[sb + 26])
        rgb[o] = cr * ir
        rgb[o + hw] = cg * ig
        rgb[o + 2 * hw] = cb * ib
        nrm[o] = nx
        nrm[o + hw] = ny
        nrm[o + 2 * hw] = nz

    _kernels["shade"] = shade_pixels
    _kernels["raster"] = raster_triangles
    _kernels["resolve"] = resolve_pixels
    _kernels["normals"] = accumulate_normals


def _launch(name: str, dim: int, inputs: list, device: torch.device) -> None:
    """Launch a kernel on ``device``; on CUDA, on torch's current stream so that it is ordered
    with the torch operations around it. Warp's compile messages stay out of stdout."""
    wp = _warp()
    stream = wp.stream_from_torch(torch.cuda.current_stream(device)) if device.type == "cuda" else None
    with contextlib.redirect_stdout(io.StringIO()):
        wp.launch(_kernels[name], dim=dim, inputs=inputs, device=_warp_device(device), stream=stream)


def _warp_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{device.index if device.index is not None else torch.cuda.current_device()}"
    if device.type == "cpu":
        return "cpu"
    raise ValueError(f"rasterize runs on CPU or CUDA tensors, got device {device}")


# --------------------------------------------------------------------------- rasterisation


@dataclass
class Rasterization:
    """Visibility of a mesh in an image batch (no gradients).

    Attributes:
        triangle_id: (B, H, W) int64 index of the visible face, -1 where nothing is drawn.
        barycentric: (B, H, W, 3) float32 perspective-correct barycentrics of the pixel centre
            in the visible face (zeros on the background).
        depth: (B, H, W) float32 camera-frame z of the visible surface, 0 on the background.
        height, width: image size.
    """

    triangle_id: Tensor
    barycentric: Tensor
    depth: Tensor
    height: int
    width: int
    _covered: tuple[Tensor, Tensor] | None = field(default=None, repr=False, compare=False)

    @property
    def mask(self) -> Tensor:
        """(B, H, W) bool, True where a face is visible."""
        return self.triangle_id >= 0

    def covered(self) -> tuple[Tensor, Tensor]:
        """Flat indices into ``B*H*W`` of the covered pixels (ascending, so grouped by image) and
        their face ids, both (N,) int64. Computed once."""
        if self._covered is None:
            flat = self.triangle_id.reshape(-1)
            index = torch.nonzero(flat >= 0).squeeze(1)
            self._covered = (index, flat.index_select(0, index))
        return self._covered


def _check_mesh(vertices: Tensor, faces: Tensor) -> None:
    if vertices.ndim != 3 or vertices.shape[-1] != 3:
        raise ValueError(f"vertices must have shape (B, V, 3), got {tuple(vertices.shape)}")
    if faces.ndim != 2 or faces.shape[-1] != 3:
        raise ValueError(f"faces must have shape (F, 3), got {tuple(faces.shape)}")


def _batched_K(K: Tensor, batch: int) -> Tensor:
    if K.shape == (3, 3):
        return K.expand(batch, 3, 3)
    if K.shape == (batch, 3, 3):
        return K
    raise ValueError(f"K must have shape (3, 3) or ({batch}, 3, 3), got {tuple(K.shape)}")


def _screen(vertices: Tensor, K: Tensor) -> Tensor:
    """(B, V, 3) camera-frame points -> (B, V, 3) pixel u, v and camera z (as geometry.project)."""
    p = torch.bmm(vertices, _batched_K(K, vertices.shape[0]).transpose(1, 2))
    return torch.cat([p[..., :2] / p[..., 2:3], vertices[..., 2:3]], dim=-1)


def _rows(table: Tensor, index: Tensor) -> Tensor:
    """``table[index]`` for a 2D table, via index_select (much faster than advanced indexing on CPU)."""
    return table.index_select(0, index.reshape(-1)).reshape(*index.shape, table.shape[-1])


def _unit(x: Tensor, eps: float = 1e-12) -> Tensor:
    """Normalise (..., 3) vectors (cheaper than F.normalize for a last dimension of 3)."""
    return x * torch.rsqrt((x * x).sum(dim=-1, keepdim=True).clamp_min(eps * eps))


def rasterize(
    vertices: Tensor,
    faces: Tensor,
    K: Tensor,
    height: int,
    width: int,
    *,
    near: float = 1e-3,
    cull_backfaces: bool = False,
) -> Rasterization:
    """Z-buffer rasterisation of a triangle mesh.

    Args:
        vertices: (B, V, 3) camera-frame positions (any float dtype; rasterised in float32).
        faces: (F, 3) integer vertex indices.
        K: (3, 3) or (B, 3, 3) intrinsics.
        height, width: image size in pixels.
        near: faces with a vertex at ``z <= near`` are skipped.
        cull_backfaces: skip faces whose outward normal (counter-clockwise winding) points away
            from the camera.
    Returns:
        :class:`Rasterization` on the device of ``vertices``.
    """
    _check_mesh(vertices, faces)
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    wp = _warp()
    B, V, _ = vertices.shape
    nf = faces.shape[0]
    device = vertices.device
    with torch.no_grad():
        screen = _screen(vertices.detach(), K.detach().to(device=device, dtype=vertices.dtype)).to(torch.float32)
        screen = screen.reshape(-1).contiguous()
    face_flat = faces.to(device=device, dtype=torch.int32).reshape(-1).contiguous()
    n_pix = B * height * width
    zbuf = torch.full((n_pix,), _EMPTY, dtype=torch.int64, device=device)
    if nf >= _ID_RANGE:
        raise ValueError(f"rasterize draws at most {_ID_RANGE - 1} faces, got {nf}")
    # The resolve kernel writes every pixel of these.
    tri = torch.empty((n_pix,), dtype=torch.int64, device=device)
    bary = torch.empty((n_pix * 3,), dtype=torch.float32, device=device)
    depth = torch.empty((n_pix,), dtype=torch.float32, device=device)
    if n_pix > 0:
        w_screen, w_faces, w_zbuf = wp.from_torch(screen), wp.from_torch(face_flat), wp.from_torch(zbuf)
        if B * nf > 0:
            _launch("raster", B * nf, [w_screen, w_faces, V, nf, height, width, float(near), int(cull_backfaces), w_zbuf],
                    device)
        _launch("resolve", n_pix, [w_screen, w_faces, w_zbuf, V, height, width, wp.from_torch(tri),
                                   wp.from_torch(bary), wp.from_torch(depth)], device)
    return Rasterization(
        triangle_id=tri.reshape(B, height, width),
        barycentric=bary.reshape(B, height, width, 3),
        depth=depth.reshape(B, height, width),
        height=height,
        width=width,
    )


# --------------------------------------------------------------------------- interpolation


def barycentrics(vertices: Tensor, faces: Tensor, K: Tensor, rast: Rasterization) -> Tensor:
    """Differentiable perspective-correct barycentrics of the covered pixels.

    Recomputes, in torch, what :func:`rasterize` found, from the visible face ids and the
    vertex positions, so that gradients flow to ``vertices`` (and ``K``).
    Screen-space barycentrics ``l_i`` come from edge functions at the pixel centre; the
    perspective-correct ones are ``b_i = (l_i / z_i) / sum_j (l_j / z_j)``.

    Args:
        vertices: (B, V, 3) camera-frame positions, the same that were rasterised.
        faces: (F, 3).
        K: (3, 3) or (B, 3, 3).
        rast: the rasterisation of these vertices.
    Returns:
        (N, 3) barycentrics of the N covered pixels, in the order of ``rast.covered()``.
    """
    _check_mesh(vertices, faces)
    index, face_id = rast.covered()
    B, V, _ = vertices.shape
    hw = rast.height * rast.width
    batch = index // hw
    rem = index - batch * hw
    py = (rem // rast.width).to(vertices.dtype)
    px = (rem % rast.width).to(vertices.dtype)
    screen = _screen(vertices, K.to(vertices.dtype))  # (B, V, 3)
    corner = _rows(faces.to(vertices.device), face_id)  # (N, 3)
    s = _rows(screen.reshape(B * V, 3), batch[:, None] * V + corner)  # (N, 3 corners, 3)
    x, y, z = s[..., 0], s[..., 1], s[..., 2]

    def edge(a: int, b: int) -> Tensor:
        return (x[:, b] - x[:, a]) * (py - y[:, a]) - (y[:, b] - y[:, a]) * (px - x[:, a])

    area = (x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (y[:, 1] - y[:, 0]) * (x[:, 2] - x[:, 0])
    screen_bary = torch.stack([edge(1, 2), edge(2, 0), edge(0, 1)], dim=-1) / area[:, None]
    w = screen_bary / z
    return w / w.sum(dim=-1, keepdim=True)


def interpolate(
    attributes: Tensor,
    faces: Tensor,
    rast: Rasterization,
    bary: Tensor | None = None,
    *,
    background: float = 0.0,
) -> Tensor:
    """Per-pixel interpolation of vertex (or face-corner) attributes.

    Args:
        attributes: (B, A, C) or (A, C) values at the A attribute points that ``faces`` index
            (the mesh vertices, or e.g. UV points with UV faces).
        faces: (F, 3) indices into the attribute points, one row per rasterised face.
        rast: visibility from :func:`rasterize`.
        bary: (N, 3) barycentrics of the covered pixels from :func:`barycentrics` (gradients to
            the vertex positions), or None to use ``rast.barycentric`` (no such gradients).
        background: value of uncovered pixels.
    Returns:
        (B, H, W, C) interpolated attributes, differentiable w.r.t. ``attributes`` and ``bary``.
    """
    index, face_id = rast.covered()
    B = rast.triangle_id.shape[0]
    if attributes.ndim == 2:
        attributes = attributes.unsqueeze(0).expand(B, -1, -1)
    if attributes.ndim != 3 or attributes.shape[0] != B:
        raise ValueError(f"attributes must have shape ({B}, A, C) or (A, C), got {tuple(attributes.shape)}")
    A, C = attributes.shape[1:]
    if bary is None:
        bary = _rows(rast.barycentric.reshape(-1, 3), index).to(attributes.dtype)
    elif bary.shape != (index.shape[0], 3):
        raise ValueError(f"bary must have shape ({index.shape[0]}, 3), got {tuple(bary.shape)}")
    batch = index // (rast.height * rast.width)
    corner = _rows(faces.to(attributes.device), face_id)  # (N, 3)
    values = _rows(attributes.reshape(B * A, C), batch[:, None] * A + corner)  # (N, 3, C)
    pixel = (bary.unsqueeze(-1) * values).sum(dim=1)  # (N, C)
    out = attributes.new_full((B * rast.height * rast.width, C), background)
    out = out.index_copy(0, index, pixel)
    return out.reshape(B, rast.height, rast.width, C)


def vertex_normals(vertices: Tensor, faces: Tensor) -> Tensor:
    """Area-weighted unit vertex normals of a counter-clockwise wound mesh.

    Differentiable torch code when gradients are needed; otherwise a Warp kernel (same result).

    Args:
        vertices: (B, V, 3); faces: (F, 3).
    Returns:
        (B, V, 3) unit normals (outward for counter-clockwise faces).
    """
    _check_mesh(vertices, faces)
    faces = faces.to(vertices.device)
    B, V, _ = vertices.shape
    if (torch.is_grad_enabled() and vertices.requires_grad) or vertices.dtype != torch.float32 or B * faces.shape[0] == 0:
        v0, v1, v2 = (vertices[:, faces[:, k]] for k in range(3))
        face_n = torch.linalg.cross(v1 - v0, v2 - v0, dim=-1)  # length = 2 * area
        flat = torch.zeros(B * V, 3, dtype=vertices.dtype, device=vertices.device)
        offset = (torch.arange(B, device=vertices.device) * V)[:, None]
        for k in range(3):
            flat.index_add_(0, (faces[:, k][None] + offset).reshape(-1), face_n.reshape(-1, 3))
        return _unit(flat.reshape(B, V, 3))
    wp = _warp()
    verts = vertices.detach().contiguous().reshape(B * V, 3)
    normals = torch.zeros_like(verts)
    face_flat = faces.to(torch.int32).reshape(-1).contiguous()
    _launch("normals", B * faces.shape[0], [wp.from_torch(verts, dtype=wp.vec3), wp.from_torch(face_flat), V,
                                            faces.shape[0], wp.from_torch(normals, dtype=wp.vec3)], vertices.device)
    return _unit(normals.reshape(B, V, 3))


# --------------------------------------------------------------------------- shading

# Real spherical harmonics up to l = 2, ordered (l, m) = (0,0), (1,-1), (1,0), (1,1), (2,-2),
# (2,-1), (2,0), (2,1), (2,2).
_SH_C0 = 0.5 * math.sqrt(1.0 / math.pi)
_SH_C1 = math.sqrt(3.0 / (4.0 * math.pi))
_SH_C2 = 0.5 * math.sqrt(15.0 / math.pi)
_SH_C3 = 0.25 * math.sqrt(5.0 / math.pi)
_SH_C4 = 0.25 * math.sqrt(15.0 / math.pi)


def sh_basis(normals: Tensor) -> Tensor:
    """The 9 real spherical-harmonics basis functions of bands 0-2 at unit directions.

    Args:
        normals: (..., 3) unit vectors (x, y, z).
    Returns:
        (..., 9) values, ordered (l, m) = (0,0), (1,-1), (1,0), (1,1), (2,-2), (2,-1), (2,0),
        (2,1), (2,2).
    """
    x, y, z = normals.unbind(-1)
    return torch.stack(
        [
            torch.full_like(x, _SH_C0),
            _SH_C1 * y,
            _SH_C1 * z,
            _SH_C1 * x,
            _SH_C2 * x * y,
            _SH_C2 * y * z,
            _SH_C3 * (3.0 * z * z - 1.0),
            _SH_C2 * x * z,
            _SH_C4 * (x * x - y * y),
        ],
        dim=-1,
    )


def default_sh(batch: int = 1, *, ambient: float = 0.75, directional: float = 0.45,
               direction: tuple[float, float, float] = (0.3, -0.5, -1.0), dtype=torch.float32,
               device=None) -> Tensor:
    """A white light: ambient plus one soft directional lobe (band-1 only), as SH coefficients.

    ``direction`` points from the surface towards the light in the camera frame (default: from
    above-right of the camera). The irradiance in direction n is
    ``ambient + directional * dot(n, direction)``.

    Returns:
        (batch, 9, 3) coefficients for :func:`shade_sh`.
    """
    d = torch.tensor(direction, dtype=torch.float64)
    d = d / d.norm()
    coeffs = torch.zeros(9, dtype=torch.float64)
    coeffs[0] = ambient / _SH_C0
    coeffs[1] = directional * d[1] / _SH_C1
    coeffs[2] = directional * d[2] / _SH_C1
    coeffs[3] = directional * d[0] / _SH_C1
    return coeffs[None, :, None].expand(batch, 9, 3).to(dtype=dtype, device=device).clone()


def shade_sh(albedo: Tensor, normals: Tensor, sh: Tensor) -> Tensor:
    """Lambertian shading under SH lighting: ``albedo * sum_k sh[k] * Y_k(n)``.

    The coefficients hold the irradiance directly (the cosine-lobe convolution is folded in, as
    in 3D morphable face models), so ``sh[0] = 1 / Y_0`` with all others zero gives shading 1.

    Args:
        albedo: (B, ..., 3) reflectance in [0, 1].
        normals: (B, ..., 3) unit normals in the frame the lighting is expressed in.
        sh: (B, 9, 3) coefficients per colour channel.
    Returns:
        (B, ..., 3) shaded colour (not clamped).
    """
    if sh.ndim != 3 or sh.shape[1:] != (SH_COEFFS, 3):
        raise ValueError(f"sh must have shape (B, 9, 3), got {tuple(sh.shape)}")
    basis = sh_basis(normals)  # (B, ..., 9)
    B = basis.shape[0]
    flat = basis.reshape(B, -1, SH_COEFFS)
    irradiance = torch.bmm(flat, sh.to(basis.dtype)).reshape(*basis.shape[:-1], 3)
    return albedo * irradiance


# --------------------------------------------------------------------------- full render


@dataclass
class RenderOutput:
    """Rendered images and per-pixel labels (B images of H x W).

    Attributes:
        rgb: (B, 3, H, W) shaded colour composited over the background.
        mask: (B, H, W) float coverage in [0, 1] (fractional at edges with supersampling).
        depth: (B, H, W) camera z of the visible surface, 0 on the background.
        normals: (B, 3, H, W) unit camera-frame normals, 0 on the background.
        labels: (B, H, W) int64 face label of the visible face, ``0`` on the background (None
            when no face labels were given).
        triangle_id: (B, H, W) int64 visible face, -1 on the background.
        rast: the rasterisation behind depth, normals, labels and triangle ids.
    """

    rgb: Tensor
    mask: Tensor
    depth: Tensor
    normals: Tensor
    labels: Tensor | None
    triangle_id: Tensor
    rast: Rasterization


def intrinsics(fx: float, fy: float, cx: float, cy: float, **kwargs) -> Tensor:
    """(3, 3) pinhole matrix ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`` (pixel centres at integers)."""
    return torch.tensor([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]], **kwargs)


def _supersampled_K(K: Tensor, factor: int) -> Tensor:
    # Pixel centres at integers: a fine pixel centre u' maps to the coarse u = (u' + 0.5)/s - 0.5.
    S = torch.tensor([[factor, 0.0, 0.5 * (factor - 1)], [0.0, factor, 0.5 * (factor - 1)], [0.0, 0.0, 1.0]],
                     dtype=K.dtype, device=K.device)
    return S @ K


def render(
    vertices: Tensor,
    faces: Tensor,
    K: Tensor,
    height: int,
    width: int,
    *,
    albedo: Tensor | None = None,
    sh: Tensor | None = None,
    background: Tensor | None = None,
    face_labels: Tensor | None = None,
    texture: Tensor | None = None,
    uv: Tensor | None = None,
    uv_faces: Tensor | None = None,
    texture_faces: Tensor | None = None,
    supersample: int = 1,
    cull_backfaces: bool = False,
    near: float = 1e-3,
) -> RenderOutput:
    """Render a mesh: visibility, SH-shaded albedo over a background, and per-pixel labels.

    Differentiable w.r.t. ``vertices`` (through shading and interpolation, not silhouettes),
    ``albedo``, ``sh``, ``texture`` and ``background``. All per-pixel work runs on the covered
    pixels only.

    Args:
        vertices: (B, V, 3) camera-frame positions.
        faces: (F, 3) counter-clockwise (outward) wound triangles.
        K: (3, 3) or (B, 3, 3) intrinsics of the output image.
        height, width: output size.
        albedo: (B, V, 3) or (V, 3) per-vertex reflectance in [0, 1]; default mid grey.
        sh: (B, 9, 3) SH lighting in the camera frame; default :func:`default_sh`.
        background: (B, 3, H, W), (3, H, W) or (3,) colour behind the mesh; default black.
        face_labels: (F,) integer label of each face; ``labels`` is ``face_labels`` of the
            visible face and 0 on the background (so use labels >= 1 for faces).
        texture: (B, 3, Ht, Wt) or (3, Ht, Wt) albedo texture, looked up bilinearly with ``uv``.
        uv: (T, 2) texture coordinates in [0, 1] (v up), indexed by ``uv_faces`` (F, 3).
        texture_faces: (F,) bool, the faces that take their albedo from the texture (default
            all, when a texture is given); the others use ``albedo``.
        supersample: render at ``supersample`` times the resolution and average the colour and
            coverage down (anti-aliasing); labels, depth, normals, triangle ids and ``rast`` are
            those of the fine sample nearest each output pixel centre.
        cull_backfaces, near: see :func:`rasterize`.
    Returns:
        :class:`RenderOutput`.
    """
    _check_mesh(vertices, faces)
    if supersample < 1:
        raise ValueError(f"supersample must be >= 1, got {supersample}")
    B, V, _ = vertices.shape
    dtype, device = vertices.dtype, vertices.device
    faces = faces.to(device)
    K = _batched_K(K.to(device=device, dtype=dtype), B)
    s = supersample
    Ks = _supersampled_K(K, s) if s > 1 else K
    H, W = height * s, width * s
    rast = rasterize(vertices, faces, Ks, H, W, near=near, cull_backfaces=cull_backfaces)

    if albedo is None:
        albedo = torch.full((V, 3), 0.6, dtype=dtype, device=device)
    if albedo.ndim == 2:
        albedo = albedo.unsqueeze(0).expand(B, -1, -1)
    if albedo.shape != (B, V, 3):
        raise ValueError(f"albedo must have shape ({B}, {V}, 3) or ({V}, 3), got {tuple(albedo.shape)}")
    if sh is None:
        sh = default_sh(B, dtype=dtype, device=device)
    if sh.shape != (B, SH_COEFFS, 3):
        raise ValueError(f"sh must have shape ({B}, 9, 3), got {tuple(sh.shape)}")
    if texture is not None:
        if uv is None or uv_faces is None:
            raise ValueError("texture needs uv (T, 2) and uv_faces (F, 3)")
        if texture.ndim == 3:
            texture = texture.unsqueeze(0).expand(B, -1, -1, -1)
        if texture.ndim != 4 or texture.shape[0] != B or texture.shape[1] != 3:
            raise ValueError(f"texture must have shape ({B}, 3, Ht, Wt) or (3, Ht, Wt), got {tuple(texture.shape)}")
        uv, uv_faces = uv.to(device=device, dtype=dtype), uv_faces.to(device)
        if texture_faces is not None:
            texture_faces = texture_faces.to(device=device, dtype=torch.bool)

    if background is not None:
        background = background.to(device=device, dtype=dtype)
        if background.shape not in ((3,), (3, height, width), (B, 3, height, width)):
            raise ValueError(f"background must have shape (3,), (3, {height}, {width}) or ({B}, 3, {height}, {width}), "
                             f"got {tuple(background.shape)}")
    if face_labels is not None:
        face_labels = face_labels.to(device=device, dtype=torch.int64)
        if face_labels.shape != (faces.shape[0],):
            raise ValueError(f"face_labels must have shape ({faces.shape[0]},), got {tuple(face_labels.shape)}")

    needs_grad = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (vertices, albedo, sh, texture, K, background))
    if not needs_grad and dtype == torch.float32 and s == 1:
        # Fast path: shading, compositing and labels in one Warp pass over the pixels.
        rgb, normals, labels = _shade_warp(vertices, faces, Ks, rast, albedo, sh, texture, uv, uv_faces,
                                           texture_faces, background, face_labels)
        return RenderOutput(rgb=rgb, mask=rast.mask.to(dtype), depth=rast.depth, normals=normals, labels=labels,
                            triangle_id=rast.triangle_id, rast=rast)
    if not needs_grad and dtype == torch.float32:
        rgb, normals, _ = _shade_warp(vertices, faces, Ks, rast, albedo, sh, texture, uv, uv_faces, texture_faces,
                                      None, None)
    else:
        rgb, normals = _shade_torch(vertices, faces, Ks, rast, albedo, sh.to(dtype), texture, uv, uv_faces,
                                    texture_faces)

    mask = rast.mask.to(dtype)
    if s > 1:
        rgb = F.avg_pool2d(rgb, s)
        mask = F.avg_pool2d(mask.unsqueeze(1), s).squeeze(1)
        c = s // 2
        normals = normals[:, :, c::s, c::s]
        out_rast = _subsample(rast, s)
    else:
        out_rast = rast
    if background is not None:
        if background.ndim == 1:
            background = background.view(1, 3, 1, 1)
        elif background.ndim == 3:
            background = background.unsqueeze(0)
        rgb = rgb + (1.0 - mask).unsqueeze(1) * background

    labels = None
    if face_labels is not None:
        tri_out = out_rast.triangle_id
        labels = torch.where(out_rast.mask, face_labels.index_select(0, tri_out.clamp(min=0).reshape(-1)).view_as(tri_out), 0)
    return RenderOutput(rgb=rgb, mask=mask, depth=out_rast.depth.to(dtype), normals=normals, labels=labels,
                        triangle_id=out_rast.triangle_id, rast=out_rast)


def _shade_torch(vertices, faces, K, rast, albedo, sh, texture, uv, uv_faces, texture_faces) -> tuple[Tensor, Tensor]:
    """Differentiable shading of the covered pixels: (B, 3, H, W) colour (0 off the mesh) and normals."""
    B, V, _ = vertices.shape
    H, W = rast.height, rast.width
    dtype, device = vertices.dtype, vertices.device
    index, face_id = rast.covered()
    batch = index // (H * W)
    bary = barycentrics(vertices, faces, K, rast)
    normals_v = vertex_normals(vertices, faces)
    # One gather for both vertex attributes: albedo (3) and normal (3).
    corner = _rows(faces, face_id)  # (N, 3)
    attrs = _rows(torch.cat([albedo.to(dtype), normals_v], dim=-1).reshape(B * V, 6), batch[:, None] * V + corner)
    attrs = (bary.unsqueeze(-1) * attrs).sum(dim=1)  # (N, 6)
    albedo_px, normal_px = attrs[:, :3], _unit(attrs[:, 3:])
    if texture is not None:
        sel = (torch.arange(index.shape[0], device=device) if texture_faces is None
               else torch.nonzero(texture_faces.index_select(0, face_id)).squeeze(1))
        uv_c = _rows(uv, _rows(uv_faces, face_id.index_select(0, sel)))  # (M, 3, 2)
        uv_px = (bary.index_select(0, sel).unsqueeze(-1) * uv_c).sum(dim=1)  # (M, 2)
        tex_px = _bilinear(texture.to(dtype), batch.index_select(0, sel), uv_px)
        albedo_px = albedo_px.index_copy(0, sel, tex_px)
    basis = sh_basis(normal_px)  # (N, 9)
    # Covered pixels are grouped by image: one (n_b, 9) @ (9, 3) product per image.
    counts = torch.bincount(batch, minlength=B).tolist()
    irradiance = torch.cat([part @ sh_b for part, sh_b in zip(basis.split(counts), sh.unbind(0))])
    colour = albedo_px * irradiance

    def image(values: Tensor) -> Tensor:
        flat = values.new_zeros(B * H * W, 3).index_copy(0, index, values)
        return flat.reshape(B, H, W, 3).permute(0, 3, 1, 2)

    return image(colour), image(normal_px)


def _shade_warp(vertices, faces, K, rast, albedo, sh, texture, uv, uv_faces, texture_faces, background,
                face_labels) -> tuple[Tensor, Tensor, Tensor | None]:
    """The shading of :func:`_shade_torch` in one Warp pass over the pixels (no gradients), with the
    background composited (binary coverage) and the face labels looked up when given."""
    wp = _warp()
    B, V, _ = vertices.shape
    H, W = rast.height, rast.width
    device = vertices.device
    normals_v = vertex_normals(vertices.detach(), faces)
    albedo = albedo.detach()
    albedo_stride = 0 if albedo.stride(0) == 0 else V * 3
    albedo_flat = (albedo[0] if albedo_stride == 0 else albedo).contiguous().reshape(-1)
    dummy_f = torch.zeros(3, dtype=torch.float32, device=device)
    dummy_i = torch.zeros(1, dtype=torch.int32, device=device)
    dummy_l = torch.zeros(1, dtype=torch.int64, device=device)
    if texture is not None:
        texture = texture.detach()
        tex_stride = 0 if texture.stride(0) == 0 else texture.shape[2] * texture.shape[3] * 3
        tex = (texture[:1] if tex_stride == 0 else texture).permute(0, 2, 3, 1).contiguous().reshape(-1)
        tex_h, tex_w = texture.shape[2], texture.shape[3]
        tex_faces = (torch.ones(faces.shape[0], dtype=torch.int32, device=device) if texture_faces is None
                     else texture_faces.to(torch.int32).contiguous())
        uv_flat = uv.detach().contiguous().reshape(-1)
        uv_faces_flat = uv_faces.to(torch.int32).contiguous().reshape(-1)
    else:
        tex, tex_h, tex_w, tex_stride, tex_faces, uv_flat, uv_faces_flat = dummy_f, 1, 1, 0, dummy_i, dummy_f, dummy_i
    if background is None:
        bg, bg_stride, bg_plane = dummy_f, 0, 0
    else:
        background = background.detach()
        if background.ndim == 4 and background.stride(0) == 0:
            background = background[0]
        bg_stride = 3 * H * W if background.ndim == 4 else 0
        bg_plane = 0 if background.ndim == 1 else 1
        bg = background.contiguous().reshape(-1)
    rgb = torch.empty(B * 3 * H * W, dtype=torch.float32, device=device)
    nrm = torch.empty(B * 3 * H * W, dtype=torch.float32, device=device)
    labels = torch.empty(B * H * W, dtype=torch.int64, device=device) if face_labels is not None else dummy_l
    _launch(
        "shade",
        B * H * W,
        [wp.from_torch(rast.triangle_id.reshape(-1).contiguous()),
         wp.from_torch(rast.barycentric.reshape(-1).contiguous()),
         wp.from_torch(faces.to(torch.int32).reshape(-1).contiguous()), wp.from_torch(albedo_flat),
         albedo_stride, wp.from_torch(normals_v.reshape(-1).contiguous()), V, H, W,
         wp.from_torch(sh.detach().to(torch.float32).contiguous().reshape(-1)), int(texture is not None),
         wp.from_torch(tex_faces), wp.from_torch(uv_flat), wp.from_torch(uv_faces_flat),
         wp.from_torch(tex), tex_h, tex_w, tex_stride,
         int(background is not None), wp.from_torch(bg), bg_stride, bg_plane,
         wp.from_torch(face_labels.contiguous() if face_labels is not None else dummy_l),
         int(face_labels is not None),
         wp.from_torch(rgb), wp.from_torch(nrm), wp.from_torch(labels)],
        device,
    )
    out_labels = labels.reshape(B, H, W) if face_labels is not None else None
    return rgb.reshape(B, 3, H, W), nrm.reshape(B, 3, H, W), out_labels


def _subsample(rast: Rasterization, s: int) -> Rasterization:
    """The fine samples nearest the coarse pixel centres of an ``s`` times supersampled raster."""
    c = s // 2
    return Rasterization(
        triangle_id=rast.triangle_id[:, c::s, c::s].contiguous(),
        barycentric=rast.barycentric[:, c::s, c::s].contiguous(),
        depth=rast.depth[:, c::s, c::s].contiguous(),
        height=rast.height // s,
        width=rast.width // s,
    )


def _bilinear(texture: Tensor, batch: Tensor, uv: Tensor) -> Tensor:
    """Bilinear lookup of (B, C, Ht, Wt) textures at (M, 2) uv in [0, 1] (v up) of images ``batch``.

    Texel centres sit at ``(i + 0.5) / size`` (as ``grid_sample`` with ``align_corners=False``)
    and lookups clamp at the border. Returns (M, C), differentiable w.r.t. texture and uv.
    """
    B, C, Ht, Wt = texture.shape
    x = (uv[:, 0] * Wt - 0.5).clamp(0, Wt - 1)
    y = ((1.0 - uv[:, 1]) * Ht - 0.5).clamp(0, Ht - 1)
    x0 = x.detach().floor().clamp(max=Wt - 2 if Wt > 1 else 0)
    y0 = y.detach().floor().clamp(max=Ht - 2 if Ht > 1 else 0)
    fx, fy = (x - x0).unsqueeze(1), (y - y0).unsqueeze(1)
    x0, y0 = x0.long(), y0.long()
    x1, y1 = (x0 + 1).clamp(max=Wt - 1), (y0 + 1).clamp(max=Ht - 1)
    flat = texture.permute(0, 2, 3, 1).reshape(B * Ht * Wt, C)
    base = batch * (Ht * Wt)

    def tap(yy: Tensor, xx: Tensor) -> Tensor:
        return flat.index_select(0, base + yy * Wt + xx)

    top = tap(y0, x0) * (1 - fx) + tap(y0, x1) * fx
    bottom = tap(y1, x0) * (1 - fx) + tap(y1, x1) * fx
    return top * (1 - fy) + bottom * fy


def tune_cpu_allocator(mmap_threshold: int = 32 << 20, trim_threshold: int = 1 << 30) -> bool:
    """Keep large freed buffers inside the process (glibc ``mallopt``), for fast CPU rendering.

    By default glibc hands every buffer above a few MB straight back to the operating system when
    it is freed, so each new image-sized tensor costs one page fault per 4 KB page on first use.
    Rendering allocates a dozen such buffers per batch; on a 2-core machine this setting cut the
    CPU time of ``render`` at 256x256 by about a third. It is process-wide (call it once at the
    start of a data-generation process or worker) and raises the memory the process keeps.

    Returns:
        True when applied; False where the C library has no ``mallopt`` (not glibc).
    """
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    return bool(mallopt(M_MMAP_THRESHOLD, int(mmap_threshold))) and bool(mallopt(M_TRIM_THRESHOLD, int(trim_threshold)))


class Renderer(nn.Module):
    """Thin module over :func:`render` holding a fixed mesh topology and face labels as buffers.

    Args:
        faces: (F, 3) triangles.
        face_labels: optional (F,) integer labels (0 reserved for the background).
        height, width: output size; supersample: anti-aliasing factor.
    """

    def __init__(self, faces: Tensor, *, height: int, width: int, face_labels: Tensor | None = None,
                 supersample: int = 1) -> None:
        super().__init__()
        self.register_buffer("faces", faces.to(torch.int64).clone(), persistent=False)
        self.register_buffer("face_labels", None if face_labels is None else face_labels.to(torch.int64).clone(),
                             persistent=False)
        self.height, self.width, self.supersample = height, width, supersample

    def forward(self, vertices: Tensor, K: Tensor, **kwargs) -> RenderOutput:
        """vertices: (B, V, 3) camera frame; K: (3, 3) or (B, 3, 3); kwargs as in :func:`render`."""
        kwargs.setdefault("face_labels", self.face_labels)
        kwargs.setdefault("supersample", self.supersample)
        return render(vertices, self.faces, K, self.height, self.width, **kwargs)
