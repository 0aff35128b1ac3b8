"""The scene configuration: everything a scene generator draws from."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from vivid.core.errors import VividError
from vivid.synth import appearance as app
from vivid.synth.camera_effects import CameraEffects
from vivid.synth.cameras import CameraConfig
from vivid.synth.occluders import OccluderConfig

__all__ = ["KINDS", "SceneConfig"]

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
        mocap: BVH files for mocap motion (None: none; motion is procedural or static).
        garment_kinds, background_kinds: subsets of the appearance kinds.
        backgrounds_dir: folder of user photos to use as backgrounds (optional).
        hdri_dir: folder of equirectangular ``.hdr`` panoramas (optional): a share ``hdri_prob``
            of the scenes is seen in front of a view of one and lit by its SH lighting
            (:mod:`vivid.synth.backgrounds`); the others use the photos or procedural backdrops.
        fabrics_dir: folder of garment photos (optional, searched recursively): a share
            ``fabric_prob`` of the garment textures is cut from them (:mod:`vivid.synth.fabrics`).
        camera: camera ranges (see :class:`CameraConfig`).
        effects: camera effects (:class:`vivid.synth.camera_effects.CameraEffects`; off by default).
        occluders: occluders in front of the person (:class:`vivid.synth.occluders.OccluderConfig`;
            off by default).
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
    hdri_dir: str | None = None
    hdri_prob: float = 1.0
    fabrics_dir: str | None = None
    fabric_prob: float = 0.7
    camera: CameraConfig = field(default_factory=CameraConfig)
    effects: CameraEffects = field(default_factory=CameraEffects)
    occluders: OccluderConfig = field(default_factory=OccluderConfig)
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
        if not 0 <= self.hdri_prob <= 1 or not 0 <= self.fabric_prob <= 1:
            raise VividError("hdri_prob and fabric_prob must lie within [0, 1]")
        probs = [v for k, v in asdict(self.effects).items() if k.endswith("_prob")]
        if any(not 0 <= p <= 1 for p in probs + [self.occluders.prob, self.occluders.person_prob]):
            raise VividError("effect and occluder probabilities must lie within [0, 1]")
        if self.occluders.max_count < 1:
            raise VividError(f"occluders.max_count must be >= 1, got {self.occluders.max_count}")
        if self.supersample < 1:
            raise VividError(f"supersample must be >= 1, got {self.supersample}")
        return self

    def to_dict(self) -> dict:
        d = asdict(self)
        return json.loads(json.dumps(d))  # tuples -> lists

    @classmethod
    def from_dict(cls, d: dict) -> "SceneConfig":
        d = dict(d)
        nested = {}
        for key, sub_cls in _NESTED.items():
            sub = d.pop(key, {})
            unknown = set(sub) - {f.name for f in fields(sub_cls)}
            if unknown:
                raise VividError(f"unknown scene config keys: {', '.join(f'{key}.{k}' for k in sorted(unknown))}")
            nested[key] = sub_cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in sub.items()})
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise VividError(f"unknown scene config keys: {', '.join(sorted(unknown))}")
        d = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**nested, **d)


_NESTED = {"camera": CameraConfig, "effects": CameraEffects, "occluders": OccluderConfig}
