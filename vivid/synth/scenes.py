"""Scene generators: a posed, dressed, lit Anny body (or head) rendered with every label.

Four kinds, one generator class each, all built from a :class:`SceneConfig` and all producing
sample ``i`` deterministically from ``numpy.random.default_rng([seed, i])``; each returns a
sample dataclass of numpy arrays (:mod:`vivid.synth.samples`, where every field's shape and
dtype is given):

``body`` (:class:`~vivid.synth.body_scenes.BodyScenes` -> ``BodySample``)
    one image of one person: image, mask, part segmentation, depth, garment mask, H36M-17 and
    COCO joints in 2D (with visibility) and 3D, camera, body parameters, lighting.
    :class:`vivid.synth.storage.SynthDataset` turns the stored arrays into the tensors of the
    shared pose contract (``image`` float (3, H, W) in [0, 1], the rest as they are).
``video`` (:class:`~vivid.synth.video_scenes.VideoScenes` -> ``VideoSample``)
    ``frames`` consecutive frames of one motion under a fixed or slowly moving camera: the same
    labels with a leading T axis, plus forward and backward optical flow between consecutive
    frames with their validity (see :mod:`vivid.synth.flow` for the convention).
``tryon`` (:class:`~vivid.synth.video_scenes.TryonScenes` -> ``TryonSample``)
    a clip as above and a second render of the same person, motion, camera, light and
    background wearing another garment; the two garments laid out flat; the plain background.
``face`` (:class:`~vivid.synth.face_scenes.FaceScenes` -> ``FaceSample``)
    a head with random identity, expression, pose, lighting and albedo: image, face and head
    masks, vertices, 68 landmarks in 2D and 3D with visibility, head pose, coefficients.

Held-out splits: draw train/val/test with different seeds, and hold out phenotypes
(``phenotype_low``/``phenotype_high``), skin tones, garments and motions (``mocap`` file
subsets, ``motion_sources``) through the config.

This module picks the generator of a kind (:func:`make_generator`, :class:`GeneratorFactory`);
the pieces live in :mod:`~vivid.synth.config`, :mod:`~vivid.synth.kit` (body and head models
with their tables), :mod:`~vivid.synth.labels`, :mod:`~vivid.synth.generator` (the base) and
one file per kind.
"""

from __future__ import annotations

from vivid.core.errors import VividError
from vivid.synth.body_scenes import BodyScenes
from vivid.synth.config import KINDS, SceneConfig
from vivid.synth.face_scenes import FaceScenes
from vivid.synth.generator import SceneGenerator
from vivid.synth.kit import BodyKit, HeadKit
from vivid.synth.video_scenes import TryonScenes, VideoScenes

__all__ = [
    "KINDS",
    "SceneConfig",
    "SceneGenerator",
    "BodyKit",
    "HeadKit",
    "BodyScenes",
    "VideoScenes",
    "TryonScenes",
    "FaceScenes",
    "make_generator",
    "GeneratorFactory",
]

_GENERATORS: dict[str, type[SceneGenerator]] = {
    "body": BodyScenes,
    "video": VideoScenes,
    "tryon": TryonScenes,
    "face": FaceScenes,
}


def make_generator(cfg: SceneConfig | dict, *, device: str = "cpu") -> SceneGenerator:
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

    def __call__(self) -> SceneGenerator:
        return make_generator(self.cfg, device=self.device)
