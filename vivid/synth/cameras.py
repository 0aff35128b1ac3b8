"""Random cameras around a body: field of view, distance, height, azimuth; still or moving.

World frame: Anny's (x = the body's left at rest, y backwards, z up, metres). Camera frame and
intrinsics follow :mod:`vivid.core.geometry` (x right, y down, z forward; ``X_cam = R X + t``)
and the renderer's pixel-centre convention (``cx = (W - 1) / 2``).

Framing: the camera looks at the centre of the body's bounding sphere (radius ``r``) from the
distance at which the sphere fills the narrower field of view, ``d = r / sin(fov_min / 2)``,
times a random factor. ``full`` framing keeps the factor >= 1 (the whole body is in the frame);
``partial`` framing moves closer (factor < 1) and aims off-centre so that parts leave the frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from vivid.core.geometry import intrinsics_from_fov, look_at

__all__ = ["Camera", "CameraConfig", "bounding_sphere", "framing_distance", "sample_camera", "sample_camera_path"]


@dataclass
class Camera:
    """Pinhole camera(s). For a path, tensors carry a leading T dimension.

    Attributes:
        K: (3, 3) or (T, 3, 3) float32 intrinsics.
        R: (3, 3) or (T, 3, 3) float32 world->camera rotation.
        t: (3,) or (T, 3) float32 world->camera translation.
        fov_deg: field of view across the larger image side.
    """

    K: torch.Tensor
    R: torch.Tensor
    t: torch.Tensor
    fov_deg: float

    def __getitem__(self, i: int) -> "Camera":
        return Camera(self.K[i], self.R[i], self.t[i], self.fov_deg)


@dataclass
class CameraConfig:
    """Ranges the random cameras are drawn from.

    Attributes:
        fov_deg: (min, max) field of view across the larger image side, degrees.
        distance_factor: (min, max) multiple of the distance that just fits the body (full framing).
        partial_distance_factor: (min, max) the same for partial framing (< 1 crops the body).
        partial_prob: probability of partial framing.
        elevation_deg: (min, max) camera elevation above the body centre, degrees.
        roll_deg: max absolute camera roll.
        move_prob: probability that a video camera moves (else it stays fixed).
        max_orbit_deg_per_s: max azimuth speed of a moving camera.
    """

    fov_deg: tuple[float, float] = (40.0, 70.0)
    distance_factor: tuple[float, float] = (1.0, 1.35)
    partial_distance_factor: tuple[float, float] = (0.45, 0.8)
    partial_prob: float = 0.2
    elevation_deg: tuple[float, float] = (-10.0, 30.0)
    roll_deg: float = 4.0
    move_prob: float = 0.5
    max_orbit_deg_per_s: float = 12.0


def bounding_sphere(points: torch.Tensor) -> tuple[np.ndarray, float]:
    """Centre (3,) float64 of the bounding box of (N, 3) points and the radius of the sphere
    around it that holds them all."""
    lo, hi = points.aminmax(dim=0)
    centre = 0.5 * (lo + hi)
    return centre.double().numpy(), float((points - centre).square().sum(-1).max().sqrt())


def framing_distance(radius: float, fov_deg: float, height: int, width: int) -> float:
    """Distance at which a sphere of ``radius`` just fills the narrower field of view of a camera
    with ``fov_deg`` across the larger side of a ``height`` x ``width`` image:
    ``r / sin(fov_min / 2)``."""
    fov_min = 2 * math.atan(math.tan(math.radians(fov_deg) / 2) * min(height, width) / max(height, width))
    return radius / math.sin(fov_min / 2)


def _extrinsics(eye: np.ndarray, target: np.ndarray, roll: float) -> tuple[torch.Tensor, torch.Tensor]:
    R, t = look_at(torch.from_numpy(eye), torch.from_numpy(target), torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64))
    if roll:
        c, s = math.cos(roll), math.sin(roll)
        Rz = torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
        R, t = Rz @ R, Rz @ t
    return R.float(), t.float()


def _eye(centre: np.ndarray, dist: float, azim: float, elev: float) -> np.ndarray:
    return centre + dist * np.array([math.cos(elev) * math.cos(azim), math.cos(elev) * math.sin(azim), math.sin(elev)])


def _draw(rng: np.random.Generator, cfg: CameraConfig, height: int, width: int, radius: float):
    fov = float(rng.uniform(*cfg.fov_deg))
    partial = bool(rng.random() < cfg.partial_prob)
    factor = float(rng.uniform(*(cfg.partial_distance_factor if partial else cfg.distance_factor)))
    dist = framing_distance(radius, fov, height, width) * factor
    azim = float(rng.uniform(-math.pi, math.pi))
    elev = math.radians(float(rng.uniform(*cfg.elevation_deg)))
    roll = math.radians(float(rng.uniform(-cfg.roll_deg, cfg.roll_deg)))
    # partial framing aims off-centre by up to half the radius
    aim = rng.uniform(-0.5, 0.5, size=3) * radius if partial else np.zeros(3)
    return fov, dist, azim, elev, roll, aim, partial


def sample_camera(
    rng: np.random.Generator,
    centre: np.ndarray,
    radius: float,
    height: int,
    width: int,
    cfg: CameraConfig | None = None,
) -> tuple[Camera, bool]:
    """A still camera looking at a body with bounding sphere (``centre`` (3,), ``radius`` m).

    Returns the camera and whether it frames the body partially."""
    cfg = cfg or CameraConfig()
    fov, dist, azim, elev, roll, aim, partial = _draw(rng, cfg, height, width, radius)
    centre = np.asarray(centre, dtype=np.float64)
    R, t = _extrinsics(_eye(centre, dist, azim, elev), centre + aim, roll)
    return Camera(intrinsics_from_fov(fov_deg=fov, height=height, width=width), R, t, fov), partial


def sample_camera_path(
    rng: np.random.Generator,
    centres: np.ndarray,
    radius: float,
    height: int,
    width: int,
    fps: float,
    cfg: CameraConfig | None = None,
) -> tuple[Camera, bool]:
    """A camera for a T-frame clip whose body centres are ``centres`` (T, 3).

    The camera is fixed (looking at the mean centre, far enough for the whole path) or moves
    slowly: it orbits at a constant small azimuth speed and pans to follow a smoothed body centre.
    Returns a :class:`Camera` with a leading T dimension and whether it moves."""
    cfg = cfg or CameraConfig()
    centres = np.asarray(centres, dtype=np.float64)
    T = centres.shape[0]
    moving = bool(rng.random() < cfg.move_prob)
    fov, dist, azim, elev, roll, aim, _ = _draw(rng, cfg, height, width, radius)
    K = intrinsics_from_fov(fov_deg=fov, height=height, width=width).expand(T, 3, 3).clone()
    Rs, ts = [], []
    if moving:
        # exponential smoothing of the body centre, forwards then backwards (no lag)
        smooth = centres.copy()
        a = 0.15
        for i in range(1, T):
            smooth[i] = (1 - a) * smooth[i - 1] + a * smooth[i]
        for i in range(T - 2, -1, -1):
            smooth[i] = (1 - a) * smooth[i + 1] + a * smooth[i]
        rate = math.radians(float(rng.uniform(-cfg.max_orbit_deg_per_s, cfg.max_orbit_deg_per_s)))
        for i in range(T):
            az = azim + rate * i / fps
            R, t = _extrinsics(_eye(smooth[i], dist, az, elev), smooth[i] + aim, roll)
            Rs.append(R)
            ts.append(t)
    else:
        mid = 0.5 * (centres.min(0) + centres.max(0))
        spread = 0.5 * float(np.linalg.norm(centres.max(0) - centres.min(0)))
        dist = dist * (radius + spread) / radius  # the sphere around the whole path fits
        R, t = _extrinsics(_eye(mid, dist, azim, elev), mid + aim, roll)
        Rs, ts = [R] * T, [t] * T
    return Camera(K, torch.stack(Rs), torch.stack(ts), fov), moving
