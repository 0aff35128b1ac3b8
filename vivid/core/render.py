"""Mesh rendering: z-buffer rasterisation, differentiable interpolation, SH shading.

The renderer follows nvdiffrast's split between a non-differentiable visibility step and
differentiable shading:

1. :func:`rasterize` finds, for every pixel, the nearest triangle with a z-buffer (per-pixel
   triangle id, perspective-correct barycentrics and depth). It runs as compiled Warp kernels
   (one thread per triangle scanning its bounding box, then one per pixel), on the CPU or the GPU
   of the input tensors.
2. :func:`barycentrics` recomputes the barycentrics of the covered pixels in torch from the
   triangle ids and the vertex positions, so gradients reach the vertices; :func:`interpolate`
   blends vertex (or face-corner) attributes with them, so gradients reach the attributes too.
   Silhouette edges are not differentiable (as in nvdiffrast without its antialias op): moving
   a vertex changes what a covered pixel sees, not which pixels are covered.
3. :func:`shade_sh` multiplies albedo by second-order spherical-harmonics irradiance
   (9 coefficients per colour channel) evaluated at the interpolated normals, and
   :func:`render` composites the result over a background, with optional supersampling.

Conventions: vertices are in the camera frame (x right, y down, z forward, metres), see
:mod:`vivid.core.geometry`. ``K`` is a 3x3 pinhole matrix and pixel ``(row i, column j)`` is
sampled at its centre, the pixel coordinate ``(u, v) = (j, i)``; so ``cx = (W - 1) / 2`` puts
the principal point at the image centre. Triangles with a vertex closer than ``near`` are not
drawn (no clipping), and both windings are drawn unless ``cull_backfaces`` is set.
Images are channel-first: ``rgb (B, 3, H, W)``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vivid.core.geometry import project

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


def _build_kernels(wp) -> None:
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
        write_ids: int,
        zbuf: wp.array(dtype=wp.float32),  # (B*H*W,)
        tri: wp.array(dtype=wp.int32),  # (B*H*W,)
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
        area = edge(x0, y0, x1, y1, x2, y2)
        if wp.abs(area) < 1.0e-12:
            return
        # In a y-down image a triangle wound counter-clockwise in the camera frame (outward
        # normal towards the camera) has negative signed area.
        if cull != 0 and area > 0.0:
            return
        xmin = wp.max(int(wp.ceil(wp.min(x0, wp.min(x1, x2)))), 0)
        xmax = wp.min(int(wp.floor(wp.max(x0, wp.max(x1, x2)))), width - 1)
        ymin = wp.max(int(wp.ceil(wp.min(y0, wp.min(y1, y2)))), 0)
        ymax = wp.min(int(wp.floor(wp.max(y0, wp.max(y1, y2)))), height - 1)
        inv_area = 1.0 / area
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
                    z = 1.0 / (l0 / z0 + l1 / z1 + l2 / z2)
                    p = base + py * width + px
                    if write_ids == 0:
                        wp.atomic_min(zbuf, p, z)
                    elif z == zbuf[p]:
                        tri[p] = f

    @wp.kernel
    def resolve_pixels(
        screen: wp.array(dtype=wp.float32),
        faces: wp.array(dtype=wp.int32),
        tri: wp.array(dtype=wp.int32),
        num_vertices: int,
        height: int,
        width: int,
        bary: wp.array(dtype=wp.float32),  # (B*H*W*3,)
    ):
        p = wp.tid()
        f = tri[p]
        if f < 0:
            return
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

    _kernels["raster"] = raster_triangles
    _kernels["resolve"] = resolve_pixels


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

    @property
    def mask(self) -> Tensor:
        """(B, H, W) bool, True where a face is visible."""
        return self.triangle_id >= 0

    def covered(self) -> tuple[Tensor, Tensor]:
        """Flat indices into ``B*H*W`` of the covered pixels and their face ids, both (N,) int64."""
        flat = self.triangle_id.reshape(-1)
        index = torch.nonzero(flat >= 0).squeeze(1)
        return index, flat[index]


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
    """(B, V, 3) camera-frame points -> (B, V, 3) pixel u, v and camera z."""
    uv = project(vertices, _batched_K(K, vertices.shape[0])[:, None])
    return torch.cat([uv, vertices[..., 2:3]], dim=-1)


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
    wdev = _warp_device(device)
    with torch.no_grad():
        screen = _screen(vertices.detach(), K.detach().to(vertices.dtype)).to(torch.float32)
        screen = screen.reshape(-1).contiguous()
    face_flat = faces.to(device=device, dtype=torch.int32).reshape(-1).contiguous()
    n_pix = B * height * width
    zbuf = torch.full((n_pix,), float("inf"), dtype=torch.float32, device=device)
    tri = torch.full((n_pix,), -1, dtype=torch.int32, device=device)
    bary = torch.zeros((n_pix * 3,), dtype=torch.float32, device=device)
    w_screen, w_faces = wp.from_torch(screen), wp.from_torch(face_flat)
    w_zbuf, w_tri, w_bary = wp.from_torch(zbuf), wp.from_torch(tri), wp.from_torch(bary)
    if B * nf > 0:
        with contextlib.redirect_stdout(io.StringIO()):
            for write_ids in (0, 1):
                wp.launch(
                    _kernels["raster"],
                    dim=B * nf,
                    inputs=[w_screen, w_faces, V, nf, height, width, float(near), int(cull_backfaces),
                            write_ids, w_zbuf, w_tri],
                    device=wdev,
                )
            wp.launch(
                _kernels["resolve"],
                dim=n_pix,
                inputs=[w_screen, w_faces, w_tri, V, height, width, w_bary],
                device=wdev,
            )
        if device.type == "cuda":
            wp.synchronize_device(wdev)
    depth = torch.where(torch.isinf(zbuf), torch.zeros_like(zbuf), zbuf)
    return Rasterization(
        triangle_id=tri.to(torch.int64).reshape(B, height, width),
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
    corner = faces.to(vertices.device)[face_id]  # (N, 3)
    s = screen.reshape(B * V, 3)[(batch[:, None] * V + corner)]  # (N, 3 corners, 3)
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
        bary = rast.barycentric.reshape(-1, 3)[index].to(attributes.dtype)
    elif bary.shape != (index.shape[0], 3):
        raise ValueError(f"bary must have shape ({index.shape[0]}, 3), got {tuple(bary.shape)}")
    batch = index // (rast.height * rast.width)
    corner = faces.to(attributes.device)[face_id]  # (N, 3)
    values = attributes.reshape(B * A, C)[batch[:, None] * A + corner]  # (N, 3, C)
    pixel = (bary.unsqueeze(-1) * values).sum(dim=1)  # (N, C)
    out = attributes.new_full((B * rast.height * rast.width, C), background)
    out = out.index_copy(0, index, pixel)
    return out.reshape(B, rast.height, rast.width, C)


def vertex_normals(vertices: Tensor, faces: Tensor) -> Tensor:
    """Area-weighted unit vertex normals of a counter-clockwise wound mesh.

    Args:
        vertices: (B, V, 3); faces: (F, 3).
    Returns:
        (B, V, 3) unit normals (outward for counter-clockwise faces).
    """
    _check_mesh(vertices, faces)
    faces = faces.to(vertices.device)
    v0, v1, v2 = (vertices[:, faces[:, k]] for k in range(3))
    face_n = torch.linalg.cross(v1 - v0, v2 - v0, dim=-1)  # length = 2 * area
    normals = torch.zeros_like(vertices).index_add_(1, faces.reshape(-1), face_n.repeat_interleave(3, dim=1))
    return F.normalize(normals, dim=-1, eps=1e-12)


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


def _texture_lookup(texture: Tensor, uv: Tensor) -> Tensor:
    """Bilinear lookup of (B, C, Ht, Wt) textures at (B, H, W, 2) uv in [0, 1] with v up."""
    grid = torch.stack([uv[..., 0] * 2.0 - 1.0, 1.0 - uv[..., 1] * 2.0], dim=-1)
    out = F.grid_sample(texture, grid.to(texture.dtype), mode="bilinear", padding_mode="border",
                        align_corners=False)
    return out.permute(0, 2, 3, 1)


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
    ``albedo``, ``sh``, ``texture`` and ``background``.

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
        texture: (B, 3, Ht, Wt) or (3, Ht, Wt) albedo texture, looked up with ``uv``.
        uv: (T, 2) texture coordinates in [0, 1] (v up), indexed by ``uv_faces`` (F, 3).
        texture_faces: (F,) bool, the faces that take their albedo from the texture (default
            all, when a texture is given); the others use ``albedo``.
        supersample: render at ``supersample`` times the resolution and average the colour and
            coverage down (anti-aliasing); labels, depth and normals are read at the sample
            nearest each output pixel centre.
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
    index, face_id = rast.covered()
    bary = barycentrics(vertices, faces, Ks, rast)

    if albedo is None:
        albedo = torch.full((V, 3), 0.6, dtype=dtype, device=device)
    if albedo.ndim == 2:
        albedo = albedo.unsqueeze(0).expand(B, -1, -1)
    if albedo.shape != (B, V, 3):
        raise ValueError(f"albedo must have shape ({B}, {V}, 3) or ({V}, 3), got {tuple(albedo.shape)}")
    normals_v = vertex_normals(vertices, faces)
    # One gather for both vertex attributes: albedo (3) and normal (3).
    attrs = interpolate(torch.cat([albedo.to(dtype), normals_v], dim=-1), faces, rast, bary)
    albedo_px, normal_px = attrs[..., :3], F.normalize(attrs[..., 3:], dim=-1, eps=1e-12)

    if texture is not None:
        if uv is None or uv_faces is None:
            raise ValueError("texture needs uv (T, 2) and uv_faces (F, 3)")
        if texture.ndim == 3:
            texture = texture.unsqueeze(0).expand(B, -1, -1, -1)
        uv_px = interpolate(uv.to(device=device, dtype=dtype), uv_faces.to(device), rast, bary)
        tex_px = _texture_lookup(texture.to(device), uv_px)
        if texture_faces is None:
            use_tex = rast.mask
        else:
            table = texture_faces.to(device=device, dtype=torch.bool)
            use_tex = rast.mask & table[rast.triangle_id.clamp(min=0)]
        albedo_px = torch.where(use_tex.unsqueeze(-1), tex_px.to(dtype), albedo_px)

    if sh is None:
        sh = default_sh(B, dtype=dtype, device=device)
    colour = shade_sh(albedo_px, normal_px, sh.to(device))  # (B, H, W, 3)
    mask = rast.mask.to(dtype)
    colour = colour * mask.unsqueeze(-1)
    rgb = colour.permute(0, 3, 1, 2)
    normal_img = (normal_px * mask.unsqueeze(-1)).permute(0, 3, 1, 2)
    depth = rast.depth.to(dtype)
    tri = rast.triangle_id

    if s > 1:
        rgb = F.avg_pool2d(rgb, s)
        mask = F.avg_pool2d(mask.unsqueeze(1), s).squeeze(1)
        c = s // 2  # the fine sample nearest to each coarse pixel centre
        normal_img = normal_img[:, :, c::s, c::s]
        depth = depth[:, c::s, c::s]
        tri = tri[:, c::s, c::s]

    if background is None:
        out_rgb = rgb
    else:
        background = background.to(device=device, dtype=dtype)
        if background.ndim == 1:
            background = background.view(1, 3, 1, 1)
        elif background.ndim == 3:
            background = background.unsqueeze(0)
        out_rgb = rgb + (1.0 - mask).unsqueeze(1) * background

    labels = None
    if face_labels is not None:
        table = face_labels.to(device=device, dtype=torch.int64)
        labels = torch.where(tri >= 0, table[tri.clamp(min=0)], torch.zeros_like(tri))
    return RenderOutput(rgb=out_rgb, mask=mask, depth=depth, normals=normal_img, labels=labels,
                        triangle_id=tri, rast=rast)


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
