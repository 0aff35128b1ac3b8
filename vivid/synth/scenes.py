"""Scene generators: a posed, dressed, lit Anny body rendered with every label.

Four kinds, one generator class each, all built from a :class:`SceneConfig` and all producing
sample ``i`` deterministically from ``numpy.random.default_rng([seed, i])``:

``body`` (:class:`BodyScenes`)
    one image of one person. Labels: ``image`` uint8 (H, W, 3), ``mask`` bool (H, W),
    ``parts`` uint8 (H, W) (0 background, 1.. the body parts of :data:`PART_NAMES`), ``depth``
    float32 (H, W) metres (0 on the background), ``garment_mask`` bool (H, W), ``joints2d``
    float32 (17, 2) pixels (x, y), ``visibility`` float32 (17,), ``joints3d`` float32 (17, 3)
    camera frame metres (H36M-17 order), ``coco2d`` (17, 2) / ``coco_visibility`` (17,) COCO
    keypoints, ``K``/``R``/``t`` camera, ``phenotype`` (6,), ``pose`` (B, 3) Anny local-ref
    axis-angle per bone, ``joint_angles`` (J, 3) degrees of the controlled bones, ``root``
    (3, 3), ``translation`` (3,), ``sh`` (9, 3) lighting in the camera frame, ``partial``
    (whether the camera crops the body), optionally ``vertices`` (V, 3) camera frame.
    :class:`vivid.synth.storage.SynthDataset` turns these into the tensors of the shared pose
    contract (``image`` float (3, H, W) in [0, 1], the rest as they are).
``video`` (:class:`VideoScenes`)
    ``frames`` consecutive frames of one motion under a fixed or slowly moving camera: the same
    labels with a leading T axis, plus ``flow_fw``/``flow_bw`` float32 (T-1, H, W, 2) between
    consecutive frames and their validity ``flow_fw_valid``/``flow_bw_valid`` bool (T-1, H, W)
    (see :mod:`vivid.synth.flow` for the convention), ``moving_camera``, ``fps``.
``tryon`` (:class:`TryonScenes`)
    a video as above and a second render of the same person, motion, camera, light and
    background wearing another garment: ``image_b``, ``garment_mask_b``; the two garments laid
    out flat (``flat_garment``, ``flat_garment_b`` uint8 (Hf, Wf, 3) with masks) and the plain
    ``background`` sequence.
``face`` (:class:`FaceScenes`)
    a head with random identity (phenotype), expression (facial actions), pose, lighting and
    albedo: ``image``, ``mask`` (face mask), ``vertices`` (V, 3) camera frame, ``landmarks2d``
    (68, 2), ``landmarks3d`` (68, 3), ``pose_R``/``pose_t`` (head to camera), ``sh``,
    ``albedo`` coefficients, ``expression`` (52,), ``phenotype`` (6,); see :class:`FaceScenes`.

Held-out splits: draw train/val/test with different seeds, and hold out phenotypes
(``phenotype_low``/``phenotype_high``), skin tones, garments and motions (``mocap`` file
subsets, ``motion_sources``) through the config.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import torch

from vivid.core.errors import VividError
from vivid.core.fileio import to_uint8
from vivid.core.geometry import euler_to_matrix, intrinsics_from_fov, look_at, project, world_to_camera
from vivid.core.render import Rasterization, rasterize, render
from vivid.synth import appearance as app
from vivid.synth.cameras import CameraConfig, bounding_sphere, framing_distance, sample_camera, sample_camera_path
from vivid.synth.flow import surface_flow
from vivid.synth.motion import Motion, MotionSampler, procedural_motion

log = logging.getLogger(__name__)

__all__ = [
    "KINDS",
    "SceneConfig",
    "BodyScenes",
    "VideoScenes",
    "TryonScenes",
    "FaceScenes",
    "make_generator",
    "GeneratorFactory",
]

KINDS = ("body", "video", "tryon", "face")


@dataclass
class SceneConfig:
    """Everything a generator draws from (JSON-serialisable; stored in the index).

    Attributes:
        kind: body, video, tryon or face.
        height, width: image size in pixels.
        seed: base seed; sample i uses ``default_rng([seed, i])``.
        frames: frames per clip (video, tryon).
        fps: frame rate of clips.
        phenotype_low, phenotype_high: per-parameter range of Anny's 6 phenotypes
            (gender, age, muscle, weight, height, proportions), each in [0, 1].
        skin_tones: range of palette entries (0 light .. 7 dark) of :data:`appearance.SKIN_TONES`.
        motion_sources: subset of mocap, procedural, static.
        mocap: BVH files for mocap motion (None: the bundled CMU clips).
        garment_kinds, background_kinds: subsets of the appearance kinds.
        backgrounds_dir: folder of user photos to use as backgrounds (optional).
        camera: camera ranges (see :class:`CameraConfig`).
        vertices: also store the mesh vertices (camera frame).
        supersample: anti-aliasing factor of the renderer.
    """

    kind: str = "body"
    height: int = 256
    width: int = 256
    seed: int = 0
    frames: int = 8
    fps: float = 30.0
    phenotype_low: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    phenotype_high: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
    skin_tones: tuple[float, float] = (0.0, 7.0)
    motion_sources: tuple[str, ...] = ("mocap", "procedural", "static")
    mocap: tuple[str, ...] | None = None
    garment_kinds: tuple[str, ...] = app.GARMENT_KINDS
    background_kinds: tuple[str, ...] = app.BACKGROUND_KINDS
    backgrounds_dir: str | None = None
    camera: CameraConfig = field(default_factory=CameraConfig)
    vertices: bool = False
    supersample: int = 1

    def validate(self) -> "SceneConfig":
        if self.kind not in KINDS:
            raise VividError(f"unknown scene kind {self.kind!r}; use one of {', '.join(KINDS)}")
        if self.height <= 0 or self.width <= 0:
            raise VividError(f"image size must be positive, got {self.height}x{self.width}")
        if self.height < 16 or self.width < 16:
            raise VividError(f"image size {self.height}x{self.width} is too small; use at least 16x16")
        if self.kind in ("video", "tryon") and self.frames < 2:
            raise VividError(f"a {self.kind} clip needs at least 2 frames, got {self.frames}")
        if self.fps <= 0:
            raise VividError(f"fps must be positive, got {self.fps}")
        lo, hi = np.asarray(self.phenotype_low, float), np.asarray(self.phenotype_high, float)
        if lo.shape != (6,) or hi.shape != (6,) or (lo < 0).any() or (hi > 1).any() or (lo > hi).any():
            raise VividError("phenotype ranges need 6 values each with 0 <= low <= high <= 1")
        if not 0 <= self.skin_tones[0] <= self.skin_tones[1] <= len(app.SKIN_TONES) - 1:
            raise VividError(f"skin tone range must lie in [0, {len(app.SKIN_TONES) - 1}]")
        for k in self.garment_kinds:
            if k not in app.GARMENT_KINDS:
                raise VividError(f"unknown garment kind {k!r}; use {', '.join(app.GARMENT_KINDS)}")
        for k in self.background_kinds:
            if k not in app.BACKGROUND_KINDS:
                raise VividError(f"unknown background kind {k!r}; use {', '.join(app.BACKGROUND_KINDS)}")
        if not self.garment_kinds or not self.background_kinds:
            raise VividError("garment and background kinds must not be empty")
        bad = [m for m in self.motion_sources if m not in ("mocap", "procedural", "static")]
        if bad or not self.motion_sources:
            raise VividError(
                f"unknown motion source(s) {bad or list(self.motion_sources)}; use mocap, procedural or static"
            )
        cam = self.camera
        if not 1.0 <= cam.fov_deg[0] <= cam.fov_deg[1] < 179.0:
            raise VividError(f"camera field of view range {cam.fov_deg} must satisfy 1 <= min <= max < 179 degrees")
        if min(cam.distance_factor + cam.partial_distance_factor) <= 0 or not 0 <= cam.partial_prob <= 1:
            raise VividError("camera distance factors must be positive and partial_prob within [0, 1]")
        if self.supersample < 1:
            raise VividError(f"supersample must be >= 1, got {self.supersample}")
        return self

    def to_dict(self) -> dict:
        d = asdict(self)
        return json.loads(json.dumps(d))  # tuples -> lists

    @classmethod
    def from_dict(cls, d: dict) -> "SceneConfig":
        d = dict(d)
        cam = CameraConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.pop("camera", {}).items()})
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise VividError(f"unknown scene config keys: {', '.join(sorted(unknown))}")
        d = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(camera=cam, **d)


# ----------------------------------------------------------------------------- helpers


def _rotvec(R: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 3) axis-angle."""
    import roma

    return roma.rotmat_to_rotvec(torch.from_numpy(np.ascontiguousarray(R))).numpy()


# ----------------------------------------------------------------------------- body kit


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


class BodyKit:
    """The body model and the static data the scenes need, built once per process and device.

    Attributes:
        model: :class:`vivid.core.body.BodyModel`.
        rig: :class:`vivid.synth.motion.Rig` of its skeleton.
        faces: (F, 3) int64; face_parts: (F,) int64 part labels (1..14);
        garment_faces: (F,) bool upper-garment region.
        uv: (V, 2) garment texture coordinates: cylindrical about the body's vertical axis at rest,
            ``u = 0.5`` at the front centre, ``v`` from the hips (0) to the shoulders (1).
        regions: (V,) int64 albedo region per vertex: 0 skin, 1 trousers or shorts, 2 shoes,
            3 hair, 4 lower legs and 5 just above the knees (trousers only).
    """

    _cache: dict[str, "BodyKit"] = {}

    def __init__(self, device: torch.device) -> None:
        from vivid.core.body import PART_NAMES, BodyModel
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
        P = {n: i for i, n in enumerate(PART_NAMES)}
        x, y, z = rest.unbind(-1)
        torso = parts == P["torso"]
        z_hip = float(self.rig.heads[self.rig.index("upperleg01.L"), 2])
        z_sh = float(self.rig.heads[self.rig.index("upperarm01.L"), 2])
        u = 0.5 + torch.atan2(x, -y) / (2 * math.pi)
        v = (z - (z_hip - 0.04)) / (z_sh + 0.08 - (z_hip - 0.04))
        uv = torch.stack([u, v], -1).float()
        # The back seam: corners of faces that straddle u = 0/1 get their own uv entry with
        # u + 1, and the renderer samples a texture tiled twice across (u halved), so the
        # pattern wraps around the body without a seam.
        fu = uv[self.faces.cpu(), 0]
        low = ((fu.max(1).values - fu.min(1).values) > 0.5)[:, None] & (fu < 0.5)
        uv_faces = self.faces.cpu().clone()
        extra = uv[uv_faces[low]] + torch.tensor([1.0, 0.0])
        uv_faces[low] = rest.shape[0] + torch.arange(extra.shape[0])
        table = torch.cat([uv, extra])
        self.uv = uv
        self.tex_uv = table * torch.tensor([0.5, 1.0])
        self.tex_uv_faces = uv_faces
        regions = torch.zeros(rest.shape[0], dtype=torch.int64)
        legs = torch.isin(
            parts,
            torch.tensor([P[n] for n in ("left_upper_leg", "right_upper_leg", "left_lower_leg", "right_lower_leg")]),
        )
        regions[legs | (torso & (z < z_hip + 0.02))] = 1
        lower = torch.isin(parts, torch.tensor([P["left_lower_leg"], P["right_lower_leg"]]))
        regions[lower] = 4
        z_knee = float(self.rig.heads[self.rig.index("lowerleg01.L"), 2])
        regions[legs & ~lower & (z < z_knee + 0.1)] = 5  # just above the knee: shorts end higher
        regions[torch.isin(parts, torch.tensor([P["left_foot"], P["right_foot"]]))] = 2
        head = parts == P["head"]
        z_top = float(z[head].max())
        y_c = float(y[head].mean())
        hair = head & ((z > z_top - 0.075) | ((z > z_top - 0.2) & (y > y_c + 0.02)))
        regions[hair] = 3
        self.regions = regions
        n_parts = len(PART_NAMES)
        # (joints, parts) tables: True where a part lies around a joint
        self.h36m_parts = torch.zeros(17, n_parts, dtype=torch.bool)
        self.coco_parts = torch.zeros(17, n_parts, dtype=torch.bool)
        for table, lists in ((self.h36m_parts, _h36m_parts()), (self.coco_parts, _coco_parts())):
            for j, ids in enumerate(lists):
                table[j, list(ids)] = True

    @classmethod
    def get(cls, device: torch.device) -> "BodyKit":
        key = str(device)
        if key not in cls._cache:
            cls._cache[key] = cls(device)
        return cls._cache[key]

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


class _Scenes:
    """Shared machinery: body model, motion sampler, appearance banks, rendering and labels.

    Garment textures and background images are drawn from banks of ``BANK`` procedural images
    per generator (entry ``j`` made from ``default_rng([seed, tag, j])``, so the data still depend
    only on the seed), and each use is varied by a random channel permutation, gains, flips
    and (for backgrounds) a random crop: generating a fresh procedural image per frame would
    cost more than rendering the body.
    """

    BANK = 32

    def __init__(self, cfg: SceneConfig, *, device: str = "cpu") -> None:
        self.cfg = cfg.validate()
        self.device = torch.device(device)
        self.kit = BodyKit.get(self.device)
        self.motions = MotionSampler(
            self.kit.rig,
            sources=tuple(cfg.motion_sources),
            mocap=list(cfg.mocap) if cfg.mocap is not None else None,
            fps=cfg.fps,
        )
        self.photos = app.load_photos(cfg.backgrounds_dir) if cfg.backgrounds_dir else None
        self._tex_bank: dict[int, tuple[torch.Tensor, str]] = {}
        self._bg_bank: dict[int, torch.Tensor] = {}

    def warm_up(self) -> None:
        """Fill the appearance banks now (otherwise they fill lazily over the first samples) and
        load what procedural motion needs."""
        c = self.cfg
        if "procedural" in c.motion_sources and hasattr(self, "motions"):
            procedural_motion(np.random.default_rng(0), self.kit.rig, 2)
        for j in range(self.BANK):
            rng = np.random.default_rng([0, j])
            while len(self._tex_bank) <= j and len(self._tex_bank) < self.BANK:
                self._garment(rng)
            while len(self._bg_bank) <= j and len(self._bg_bank) < self.BANK:
                self._background(rng, c.height, c.width)

    # -- random draws

    def _rng(self, i: int) -> np.random.Generator:
        if i < 0:
            raise IndexError(f"sample index must be >= 0, got {i}")
        return np.random.default_rng([int(self.cfg.seed), int(i)])

    def _phenotype(self, rng: np.random.Generator) -> np.ndarray:
        lo, hi = np.asarray(self.cfg.phenotype_low), np.asarray(self.cfg.phenotype_high)
        return lo + (hi - lo) * rng.random(6)

    def _garment(self, rng: np.random.Generator) -> tuple[torch.Tensor, str]:
        """A garment texture (3, S, S) from the bank, recoloured."""
        j = int(rng.integers(self.BANK))
        if j not in self._tex_bank:
            kinds = tuple(self.cfg.garment_kinds)
            self._tex_bank[j] = app.garment_texture(
                np.random.default_rng([int(self.cfg.seed), 1, j]), kinds[j % len(kinds)]
            )
        tex, kind = self._tex_bank[j]
        perm = torch.from_numpy(rng.permutation(3))
        gain = torch.from_numpy(rng.uniform(0.7, 1.2, 3).astype(np.float32))[:, None, None]
        return (tex[perm] * gain).clamp(0, 1), kind

    def _background(self, rng: np.random.Generator, height: int, width: int) -> torch.Tensor:
        """A background (3, height, width): a photo crop, or a recoloured crop of a bank image."""
        c = self.cfg
        if self.photos and rng.random() < 0.5:
            return app.background(rng, height, width, kind="photo", photos=self.photos)[0]
        j = int(rng.integers(self.BANK))
        if j not in self._bg_bank:
            kinds = tuple(c.background_kinds)
            # drawn at half resolution and upsampled: backdrops are smooth, and it is 4x cheaper
            side = int(1.5 * max(c.height, c.width))
            small = app.background(
                np.random.default_rng([int(c.seed), 2, j]), side // 2, side // 2, kind=kinds[j % len(kinds)]
            )[0]
            self._bg_bank[j] = torch.nn.functional.interpolate(
                small[None], size=(side, side), mode="bilinear", align_corners=False
            )[0]
        img = self._bg_bank[j]
        S = img.shape[-1]
        scale = rng.uniform(1.0, 1.3) * max(height / S, width / S)
        if scale > 1.0:
            size = (max(height, int(S * max(scale, 1.0))), max(width, int(S * max(scale, 1.0))))
            img = torch.nn.functional.interpolate(img[None], size=size, mode="bilinear", align_corners=False)[0]
        y0 = int(rng.integers(img.shape[1] - height + 1))
        x0 = int(rng.integers(img.shape[2] - width + 1))
        out = img[:, y0 : y0 + height, x0 : x0 + width]
        if rng.random() < 0.5:
            out = out.flip(-1)
        perm = torch.from_numpy(rng.permutation(3))
        gain = torch.from_numpy(rng.uniform(0.75, 1.2, 3).astype(np.float32))[:, None, None]
        return (out[perm] * gain).clamp(0, 1).contiguous()

    def _look(self, rng: np.random.Generator) -> dict:
        """Skin, garment texture, trousers, shoes and hair colours."""
        tex, kind = self._garment(rng)
        return {
            "texture": tex,
            "garment_kind": kind,
            "skin": app.skin_tone(rng, tuple(self.cfg.skin_tones)),
            "trousers": app._colour(rng) * rng.uniform(0.4, 0.9),
            "shoes": np.full(3, rng.uniform(0.05, 0.4)),
            "hair": np.array([0.08, 0.06, 0.05]) + rng.uniform(0, 0.35) * np.array([0.9, 0.7, 0.45]),
            "long_legs": bool(rng.random() < 0.65),
        }

    def _albedo(self, look: dict) -> torch.Tensor:
        """Per-vertex albedo (V, 3): skin, trousers or shorts, shoes, hair."""
        return self.kit.vertex_albedo(look["skin"], look["trousers"], look["shoes"], look["hair"], look["long_legs"])

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

    def _joint_labels(
        self,
        joints_cam: torch.Tensor,
        K: torch.Tensor,
        depth: torch.Tensor,
        parts: torch.Tensor,
        joint_parts: torch.Tensor,
    ) -> tuple[np.ndarray, np.ndarray]:
        """2D joints (N, 2) and visibility (N,) of camera-frame joints (N, 3) in one image.

        A joint is visible when it projects inside the image and the surface seen at its pixel
        is one of the body parts around that joint, no more than 0.25 m in front of it
        (otherwise another part, or another limb, hides it)."""
        H, W = depth.shape
        uv = project(joints_cam, K)
        u, v = uv[:, 0], uv[:, 1]
        inside = (u > -0.5) & (u < W - 0.5) & (v > -0.5) & (v < H - 0.5) & (joints_cam[:, 2] > 0)
        ui = u.round().long().clamp(0, W - 1)
        vi = v.round().long().clamp(0, H - 1)
        seen_part = parts[vi, ui]
        seen_depth = depth[vi, ui]
        ok = joint_parts[torch.arange(len(joint_parts)), seen_part.long()]
        close = (joints_cam[:, 2] - seen_depth) < 0.25
        vis = inside & ok & close & (seen_part > 0)
        return uv.numpy().astype(np.float32), vis.numpy().astype(np.float32)

    def _frame_labels(
        self,
        fr: Frames,
        b: int,
        verts_cam: torch.Tensor,
        joints_cam: torch.Tensor,
        coco_cam: torch.Tensor,
        K: torch.Tensor,
        R: torch.Tensor,
        t: torch.Tensor,
    ) -> dict[str, np.ndarray]:
        kit = self.kit
        j2d, vis = self._joint_labels(joints_cam[b], K[b], fr.depth[b], fr.parts[b], kit.h36m_parts)
        c2d, cvis = self._joint_labels(coco_cam[b], K[b], fr.depth[b], fr.parts[b], kit.coco_parts)
        d = {
            "image": to_uint8(fr.rgb[b]),
            "mask": (fr.triangle_id[b] >= 0).numpy(),
            "parts": fr.parts[b].numpy().astype(np.uint8),
            "depth": fr.depth[b].numpy().astype(np.float32),
            "garment_mask": fr.garment[b].numpy(),
            "joints2d": j2d,
            "visibility": vis,
            "joints3d": joints_cam[b].numpy().astype(np.float32),
            "coco2d": c2d,
            "coco_visibility": cvis,
            "K": K[b].numpy().astype(np.float32),
            "R": R[b].numpy().astype(np.float32),
            "t": t[b].numpy().astype(np.float32),
        }
        if self.cfg.vertices:
            d["vertices"] = verts_cam[b].numpy().astype(np.float32)
        return d

    def _body_params(self, motion: Motion, deltas: np.ndarray, phenotype: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "phenotype": phenotype.astype(np.float32),
            "pose": _rotvec(deltas).astype(np.float32),
            "joint_angles": motion.angles.astype(np.float32),
            "root": motion.root.astype(np.float32),
            "translation": motion.translation.astype(np.float32),
        }

    def generate(self, i: int) -> dict[str, np.ndarray]:
        """Sample ``i`` (a dict of numpy arrays, see the module docstring)."""
        return self.generate_batch([i])[0]

    def generate_batch(self, indices: list[int]) -> list[dict[str, np.ndarray]]:
        """Samples ``indices``; equal to ``[generate(i) for i in indices]``, but batched."""
        return [self.generate(i) for i in indices]


class BodyScenes(_Scenes):
    """Single images of one person (the ``body`` kind); see the module docstring for labels."""

    def generate_batch(self, indices: list[int]) -> list[dict[str, np.ndarray]]:
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
            sh_world, _ = app.random_sh(r)
            Ks.append(cam.K)
            Rs.append(cam.R)
            ts.append(cam.t)
            shs.append(app.sh_to_camera(sh_world, cam.R.double().numpy()))
            bgs.append(self._background(r, c.height, c.width))
            partial.append(part)
        K, R, t = torch.stack(Ks), torch.stack(Rs), torch.stack(ts)
        vc = world_to_camera(verts, R, t)
        albedo = torch.stack([self._albedo(look) for look in looks])
        fr = self._render(vc, K, albedo, [look["texture"] for look in looks], np.stack(shs), torch.stack(bgs))
        jc, cc = world_to_camera(h36m, R, t), world_to_camera(coco, R, t)
        out = []
        rotvecs = _rotvec(deltas).astype(np.float32)  # one call for the batch
        for b in range(len(indices)):
            d = self._frame_labels(fr, b, vc, jc, cc, K, R, t)
            d["pose"] = rotvecs[b]
            d["joint_angles"] = motions[b].angles[0].astype(np.float32)
            d["root"] = motions[b].root[0].astype(np.float32)
            d["translation"] = motions[b].translation[0].astype(np.float32)
            d["phenotype"] = phens[b].astype(np.float32)
            d["sh"] = shs[b].astype(np.float32)
            d["partial"] = np.array(partial[b])
            out.append(d)
        return out


def _single(r: Rasterization, b: int) -> Rasterization:
    return Rasterization(r.triangle_id[b : b + 1], r.barycentric[b : b + 1], r.depth[b : b + 1], r.height, r.width)


class VideoScenes(_Scenes):
    """Clips of ``frames`` frames (the ``video`` kind) with flow between consecutive frames."""

    def _clip(self, rng: np.random.Generator) -> dict:
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
        pano = self._background(rng, c.height + 2 * m, c.width + 2 * m)
        bgs = torch.stack(
            [pano[:, m - int(s[1]) : m - int(s[1]) + c.height, m - int(s[0]) : m - int(s[0]) + c.width] for s in shifts]
        )
        return {
            "phen": phen,
            "motion": motion,
            "look": look,
            "deltas": deltas,
            "verts": verts,
            "h36m": h36m,
            "coco": coco,
            "cam": cam,
            "moving": moving,
            "sh": sh_cam,
            "bgs": bgs,
            "shifts": shifts,
        }

    def _render_clip(self, clip: dict, texture: torch.Tensor) -> tuple[dict, Frames, torch.Tensor]:
        cam = clip["cam"]
        vc = world_to_camera(clip["verts"], cam.R, cam.t)
        fr = self._render(vc, cam.K, self._albedo(clip["look"]), [texture], clip["sh"], clip["bgs"])
        jc, cc = world_to_camera(clip["h36m"], cam.R, cam.t), world_to_camera(clip["coco"], cam.R, cam.t)
        frames = [self._frame_labels(fr, k, vc, jc, cc, cam.K, cam.R, cam.t) for k in range(vc.shape[0])]
        d = {k: np.stack([f[k] for f in frames]) for k in frames[0]}
        return d, fr, vc

    def _flows(self, fr: Frames, vc: torch.Tensor, K: torch.Tensor, shifts: torch.Tensor) -> dict[str, np.ndarray]:
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

    def generate(self, i: int) -> dict[str, np.ndarray]:
        clip = self._clip(self._rng(i))
        d, fr, vc = self._render_clip(clip, clip["look"]["texture"])
        d.update(self._flows(fr, vc, clip["cam"].K, clip["shifts"]))
        d.update(self._body_params(clip["motion"], clip["deltas"], clip["phen"]))
        d["sh"] = clip["sh"].astype(np.float32)
        d["moving_camera"] = np.array(clip["moving"])
        d["fps"] = np.array(clip["motion"].fps, dtype=np.float32)
        return d


class TryonScenes(VideoScenes):
    """Try-on pairs (the ``tryon`` kind): one clip rendered with two garments, plus both
    garments laid out flat and the background sequence."""

    def generate(self, i: int) -> dict[str, np.ndarray]:
        c = self.cfg
        rng = self._rng(i)
        clip = self._clip(rng)
        tex_b, kind_b = self._garment(rng)
        d, fr, vc = self._render_clip(clip, clip["look"]["texture"])
        cam = clip["cam"]
        fb = self._render(vc, cam.K, self._albedo(clip["look"]), [tex_b], clip["sh"], clip["bgs"])
        d["image_b"] = to_uint8(fb.rgb)
        d["garment_mask_b"] = fb.garment.numpy()
        fh, fw = c.height, max(16, c.height * 3 // 4)
        fa, ma = app.flat_garment_image(clip["look"]["texture"], fh, fw)
        fbi, mb = app.flat_garment_image(tex_b, fh, fw)
        d["flat_garment"], d["flat_garment_mask"] = to_uint8(fa), ma.numpy()
        d["flat_garment_b"], d["flat_garment_b_mask"] = to_uint8(fbi), mb.numpy()
        d["background"] = to_uint8(clip["bgs"])
        d.update(self._body_params(clip["motion"], clip["deltas"], clip["phen"]))
        d["sh"] = clip["sh"].astype(np.float32)
        d["garment_kinds"] = np.array(
            [app.GARMENT_KINDS.index(clip["look"]["garment_kind"]), app.GARMENT_KINDS.index(kind_b)]
        )
        return d


class FaceScenes(_Scenes):
    """Heads (the ``face`` kind): random identity (phenotype and face-shape local changes),
    expression (sparse facial actions), head pose, lighting, albedo and background, seen by a
    camera in front of the face.

    Labels: ``image`` (H, W, 3) uint8; ``mask`` bool (H, W) face (skin of the face, eyes, mouth);
    ``head_mask`` bool (H, W) (the whole head and neck); ``parts`` uint8 (H, W)
    (:data:`vivid.core.body.HEAD_PART_NAMES`); ``depth`` float32 (H, W); ``vertices`` float32
    (V, 3) camera frame; ``landmarks2d`` (68, 2) pixels and ``landmarks3d`` (68, 3) camera frame
    with ``landmark_visibility`` (68,); ``pose_R`` (3, 3) / ``pose_t`` (3,) head-to-camera
    transform; ``K``; ``sh`` (9, 3) camera-frame lighting; ``albedo`` (K,) coefficients of
    :meth:`vivid.core.body.HeadModel.albedo`; ``expression`` (52,); ``phenotype`` (6,);
    ``local_changes`` (L,).
    """

    def __init__(self, cfg: SceneConfig, *, device: str = "cpu") -> None:
        self.cfg = cfg.validate()
        self.device = torch.device(device)
        self.head = HeadKit.get(self.device)
        self.photos = app.load_photos(cfg.backgrounds_dir) if cfg.backgrounds_dir else None
        self._tex_bank: dict[int, tuple[torch.Tensor, str]] = {}
        self._bg_bank: dict[int, torch.Tensor] = {}

    def generate_batch(self, indices: list[int]) -> list[dict[str, np.ndarray]]:
        from vivid.core.body import HEAD_PART_NAMES

        c, head = self.cfg, self.head.model
        indices = list(indices)
        if not indices:
            return []
        rngs = [self._rng(i) for i in indices]
        B = len(rngs)
        L, E, A = len(head.local_change_names), len(head.expression_names), len(head.ALBEDO_BASES)
        phen = np.stack([self._phenotype(r) for r in rngs])
        changes = np.stack([r.uniform(-0.7, 0.7, L) * (r.random(L) < 0.5) for r in rngs])
        expr = np.stack([r.uniform(0, 1, E) * (r.random(E) < 4.0 / E) for r in rngs])  # ~4 active actions
        alb = np.stack([0.8 * r.standard_normal(A) for r in rngs])
        # the "tone" basis scales the skin by (1 - 0.3 c): c up to 2.2 reaches dark skin tones
        alb[:, list(head.ALBEDO_BASES).index("tone")] = [r.uniform(-1.2, 2.2) for r in rngs]
        ang = np.stack([np.radians([r.uniform(-20, 20), r.uniform(-12, 12), r.uniform(-45, 45)]) for r in rngs])
        Rg = euler_to_matrix(ang)  # pitch (x), roll (y), yaw (z) in the head frame
        f = lambda a: torch.from_numpy(np.ascontiguousarray(a)).float().to(self.device)  # noqa: E731
        with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
            out = head(phenotype=f(phen), local_changes=f(changes), expression=f(expr), global_rot=f(Rg))
            albedo = head.albedo(f(alb))
        verts, lms, albedo = out.vertices.float().cpu(), out.landmarks.float().cpu(), albedo.float().cpu()
        Ks, Rs, ts, shs, bgs = [], [], [], [], []
        for b, r in enumerate(rngs):
            centre, radius = bounding_sphere(verts[b])
            fov = float(r.uniform(*c.camera.fov_deg))
            dist = framing_distance(radius, fov, c.height, c.width) * r.uniform(1.0, 1.6)
            # in front of the face (-y), a little above or below and to the side
            az = math.radians(-90 + r.uniform(-15, 15))
            el = math.radians(r.uniform(-10, 15))
            eye = centre + dist * np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
            R, t = look_at(
                torch.from_numpy(eye), torch.from_numpy(centre), torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
            )
            Ks.append(intrinsics_from_fov(fov_deg=fov, height=c.height, width=c.width))
            Rs.append(R.float())
            ts.append(t.float())
            sh_world, _ = app.random_sh(r)
            shs.append(app.sh_to_camera(sh_world, R.numpy()))
            bgs.append(self._background(r, c.height, c.width))
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
        res = []
        for b in range(B):
            parts = rend.labels[b]
            depth = rend.depth[b]
            uv = project(lc[b], K[b])
            ui = uv[:, 0].round().long().clamp(0, c.width - 1)
            vi = uv[:, 1].round().long().clamp(0, c.height - 1)
            inside = (uv[:, 0] > -0.5) & (uv[:, 0] < c.width - 0.5) & (uv[:, 1] > -0.5) & (uv[:, 1] < c.height - 0.5)
            seen = depth[vi, ui]
            vis = inside & (seen > 0) & ((seen - lc[b, :, 2]).abs() < 0.01)
            res.append(
                {
                    "image": to_uint8(rend.rgb[b]),
                    "mask": torch.isin(parts, face_ids).numpy(),
                    "head_mask": (parts > 0).numpy(),
                    "parts": parts.numpy().astype(np.uint8),
                    "depth": depth.numpy().astype(np.float32),
                    "vertices": vc[b].numpy().astype(np.float32),
                    "landmarks2d": uv.numpy().astype(np.float32),
                    "landmarks3d": lc[b].numpy().astype(np.float32),
                    "landmark_visibility": vis.numpy().astype(np.float32),
                    "pose_R": (R[b].double() @ torch.from_numpy(Rg[b])).numpy().astype(np.float32),
                    "pose_t": t[b].numpy().astype(np.float32),
                    "K": K[b].numpy(),
                    "R": R[b].numpy(),
                    "t": t[b].numpy(),
                    "sh": shs[b].astype(np.float32),
                    "albedo": alb[b].astype(np.float32),
                    "expression": expr[b].astype(np.float32),
                    "phenotype": phen[b].astype(np.float32),
                    "local_changes": changes[b].astype(np.float32),
                }
            )
        return res


class HeadKit:
    """The head model, built once per process and device."""

    _cache: dict[str, "HeadKit"] = {}

    def __init__(self, device: torch.device) -> None:
        from vivid.core.body import HeadModel

        self.model = HeadModel().to(device).eval()

    @classmethod
    def get(cls, device: torch.device) -> "HeadKit":
        key = str(device)
        if key not in cls._cache:
            cls._cache[key] = cls(device)
        return cls._cache[key]


_GENERATORS = {"body": BodyScenes, "video": VideoScenes, "tryon": TryonScenes, "face": FaceScenes}


def make_generator(cfg: SceneConfig | dict, *, device: str = "cpu") -> _Scenes:
    """The scene generator for ``cfg.kind``."""
    if isinstance(cfg, dict):
        cfg = SceneConfig.from_dict(cfg)
    cfg.validate()
    if cfg.kind not in _GENERATORS:
        raise VividError(f"unknown scene kind {cfg.kind!r}; use one of {', '.join(_GENERATORS)}")
    return _GENERATORS[cfg.kind](cfg, device=device)


class GeneratorFactory:
    """Picklable zero-argument factory (for worker processes and :class:`SynthStream`)."""

    def __init__(self, cfg: SceneConfig | dict, *, device: str = "cpu") -> None:
        self.cfg = cfg.to_dict() if isinstance(cfg, SceneConfig) else dict(cfg)
        self.device = device
        SceneConfig.from_dict(self.cfg).validate()

    def __call__(self) -> _Scenes:
        return make_generator(self.cfg, device=self.device)
