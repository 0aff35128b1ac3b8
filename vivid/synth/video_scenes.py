"""Clips of a moving body: the ``video`` kind (with optical flow between consecutive frames) and
the ``tryon`` kind (one clip rendered with two garments)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vivid.core.fileio import to_uint8
from vivid.core.geometry import project, world_to_camera
from vivid.core.render import Rasterization
from vivid.synth import appearance as app
from vivid.synth.body_scenes import Frames, Look, PersonScenes
from vivid.synth.camera_effects import EffectDraw, draw_effects, flow_motion_blur, h264_roundtrip, optical_effects, sensor_effects
from vivid.synth.cameras import Camera, bounding_sphere, sample_camera_path
from vivid.synth.fabrics import FABRIC_KIND
from vivid.synth.flow import surface_flow
from vivid.synth.labels import body_params, frame_labels
from vivid.synth.motion import Motion
from vivid.synth.samples import FrameLabels, TryonSample, VideoSample

__all__ = ["Clip", "VideoScenes", "TryonScenes"]


@dataclass
class Clip:
    """What one clip draws (everything but the garment's pixels), so that it can be rendered again
    with another garment.

    Attributes:
        phenotype: (6,); motion: its T frames; look: the person's look; deltas: (T, B, 3, 3)
        local-ref pose; verts (T, V, 3), h36m and coco (T, 17, 3): world frame; camera: with a
        leading T axis; moving: whether it moves; sh: (T, 9, 3) camera-frame lighting;
        backgrounds: (T, 3, H, W); shifts: (T, 2) integer pixel shift of the backdrop per frame.
    """

    phenotype: np.ndarray
    motion: Motion
    look: Look
    deltas: np.ndarray
    verts: torch.Tensor
    h36m: torch.Tensor
    coco: torch.Tensor
    camera: Camera
    moving: bool
    sh: np.ndarray
    backgrounds: torch.Tensor
    shifts: torch.Tensor


_KIND_INDEX = app.GARMENT_KINDS + (FABRIC_KIND,)  # a real-fabric garment is kind 5


def _single(r: Rasterization, b: int) -> Rasterization:
    return Rasterization(r.triangle_id[b : b + 1], r.barycentric[b : b + 1], r.depth[b : b + 1], r.height, r.width)


class VideoScenes(PersonScenes):
    """Clips of ``frames`` frames of one motion under a fixed or slowly moving camera (the
    ``video`` kind): :class:`vivid.synth.samples.VideoSample`."""

    def _clip(self, rng: np.random.Generator) -> Clip:
        c, kit = self.cfg, self.kit
        phen = self._phenotype(rng)
        motion = self.motions.sequence(rng, c.frames)
        look = self._look(rng)
        deltas = motion.deltas(kit.rig)
        verts, h36m, coco = kit.pose(deltas, phen)
        tr = torch.from_numpy(motion.translation).float()[:, None]
        verts, h36m, coco = verts + tr, h36m + tr, coco + tr
        spheres = [bounding_sphere(v) for v in verts]
        centres = np.stack([c for c, _ in spheres])
        radius = max(r for _, r in spheres)
        cam, moving = sample_camera_path(rng, centres, radius, c.height, c.width, c.fps, c.camera)
        panorama = self._panorama(rng)
        if panorama is not None:  # light from the panorama, in each frame's camera
            lit = [self.panoramas.lighting(panorama, cam.R[k]) for k in range(c.frames)]
            sh_cam, exposure = np.stack([sh for sh, _ in lit]), lit[0][1]
        else:
            sh_world, _ = app.random_sh(rng)
            sh_cam = np.stack([app.sh_to_camera(sh_world, cam.R[k].double().numpy()) for k in range(c.frames)])
        # The background is a distant backdrop: a wider image shifted by the image motion of the
        # direction the first camera looks along (integer pixels, so its flow is exact).
        fwd = cam.R[0].double().T @ torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
        shifts = (
            torch.stack(
                [
                    project((cam.R[k].double() @ fwd)[None], cam.K[k].double())[0] - cam.K[k, :2, 2].double()
                    for k in range(c.frames)
                ]
            )
            .round()
            .long()
        )
        shifts = shifts - shifts[0].clone()
        m = int(shifts.abs().max()) + 1
        if panorama is not None:  # the first camera's view, wider by m pixels on each side
            Kw = cam.K[0].clone()
            Kw[:2, 2] += m
            pano = self.panoramas.view(panorama, cam.R[0], Kw, c.height + 2 * m, c.width + 2 * m, exposure)
        else:
            pano = self._background(rng, c.height + 2 * m, c.width + 2 * m)
        bgs = torch.stack(
            [pano[:, m - int(s[1]) : m - int(s[1]) + c.height, m - int(s[0]) : m - int(s[0]) + c.width] for s in shifts]
        )
        return Clip(phen, motion, look, deltas, verts, h36m, coco, cam, moving, sh_cam, bgs, shifts)

    def _render_clip(self, clip: Clip, texture: torch.Tensor) -> tuple[FrameLabels, Frames, torch.Tensor]:
        """The clip with ``texture`` on the garment: labels (leading T axis), the rendered
        frames and the camera-frame vertices (T, V, 3)."""
        cam = clip.camera
        vc = world_to_camera(clip.verts, cam.R, cam.t)
        fr = self._render(vc, cam.K, self._albedo(clip.look), [texture], clip.sh, clip.backgrounds)
        jc, cc = world_to_camera(clip.h36m, cam.R, cam.t), world_to_camera(clip.coco, cam.R, cam.t)
        frames = [
            frame_labels(fr, k, vc, jc, cc, cam.K, cam.R, cam.t, self.kit, vertices=self.cfg.vertices)
            for k in range(vc.shape[0])
        ]
        return FrameLabels.stack(frames), fr, vc

    def _flows(self, fr: Frames, vc: torch.Tensor, K: torch.Tensor, shifts: torch.Tensor) -> dict[str, np.ndarray]:
        """Forward and backward flow between consecutive frames and their validity (the flow
        fields of :class:`VideoSample`)."""
        fw, fwv, bw, bwv = [], [], [], []
        for k in range(vc.shape[0] - 1):
            ra, rb = _single(fr.rast, k), _single(fr.rast, k + 1)
            s = (shifts[k + 1] - shifts[k]).tolist()
            f, v = surface_flow(ra, self.kit.faces, vc[k + 1], K[k + 1], rb, bg_shift=(s[0], s[1]))
            fw.append(f)
            fwv.append(v)
            f, v = surface_flow(rb, self.kit.faces, vc[k], K[k], ra, bg_shift=(-s[0], -s[1]))
            bw.append(f)
            bwv.append(v)
        return {
            "flow_fw": torch.stack(fw).numpy(),
            "flow_fw_valid": torch.stack(fwv).numpy(),
            "flow_bw": torch.stack(bw).numpy(),
            "flow_bw_valid": torch.stack(bwv).numpy(),
        }

    def generate(self, i: int) -> VideoSample:
        rng = self._rng(i)
        clip = self._clip(rng)
        labels, fr, vc = self._render_clip(clip, clip.look.texture)
        flows = self._flows(fr, vc, clip.camera.K, clip.shifts)
        draw = draw_effects(rng, self.cfg.effects)
        if draw is not None:
            labels.image = self._clip_effects(draw, fr, clip, flows)
        return VideoSample(
            **labels.to_arrays(),
            **body_params(clip.motion, clip.deltas, clip.phenotype, clip.sh).to_arrays(),
            **flows,
            moving_camera=np.array(clip.moving),
            fps=np.array(clip.motion.fps, dtype=np.float32),
        )


    def _clip_effects(self, d: EffectDraw, fr: Frames, clip: Clip, flows: dict[str, np.ndarray]) -> np.ndarray:
        """Camera effects on a clip (one draw for all frames): defocus per frame, motion blur
        along the true optical flow, exposure, white balance and noise, then H.264 (or, without
        it, JPEG per frame). Returns (T, H, W, 3) uint8."""
        still = EffectDraw(np.zeros(2), np.zeros(2), 0.0, d.defocus, d.gains, d.noise, d.jpeg, d.crf, d.seed)
        frames = torch.stack(
            [optical_effects(still, fr.rgb[k], clip.backgrounds[k], (fr.triangle_id[k] >= 0).float()) for k in range(len(fr.rgb))]
        )
        if d.shutter > 0:
            fw, bw = torch.from_numpy(flows["flow_fw"]), torch.from_numpy(flows["flow_bw"])
            frames = flow_motion_blur(frames, fw, bw, d.shutter)
        frames = sensor_effects(d, frames, jpeg=d.crf is None)
        out = to_uint8(frames)
        return h264_roundtrip(out, d.crf, self.cfg.fps) if d.crf is not None else out


class TryonScenes(VideoScenes):
    """Try-on pairs (the ``tryon`` kind): one clip rendered with two garments, plus both
    garments laid out flat and the background sequence: :class:`vivid.synth.samples.TryonSample`.
    ``garments``: a :class:`vivid.synth.garments.GarmentPairs` gives the garments their own geometry."""

    garments = None

    def generate(self, i: int) -> TryonSample:
        if self.garments is not None:
            return self.garments.generate(self, i)
        c = self.cfg
        rng = self._rng(i)
        clip = self._clip(rng)
        tex_b, kind_b = self._garment(rng)
        labels, fr, vc = self._render_clip(clip, clip.look.texture)
        cam = clip.camera
        fb = self._render(vc, cam.K, self._albedo(clip.look), [tex_b], clip.sh, clip.backgrounds)
        fh, fw = c.height, max(16, c.height * 3 // 4)
        fa, ma = app.flat_garment_image(clip.look.texture, fh, fw)
        fbi, mb = app.flat_garment_image(tex_b, fh, fw)
        return TryonSample(
            **labels.to_arrays(),
            **body_params(clip.motion, clip.deltas, clip.phenotype, clip.sh).to_arrays(),
            image_b=to_uint8(fb.rgb),
            garment_mask_b=fb.garment.numpy(),
            flat_garment=to_uint8(fa),
            flat_garment_mask=ma.numpy(),
            flat_garment_b=to_uint8(fbi),
            flat_garment_b_mask=mb.numpy(),
            background=to_uint8(clip.backgrounds),
            garment_kinds=np.array([_KIND_INDEX.index(clip.look.garment_kind), _KIND_INDEX.index(kind_b)]),
        )
