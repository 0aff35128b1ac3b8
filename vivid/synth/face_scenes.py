"""Heads: the ``face`` kind."""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import torch

from vivid.core.fileio import to_uint8
from vivid.core.geometry import euler_to_matrix, intrinsics_from_fov, look_at, world_to_camera
from vivid.core.render import render
from vivid.synth.camera_effects import draw_effects, optical_effects, sensor_effects
from vivid.synth.cameras import bounding_sphere, framing_distance
from vivid.synth.config import SceneConfig
from vivid.synth.generator import SceneGenerator
from vivid.synth.kit import HeadKit
from vivid.synth.labels import landmark_labels
from vivid.synth.samples import FaceSample

__all__ = ["FaceScenes"]


class FaceScenes(SceneGenerator):
    """Heads (the ``face`` kind): random identity (phenotype and face-shape local changes),
    expression (sparse facial actions), head pose, lighting, albedo and background, seen by a
    camera in front of the face: :class:`vivid.synth.samples.FaceSample`.
    """

    def __init__(self, cfg: SceneConfig, *, device: str = "cpu") -> None:
        super().__init__(cfg, device=device)
        self.head = HeadKit.get(self.device)

    def _identity(self, r: np.random.Generator) -> dict[str, np.ndarray]:
        """One head's draws: phenotype (6,), local changes (L,), expression (E,), albedo
        coefficients (A,) and the head rotation angles (3,) in radians."""
        head = self.head.model
        L, E, A = len(head.local_change_names), len(head.expression_names), len(head.ALBEDO_BASES)
        phen = self._phenotype(r)
        changes = r.uniform(-0.7, 0.7, L) * (r.random(L) < 0.5)
        expr = r.uniform(0, 1, E) * (r.random(E) < 4.0 / E)  # ~4 active actions
        alb = 0.8 * r.standard_normal(A)
        # the "tone" basis scales the skin by (1 - 0.3 c): c up to 2.2 reaches dark skin tones
        alb[list(head.ALBEDO_BASES).index("tone")] = r.uniform(-1.2, 2.2)
        ang = np.radians([r.uniform(-20, 20), r.uniform(-12, 12), r.uniform(-45, 45)])
        return {"phenotype": phen, "local_changes": changes, "expression": expr, "albedo": alb, "angles": ang}

    def _camera(self, r: np.random.Generator, verts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A camera in front of the face (-y), a little above or below and to the side, framing
        the head's vertices (V, 3): K (3, 3) float32, R (3, 3) and t (3,) float64."""
        c = self.cfg
        centre, radius = bounding_sphere(verts)
        fov = float(r.uniform(*c.camera.fov_deg))
        dist = framing_distance(radius, fov, c.height, c.width) * r.uniform(1.0, 1.6)
        az = math.radians(-90 + r.uniform(-15, 15))
        el = math.radians(r.uniform(-10, 15))
        eye = centre + dist * np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
        R, t = look_at(
            torch.from_numpy(eye), torch.from_numpy(centre), torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
        )
        return intrinsics_from_fov(fov_deg=fov, height=c.height, width=c.width), R, t

    def generate_batch(self, indices: list[int]) -> list[FaceSample]:
        from vivid.core.body import HEAD_PART_NAMES

        c, head = self.cfg, self.head.model
        indices = list(indices)
        if not indices:
            return []
        rngs = [self._rng(i) for i in indices]
        draws = [self._identity(r) for r in rngs]
        phen, changes, expr, alb, ang = (np.stack([d[k] for d in draws]) for k in draws[0])
        Rg = euler_to_matrix(ang)  # pitch (x), roll (y), yaw (z) in the head frame
        f = lambda a: torch.from_numpy(np.ascontiguousarray(a)).float().to(self.device)  # noqa: E731
        with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
            out = head(phenotype=f(phen), local_changes=f(changes), expression=f(expr), global_rot=f(Rg))
            albedo = head.albedo(f(alb))
        verts, lms, albedo = out.vertices.float().cpu(), out.landmarks.float().cpu(), albedo.float().cpu()
        Ks, Rs, ts, shs, bgs = [], [], [], [], []
        for b, r in enumerate(rngs):
            K, R, t = self._camera(r, verts[b])
            Ks.append(K)
            Rs.append(R.float())
            ts.append(t.float())
            bg, sh = self._backdrop(r, R, K, c.height, c.width)
            shs.append(sh)
            bgs.append(bg)
        K, R, t = torch.stack(Ks), torch.stack(Rs), torch.stack(ts)
        vc = world_to_camera(verts, R, t)
        lc = world_to_camera(lms, R, t)
        rend = render(
            vc,
            head.faces.cpu(),
            K,
            c.height,
            c.width,
            albedo=albedo,
            sh=torch.from_numpy(np.stack(shs)).float(),
            background=torch.stack(bgs),
            face_labels=head.face_parts.cpu(),
            supersample=c.supersample,
        )
        face_ids = torch.tensor([HEAD_PART_NAMES.index(n) for n in ("face", "eyes", "mouth")])
        samples = []
        for b in range(len(rngs)):
            parts, depth = rend.labels[b], rend.depth[b]
            uv, vis = landmark_labels(lc[b], K[b], depth)
            d = draw_effects(rngs[b], c.effects)  # None (and no draws) with the effects off
            image = rend.rgb[b]
            if d is not None:
                image = sensor_effects(d, optical_effects(d, image, bgs[b], (parts > 0).float()))
            samples.append(
                FaceSample(
                    image=to_uint8(image),
                    mask=torch.isin(parts, face_ids).numpy(),
                    head_mask=(parts > 0).numpy(),
                    parts=parts.numpy().astype(np.uint8),
                    depth=depth.numpy().astype(np.float32),
                    vertices=vc[b].numpy().astype(np.float32),
                    landmarks2d=uv,
                    landmarks3d=lc[b].numpy().astype(np.float32),
                    landmark_visibility=vis,
                    pose_R=(R[b].double() @ torch.from_numpy(Rg[b])).numpy().astype(np.float32),
                    pose_t=t[b].numpy().astype(np.float32),
                    K=K[b].numpy(),
                    R=R[b].numpy(),
                    t=t[b].numpy(),
                    sh=shs[b].astype(np.float32),
                    albedo=alb[b].astype(np.float32),
                    expression=expr[b].astype(np.float32),
                    phenotype=phen[b].astype(np.float32),
                    local_changes=changes[b].astype(np.float32),
                )
            )
        return samples
