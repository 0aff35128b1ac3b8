"""Training data for interpolation: flying-layer triplets, triplets drawn from any folder of
videos, and the Vimeo-90K triplet layout; plus the Lightning DataModule.

Every dataset yields dicts with image0, image1, image_t (3, H, W) float in [0, 1] and t (a
scalar tensor in (0, 1)); flying layers add the exact flow01, flow10 (2, H, W) and the inverse
depths invdepth0, invdepth1 (1, H, W), and every item carries ``has_labels`` (1.0 for flying
layers, 0.0 for real footage) so mixed batches know where depth supervision applies, and
``flow_valid0``, ``flow_valid1`` (1, H, W): where flow01 / flow10 supervise the flow network (all
ones for flying layers; for real footage the pixels where a :class:`DISTeacher` flow is
forward-backward consistent, or zeros without a teacher).
"""

from __future__ import annotations

import logging
import math
import random
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from vivid.core.config import changed_fields
from vivid.core.errors import VividError
from vivid.interp.config import InterpData
from vivid.synth.flying import FlyingLayers

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mpg", ".mpeg"}
LABEL_KEYS = ("flow01", "flow10", "invdepth0", "invdepth1")


def _unlabelled(item: dict[str, Tensor]) -> dict[str, Tensor]:
    """Add the labels a real item lacks (zero flow, unit depth, no valid flow pixels) so that
    real and synthetic items collate into one batch."""
    _, h, w = item["image0"].shape
    for key, channels, value in (("flow01", 2, 0.0), ("flow10", 2, 0.0), ("flow_valid0", 1, 0.0), ("flow_valid1", 1, 0.0)):
        if key not in item:
            item[key] = torch.full((channels, h, w), value)
    item["invdepth0"] = torch.ones(1, h, w)
    item["invdepth1"] = torch.ones(1, h, w)
    item["has_labels"] = torch.tensor(0.0)
    return item


class DISTeacher:
    """Flow labels for real footage from OpenCV's DIS optical flow, a teacher for the flow network.

    ``labels(key, frame0, frame1)`` with uint8 (3, H, W) frames returns float (2, H, W) flows
    F0->1, F1->0 and (1, H, W) masks of the pixels whose flow is forward-backward consistent
    (``|F01(x) + F10(x + F01(x))|^2 <= 0.01 (|F01|^2 + |F10(x + F01)|^2) + 0.5``) and lands inside
    the frame; only those supervise. Results are cached per ``key`` (float16), so a pair costs
    two DIS runs once per training run. Needs ``opencv-python-headless``.
    """

    def __init__(self, preset: str = "medium") -> None:
        from vivid.interp.baselines import DISFlowInterpolator

        self._dis = DISFlowInterpolator(preset)
        self._cache: dict = {}

    @staticmethod
    def _consistent(fwd: np.ndarray, bwd: np.ndarray) -> np.ndarray:
        import cv2

        h, w = fwd.shape[:2]
        gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        x, y = gx + fwd[..., 0], gy + fwd[..., 1]
        back = cv2.remap(bwd, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        err = np.sum((fwd + back) ** 2, -1)
        tol = 0.01 * (np.sum(fwd**2, -1) + np.sum(back**2, -1)) + 0.5
        inside = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
        return (err <= tol) & inside

    def labels(self, key, frame0: Tensor, frame1: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        if key not in self._cache:
            a = np.ascontiguousarray(frame0.permute(1, 2, 0).numpy())
            b = np.ascontiguousarray(frame1.permute(1, 2, 0).numpy())
            f01, f10 = self._dis.flows(a, b)
            v0, v1 = self._consistent(f01, f10), self._consistent(f10, f01)
            self._cache[key] = (
                torch.from_numpy(f01).permute(2, 0, 1).half(),
                torch.from_numpy(f10).permute(2, 0, 1).half(),
                torch.from_numpy(v0)[None],
                torch.from_numpy(v1)[None],
            )
        f01, f10, v0, v1 = self._cache[key]
        return f01.float(), f10.float(), v0.float(), v1.float()


def _augment(item: dict[str, Tensor], rng: random.Random) -> dict[str, Tensor]:
    """Random horizontal/vertical flips and temporal reversal, applied to images and labels."""
    if rng.random() < 0.5:  # horizontal flip: x -> -x for flows
        item = {k: (v.flip(-1) if v.ndim == 3 else v) for k, v in item.items()}
        for k in ("flow01", "flow10"):
            if k in item:
                item[k] = item[k] * torch.tensor([-1.0, 1.0]).view(2, 1, 1)
    if rng.random() < 0.2:  # vertical flip (rarer: real motion is mostly upright)
        item = {k: (v.flip(-2) if v.ndim == 3 else v) for k, v in item.items()}
        for k in ("flow01", "flow10"):
            if k in item:
                item[k] = item[k] * torch.tensor([1.0, -1.0]).view(2, 1, 1)
    if rng.random() < 0.5:  # temporal reversal
        item = dict(item)
        item["image0"], item["image1"] = item["image1"], item["image0"]
        item["t"] = 1.0 - item["t"]
        for a, b in (("flow01", "flow10"), ("invdepth0", "invdepth1"), ("flow_valid0", "flow_valid1")):
            if a in item:
                item[a], item[b] = item[b], item[a]
    return item


class FlyingTriplets(Dataset):
    """``length`` flying-layer triplets of ``size`` (H, W); item ``i`` is generated from seed
    ``seed + i`` (so the set is fixed) and cached compactly after its first use.

    random_t: draw t uniformly in [0.1, 0.9] instead of 0.5; augment: flips and reversal.
    cache_file: a ``.safetensors`` file holding the whole set; written on first use (generating
    every item), read by later runs, so several trainings share one generation.
    texture_images: image files or folders whose crops texture sprites and backgrounds (with
    probability ``image_prob``, 0.5 by default); without them textures are procedural.
    """

    def __init__(
        self,
        length: int = 1000,
        size: tuple[int, int] = (128, 128),
        seed: int = 0,
        random_t: bool = True,
        augment: bool = True,
        cache: bool = True,
        cache_file: str | Path | None = None,
        texture_images: str | Path | list | None = None,
        **flying_kwargs,
    ) -> None:
        self.length = length
        self.size = tuple(size)
        self.seed = seed
        self.random_t = random_t
        self.augment = augment
        self.cache = cache
        self.texture_files, images = load_textures(texture_images) if texture_images else ([], [])
        self.flying = FlyingLayers(size=self.size, images=images, **flying_kwargs)
        self.flying_kwargs = dict(flying_kwargs)
        self._cache: dict[int, dict[str, Tensor]] = {}
        if cache_file is not None:
            self._load_or_build(Path(cache_file))

    def __len__(self) -> int:
        return self.length

    def _generate(self, index: int) -> dict[str, Tensor]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        t = float(0.1 + 0.8 * torch.rand(1, generator=g)) if self.random_t else 0.5
        s = self.flying.sample(g, t)
        return {
            "image0": (s["image0"] * 255).round().to(torch.uint8),
            "image1": (s["image1"] * 255).round().to(torch.uint8),
            "image_t": (s["image_t"] * 255).round().to(torch.uint8),
            "t": s["t"],
            "flow01": s["flow01"].half(),
            "flow10": s["flow10"].half(),
            "invdepth0": s["invdepth0"].half(),
            "invdepth1": s["invdepth1"].half(),
        }

    def _load_or_build(self, path: Path) -> None:
        from safetensors.torch import load_file, save_file

        from vivid.core.fileio import atomic_write

        meta = {"length": str(self.length), "size": str(self.size), "seed": str(self.seed), "random_t": str(self.random_t)}
        meta.update({k: str(v) for k, v in sorted(self.flying_kwargs.items())})
        if self.texture_files:
            meta["texture_images"] = ",".join(self.texture_files)
        if path.exists():
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                stored = f.metadata() or {}
            if stored != meta:
                raise VividError(f"flying-layer cache {path} was built with {stored}, not {meta}; delete it or point elsewhere")
            flat = load_file(str(path))
            keys = sorted({k.split(".", 1)[1] for k in flat})
            for i in range(self.length):
                self._cache[i] = {k: flat[f"{i}.{k}"] for k in keys}
            return
        flat = {}
        for i in range(self.length):
            self._cache[i] = self._generate(i)
            flat.update({f"{i}.{k}": v.contiguous() for k, v in self._cache[i].items()})
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as tmp:
            save_file(flat, str(tmp), metadata=meta)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        if index in self._cache:
            raw = self._cache[index]
        else:
            raw = self._generate(index)
            if self.cache:
                self._cache[index] = raw
        item = {k: (v.float() / 255.0 if v.dtype == torch.uint8 else v.float()) for k, v in raw.items()}
        item["has_labels"] = torch.tensor(1.0)
        item["flow_valid0"] = torch.ones_like(item["invdepth0"])
        item["flow_valid1"] = torch.ones_like(item["invdepth1"])
        if self.augment:
            item = _augment(item, random.Random(hash((self.seed, index, torch.randint(0, 2**30, (1,)).item()))))
        return item


def _resize_uint8(frame: np.ndarray, long_side: int | None) -> Tensor:
    """uint8 (H, W, 3) -> uint8 (3, h, w) tensor with the long side at most ``long_side``
    (area-correct downscaling with Pillow, which is fast on uint8)."""
    from PIL import Image

    h, w = frame.shape[:2]
    if long_side is not None and max(h, w) > long_side:
        s = long_side / max(h, w)
        size = (max(1, round(w * s)), max(1, round(h * s)))
        frame = np.asarray(Image.fromarray(np.ascontiguousarray(frame)).resize(size, Image.BILINEAR, reducing_gap=None))
    return torch.from_numpy(np.require(frame, requirements=["C", "W"])).permute(2, 0, 1).contiguous()


def decode_video(
    path: str | Path,
    long_sides: tuple[int | None, ...] = (None,),
    max_frames: int | None = None,
    cache_dir: str | Path | None = None,
) -> list[list[Tensor]]:
    """All frames of a video as uint8 (3, h, w) tensors, once per entry of ``long_sides``.

    Returns ``clips[s][i]``: frame i resized so its long side is ``long_sides[s]``. With
    ``cache_dir`` the decoded frames are kept there as ``.npy`` files (keyed by file name, size,
    modification time and long side) so repeated runs skip decoding.
    """
    from vivid.core.video import iter_frames

    path = Path(path)
    stat = path.stat()
    keys = [f"{path.stem}-{stat.st_size}-{int(stat.st_mtime)}-{side}-{max_frames}.npy" for side in long_sides]
    if cache_dir is not None and all((Path(cache_dir) / k).exists() for k in keys):
        out = []
        for k in keys:
            arr = np.load(Path(cache_dir) / k)
            out.append([torch.from_numpy(a).permute(2, 0, 1).contiguous() for a in arr])
        return out
    clips: list[list[Tensor]] = [[] for _ in long_sides]
    for n, frame in enumerate(iter_frames(path)):
        if max_frames is not None and n >= max_frames:
            break
        for s, side in enumerate(long_sides):
            clips[s].append(_resize_uint8(frame.image, side))
    if cache_dir is not None and clips[0]:
        from vivid.core.fileio import atomic_write

        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        for k, frames in zip(keys, clips):
            with atomic_write(Path(cache_dir) / k) as tmp:
                with open(tmp, "wb") as f:
                    np.save(f, torch.stack(frames).permute(0, 2, 3, 1).numpy())
    return clips


def _list_files(source: str | Path | list, suffixes: set[str], kind: str) -> list[Path]:
    """Files with one of ``suffixes`` from a folder (recursively), a single file, or a list of either."""
    if isinstance(source, (list, tuple)):
        return [f for s in source for f in _list_files(s, suffixes, kind)]
    p = Path(source)
    if p.is_file():
        return [p]
    if p.is_dir():
        return sorted(q for q in p.rglob("*") if q.suffix.lower() in suffixes)
    raise VividError(f"{kind} source {p} does not exist; give a {kind} file or a folder of {kind}s")


def list_videos(source: str | Path | list) -> list[Path]:
    """Video files from a folder (recursively), a single file, or a list of either."""
    return _list_files(source, VIDEO_SUFFIXES, "video")


def load_textures(source: str | Path | list, max_side: int = 512) -> tuple[list[str], list[Tensor]]:
    """Images for flying-layer sprite and background textures (``data.flying.texture_images``):
    their paths and (3, H, W) float tensors in [0, 1], the long side at most ``max_side``."""
    import torch.nn.functional as F

    from vivid.core.fileio import IMAGE_SUFFIXES, read_image, to_tensor

    files = _list_files(source, IMAGE_SUFFIXES, "image")
    if not files:
        raise VividError(f"data.flying.texture_images: no images in {source}")
    images = []
    for f in files:
        x = to_tensor(read_image(f))
        scale = max_side / max(x.shape[-2:])
        if scale < 1:
            x = F.interpolate(x[None], scale_factor=scale, mode="area")[0]
        images.append(x)
    return [str(f) for f in files], images


class VideoTriplets(Dataset):
    """Triplets drawn on the fly from decoded videos.

    clips: list of frame lists (uint8 (3, H, W) tensors, all frames of one clip the same size).
    An item picks a clip, a start frame i and a gap n from ``gaps``, and k in 1..n-1: inputs
    are frames i and i + n, the target frame i + k at ``t = k / n`` (with n = 2 always t = 0.5).
    ``frames`` restricts every clip to a range of frame indices (start, stop) as fractions of
    its length, so held-out frames stay out of training. crop: (h, w) random crop (None: the
    whole frame, or the centre crop in ``deterministic`` mode); augment: flips + reversal.
    ``length`` items per epoch; ``deterministic`` makes item ``i`` fixed (validation).
    teacher: a :class:`DISTeacher` whose flows between the two inputs (computed on the whole
    frames, then cropped) become flow labels.
    """

    def __init__(
        self,
        clips: list[list[Tensor]],
        gaps: tuple[int, ...] = (2,),
        crop: tuple[int, int] | None = (128, 128),
        frames: tuple[float, float] = (0.0, 1.0),
        length: int = 1000,
        augment: bool = True,
        deterministic: bool = False,
        min_motion: float = 0.0,
        teacher: DISTeacher | None = None,
    ) -> None:
        self.gaps = tuple(int(g) for g in gaps)
        if min(self.gaps) < 2:
            raise VividError(f"gaps must be >= 2 (a triplet needs a frame between its inputs), got {gaps}")
        self.crop = tuple(crop) if crop else None
        self.length = length
        self.augment = augment
        self.deterministic = deterministic
        self.min_motion = min_motion
        self.teacher = teacher
        self.clips = []
        for frames_list in clips:
            n = len(frames_list)
            lo, hi = int(math.floor(frames[0] * n)), int(math.floor(frames[1] * n))
            part = frames_list[lo:hi]
            if len(part) > min(self.gaps):
                self.clips.append(part)
        if not self.clips:
            raise VividError("no clip has enough frames for a triplet; give longer videos or smaller gaps")
        if self.crop is not None and not deterministic:
            small = [tuple(p[0].shape[-2:]) for p in self.clips if p[0].shape[-2] < self.crop[0] or p[0].shape[-1] < self.crop[1]]
            if small:
                raise VividError(
                    f"crop {list(self.crop)} is larger than frames of size {list(small[0])}; use a smaller crop or larger long_sides"
                )
        self.starts = []  # (clip, start, gap) for every valid triplet
        for c, part in enumerate(self.clips):
            for gap in self.gaps:
                self.starts += [(c, i, gap) for i in range(len(part) - gap)]

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        rng = random.Random(index) if self.deterministic else random.Random(torch.randint(0, 2**62, (1,)).item())
        c, i, gap = self.starts[rng.randrange(len(self.starts))] if not self.deterministic else self.starts[
            (index * 7919) % len(self.starts)
        ]
        k = rng.randint(1, gap - 1)
        frames = self.clips[c]
        f0, ft, f1 = frames[i], frames[i + k], frames[i + gap]
        labels = self.teacher.labels((c, i, gap), f0, f1) if self.teacher is not None else ()
        h, w = f0.shape[-2:]
        if self.crop is not None:
            ch, cw = min(self.crop[0], h), min(self.crop[1], w)
            if self.deterministic:
                y, x = (h - ch) // 2, (w - cw) // 2
            else:
                y, x = rng.randint(0, h - ch), rng.randint(0, w - cw)
            f0, ft, f1 = (f[:, y : y + ch, x : x + cw] for f in (f0, ft, f1))
            labels = tuple(v[:, y : y + ch, x : x + cw] for v in labels)
        item = {
            "image0": f0.float() / 255.0,
            "image1": f1.float() / 255.0,
            "image_t": ft.float() / 255.0,
            "t": torch.tensor(k / gap),
        }
        if labels:
            item.update(zip(("flow01", "flow10", "flow_valid0", "flow_valid1"), labels))
        if self.augment and not self.deterministic:
            item = _augment(item, rng)
        return _unlabelled(item)


class Vimeo90KTriplets(Dataset):
    """The Vimeo-90K triplet layout: ``root/sequences/xxxxx/yyyy/im{1,2,3}.png`` listed in
    ``root/tri_trainlist.txt`` (split "train") or ``root/tri_testlist.txt`` (split "test").

    crop: (h, w) random crop for training (None keeps the 448x256 frames); augment: flips and
    temporal reversal. Items have t = 0.5.
    """

    def __init__(self, root: str | Path, split: str = "train", crop: tuple[int, int] | None = (256, 256), augment: bool = True) -> None:
        self.root = Path(root)
        lists = {"train": "tri_trainlist.txt", "test": "tri_testlist.txt"}
        if split not in lists:
            raise VividError(f"Vimeo-90K split must be 'train' or 'test', got {split!r}")
        listing = self.root / lists[split]
        if not listing.exists():
            raise VividError(f"{listing} not found; point data.vimeo at the folder holding tri_trainlist.txt and sequences/")
        self.items = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
        if not self.items:
            raise VividError(f"{listing} lists no sequences")
        self.crop = tuple(crop) if crop else None
        self.augment = augment

    def __len__(self) -> int:
        return len(self.items)

    def _read(self, path: Path) -> Tensor:
        from vivid.core.fileio import read_image, to_tensor

        return to_tensor(read_image(path))

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        folder = self.root / "sequences" / self.items[index]
        f0, ft, f1 = (self._read(folder / f"im{i}.png") for i in (1, 2, 3))
        rng = random.Random(torch.randint(0, 2**62, (1,)).item()) if self.augment else random.Random(index)
        h, w = f0.shape[-2:]
        if self.crop is not None:
            ch, cw = min(self.crop[0], h), min(self.crop[1], w)
            if self.augment:
                y, x = rng.randint(0, h - ch), rng.randint(0, w - cw)
            else:
                y, x = (h - ch) // 2, (w - cw) // 2
            f0, ft, f1 = (f[:, y : y + ch, x : x + cw] for f in (f0, ft, f1))
        item = {"image0": f0, "image1": f1, "image_t": ft, "t": torch.tensor(0.5)}
        if self.augment:
            item = _augment(item, rng)
        return _unlabelled(item)


class InterpDataModule(pl.LightningDataModule):
    """Mixed training batches of real triplets and flying layers; validation on held-out frames.

    Args:
        config: the recipe's ``data`` settings (:class:`vivid.interp.config.InterpData`, whose
            docstring lists them).
    """

    def __init__(self, config: InterpData | None = None) -> None:
        super().__init__()
        self.config = config or InterpData()
        self.batch_size = self.config.batch_size
        if self.config.teacher not in (None, "none", "dis"):
            raise VividError(f"data.teacher must be 'dis' or none, got {self.config.teacher!r}")
        self.train_sets: dict[str, Dataset] = {}
        self.val_sets: list[Dataset] = []
        self.val_names: list[str] = []

    def describe(self) -> str:
        c = self.config
        parts = []
        fly = c.flying
        if fly.train and fly.fraction > 0:
            keys = ("size", "max_motion", "background_motion", "sprite_size", "flat_prob", "static_prob", "band_prob", "texture_images", "image_prob")
            # Settings that differ from the defaults (and the size when given), as the sidecar's short record.
            extra = {k: list(v) if isinstance(v, tuple) else v for k, v in changed_fields(fly).items() if k in keys}
            parts.append(f"flying layers ({fly.train} scenes{', ' + str(extra) if extra else ''})")
        if c.videos:
            names = ", ".join(p.name for p in list_videos(c.videos))
            parts.append(
                f"video triplets from {names} (long side {list(c.long_sides)}, gaps {list(c.gaps)}, "
                f"last {c.video_val_fraction:.0%} of frames held out for validation"
                f"{', DIS-flow teacher' if c.teacher == 'dis' else ''})"
            )
        if c.vimeo:
            parts.append(f"Vimeo-90K triplets at {c.vimeo}")
        return "; ".join(parts)

    def setup(self, stage: str | None = None) -> None:
        if self.train_sets:
            return
        c = self.config
        crop = tuple(c.crop)
        fly = c.flying
        self.fraction = fly.fraction
        fly_size = tuple(fly.size or crop)
        layers = fly.layer_settings()
        real_train: list[Dataset] = []
        if c.videos:
            sides, val_frac, gaps = tuple(c.long_sides), c.video_val_fraction, tuple(c.gaps)
            clips_train, clips_val = [], []
            for path in list_videos(c.videos):
                per_side = decode_video(path, sides, c.max_frames, c.cache_dir)
                log.info("decoded %s: %d frames", path, len(per_side[0]))
                clips_train += per_side
                clips_val.append(per_side[0])
            real_train.append(
                VideoTriplets(
                    clips_train,
                    gaps,
                    crop,
                    (0.0, 1.0 - val_frac),
                    c.epoch_length,
                    teacher=DISTeacher() if c.teacher == "dis" else None,
                )
            )
            # Validation: the held-out tail of every clip at the largest size, gap 2 (t = 0.5),
            # the frame-drop protocol of the benchmark.
            self.val_sets.append(
                VideoTriplets(clips_val, (2,), tuple(c.val_crop), (1.0 - val_frac, 1.0), c.val_items, augment=False, deterministic=True)
            )
            self.val_names.append("video")
        if c.vimeo:
            real_train.append(Vimeo90KTriplets(c.vimeo, "train", crop))
            self.val_sets.append(Vimeo90KTriplets(c.vimeo, "test", tuple(c.val_crop), augment=False))
            self.val_names.append("vimeo")
        if not real_train:
            self.fraction = 1.0
        if self.fraction > 0:
            textures = fly.texture_images
            self.train_sets["flying"] = FlyingTriplets(
                fly.train, fly_size, seed=0, random_t=fly.random_t, cache_file=fly.cache_file, texture_images=textures, **layers
            )
            self.val_sets.append(
                FlyingTriplets(fly.val, fly_size, seed=10_000, random_t=False, augment=False, texture_images=textures, **layers)
            )
            self.val_names.append("flying")
        if real_train and self.fraction < 1:
            self.train_sets["real"] = real_train[0] if len(real_train) == 1 else ConcatDataset(real_train)

    def _split_batch(self) -> dict[str, int]:
        if len(self.train_sets) == 1:
            return {next(iter(self.train_sets)): self.batch_size}
        n_fly = max(1, min(self.batch_size - 1, round(self.fraction * self.batch_size)))
        return {"flying": n_fly, "real": self.batch_size - n_fly}

    def train_dataloader(self):
        sizes = self._split_batch()
        workers = self.config.num_workers
        return {
            name: DataLoader(ds, batch_size=sizes[name], shuffle=True, num_workers=workers, drop_last=True, persistent_workers=workers > 0)
            for name, ds in self.train_sets.items()
        }

    def val_dataloader(self):
        return [DataLoader(ds, batch_size=4, shuffle=False, num_workers=0) for ds in self.val_sets]
