"""Equirectangular HDR panoramas: perspective views behind the person and SH lighting from them.

Panorama frame: the world's (z up). Pixel ``(u, v)`` of a ``Hp x Wp`` panorama (rows top to
bottom) looks along latitude ``lat = pi/2 - pi (v + 0.5) / Hp`` and longitude
``lon = pi - 2 pi (u + 0.5) / Wp``, direction ``(cos lat cos lon, cos lat sin lon, sin lat)``:
longitude falls to the right, so a view from inside the sphere is not mirrored. A panorama
turned by ``yaw`` about z shows world direction ``d`` at its own direction ``Rz(-yaw) d``.

Both outputs use the scene camera (``X_cam = R X + t``, intrinsics ``K``):

* :func:`panorama_view`: the radiance seen through each pixel of the camera (the background at
  infinity), and :func:`tone_map` to 8-bit-ready values (exposure, clip, gamma 2.2);
* :func:`panorama_sh`: the order-2 irradiance SH coefficients (9, 3) in the camera frame, in the
  convention of :func:`vivid.core.render.shade_sh` (``E(n) = sum_k sh[k] Y_k(n)``). The radiance
  is projected, ``L_k = sum_pixels L(w) Y_k(w) dOmega``, and convolved with the clamped cosine
  (Ramamoorthi and Hanrahan 2001): ``sh_k = A_l L_k`` with ``A_0 = pi``, ``A_1 = 2 pi / 3``,
  ``A_2 = pi / 4``. A constant radiance ``c`` gives ``E = pi c`` in every direction.

:func:`exposed_lighting` puts the two on one scale: a Lambertian surface of albedo ``a`` shows
``a E / pi`` times the exposure, so the display lighting is ``sh * exposure / pi``; the exposure
is drawn so that a white surface facing the brightest direction reaches a random ``key`` (the
renderer multiplies albedo by irradiance without a tone curve, so light and background agree in
the highlights and the person's shadows are a little darker than the tone-mapped backdrop's).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

from vivid.core.render import sh_basis

__all__ = [
    "SH_BAND_FACTORS",
    "equirect_directions",
    "pad_panorama",
    "panorama_view",
    "tone_map",
    "panorama_sh",
    "downsample_panorama",
    "luminance",
    "peak_irradiance",
    "exposed_lighting",
]

# clamped-cosine convolution per band, for coefficients ordered as in vivid.core.render.sh_basis
SH_BAND_FACTORS = torch.tensor([math.pi] + [2 * math.pi / 3] * 3 + [math.pi / 4] * 5, dtype=torch.float64)
_LUMA = torch.tensor([0.2126, 0.7152, 0.0722])


def luminance(rgb: torch.Tensor) -> torch.Tensor:
    """(..., 3) linear RGB -> (...) Rec. 709 luminance."""
    return rgb @ _LUMA.to(rgb.dtype)


def _yaw_matrix(yaw: float) -> torch.Tensor:
    c, s = math.cos(yaw), math.sin(yaw)
    return torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)


@lru_cache(maxsize=8)
def equirect_directions(height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit directions (H, W, 3) float64 (panorama frame) of a panorama's pixel centres and
    their solid angles (H, W) (summing to 4 pi). Cached: do not modify the results."""
    lat = math.pi / 2 - math.pi * (torch.arange(height, dtype=torch.float64) + 0.5) / height
    lon = math.pi - 2 * math.pi * (torch.arange(width, dtype=torch.float64) + 0.5) / width
    la, lo = torch.meshgrid(lat, lon, indexing="ij")
    d = torch.stack([la.cos() * lo.cos(), la.cos() * lo.sin(), la.sin()], -1)
    # exact band area: 2 pi (sin top - sin bottom) / W per pixel
    top = math.pi / 2 - math.pi * torch.arange(height, dtype=torch.float64) / height
    band = (torch.sin(top) - torch.sin(top - math.pi / height)) * 2 * math.pi / width
    return d, band[:, None].expand(height, width).clone()


def downsample_panorama(radiance: torch.Tensor, height: int = 32) -> torch.Tensor:
    """Box-average a (Hp, Wp, 3) panorama to (height, 2 height, 3), keeping the energy of small
    bright sources (a sun), for SH projection; Hp must be a multiple of ``height``."""
    Hp, Wp, _ = radiance.shape
    fy, fx = Hp // height, Wp // (2 * height)
    if fy < 1 or fx < 1 or Hp % height or Wp % (2 * height):
        raise ValueError(f"cannot box-average a {Hp}x{Wp} panorama to {height}x{2 * height}")
    r = radiance.float().reshape(height, fy, 2 * height, fx, 3)
    # weight rows by their solid angle (cos latitude) within each block
    lat = math.pi / 2 - math.pi * (torch.arange(Hp, dtype=torch.float32) + 0.5) / Hp
    w = lat.cos().clamp(min=1e-6).reshape(height, fy, 1, 1, 1)
    return (r * w).sum((1, 3)) / (w.sum(1).reshape(height, 1, 1) * fx)


def panorama_sh(radiance: torch.Tensor, R: torch.Tensor, yaw: float = 0.0) -> torch.Tensor:
    """Order-2 irradiance SH (9, 3) float64 in the camera frame of world-to-camera rotation
    ``R`` (3, 3), from a (h, 2h, 3) panorama turned by ``yaw`` (use a small one from
    :func:`downsample_panorama`: 32 x 64 is exact to well under 1 %)."""
    h, w, _ = radiance.shape
    d, omega = equirect_directions(h, w)
    M = R.double() @ _yaw_matrix(yaw)  # panorama frame -> world -> camera
    basis = sh_basis(d.reshape(-1, 3) @ M.T)  # (N, 9)
    L = (basis * omega.reshape(-1, 1)).T @ radiance.double().reshape(-1, 3)  # (9, 3)
    return L * SH_BAND_FACTORS[:, None]


def _view_coords(R: torch.Tensor, K: torch.Tensor, height: int, width: int, yaw: float, Hp: int, Wp: int):
    """Panorama pixel coordinates (u unwrapped around the view centre, v) of every image pixel,
    computed exactly on a grid of every ~8th pixel and interpolated between (the mapping is
    smooth over a view that holds no pole; this is ~10x cheaper than per pixel)."""
    gh, gw = max(2, -(-(height - 1) // 8) + 1), max(2, -(-(width - 1) // 8) + 1)
    ys, xs = torch.meshgrid(
        torch.linspace(0, height - 1, gh, dtype=torch.float64),
        torch.linspace(0, width - 1, gw, dtype=torch.float64),
        indexing="ij",
    )
    pix = torch.stack([xs, ys, torch.ones_like(xs)], -1).reshape(-1, 3)
    M = R.double() @ _yaw_matrix(yaw)  # panorama frame -> camera
    d = pix @ torch.linalg.inv(K.double()).T @ M  # rows: M^T K^-1 p, the ray in the panorama frame
    d = d / d.norm(dim=-1, keepdim=True)
    u = (math.pi - torch.atan2(d[:, 1], d[:, 0])) / (2 * math.pi) * Wp - 0.5
    v = (math.pi / 2 - torch.asin(d[:, 2].clamp(-1, 1))) / math.pi * Hp - 0.5
    mid = u[(gh // 2) * gw + gw // 2]
    u = mid + torch.remainder(u - mid + Wp / 2, Wp) - Wp / 2  # no jump across the seam
    coarse = torch.stack([u, v]).reshape(1, 2, gh, gw).float()
    fine = torch.nn.functional.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=True)[0]
    return fine[0].reshape(-1), fine[1].reshape(-1)


def pad_panorama(radiance: torch.Tensor) -> torch.Tensor:
    """(Hp, Wp, 3) panorama -> (1, 3, Hp, Wp + 2) float32 with one wrapped column on each side,
    the form :func:`panorama_view` samples (prepare it once per panorama)."""
    x = radiance.float().permute(2, 0, 1)
    return torch.cat([x[:, :, -1:], x, x[:, :, :1]], -1)[None].contiguous()


def panorama_view(
    radiance: torch.Tensor, R: torch.Tensor, K: torch.Tensor, height: int, width: int, yaw: float = 0.0
) -> torch.Tensor:
    """The panorama seen by a camera: (height, width, 3) float32 radiance (bilinear, wrapping in
    longitude).

    Args:
        radiance: (Hp, Wp, 3) panorama, or its :func:`pad_panorama` form (1, 3, Hp, Wp + 2).
        R: (3, 3) world-to-camera rotation; K: (3, 3) intrinsics of the view (pixel centres at
            integers); yaw: turn of the panorama about the world z axis, radians.
    """
    padded = radiance if radiance.ndim == 4 else pad_panorama(radiance)
    Hp, Wp = padded.shape[2], padded.shape[3] - 2
    u, v = _view_coords(R, K, height, width, yaw, Hp, Wp)
    gx = (torch.remainder(u, Wp) + 1) * (2.0 / (Wp + 1)) - 1
    gy = v * (2.0 / (Hp - 1)) - 1
    grid = torch.stack([gx, gy], -1).reshape(1, height, width, 2)
    out = torch.nn.functional.grid_sample(padded, grid, mode="bilinear", padding_mode="border", align_corners=True)
    return out[0].permute(1, 2, 0)


def tone_map(radiance: torch.Tensor, exposure: float, gamma: float = 2.2) -> torch.Tensor:
    """(H, W, 3) linear radiance -> (3, H, W) float32 display values in [0, 1]:
    ``clip(exposure L, 0, 1) ** (1 / gamma)`` (quantise with :func:`vivid.core.fileio.to_uint8`)."""
    return (radiance.float() * exposure).clamp(0, 1).pow(1.0 / gamma).permute(2, 0, 1).contiguous()


def peak_irradiance(sh: torch.Tensor) -> float:
    """The largest luminance of the irradiance ``E(n)`` of SH ``sh`` (9, 3) over directions
    (sampled on a 16 x 32 grid); a rotation of the light leaves it unchanged."""
    d, _ = equirect_directions(16, 32)
    E = sh_basis(d.reshape(-1, 3)) @ sh.double()  # (N, 3)
    return float(luminance(E).max().clamp(min=1e-12))


def exposed_lighting(sh: torch.Tensor, key: float, peak: float | None = None) -> tuple[torch.Tensor, float]:
    """Display lighting (9, 3) and the exposure for irradiance SH ``sh`` (9, 3): the exposure
    makes a white Lambertian surface facing the brightest direction show ``key``
    (``max_n lum(E(n)) / pi * exposure = key``); the lighting is ``sh * exposure / pi``.
    ``peak``: :func:`peak_irradiance` of ``sh`` when already known."""
    exposure = key * math.pi / (peak if peak is not None else peak_irradiance(sh))
    return sh * exposure / math.pi, exposure


def random_yaw(rng: np.random.Generator) -> float:
    """A uniform turn of the panorama about the vertical."""
    return float(rng.uniform(-math.pi, math.pi))
