"""Synthetic try-on clips for training and evaluation.

Clips come from ``vivid synth``'s ``tryon`` kind with garments that have their own geometry
(:class:`vivid.synth.garments.GarmentPairs`): the same motion, camera and light rendered with
garments A and B of one category, both laid flat, with part labels, joints and flow. They are
rendered once into ``cache_dir`` (one ``.npz`` per clip, :func:`build_cache`).

:class:`TryonClips` turns a clip into the training sample of self-reconstruction (the video shows
the person wearing garment A; the garment is removed by the background sequence and restored
from A's flat image), every field (T, ...) for T = ``clip_frames`` consecutive frames:

- ``frames`` (T, 3, H, W) float in [0, 1]: the target; ``pose`` (T, 31, H, W): pose images;
- ``background`` (T, 3, H, W) A and ``background_mask`` (T, 1, H, W) m_a;
- ``flat`` (3, Hf, Wf), ``flat_mask`` (1, Hf, Wf): the flat garment;
- ``garment`` (T, 3, H, W) and ``garment_mask`` (T, 1, H, W): the garment as the frame shows it
  (the warping target); ``parse`` (T, H, W) int64: parts with the garment as its own class;
- ``category`` () int64 index in :data:`vivid.tryon.inputs.CATEGORIES`.

With ``pair="b"`` the sample's garment is B (the unpaired case): ``frames`` is then the true
render with B, and the inputs still come from the render with A.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from vivid.core.errors import VividError

from .config import TryonData
from .inputs import CATEGORIES, GARMENT_LABEL, background_sequence, pose_images, tryon_region

log = logging.getLogger(__name__)

# Held-out splits: seeds, body weights (phenotype 3), garment photos and (with mocap) whole takes.
SPLITS = {
    "train": {"seed": 1100, "phenotype_high": 0.75, "photos": "clothing_train"},
    "val": {"seed": 2100, "phenotype_high": 0.75, "photos": "clothing_validation"},
    "test": {"seed": 3100, "phenotype_high": 1.0, "photos": "clothing_dataset_small"},
}
_KEEP = ("image", "image_b", "mask", "mask_b", "parts", "parts_b", "garment_mask", "garment_mask_b", "joints2d", "visibility",
         "flat_garment", "flat_garment_mask", "flat_garment_b", "flat_garment_b_mask", "flow_fw", "flow_fw_valid",
         "flow_fw_b", "flow_fw_b_valid", "category", "background")


def photo_folder(setting: str, split: str) -> Path | None:
    """The garment-photo folder of a split for a ``data.photos`` setting (None: procedural textures)."""
    if setting == "procedural":
        return None
    if setting != "auto":
        if not Path(setting).is_dir():
            raise VividError(f"garment photo folder {setting} does not exist; give a folder, 'auto' or 'procedural'")
        return Path(setting)
    from vivid.synth.mocap_library import shared_data_dir

    shared = shared_data_dir()
    folder = shared / "tryon" / SPLITS[split]["photos"] if shared is not None else None
    return folder if folder is not None and folder.is_dir() else None


def scene_config(split: str, height: int, width: int, frames: int, mocap=None):
    """The :class:`vivid.synth.scenes.SceneConfig` of a split (the person large in the frame)."""
    from vivid.synth.cameras import CameraConfig
    from vivid.synth.scenes import SceneConfig

    if split not in SPLITS:
        raise VividError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    s = SPLITS[split]
    clips = [str(p) for p in mocap.paths(split)] if mocap is not None else []
    return SceneConfig(
        kind="tryon", height=height, width=width, seed=s["seed"], frames=frames,
        phenotype_high=(1.0, 1.0, 1.0, s["phenotype_high"], 1.0, 1.0),
        phenotype_low=(0.0, 0.0, 0.0, 0.0 if split != "test" else 0.5, 0.0, 0.0),
        motion_sources=("mocap", "procedural") if clips else ("procedural",), mocap=tuple(clips) if clips else None,
        camera=CameraConfig(partial_prob=0.0, distance_factor=(0.75, 0.9), max_orbit_deg_per_s=8.0),
    )  # fmt: skip


def cache_folder(root: str | os.PathLike, split: str, cfg: dict, motion_tag: str, photos: Path | None) -> Path:
    key = json.dumps([split, cfg["height"], cfg["width"], cfg["frames"], list(cfg["categories"]), motion_tag, str(photos)])
    return Path(root) / f"{split}_{cfg['height']}x{cfg['width']}_{hashlib.sha1(key.encode()).hexdigest()[:8]}"


def build_cache(folder: Path, split: str, n: int, cfg: dict, *, mocap=None, photos: Path | None = None) -> None:
    """Render clips ``0..n-1`` of ``split`` into ``folder`` (those already there are kept)."""
    from vivid.synth.garments import GarmentPairs, load_garment_photos
    from vivid.synth.scenes import TryonScenes

    folder.mkdir(parents=True, exist_ok=True)
    todo = [i for i in range(n) if not (folder / f"clip_{i:05d}.npz").exists()]
    if not todo:
        return
    gen = TryonScenes(scene_config(split, cfg["height"], cfg["width"], cfg["frames"], mocap))
    gen.garments = GarmentPairs(load_garment_photos(photos) if photos is not None else None, tuple(cfg["categories"]))
    log.info("rendering %d %s try-on clips into %s", len(todo), split, folder)
    for i in todo:
        arrays = gen.generate(i).to_arrays()
        tmp = folder / f".clip_{i:05d}.tmp.npz"
        np.savez_compressed(tmp, **{k: arrays[k] for k in _KEEP})
        tmp.rename(folder / f"clip_{i:05d}.npz")


def clip_sample(arrays: dict, start: int, length: int, *, pair: str = "a") -> dict:
    """The sample of ``length`` frames from ``start`` of a stored clip (see the module docstring)."""
    sl = slice(start, start + length)
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    frames_a = t(arrays["image"][sl]).permute(0, 3, 1, 2).float() / 255
    parts, garment = t(arrays["parts"][sl]).long(), t(arrays["garment_mask"][sl])
    category = int(arrays["category"])
    region = tryon_region(parts, garment, CATEGORIES[category])
    background, m_a = background_sequence(frames_a, region)
    suffix = "" if pair == "a" else "_b"
    flat = t(arrays[f"flat_garment{suffix}"]).permute(2, 0, 1).float() / 255
    flat_mask = t(arrays[f"flat_garment{suffix}_mask"]).float()[None]
    target = frames_a if pair == "a" else t(arrays["image_b"][sl]).permute(0, 3, 1, 2).float() / 255
    parse = parts.clone()
    parse[garment] = GARMENT_LABEL
    g_mask = t(arrays[f"garment_mask{suffix}"][sl]).float()[:, None]
    return {
        "frames": target,
        "pose": pose_images(t(arrays["joints2d"][sl]), t(arrays["visibility"][sl]), parts),
        "background": background,
        "background_mask": m_a,
        "flat": flat,
        "flat_mask": flat_mask,
        "garment": target * g_mask,
        "garment_mask": g_mask,
        "parse": parse,
        "image_a": frames_a,
        "category": torch.tensor(category),
    }


class TryonClips(Dataset):
    """Windows of ``clip_frames`` frames from the cached clips of ``folder`` (random start when
    ``random_start``, else the first frames)."""

    def __init__(self, folder: Path, n: int, clip_frames: int, *, random_start: bool, pair: str = "a", seed: int = 0) -> None:
        self.paths = [folder / f"clip_{i:05d}.npz" for i in range(n)]
        missing = [p for p in self.paths if not p.exists()]
        if missing:
            raise VividError(f"{len(missing)} try-on clips missing from {folder}; run the recipe's prepare step")
        self.clip_frames, self.random_start, self.pair = clip_frames, random_start, pair
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.paths)

    def arrays(self, i: int) -> dict:
        with np.load(self.paths[i]) as z:
            return {k: z[k] for k in z.files}

    def __getitem__(self, i: int) -> dict:
        arrays = self.arrays(i)
        T = arrays["image"].shape[0]
        length = min(self.clip_frames, T)
        start = int(self.rng.integers(T - length + 1)) if self.random_start else 0
        return clip_sample(arrays, start, length, pair=self.pair)


class TryonDataModule(pl.LightningDataModule):
    """Cached synthetic try-on clips (the recipe's ``data`` settings, :class:`TryonData`)."""

    def __init__(self, config: TryonData | None = None) -> None:
        from vivid.synth.mocap_library import resolve_mocap

        super().__init__()
        config = config or TryonData()
        self.cfg = asdict(config)
        self.mocap = resolve_mocap(config.mocap)
        self.train = self.val = None

    def motion_tag(self) -> str:
        return "procedural" if self.mocap is None else self.mocap.tag()

    def folder(self, split: str) -> Path:
        return cache_folder(self.cfg["cache_dir"], split, self.cfg, self.motion_tag(), photo_folder(self.cfg["photos"], split))

    def describe(self) -> dict:
        from vivid.synth.mocap_library import describe_mocap

        return {"splits": {s: {"seed": SPLITS[s]["seed"], "photos": str(photo_folder(self.cfg["photos"], s))} for s in ("train", "val")},
                "motion": describe_mocap(self.mocap)}

    def prepare_data(self) -> None:
        for split, n in (("train", self.cfg["n_train"]), ("val", self.cfg["n_val"])):
            build_cache(self.folder(split), split, n, self.cfg, mocap=self.mocap, photos=photo_folder(self.cfg["photos"], split))

    def setup(self, stage: str | None = None) -> None:
        c = self.cfg
        self.train = TryonClips(self.folder("train"), c["n_train"], c["clip_frames"], random_start=True)
        self.val = TryonClips(self.folder("val"), c["n_val"], c["clip_frames"], random_start=False)

    def train_dataloader(self):
        return DataLoader(self.train, batch_size=min(self.cfg["batch_size"], len(self.train)), shuffle=True, drop_last=True,
                          num_workers=self.cfg["num_workers"])

    def val_dataloader(self):
        return DataLoader(self.val, batch_size=self.cfg["batch_size"], num_workers=self.cfg["num_workers"])
