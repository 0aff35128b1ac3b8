"""Data: synthetic clips of one moving person, cropped per frame around the person, with their labels.

Clips come from :mod:`vivid.synth`'s video scenes (mocap and procedural motion, moving and static
cameras, varied phenotypes, garments and lighting, partial framing by the image edge). Each split
has its own seeds, phenotype range and garment kinds, and mocap clips are split by whole takes
(:mod:`vivid.synth.mocap_library`), so the test split's motions are never seen in training.
:func:`build_clip_cache` renders a split once to an ``.npz`` in ``cache_dir``; :class:`ClipSequences`
cuts sequences of S consecutive frames out of it.

A sequence sample (tensors; a batch adds a leading B):

- ``frames`` (S, 3, N, N) float32 in [0, 1]: crops of side N around the person;
- ``joints2d`` (S, 17, 2) crop pixels; ``weight2d`` (S, 17): 1 where the joint lies inside the crop;
- ``joints3d`` (S, 17, 3) H36M joints in the camera frame, metres; ``K`` (S, 3, 3) crop intrinsics;
- ``rotations`` (S, 24, 3, 3) the :data:`vivid.bodyvid.skeleton.BONES` rotations (the root's in
  the camera frame); ``phenotype`` (S, 6);
- ``times`` (S,) seconds (the frames' own timestamps); ``occluded`` (S,) bool: at least
  :data:`OCCLUDED_JOINTS` joints hidden (by the image edge, another body part or an object).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from vivid.core.errors import VividError

log = logging.getLogger(__name__)

OCCLUDED_JOINTS = 3
BOX_MARGIN = 1.3

# Held-out splits: seeds, body weights (Anny phenotype 3) and garment kinds differ.
SPLITS = {
    "train": {"seed": 21000, "weight": (0.0, 0.8), "garments": ("solid", "stripes", "checks", "prints")},
    "val": {"seed": 22000, "weight": (0.0, 0.8), "garments": ("solid", "stripes", "checks", "prints")},
    "test": {"seed": 23000, "weight": (0.8, 1.0), "garments": ("logos", "stripes")},
}


def scene_config(split: str, *, frames: int, render_size: int, mocap=None):
    """The :class:`vivid.synth.config.SceneConfig` of a split's clips (video kind)."""
    from vivid.synth.cameras import CameraConfig
    from vivid.synth.config import SceneConfig

    if split not in SPLITS:
        raise VividError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    s = SPLITS[split]
    clips = tuple(str(p) for p in mocap.paths(split)) if mocap is not None else ()
    lo, hi = [0.0] * 6, [1.0] * 6
    lo[3], hi[3] = s["weight"]
    return SceneConfig(
        kind="video", height=render_size, width=render_size, seed=s["seed"], frames=frames,
        phenotype_low=tuple(lo), phenotype_high=tuple(hi),
        motion_sources=("mocap", "procedural") if clips else ("procedural",), mocap=clips or None,
        garment_kinds=s["garments"], camera=CameraConfig(partial_prob=0.25),
    )  # fmt: skip


def square_box(points: Tensor, margin: float = BOX_MARGIN) -> tuple[float, float, float]:
    """(J, 2) pixels -> (centre x, centre y, side) of the square around them, ``margin`` times their extent."""
    lo, hi = points.min(0).values, points.max(0).values
    c = (lo + hi) / 2
    return float(c[0]), float(c[1]), max(8.0, float((hi - lo).max()) * margin)


def clamp_box(box: tuple[float, float, float], height: int, width: int) -> tuple[float, float, float]:
    """A box kept near the image: centre within it, side at most twice its larger side (joints far
    outside the frame, e.g. of a body the camera crops, would otherwise make a useless crop)."""
    cx, cy, side = box
    return min(max(cx, 0.0), width - 1.0), min(max(cy, 0.0), height - 1.0), min(side, 2.0 * max(height, width))


def crop(image: Tensor, box: tuple[float, float, float], size: int) -> Tensor:
    """Sample a square ``box`` of ``image`` (3, H, W) into (3, size, size), bilinear, zeros outside.

    ``image``: float in [0, 1], or uint8 (then read as value / 255). Pixel centres are integers:
    crop pixel ``i`` samples image ``x0 + (i + 0.5) side / size - 0.5`` with ``x0 = cx - side / 2``
    (see :func:`crop_intrinsics`). Only the window of the image under the box is read (and
    low-passed, when the box is much larger than the crop), so the cost follows the box, not the
    frame.
    """
    _, H, W = image.shape
    cx, cy, side = box
    lowpass = side > 2 * size and min(H, W) >= 8
    f = min(side / (2 * size), min(H, W) / 4) if lowpass else 1.0
    margin = 2.0 * f + 2.0
    x0, x1 = max(0, int(cx - side / 2 - margin)), min(W, int(cx + side / 2 + margin) + 1)
    y0, y1 = max(0, int(cy - side / 2 - margin)), min(H, int(cy + side / 2 + margin) + 1)
    if x1 - x0 < 2 or y1 - y0 < 2:  # the box lies outside the image
        return torch.zeros(3, size, size)
    image = image[:, y0:y1, x0:x1]
    cx, cy = cx - x0, cy - y0
    H, W = image.shape[1:]
    if lowpass and min(H, W) / f >= 2:  # low-pass first, so that a large box does not alias
        H2, W2 = int(H / f), int(W / f)
        if image.dtype == torch.uint8:  # frames of a video: OpenCV's area resize, much faster
            import cv2

            small = cv2.resize(np.ascontiguousarray(image.permute(1, 2, 0).numpy()), (W2, H2), interpolation=cv2.INTER_AREA)
            image = torch.from_numpy(small).permute(2, 0, 1).float() / 255
        else:
            image = F.interpolate(image[None].float(), size=(H2, W2), mode="area")[0]
        cx, cy, side = (cx + 0.5) * W2 / W - 0.5, (cy + 0.5) * H2 / H - 0.5, side * W2 / W
        H, W = H2, W2
    image = image.float() / 255 if image.dtype == torch.uint8 else image.float()
    i = torch.arange(size, dtype=torch.float32)
    xs = cx - side / 2 + (i + 0.5) * side / size - 0.5
    ys = cy - side / 2 + (i + 0.5) * side / size - 0.5
    gx = (xs + 0.5) / W * 2 - 1  # align_corners=False grid
    gy = (ys + 0.5) / H * 2 - 1
    grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], -1)[None]
    return F.grid_sample(image[None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0]


def crop_intrinsics(K: Tensor, box: tuple[float, float, float], size: int) -> Tensor:
    """Intrinsics (3, 3) of an image -> those of its crop (:func:`crop`)."""
    cx, cy, side = box
    a = size / side
    x0, y0 = cx - side / 2, cy - side / 2
    out = K.clone().float()
    out[:2] *= a
    out[0, 2] = (K[0, 2] - x0 + 0.5) * a - 0.5
    out[1, 2] = (K[1, 2] - y0 + 0.5) * a - 0.5
    return out


def to_crop_pixels(points: Tensor, box: tuple[float, float, float], size: int) -> Tensor:
    """Image pixels (..., 2) -> crop pixels of :func:`crop`."""
    cx, cy, side = box
    origin = torch.tensor([cx - side / 2, cy - side / 2], dtype=points.dtype)
    return (points - origin + 0.5) * (size / side) - 0.5


def from_crop_pixels(points: Tensor, box: tuple[float, float, float], size: int) -> Tensor:
    """Crop pixels (..., 2) -> image pixels (the inverse of :func:`to_crop_pixels`)."""
    cx, cy, side = box
    origin = torch.tensor([cx - side / 2, cy - side / 2], dtype=points.dtype)
    return (points + 0.5) * (side / size) - 0.5 + origin


def _clip_generator(cfg):
    """A video-scene generator whose clips come back with their labels and body parameters,
    without the optical flow the ``video`` kind also computes (unused here, and slow)."""
    from vivid.synth.video_scenes import VideoScenes

    class LabelledClips(VideoScenes):
        def labelled(self, i: int):
            clip = self._clip(self._rng(i))
            labels, _, _ = self._render_clip(clip, clip.look.texture)
            return labels, clip

    return LabelledClips(cfg)


def clip_arrays(labels, clip, size: int, rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
    """One rendered clip (frame labels with a T axis, and the :class:`vivid.synth.video_scenes.Clip`)
    -> the cached arrays of its T frames, cropped to ``size`` (``rng``: jitter the boxes)."""
    from vivid.bodyvid.skeleton import BONES
    from vivid.core.fileio import to_uint8
    from vivid.synth.motion import CONTROLLED_BONES

    if CONTROLLED_BONES != BONES[1:]:
        raise RuntimeError("vivid.synth's controlled bones differ from vivid.bodyvid.skeleton.BONES")
    T = labels.image.shape[0]
    deltas = torch.from_numpy(np.ascontiguousarray(clip.deltas)).float()  # (T, 104, 3, 3)
    from vivid.bodyvid.skeleton import shared_body_model

    names = shared_body_model().bone_names
    idx = [names.index(b) for b in BONES[1:]]
    R_cam = clip.camera.R.float()
    rotations = torch.cat([(R_cam @ deltas[:, 0])[:, None], deltas[:, idx]], 1)
    frames, j2d, K = [], [], []
    for k in range(T):
        joints = torch.from_numpy(labels.joints2d[k])
        cx, cy, side = square_box(joints)
        if rng is not None:
            side *= float(rng.uniform(0.9, 1.15))
            cx += float(rng.uniform(-0.05, 0.05)) * side
            cy += float(rng.uniform(-0.05, 0.05)) * side
        box = clamp_box((cx, cy, side), *labels.image.shape[1:3])
        image = torch.from_numpy(labels.image[k]).permute(2, 0, 1).float() / 255
        frames.append(to_uint8(crop(image, box, size)))
        j2d.append(to_crop_pixels(joints, box, size).numpy())
        K.append(crop_intrinsics(torch.from_numpy(labels.K[k]), box, size).numpy())
    return {
        "frames": np.stack(frames),
        "joints2d": np.stack(j2d).astype(np.float32),
        "visibility": labels.visibility.astype(np.float32),
        "joints3d": labels.joints3d.astype(np.float32),
        "K": np.stack(K).astype(np.float32),
        "rotations": rotations.numpy().astype(np.float32),
        "phenotype": np.repeat(clip.phenotype[None].astype(np.float32), T, 0),
        "times": (np.arange(T) / float(clip.motion.fps)).astype(np.float32),
        "moving_camera": np.array(bool(clip.moving)),
    }


def cache_path(cache_dir: str | os.PathLike, split: str, n: int, frames: int, render_size: int, size: int, mocap) -> Path:
    tag = mocap.tag() if mocap is not None else "procedural"
    return Path(cache_dir) / f"clips_{split}_{n}x{frames}_r{render_size}_s{size}_{tag}.npz"


def build_clip_cache(path: str | os.PathLike, split: str, n: int, *, frames: int, render_size: int, size: int,
                     mocap=None) -> Path:  # fmt: skip
    """Render ``n`` clips of ``split`` and save their crops and labels to one ``.npz`` (atomic)."""
    from vivid.core.fileio import atomic_write
    from vivid.synth.mocap_library import describe_mocap

    cfg = scene_config(split, frames=frames, render_size=render_size, mocap=mocap)
    gen = _clip_generator(cfg)
    clips, sources = [], []
    for i in range(n):
        labels, clip = gen.labelled(i)
        rng = np.random.default_rng([cfg.seed, i, 5]) if split == "train" else None
        clips.append(clip_arrays(labels, clip, size, rng))
        sources.append(clip.motion.source)
        if (i + 1) % 20 == 0:
            log.info("rendered %d/%d %s clips", i + 1, n, split)
    arrays = {k: np.stack([c[k] for c in clips]) for k in clips[0]}
    meta = {"split": split, "n": n, "frames": frames, "render_size": render_size, "size": size, "scene": cfg.to_dict(),
            "motion": describe_mocap(mocap)["source"], "sources": sources}  # fmt: skip
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return path


def load_clip_cache(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """The arrays of a cache (see :func:`clip_arrays`, leading N axis) and its metadata."""
    path = Path(path)
    if not path.exists():
        raise VividError(f"clip cache {path} does not exist")
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    return arrays, json.loads(arrays.pop("meta").tobytes().decode())


def sequence_sample(arrays: dict[str, np.ndarray], clip: int, start: int, seq_len: int) -> dict[str, Tensor]:
    """Frames ``start:start + seq_len`` of cached clip ``clip`` as a sequence sample (module docstring)."""
    sl = slice(start, start + seq_len)
    frames = torch.from_numpy(arrays["frames"][clip, sl]).permute(0, 3, 1, 2).float() / 255
    j2d = torch.from_numpy(arrays["joints2d"][clip, sl])
    size = frames.shape[-1]
    inside = ((j2d > -0.5) & (j2d < size - 0.5)).all(-1).float()
    vis = torch.from_numpy(arrays["visibility"][clip, sl])
    return {
        "frames": frames,
        "joints2d": j2d,
        "weight2d": inside,
        "joints3d": torch.from_numpy(arrays["joints3d"][clip, sl]),
        "K": torch.from_numpy(arrays["K"][clip, sl]),
        "rotations": torch.from_numpy(arrays["rotations"][clip, sl]),
        "phenotype": torch.from_numpy(arrays["phenotype"][clip, sl]),
        "times": torch.from_numpy(arrays["times"][clip, sl]),
        "occluded": (vis < 0.5).sum(-1) >= OCCLUDED_JOINTS,
    }


class ClipSequences(Dataset):
    """Sequences of ``seq_len`` consecutive frames from a clip cache: with ``random_start`` one
    random window per clip and visit (training), else every non-overlapping window in order."""

    def __init__(self, path: str | os.PathLike, seq_len: int, *, random_start: bool = False, seed: int = 0) -> None:
        self.arrays, self.meta = load_clip_cache(path)
        T = self.arrays["frames"].shape[1]
        if T < seq_len:
            raise VividError(f"clips of {T} frames are shorter than the sequence length {seq_len}")
        self.seq_len, self.random_start = seq_len, random_start
        self.rng = np.random.default_rng(seed)
        n = self.arrays["frames"].shape[0]
        self.items = [(c, 0) for c in range(n)] if random_start else [
            (c, s) for c in range(n) for s in range(0, T - seq_len + 1, seq_len)]  # fmt: skip
        self.clip_frames = T

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        c, s = self.items[i]
        if self.random_start:
            s = int(self.rng.integers(self.clip_frames - self.seq_len + 1))
        return sequence_sample(self.arrays, c, s, self.seq_len)


class BodyVidDataModule(pl.LightningDataModule):
    """Clip caches for training and validation (rendered in ``prepare_data`` when missing).

    Args:
        config: the ``data`` settings; size: the model's input size; seq_len: its S.
    """

    def __init__(self, config, *, size: int, seq_len: int) -> None:
        super().__init__()
        from vivid.synth.mocap_library import resolve_mocap

        if config.clip_frames < seq_len:
            raise VividError(f"data.clip_frames {config.clip_frames} is shorter than the model's sequence length {seq_len}")
        self.config, self.size, self.seq_len = config, size, seq_len
        self.mocap = resolve_mocap(config.mocap)

    def path(self, split: str) -> Path:
        c = self.config
        n = c.n_train if split == "train" else c.n_val
        return cache_path(c.cache_dir, split, n, c.clip_frames, c.render_size, self.size, self.mocap)

    def prepare_data(self) -> None:
        c = self.config
        for split, n in (("train", c.n_train), ("val", c.n_val)):
            path = self.path(split)
            if not path.exists():
                log.info("rendering %d %s clips into %s", n, split, path)
                build_clip_cache(path, split, n, frames=c.clip_frames, render_size=c.render_size, size=self.size,
                                 mocap=self.mocap)  # fmt: skip

    def setup(self, stage: str | None = None) -> None:
        self.train = ClipSequences(self.path("train"), self.seq_len, random_start=True)
        self.val = ClipSequences(self.path("val"), self.seq_len)

    def train_dataloader(self):
        return DataLoader(self.train, batch_size=self.config.batch_size, shuffle=True, drop_last=True,
                          num_workers=self.config.num_workers)  # fmt: skip

    def val_dataloader(self):
        return DataLoader(self.val, batch_size=self.config.batch_size, num_workers=self.config.num_workers)
