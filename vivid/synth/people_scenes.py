"""Several people per image, for people detection: :class:`PeopleScenes` -> :class:`PeopleSample`.

A scene is a camera at standing height above flat ground looking out (a little up or down), and
0 to 4 people (:class:`PeopleConfig`) standing on the ground at different distances and
directions, some cut by the frame edge, some hidden behind others, all rendered in one pass (one
mesh holding every body; each body's garment texture in its own band of a texture atlas) in
front of a real backdrop when the config gives one (an HDR panorama seen by the same camera and
lit by it, or a photo), else a procedural one. Occluders and camera effects follow the config as
in the body kind. Images with zero people are the negatives.

Usage::

    from vivid.synth.people_scenes import PeopleScenes
    from vivid.synth.scenes import SceneConfig

    gen = PeopleScenes(SceneConfig(height=256, width=256, seed=0, hdri_dir="photos/backgrounds/hdri"))
    s = gen.generate(0)     # s.image (H, W, 3) uint8, s.boxes (N, 4), s.joints2d (N, 17, 2), ...

Every person whose visible region has at least :data:`MIN_PIXELS` pixels is labelled; the others
(fully hidden or out of the frame) are left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from vivid.core.fileio import to_uint8
from vivid.core.geometry import intrinsics_from_fov, look_at, project, world_to_camera
from vivid.core.render import render
from vivid.synth.body_scenes import PersonScenes
from vivid.synth.camera_effects import draw_effects, optical_effects, sensor_effects
from vivid.synth.config import SceneConfig
from vivid.synth.labels import joint_labels
from vivid.synth.occluders import mask_box, occlude_labels, shape_occluder
from vivid.synth.samples import Sample

__all__ = ["PeopleConfig", "PeopleSample", "PeopleScenes", "MIN_PIXELS"]

MIN_PIXELS = 20


@dataclass
class PeopleConfig:
    """Ranges of the multi-person scenes.

    Attributes:
        count: (min, max) number of people (inclusive; 0 gives a negative image).
        distance: (min, max) distance of a person from the camera along the ground, metres.
        camera_height: (min, max) metres above the ground; pitch_deg: (min, max) camera tilt
            (negative: looking down).
        spread: how far to the side people stand, as a multiple of the half field of view
            (above 1: some are cut by the frame edge).
    """

    count: tuple[int, int] = (0, 4)
    distance: tuple[float, float] = (2.5, 11.0)
    camera_height: tuple[float, float] = (0.9, 2.2)
    pitch_deg: tuple[float, float] = (-18.0, 6.0)
    spread: float = 1.15


@dataclass(kw_only=True, eq=False)
class PeopleSample(Sample):
    """One image of N >= 0 people (people detection). People are ordered near to far.

    Joints are the COCO-17 keypoints (Anny's COCO regressor), in pixels (x, y)."""

    image: np.ndarray
    """uint8 (H, W, 3)."""
    boxes: np.ndarray
    """float32 (N, 4): x0, y0, x1, y1 of each person's visible mask (full body as seen)."""
    amodal_boxes: np.ndarray
    """float32 (N, 4): the box of the whole projected body, hidden parts included, clipped to the image."""
    keypoint_boxes: np.ndarray
    """float32 (N, 4): the box of the visible keypoints (of all keypoints inside the image when
    none is visible)."""
    joints2d: np.ndarray
    """float32 (N, 17, 2): COCO keypoints in pixels."""
    visible: np.ndarray
    """float32 (N, 17): 1 where the keypoint is seen (not hidden by the body, another person or an occluder)."""
    masks: np.ndarray
    """bool (N, H, W): each person's visible pixels."""
    depth: np.ndarray
    """float32 (N,): each person's distance along the camera axis, metres."""
    K: np.ndarray
    """float32 (3, 3): intrinsics."""


def _box(xy: np.ndarray) -> np.ndarray:
    return np.array([xy[:, 0].min(), xy[:, 1].min(), xy[:, 0].max(), xy[:, 1].max()], dtype=np.float32)


class PeopleScenes(PersonScenes):
    """Images of several people over a backdrop (see the module docstring); ``cfg.kind`` is not
    used. Sample ``i`` comes from ``default_rng([seed, i])`` like every scene kind.

    Args:
        cfg: the scene config (size, seed, backdrops, fabrics, motion, effects, occluders).
        people: the ranges of :class:`PeopleConfig`.
    """

    def __init__(self, cfg: SceneConfig, *, people: PeopleConfig | None = None, device: str = "cpu") -> None:
        super().__init__(cfg, device=device)
        self.people = people or PeopleConfig()
        lo, hi = self.people.count
        if not 0 <= lo <= hi:
            raise ValueError(f"people count range {self.people.count} must satisfy 0 <= min <= max")

    def _camera(self, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
        c, p = self.cfg, self.people
        fov = float(rng.uniform(*c.camera.fov_deg))
        h = float(rng.uniform(*p.camera_height))
        pitch = math.radians(float(rng.uniform(*p.pitch_deg)))
        eye = torch.tensor([0.0, 0.0, h], dtype=torch.float64)
        target = eye + torch.tensor([0.0, 1.0, math.tan(pitch)], dtype=torch.float64)
        R, t = look_at(eye, target, torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64))
        return intrinsics_from_fov(fov_deg=fov, height=c.height, width=c.width), R.float(), t.float(), fov

    def generate(self, i: int) -> PeopleSample:
        c, kit, p = self.cfg, self.kit, self.people
        rng = self._rng(i)
        n = int(rng.integers(p.count[0], p.count[1] + 1))
        K, R, t, fov = self._camera(rng)
        bg, sh = self._backdrop(rng, R, K, c.height, c.width)
        H, W = c.height, c.width
        image, labels, depths = bg, [], []
        if n:
            phens = np.stack([self._phenotype(rng) for _ in range(n)])
            motions = [self.motions.pose(rng) for _ in range(n)]
            looks = [self._look(rng) for _ in range(n)]
            verts, _, coco = kit.pose(np.concatenate([m.deltas(kit.rig) for m in motions]), phens)
            dist = np.sort(rng.uniform(*p.distance, n)).tolist()
            half = math.radians(fov) / 2 * min(H, W) / max(H, W)
            placed_v, placed_j = [], []
            for k in range(n):
                yaw = float(rng.uniform(-math.pi, math.pi))
                rot = torch.tensor([[math.cos(yaw), -math.sin(yaw), 0.0], [math.sin(yaw), math.cos(yaw), 0.0], [0.0, 0.0, 1.0]])
                v, j = verts[k] @ rot.T, coco[k] @ rot.T
                lo, hi = v.aminmax(dim=0)
                ang = float(rng.uniform(-p.spread, p.spread)) * half
                spot = torch.tensor([dist[k] * math.sin(ang), dist[k] * math.cos(ang), 0.0], dtype=torch.float32)
                shift = spot - torch.tensor([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]])
                placed_v.append(world_to_camera(v + shift, R, t))
                placed_j.append(world_to_camera(j + shift, R, t))
            order = sorted(range(n), key=lambda k: float(placed_v[k][:, 2].median()))  # near to far
            image, labels, depths = self._render_people(
                rng, [placed_v[k] for k in order], [placed_j[k] for k in order], [looks[k] for k in order], K, sh, bg
            )
        else:
            d = draw_effects(rng, c.effects)
            image = to_uint8(sensor_effects(d, optical_effects(d, bg, bg, torch.zeros(H, W))))
        keep = [k for k, lab in enumerate(labels) if lab["mask"].sum() >= MIN_PIXELS]
        labels = [labels[k] for k in keep]
        return PeopleSample(
            image=image,
            boxes=np.array([mask_box(torch.from_numpy(lab["mask"])) for lab in labels], np.float32).reshape(-1, 4),
            amodal_boxes=np.stack([lab["amodal"] for lab in labels]) if labels else np.zeros((0, 4), np.float32),
            keypoint_boxes=np.stack([lab["kp_box"] for lab in labels]) if labels else np.zeros((0, 4), np.float32),
            joints2d=np.stack([lab["coco2d"] for lab in labels]) if labels else np.zeros((0, 17, 2), np.float32),
            visible=np.stack([lab["coco_visibility"] for lab in labels]) if labels else np.zeros((0, 17), np.float32),
            masks=np.stack([lab["mask"] for lab in labels]) if labels else np.zeros((0, H, W), bool),
            depth=np.array([depths[k] for k in keep], dtype=np.float32),
            K=K.numpy().astype(np.float32),
        )

    def _render_people(self, rng, verts: list[torch.Tensor], joints: list[torch.Tensor], looks, K, sh, bg):
        """Render N camera-frame bodies in one pass; per-person labels (dicts of arrays)."""
        c, kit = self.cfg, self.kit
        H, W = c.height, c.width
        n, V, F = len(verts), verts[0].shape[0], kit.faces.shape[0]
        T = kit.tex_uv.shape[0]
        faces = torch.cat([kit.faces + k * V for k in range(n)])
        # texture atlas: person k's (doubled) texture in band k from the top, v up
        atlas = torch.cat([torch.cat([lk.texture, lk.texture], -1) for lk in looks], 1)
        uv = torch.cat([torch.stack([kit.tex_uv[:, 0], (n - 1 - k + kit.tex_uv[:, 1].clamp(0, 1)) / n], -1) for k in range(n)])
        out = render(
            torch.cat(verts)[None],
            faces,
            K,
            H,
            W,
            albedo=torch.cat([self._albedo(lk) for lk in looks]),
            sh=torch.from_numpy(np.ascontiguousarray(sh)).float()[None],
            background=bg,
            face_labels=kit.face_parts.repeat(n),
            texture=atlas,
            uv=uv,
            uv_faces=torch.cat([kit.tex_uv_faces + k * T for k in range(n)]),
            texture_faces=kit.garment_faces.repeat(n),
            supersample=c.supersample,
            cull_backfaces=True,
        )
        tri, parts, depth = out.triangle_id[0], out.labels[0], out.depth[0]
        instance = torch.where(tri >= 0, tri // F, -1)
        labels, depths = [], []
        for k in range(n):
            own = instance == k
            j2d, vis = joint_labels(joints[k], K, depth, torch.where(own, parts, 0), kit.coco_parts)
            uv_all = project(verts[k], K).numpy()
            amodal = np.clip(_box(uv_all), 0, [W, H, W, H]).astype(np.float32)
            labels.append({"mask": own.numpy(), "coco2d": j2d, "coco_visibility": vis, "amodal": amodal})
            depths.append(float(verts[k][:, 2].median()))
        alpha = (tri >= 0).float()
        d = draw_effects(rng, c.effects)
        img = optical_effects(d, out.rgb[0].clamp(0, 1), bg, alpha)
        occ = c.occluders
        box = mask_box(tri >= 0)
        if occ.prob > 0 and box is not None and rng.random() < occ.prob:
            for _ in range(int(rng.integers(1, occ.max_count + 1))):
                layer = shape_occluder(rng, self._background(rng, H, W), box, occ.size)
                covered = (layer.alpha >= 0.5).numpy()
                for lab in labels:
                    occlude_labels(covered, lab)
                img = layer.rgb + (1 - layer.alpha[None]) * img
        for lab in labels:
            lab["kp_box"] = _keypoint_box(lab["coco2d"], lab["coco_visibility"], H, W)
        return to_uint8(sensor_effects(d, img)), labels, depths


def _keypoint_box(xy: np.ndarray, vis: np.ndarray, H: int, W: int) -> np.ndarray:
    """Box (4,) of the visible keypoints, else of those inside the image, else zeros."""
    inside = (xy[:, 0] >= 0) & (xy[:, 0] < W) & (xy[:, 1] >= 0) & (xy[:, 1] < H)
    sel = vis > 0.5 if (vis > 0.5).any() else inside
    return _box(xy[sel]) if sel.any() else np.zeros(4, np.float32)
