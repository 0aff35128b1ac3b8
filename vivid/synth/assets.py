"""Where the real render assets are: backdrop photos, HDR panoramas and garment photos.

vivid ships none of them: ``vivid synth`` renders procedural backdrops and garments unless the
user gives folders (``--backgrounds``, ``--hdri``, ``--fabrics``). Training recipes take an
``assets`` setting, like ``data.mocap`` (:mod:`vivid.synth.mocap_library`):

- ``"auto"``: the shared data folder's assets when it exists (:func:`shared_render_assets`),
  otherwise procedural;
- ``"procedural"`` (or None): none.

Splits are the caller's: :func:`shared_render_assets` names the garment photos of one split
(``train``: ``tryon/clothing_train``, ``val``: ``tryon/clothing_validation``, ``test``:
``tryon/clothing_dataset_small``); the backdrops have no split of their own.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from vivid.core.errors import VividError
from vivid.synth.camera_effects import CameraEffects
from vivid.synth.config import SceneConfig
from vivid.synth.mocap_library import shared_data_dir
from vivid.synth.occluders import OccluderConfig

__all__ = ["RenderAssets", "shared_render_assets", "resolve_render_assets", "realistic_config", "FABRIC_SPLITS"]

FABRIC_SPLITS = {"train": "clothing_train", "val": "clothing_validation", "test": "clothing_dataset_small"}


@dataclass(frozen=True)
class RenderAssets:
    """Folders of real assets (None where there are none)."""

    backgrounds: Path | None = None
    hdri: Path | None = None
    fabrics: Path | None = None

    def describe(self) -> dict:
        """JSON-ready record for a run's sidecar."""
        return {k: (str(v) if v is not None else None) for k, v in dataclasses.asdict(self).items()}


def _existing(path: Path) -> Path | None:
    return path if path.is_dir() and any(path.iterdir()) else None


def shared_render_assets(split: str = "train") -> RenderAssets | None:
    """The shared data folder's assets (``photos/backgrounds/images``, ``photos/backgrounds/hdri``
    and the garment photos of ``split``), or None without a shared data folder."""
    if split not in FABRIC_SPLITS:
        raise VividError(f"unknown split {split!r}; use one of {', '.join(FABRIC_SPLITS)}")
    root = shared_data_dir()
    if root is None:
        return None
    found = RenderAssets(
        backgrounds=_existing(root / "photos" / "backgrounds" / "images"),
        hdri=_existing(root / "photos" / "backgrounds" / "hdri"),
        fabrics=_existing(root / "tryon" / FABRIC_SPLITS[split]),
    )
    return found if any(dataclasses.astuple(found)) else None


def resolve_render_assets(setting: str | None, split: str = "train") -> RenderAssets | None:
    """A recipe's ``assets`` setting (``"auto"``, ``"procedural"`` or None) -> the folders, or None."""
    if setting is None or setting == "procedural":
        return None
    if setting == "auto":
        return shared_render_assets(split)
    raise VividError(f"unknown assets setting {setting!r}; use 'auto' or 'procedural'")


def realistic_config(cfg: SceneConfig, assets: RenderAssets | None, *, effects: bool = True, occluders: bool = True) -> SceneConfig:
    """A copy of ``cfg`` with the real assets (where given) and the training settings of the
    camera effects and occluders (:meth:`CameraEffects.training`, :meth:`OccluderConfig.training`)."""
    out = dataclasses.replace(cfg)
    if assets is not None:
        if assets.backgrounds is not None:
            out.backgrounds_dir = str(assets.backgrounds)
        if assets.hdri is not None:
            out.hdri_dir = str(assets.hdri)
            out.hdri_prob = 0.6 if assets.backgrounds is not None else 0.8
        if assets.fabrics is not None:
            out.fabrics_dir = str(assets.fabrics)
    if effects:
        out.effects = CameraEffects.training()
    if occluders:
        out.occluders = OccluderConfig.training()
    return out.validate()
