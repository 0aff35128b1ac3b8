"""Posed, dressed, lit Anny bodies: the machinery of the body, video and try-on kinds, and the
``body`` kind itself (:class:`BodyScenes`, one image of one person)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vivid.core.fileio import to_uint8
from vivid.core.geometry import world_to_camera
from vivid.core.render import Rasterization, rasterize, render
from vivid.synth import appearance as app
from vivid.synth.camera_effects import EffectDraw, draw_effects, gaussian_blur, optical_effects, sensor_effects
from vivid.synth.cameras import Camera, bounding_sphere, sample_camera
from vivid.synth.config import SceneConfig
from vivid.synth.fabrics import FABRIC_KIND, FabricBank
from vivid.synth.generator import SceneGenerator
from vivid.synth.kit import BodyKit
from vivid.synth.labels import frame_labels, rotvec
from vivid.synth.motion import MotionSampler, procedural_motion
from vivid.synth.occluders import Occlusion, apply_occlusion, mask_box, shape_occluder
from vivid.synth.samples import BodySample

__all__ = ["Look", "Frames", "PersonScenes", "BodyScenes"]


@dataclass
class Look:
    """How a person looks: garment texture (3, S, S) and its kind, and (3,) colours in [0, 1]
    of skin, trousers, shoes and hair; ``long_legs``: trousers (else shorts)."""

    texture: torch.Tensor
    garment_kind: str
    skin: np.ndarray
    trousers: np.ndarray
    shoes: np.ndarray
    hair: np.ndarray
    long_legs: bool


@dataclass
class Frames:
    """A rendered batch of B frames (CPU tensors).

    Attributes:
        rgb: (B, 3, H, W) float in [0, 1]; triangle_id: (B, H, W) int64 (-1 background);
        depth: (B, H, W) metres (0 background); parts: (B, H, W) int64 (0 background);
        garment: (B, H, W) bool; rast: the rasterisation.
    """

    rgb: torch.Tensor
    triangle_id: torch.Tensor
    depth: torch.Tensor
    parts: torch.Tensor
    garment: torch.Tensor
    rast: Rasterization


class PersonScenes(SceneGenerator):
    """The body kinds' shared machinery: body model, motion sampler, looks and rendering.

    Garment textures come from a bank like the backgrounds (entry ``j`` from
    ``default_rng([seed, 1, j])``), each use recoloured by a channel permutation and gains.
    With ``fabrics_dir`` the bank holds :data:`FABRIC_BANK` entries, a share ``fabric_prob``
    of them patches of real garment photos (:class:`vivid.synth.fabrics.FabricBank`, decided by
    ``default_rng([seed, 4, j])``), the rest procedural as before.
    """

    FABRIC_BANK = 256

    def __init__(self, cfg: SceneConfig, *, device: str = "cpu") -> None:
        super().__init__(cfg, device=device)
        self.kit = BodyKit.get(self.device)
        self.motions = MotionSampler(
            self.kit.rig,
            sources=tuple(cfg.motion_sources),
            mocap=list(cfg.mocap) if cfg.mocap is not None else None,
            fps=cfg.fps,
        )
        self._tex_bank: dict[int, tuple[torch.Tensor, str]] = {}
        self.fabrics = FabricBank(cfg.fabrics_dir, cfg.seed) if cfg.fabrics_dir else None
        self._tex_bank_size = self.FABRIC_BANK if self.fabrics is not None else self.BANK

    def warm_up(self) -> None:
        """Fill the appearance banks now and load what procedural motion needs."""
        if "procedural" in self.cfg.motion_sources:
            procedural_motion(np.random.default_rng(0), self.kit.rig, 2)
        for j in range(self._tex_bank_size):
            self._garment_entry(j)
        super().warm_up()

    # -- random draws

    def _garment_entry(self, j: int) -> tuple[torch.Tensor, str]:
        if j not in self._tex_bank and self.fabrics is not None:
            if np.random.default_rng([int(self.cfg.seed), 4, j]).random() < self.cfg.fabric_prob:
                self._tex_bank[j] = (self.fabrics.patch(j), FABRIC_KIND)
        if j not in self._tex_bank:
            kinds = tuple(self.cfg.garment_kinds)
            self._tex_bank[j] = app.garment_texture(
                np.random.default_rng([int(self.cfg.seed), 1, j]), kinds[j % len(kinds)]
            )
        return self._tex_bank[j]

    def _garment(self, rng: np.random.Generator) -> tuple[torch.Tensor, str]:
        """A garment texture (3, S, S) from the bank, recoloured, and its kind."""
        tex, kind = self._garment_entry(int(rng.integers(self._tex_bank_size)))
        perm = torch.from_numpy(rng.permutation(3))
        gain = torch.from_numpy(rng.uniform(0.7, 1.2, 3).astype(np.float32))[:, None, None]
        return (tex[perm] * gain).clamp(0, 1), kind

    def _look(self, rng: np.random.Generator) -> Look:
        tex, kind = self._garment(rng)
        return Look(
            texture=tex,
            garment_kind=kind,
            skin=app.skin_tone(rng, tuple(self.cfg.skin_tones)),
            trousers=app._colour(rng) * rng.uniform(0.4, 0.9),
            shoes=np.full(3, rng.uniform(0.05, 0.4)),
            hair=np.array([0.08, 0.06, 0.05]) + rng.uniform(0, 0.35) * np.array([0.9, 0.7, 0.45]),
            long_legs=bool(rng.random() < 0.65),
        )

    def _albedo(self, look: Look) -> torch.Tensor:
        """Per-vertex albedo (V, 3): skin, trousers or shorts, shoes, hair."""
        return self.kit.vertex_albedo(look.skin, look.trousers, look.shoes, look.hair, look.long_legs)

    # -- rendering

    def _render(
        self,
        verts_cam: torch.Tensor,
        K: torch.Tensor,
        albedo: torch.Tensor,
        textures: list[torch.Tensor],
        sh_cam: np.ndarray,
        bg: torch.Tensor,
    ) -> Frames:
        """Render B frames.

        Args:
            verts_cam: (B, V, 3) camera frame; K: (B, 3, 3); albedo: (B, V, 3) or (V, 3);
            textures: B garment textures (3, S, S) (or one for all); sh_cam: (B, 9, 3);
            bg: (B, 3, H, W).

        Uses :func:`vivid.core.render.render` (no-grad path: shading on covered pixels only),
        with the garment texture wrapped around the body (see :class:`BodyKit`).
        """
        c, kit = self.cfg, self.kit
        B = verts_cam.shape[0]
        if len(textures) == 1 and B > 1:
            textures = textures * B
        tex = torch.stack([torch.cat([t, t], -1) for t in textures])  # tiled twice across: see BodyKit.tex_uv
        out = render(
            verts_cam,
            kit.faces,
            K,
            c.height,
            c.width,
            albedo=albedo,
            sh=torch.from_numpy(np.ascontiguousarray(sh_cam)).float(),
            background=bg,
            face_labels=kit.face_parts,
            texture=tex,
            uv=kit.tex_uv,
            uv_faces=kit.tex_uv_faces,
            texture_faces=kit.garment_faces,
            supersample=c.supersample,
            cull_backfaces=True,  # the body mesh is closed: back faces are never seen (and skipping them is faster)
        )
        tri = out.triangle_id
        garment = (tri >= 0) & kit.garment_faces[tri.clamp(min=0)]
        rast = out.rast
        if c.supersample > 1:  # flow needs the rasterisation at the output resolution
            rast = rasterize(verts_cam, kit.faces, K, c.height, c.width, cull_backfaces=True)
        return Frames(out.rgb.clamp(0, 1), tri, out.depth, out.labels, garment, rast)


class BodyScenes(PersonScenes):
    """Single images of one person (the ``body`` kind): :class:`vivid.synth.samples.BodySample`."""

    def generate_batch(self, indices: list[int]) -> list[BodySample]:
        c, kit = self.cfg, self.kit
        indices = list(indices)
        if not indices:
            return []
        rngs = [self._rng(i) for i in indices]
        phens = np.stack([self._phenotype(r) for r in rngs])
        motions = [self.motions.pose(r) for r in rngs]
        looks = [self._look(r) for r in rngs]
        deltas = np.concatenate([m.deltas(kit.rig) for m in motions])
        verts, h36m, coco = kit.pose(deltas, phens)
        Ks, Rs, ts, shs, bgs, partial = [], [], [], [], [], []
        for b, r in enumerate(rngs):
            centre, radius = bounding_sphere(verts[b])
            cam, part = sample_camera(r, centre, radius, c.height, c.width, c.camera)
            bg, sh = self._backdrop(r, cam.R, cam.K, c.height, c.width)
            Ks.append(cam.K)
            Rs.append(cam.R)
            ts.append(cam.t)
            shs.append(sh)
            bgs.append(bg)
            partial.append(part)
        K, R, t = torch.stack(Ks), torch.stack(Rs), torch.stack(ts)
        vc = world_to_camera(verts, R, t)
        albedo = torch.stack([self._albedo(look) for look in looks])
        fr = self._render(vc, K, albedo, [look.texture for look in looks], np.stack(shs), torch.stack(bgs))
        jc, cc = world_to_camera(h36m, R, t), world_to_camera(coco, R, t)
        rotvecs = rotvec(deltas).astype(np.float32)  # one call for the batch
        labels = [frame_labels(fr, b, vc, jc, cc, K, R, t, kit, vertices=c.vertices).to_arrays() for b in range(len(rngs))]
        if c.effects.enabled() or c.occluders.enabled():
            self._realism(rngs, fr, torch.stack(bgs), vc, Camera(K, R, t, 0.0), shs, labels)
        return [
            BodySample(
                **labels[b],
                phenotype=phens[b].astype(np.float32),
                pose=rotvecs[b],
                joint_angles=motions[b].angles[0].astype(np.float32),
                root=motions[b].root[0].astype(np.float32),
                translation=motions[b].translation[0].astype(np.float32),
                sh=shs[b].astype(np.float32),
                partial=np.array(partial[b]),
            )
            for b in range(len(indices))
        ]

    # -- realism: occluders and camera effects (pixels and visibility only)

    def _realism(self, rngs, fr: Frames, bgs: torch.Tensor, vc: torch.Tensor, cams: Camera, shs, labels) -> None:
        """Occluders and camera effects on a rendered batch, in place on ``labels`` (the arrays
        of each frame: the image and, under occluders, mask, parts, garment, depth and joint
        visibility: the person's labels say what is seen, so the occluded region is where the
        mask of the same sample without occluders is set and this one is not). Each image's
        draws come from its own stream after the scene's."""
        c = self.cfg
        effects = [draw_effects(r, c.effects) for r in rngs]
        fronts = self._people_in_front(rngs, fr, vc, cams, shs)
        occ = c.occluders
        for b, r in enumerate(rngs):
            d = effects[b]
            alpha = fr.triangle_id[b] >= 0
            img = optical_effects(d, fr.rgb[b], bgs[b], alpha.float())
            focus = float(fr.depth[b][alpha].median()) if alpha.any() else 0.0
            layers: list[tuple[Occlusion, float]] = []
            if b in fronts:
                layers.append(fronts[b])
            box = mask_box(alpha)
            if occ.prob > 0 and box is not None and r.random() < occ.prob:
                for _ in range(int(r.integers(1, occ.max_count + 1))):
                    depth = focus * float(r.uniform(0.3, 0.8))
                    layers.append((shape_occluder(r, self._background(r, c.height, c.width), box, occ.size), depth))
            for layer, depth in sorted(layers, key=lambda x: -x[1]):  # far to near
                img = apply_occlusion(img, _defocused(layer, d, depth, focus), labels[b])
            labels[b]["image"] = to_uint8(sensor_effects(d, img))

    def _people_in_front(self, rngs, fr: Frames, vc: torch.Tensor, cams: Camera, shs) -> dict[int, tuple[Occlusion, float]]:
        """Another person between the camera and the person of each image that draws one
        (``occluders.person_prob``): posed, dressed and lit like the first, nearer (45-80 % of
        its depth) and to one side, so that it hides a part of it; rendered in one batch.
        Returns image index -> (occluding layer, its depth)."""
        c, kit = self.cfg, self.kit
        if c.occluders.person_prob <= 0:
            return {}
        chosen = [b for b, r in enumerate(rngs) if r.random() < c.occluders.person_prob]
        if not chosen:
            return {}
        rs = [rngs[b] for b in chosen]
        phens = np.stack([self._phenotype(r) for r in rs])
        motions = [self.motions.pose(r) for r in rs]
        looks = [self._look(r) for r in rs]
        verts = kit.pose(np.concatenate([m.deltas(kit.rig) for m in motions]), phens)[0]
        placed = []
        for k, (b, r) in enumerate(zip(chosen, rs)):
            main = vc[b].mean(0)
            v = world_to_camera(verts[k : k + 1], cams.R[b : b + 1], cams.t[b : b + 1])[0]
            centre, radius = v.mean(0), float(bounding_sphere(v)[1])
            z = float(main[2]) * float(r.uniform(0.45, 0.8))
            side = float(r.choice([-1.0, 1.0])) * float(r.uniform(0.2, 0.7)) * radius
            target = torch.tensor([float(main[0]) * z / float(main[2]) + side, float(main[1]) * z / float(main[2]), z])
            placed.append(v - centre + target)
        vo = torch.stack(placed)
        idx = torch.tensor(chosen)
        zeros = torch.zeros(len(chosen), 3, c.height, c.width)
        fo = self._render(vo, cams.K[idx], torch.stack([self._albedo(lk) for lk in looks]), [lk.texture for lk in looks],
                          np.stack([shs[b] for b in chosen]), zeros)
        out = {}
        for k, b in enumerate(chosen):
            seen = fo.triangle_id[k] >= 0
            main_depth = fr.depth[b]
            alpha = (seen & ((main_depth <= 0) | (fo.depth[k] < main_depth))).float()
            z = float(fo.depth[k][seen].median()) if seen.any() else 0.0
            out[b] = (Occlusion(fo.rgb[k] * alpha[None], alpha), z)
        return out


def _defocused(layer: Occlusion, d: EffectDraw | None, depth: float, focus: float) -> Occlusion:
    """An occluding layer blurred for its depth (thin lens, as :func:`optical_effects`)."""
    if d is None or not d.defocus or focus <= 0:
        return layer
    sigma = d.sigma_at(depth, focus)
    both = gaussian_blur(torch.cat([layer.rgb, layer.alpha[None]]), sigma)
    return Occlusion(both[:3], both[3].clamp(0, 1))
