"""Training data for the person detector: rendered people cut out and pasted over real photos.

A composite is a background (a real photo, a perspective view of an HDR panorama, or a
procedural image when no photos are at hand) with 0 to ``max_people`` people pasted at several
scales and positions: some cut by the frame edge, some hidden in part behind later people or
behind plain occluders, some with a soft shadow at their feet, and images with nobody (with
stray shadows) as negatives. Then the whole image is jittered as a camera would: exposure,
contrast, grey, blur, noise, JPEG, and sometimes grey letterbox bars.

The people are :class:`vivid.synth.scenes.BodyScenes` renders cut out with their mask. Rendering
is the slow part, so the people are rendered once per split into ``cache_dir`` (an ``.npz``);
training composites are drawn on the fly from them (composite ``i`` from
``default_rng([seed, i])``), and the validation composites are made once and cached too.

Splits: training and validation people come from different render seeds and different mocap
takes; background files are split by a fixed hash of their name, with the faces of one cube map
(``humus_<place>_<face>.jpg``) kept together. Each sample is a dict: ``image`` (3, S, S) float
in [0, 1], ``boxes`` (M, 4) input pixels padded to M = :data:`MAX_OBJECTS`, ``count`` () the
boxes in use, ``ignore`` (M,) bool (people mostly hidden: neither positive nor negative).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from vivid.core.errors import VividError
from vivid.people.boxes import PAD_VALUE
from vivid.people.config import PeopleData

log = logging.getLogger(__name__)

SPLIT_SEEDS = {"train": 1000, "val": 2000}
VAL_SHARE = 5  # one background in five (by name hash) is for validation
MAX_OBJECTS = 24
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")

# ----------------------------------------------------------------------------- backgrounds


def background_key(path: str | os.PathLike) -> str:
    """The unit of the train/val split: a cube map's faces share one key, any other file is its own."""
    stem = Path(path).stem
    m = re.fullmatch(r"(humus_.+)_(pos|neg)[xyz]", stem)
    return m.group(1) if m else stem


def _key_rank(key: str) -> int:
    return int(hashlib.sha1(key.encode()).hexdigest()[:8], 16)


def split_backgrounds(files: list[Path]) -> dict[Path, str]:
    """``train`` or ``val`` for each background file: the keys (:func:`background_key`) in a fixed
    hash order, every ``VAL_SHARE``-th of them (the first included) for validation."""
    keys = sorted({background_key(p) for p in files}, key=lambda k: (_key_rank(k), k))
    val = {k for i, k in enumerate(keys) if i % VAL_SHARE == 0}
    return {p: "val" if background_key(p) in val else "train" for p in files}


def find_backgrounds(setting: str) -> tuple[list[Path], list[Path]]:
    """(photos, panoramas) for ``data.backgrounds``: ``auto``, ``procedural`` or a folder."""
    if setting == "procedural":
        return [], []
    if setting == "auto":
        from vivid.synth.mocap_library import shared_data_dir

        shared = shared_data_dir()
        folder = shared / "photos" / "backgrounds" if shared is not None else None
        if folder is None or not folder.is_dir():
            return [], []
    else:
        folder = Path(setting)
        if not folder.is_dir():
            raise VividError(f"data.backgrounds: folder {folder} does not exist (or use auto / procedural)")
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    photos = [p for p in files if p.suffix.lower() in PHOTO_SUFFIXES]
    panoramas = [p for p in files if p.suffix.lower() == ".hdr"]
    if setting != "auto" and not photos and not panoramas:
        raise VividError(f"data.backgrounds: {folder} holds no photos ({', '.join(PHOTO_SUFFIXES)}) or .hdr panoramas")
    return photos, panoramas


def read_panorama(path: str | os.PathLike) -> np.ndarray | None:
    """A Radiance ``.hdr`` panorama tone-mapped to uint8 (H, W, 3) RGB, or None when it cannot be read.

    Reinhard's global operator: exposure set so that the log-average luminance maps to 0.18,
    then ``L / (1 + L)`` and gamma 2.2. Reading needs OpenCV (the train extra).
    """
    try:
        import cv2
    except ImportError:
        return None
    hdr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if hdr is None or hdr.ndim != 3:
        return None
    rgb = np.maximum(hdr[..., ::-1].astype(np.float32), 0)
    lum = rgb @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    key = float(np.exp(np.log(lum + 1e-4).mean()))
    x = rgb * (0.18 / max(key, 1e-6))
    return (np.clip(x / (1 + x), 0, 1) ** (1 / 2.2) * 255).round().astype(np.uint8)


def perspective_view(pano: torch.Tensor, rng: np.random.Generator, size: int) -> torch.Tensor:
    """A random pinhole view (3, size, size) of an equirectangular panorama (3, Hp, Wp) in [0, 1]:
    any heading, pitch -15..+8 degrees, field of view 55..95 degrees."""
    yaw, pitch = rng.uniform(-math.pi, math.pi), math.radians(rng.uniform(-15, 8))
    f = (size / 2) / math.tan(math.radians(rng.uniform(55, 95)) / 2)
    v, u = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32), indexing="ij")
    d = torch.stack([(u - (size - 1) / 2) / f, (v - (size - 1) / 2) / f, torch.ones_like(u)], -1)  # x right, y down, z forward
    cp, sp, cy, sy = math.cos(pitch), math.sin(pitch), math.cos(yaw), math.sin(yaw)
    y1, z1 = d[..., 1] * cp - d[..., 2] * sp, d[..., 1] * sp + d[..., 2] * cp  # tilt (positive pitch looks up)
    x2, z2 = d[..., 0] * cy + z1 * sy, -d[..., 0] * sy + z1 * cy  # heading
    lon = torch.atan2(x2, z2)
    lat = torch.atan2(-y1, torch.sqrt(x2**2 + z2**2))
    grid = torch.stack([lon / math.pi, -lat / (math.pi / 2)], -1)[None]
    return F.grid_sample(pano[None], grid, mode="bilinear", padding_mode="border", align_corners=False)[0]


class Backgrounds:
    """The backgrounds of one split: photos, panoramas (for perspective views) and procedural images.

    ``draw(rng, size)`` gives one (3, size, size) float background in [0, 1].
    """

    SHARES = {"photo": 0.45, "panorama": 0.4, "procedural": 0.15}

    def __init__(self, setting: str, split: str, *, max_side: int = 640) -> None:
        from PIL import Image

        photos, panoramas = find_backgrounds(setting)
        self.setting, self.split = setting, split
        photo_split, panorama_split = split_backgrounds(photos), split_backgrounds(panoramas)
        self.photo_files = [p for p in photos if photo_split[p] == split]
        self.panorama_files = [p for p in panoramas if panorama_split[p] == split]
        self.photos = []
        for p in self.photo_files:
            with Image.open(p) as im:
                im = im.convert("RGB")
                im.thumbnail((max_side, max_side))
                self.photos.append(torch.from_numpy(np.asarray(im, dtype=np.uint8).copy()).permute(2, 0, 1))
        self.panoramas = []
        for p in self.panorama_files:
            pano = read_panorama(p)
            if pano is not None:
                self.panoramas.append(torch.from_numpy(pano).permute(2, 0, 1).contiguous())
        if self.panorama_files and not self.panoramas:
            log.warning("no .hdr panorama could be read (OpenCV missing?); using photos and procedural backgrounds")
        kinds = {"photo": bool(self.photos), "panorama": bool(self.panoramas), "procedural": True}
        self.kinds = [k for k, ok in kinds.items() if ok]
        weights = np.array([self.SHARES[k] for k in self.kinds])
        self.weights = weights / weights.sum()

    def describe(self) -> dict:
        return {"setting": self.setting, "split": self.split, "photos": [p.name for p in self.photo_files],
                "panoramas": [p.name for p in self.panorama_files][: len(self.panoramas)] if self.panoramas else []}  # fmt: skip

    def draw(self, rng: np.random.Generator, size: int) -> torch.Tensor:
        kind = self.kinds[int(rng.choice(len(self.kinds), p=self.weights))]
        if kind == "photo":
            img = self.photos[int(rng.integers(len(self.photos)))]
            h, w = img.shape[1:]
            side = int(min(h, w) * rng.uniform(0.35, 1.0))
            y0, x0 = int(rng.integers(h - side + 1)), int(rng.integers(w - side + 1))
            crop = img[:, y0 : y0 + side, x0 : x0 + side].float()[None] / 255
            out = F.interpolate(crop, size=(size, size), mode="bilinear", align_corners=False, antialias=side > size)[0]
        elif kind == "panorama":
            pano = self.panoramas[int(rng.integers(len(self.panoramas)))].float() / 255
            out = perspective_view(pano, rng, size)
        else:
            from vivid.synth.appearance import background

            out = background(rng, size, size)[0]
        if rng.random() < 0.5:
            out = out.flip(-1)
        return out.clamp(0, 1).contiguous()


# ----------------------------------------------------------------------------- rendered people


@dataclass
class Cutouts:
    """Rendered people of one split, each on its own square render (background zeroed).

    Attributes:
        rgb: (N, S, S, 3) uint8; mask: (N, S, S) bool; box: (N, 4) int32 the mask's bounding box
        (x0, y0, x1, y1 exclusive); keypoints: (N, 17, 3) float32 COCO keypoints (x, y, visible).
    """

    rgb: np.ndarray
    mask: np.ndarray
    box: np.ndarray
    keypoints: np.ndarray

    def __len__(self) -> int:
        return len(self.rgb)

    def person(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Person ``i`` cropped to its box: rgb (3, h, w) float in [0, 1] and alpha (h, w) float."""
        x0, y0, x1, y1 = (int(v) for v in self.box[i])
        rgb = torch.from_numpy(self.rgb[i, y0:y1, x0:x1]).permute(2, 0, 1).float() / 255
        return rgb, torch.from_numpy(self.mask[i, y0:y1, x0:x1]).float()


def mask_box(mask: np.ndarray) -> np.ndarray:
    """Bounding box (x0, y0, x1, y1), x1/y1 exclusive, of a (H, W) bool mask; zeros when empty."""
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return np.zeros(4, np.int32)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.int32)


def render_cutouts(split: str, n: int, size: int, mocap: str = "auto", *, chunk: int = 8) -> Cutouts:
    """Render ``n`` people of ``split`` at ``size`` x ``size`` with :mod:`vivid.synth` (full body in view)."""
    from vivid.synth.cameras import CameraConfig
    from vivid.synth.mocap_library import resolve_mocap
    from vivid.synth.scenes import BodyScenes, SceneConfig

    if split not in SPLIT_SEEDS:
        raise VividError(f"unknown split {split!r}; use {', '.join(SPLIT_SEEDS)}")
    motion = resolve_mocap(mocap)
    clips = tuple(str(p) for p in motion.paths(split)) if motion is not None else ()
    cfg = SceneConfig(
        kind="body", height=size, width=size, seed=SPLIT_SEEDS[split],
        motion_sources=("mocap", "procedural", "static") if clips else ("procedural", "static"), mocap=clips or None,
        camera=CameraConfig(partial_prob=0.0, distance_factor=(1.0, 1.12)),
    )  # fmt: skip
    gen = BodyScenes(cfg)
    rgb, mask, box, kps = [], [], [], []
    for start in range(0, n, chunk):
        for s in gen.generate_batch(list(range(start, min(n, start + chunk)))):
            rgb.append(s.image * s.mask[..., None])
            mask.append(s.mask)
            box.append(mask_box(s.mask))
            kps.append(np.concatenate([s.coco2d, s.coco_visibility[:, None]], -1).astype(np.float32))
        log.info("rendered %d/%d %s people", min(n, start + chunk), n, split)
    return Cutouts(np.stack(rgb).astype(np.uint8), np.stack(mask), np.stack(box), np.stack(kps))


def _save_npz(path: Path, arrays: dict) -> None:
    from vivid.core.fileio import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as tmp:
        np.savez_compressed(tmp, **arrays)


def load_cutouts(cache_dir: str | os.PathLike, split: str, n: int, size: int, mocap: str = "auto") -> Cutouts:
    """The people of ``split`` from the cache, rendered (and cached) first when missing."""
    from vivid.synth.mocap_library import describe_mocap, resolve_mocap

    tag = describe_mocap(resolve_mocap(mocap))["source"]
    path = Path(cache_dir) / f"people_{split}_{n}_{size}_{tag}.npz"
    if not path.exists():
        c = render_cutouts(split, n, size, mocap)
        _save_npz(path, {"rgb": c.rgb, "mask": c.mask, "box": c.box, "keypoints": c.keypoints})
    with np.load(path) as z:
        return Cutouts(z["rgb"], z["mask"], z["box"], z["keypoints"])


# ----------------------------------------------------------------------------- compositing


@dataclass
class Composite:
    """One training image: ``image`` uint8 (S, S, 3), ``boxes`` (N, 4) float32 pixels, ``ignore`` (N,) bool."""

    image: np.ndarray
    boxes: np.ndarray
    ignore: np.ndarray


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """(C, H, W) blurred by a separable Gaussian of ``sigma`` pixels (edges replicated)."""
    r = max(1, int(math.ceil(3 * sigma)))
    k = torch.exp(-torch.arange(-r, r + 1, dtype=torch.float32) ** 2 / (2 * sigma**2))
    k = (k / k.sum()).to(image.dtype)
    C = image.shape[0]
    x = F.pad(image[None], (r, r, r, r), mode="replicate")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(C, 1, 1, -1), groups=C)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(C, 1, -1, 1), groups=C)[0]


def scaled_person(rgb: torch.Tensor, alpha: torch.Tensor, height: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A cut-out resized to ``height`` pixels (aspect kept), maybe mirrored, recoloured, softened."""
    h, w = alpha.shape
    nh, nw = max(2, height), max(2, round(w * height / h))
    x = torch.cat([rgb, alpha[None]])[None]
    x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False, antialias=nh < h)[0]
    if rng.random() < 0.5:
        x = x.flip(-1)
    rgb, alpha = x[:3], x[3].clamp(0, 1)
    gain = torch.from_numpy(rng.uniform(0.75, 1.2, 3).astype(np.float32))[:, None, None] * rng.uniform(0.6, 1.3)
    rgb = (rgb * gain).clamp(0, 1)
    if rng.random() < 0.3:
        rgb = gaussian_blur(rgb, rng.uniform(0.4, 1.2))
    return rgb, alpha


def _paste(canvas: torch.Tensor, layer: torch.Tensor, alpha: torch.Tensor, x0: int, y0: int) -> torch.Tensor:
    """Blend ``layer`` (3, h, w) with ``alpha`` (h, w) onto ``canvas`` (3, S, S) at (x0, y0), in place;
    returns the full-frame (S, S) bool mask of alpha > 0.5."""
    S_h, S_w = canvas.shape[1:]
    h, w = alpha.shape
    cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(S_w, x0 + w), min(S_h, y0 + h)
    full = torch.zeros(S_h, S_w, dtype=torch.bool)
    if cx1 <= cx0 or cy1 <= cy0:
        return full
    a = alpha[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
    region = canvas[:, cy0:cy1, cx0:cx1]
    region.mul_(1 - a).add_(layer[:, cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0] * a)
    full[cy0:cy1, cx0:cx1] = a > 0.5
    return full


def _shadow(canvas: torch.Tensor, cx: float, cy: float, rx: float, ry: float, strength: float) -> None:
    """Darken a soft ellipse (a shadow on the floor) in place."""
    S_h, S_w = canvas.shape[1:]
    v, u = torch.meshgrid(torch.arange(S_h, dtype=torch.float32), torch.arange(S_w, dtype=torch.float32), indexing="ij")
    d = ((u - cx) / max(rx, 1.0)) ** 2 + ((v - cy) / max(ry, 1.0)) ** 2
    canvas.mul_(1 - strength * torch.exp(-2 * d))


def _occluder(canvas: torch.Tensor, rng: np.random.Generator, backgrounds: Backgrounds) -> torch.Tensor:
    """A plain object in front: a rectangle or ellipse of a background's texture or one colour; its mask."""
    S = canvas.shape[-1]
    w, h = int(S * rng.uniform(0.08, 0.45)), int(S * rng.uniform(0.08, 0.45))
    x0, y0 = int(rng.integers(-w // 3, S - w // 2)), int(rng.integers(-h // 3, S - h // 2))
    if rng.random() < 0.5:
        layer = backgrounds.draw(rng, max(w, h))[:, :h, :w]
    else:
        layer = torch.from_numpy(rng.uniform(0, 1, 3).astype(np.float32))[:, None, None].expand(3, h, w)
    alpha = torch.ones(h, w)
    if rng.random() < 0.5:
        v, u = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
        alpha = (u**2 + v**2 <= 1).float()
    return _paste(canvas, layer, alpha, x0, y0)


def _camera_effects(img: torch.Tensor, rng: np.random.Generator) -> np.ndarray:
    """Exposure, contrast, grey, blur, noise and JPEG: (3, S, S) float -> uint8 (S, S, 3)."""
    from PIL import Image

    img = img.clamp(0, 1)
    img = img ** rng.uniform(0.7, 1.4)
    mean = img.mean()
    img = ((img - mean) * rng.uniform(0.7, 1.25) + mean) * rng.uniform(0.7, 1.3)
    if rng.random() < 0.12:
        img = (img * torch.tensor([0.299, 0.587, 0.114])[:, None, None]).sum(0, keepdim=True).expand(3, -1, -1)
    if rng.random() < 0.3:
        img = gaussian_blur(img, rng.uniform(0.5, 1.6))
    if rng.random() < 0.4:
        img = img + torch.from_numpy(rng.normal(0, rng.uniform(0.005, 0.035), img.shape).astype(np.float32))
    out = (img.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    if rng.random() < 0.35:
        buf = io.BytesIO()
        Image.fromarray(out).save(buf, format="JPEG", quality=int(rng.integers(25, 90)))
        out = np.array(Image.open(buf).convert("RGB"))
    return np.ascontiguousarray(out)


def compose(rng: np.random.Generator, cutouts: Cutouts, backgrounds: Backgrounds, size: int, *,
            max_people: int = 6, empty_share: float = 0.15) -> Composite:  # fmt: skip
    """One composite (see the module docstring); every draw comes from ``rng``.

    A person's box is the bounding box of all of their pixels inside the frame (also those hidden
    behind people or objects in front); a person of whom under 30 % (or under 12 px) is seen is
    marked ``ignore``, and one with under 6 px inside the frame is left out.
    """
    canvas = backgrounds.draw(rng, size)
    n = 0 if rng.random() < empty_share else min(int(rng.geometric(0.4)), max_people)
    crowd_height = size * math.exp(rng.uniform(math.log(0.12), math.log(1.0)))
    masks: list[torch.Tensor] = []
    for _ in range(int(rng.integers(0, 3)) if rng.random() < 0.3 else 0):  # stray shadows: not people
        _shadow(canvas, rng.uniform(0, size), rng.uniform(0.3, 1) * size, size * rng.uniform(0.05, 0.3),
                size * rng.uniform(0.01, 0.08), rng.uniform(0.15, 0.5))  # fmt: skip
    for _ in range(n):
        rgb, alpha = cutouts.person(int(rng.integers(len(cutouts))))
        height = crowd_height * rng.uniform(0.8, 1.2) if rng.random() < 0.5 else size * math.exp(rng.uniform(math.log(0.08), math.log(1.15)))
        rgb, alpha = scaled_person(rgb, alpha, int(height), rng)
        h, w = alpha.shape
        out = 0.85 if rng.random() < 0.15 else 0.3  # share of the person that may leave the frame
        x0 = int(rng.uniform(-out * w, size - (1 - out) * w))
        y0 = int(rng.uniform(-out * h, size - (1 - out) * h))
        if rng.random() < 0.3:
            _shadow(canvas, x0 + w / 2 + rng.uniform(-0.3, 0.3) * w, y0 + 0.97 * h, w * rng.uniform(0.5, 1.5),
                    h * rng.uniform(0.03, 0.08), rng.uniform(0.2, 0.5))  # fmt: skip
        masks.append(_paste(canvas, rgb, alpha, x0, y0))
    front = [_occluder(canvas, rng, backgrounds) for _ in range(int(rng.integers(1, 3)) if masks and rng.random() < 0.3 else 0)]
    if rng.random() < 0.15:  # letterbox bars: the detector sees them on every non-square input
        keep = int(size * rng.uniform(0.5, 0.95))
        if rng.random() < 0.5:
            canvas[:, keep:] = PAD_VALUE
            masks = [m.clone().index_fill_(0, torch.arange(keep, size), False) for m in masks]
        else:
            canvas[:, :, keep:] = PAD_VALUE
            masks = [m.clone().index_fill_(1, torch.arange(keep, size), False) for m in masks]
    boxes, ignore = [], []
    for k, own in enumerate(masks):
        area = int(own.sum())
        if area < 6:
            continue
        hidden = torch.zeros_like(own)
        for m in masks[k + 1 :] + front:
            hidden |= m
        seen = int((own & ~hidden).sum())
        boxes.append(mask_box(own.numpy()).astype(np.float32))
        ignore.append(seen < 0.3 * area or seen < 12)
    return Composite(
        _camera_effects(canvas, rng),
        np.stack(boxes) if boxes else np.zeros((0, 4), np.float32),
        np.asarray(ignore, dtype=bool),
    )


def to_sample(image: np.ndarray, boxes: np.ndarray, ignore: np.ndarray) -> dict:
    """A composite as the sample dict of the module docstring (boxes padded to MAX_OBJECTS)."""
    n = min(len(boxes), MAX_OBJECTS)
    padded, flags = np.zeros((MAX_OBJECTS, 4), np.float32), np.zeros(MAX_OBJECTS, bool)
    padded[:n], flags[:n] = boxes[:n], ignore[:n]
    return {
        "image": torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255,
        "boxes": torch.from_numpy(padded),
        "count": torch.tensor(n),
        "ignore": torch.from_numpy(flags),
    }


class CompositeDataset(Dataset):
    """``n`` composites made on the fly: item ``i`` from ``default_rng([seed, i])``."""

    def __init__(self, cutouts: Cutouts, backgrounds: Backgrounds, n: int, size: int, seed: int, *,
                 max_people: int = 6, empty_share: float = 0.15) -> None:  # fmt: skip
        self.cutouts, self.backgrounds, self.n, self.size, self.seed = cutouts, backgrounds, n, size, seed
        self.max_people, self.empty_share = max_people, empty_share

    def __len__(self) -> int:
        return self.n

    def composite(self, i: int) -> Composite:
        rng = np.random.default_rng([self.seed, i])
        return compose(rng, self.cutouts, self.backgrounds, self.size, max_people=self.max_people, empty_share=self.empty_share)

    def __getitem__(self, i: int) -> dict:
        c = self.composite(i)
        return to_sample(c.image, c.boxes, c.ignore)


class CachedComposites(Dataset):
    """Composites read from an ``.npz`` written by :func:`cache_composites`."""

    def __init__(self, path: str | os.PathLike) -> None:
        with np.load(path) as z:
            self.images, self.boxes, self.ignore, self.count = z["images"], z["boxes"], z["ignore"], z["count"]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        n = int(self.count[i])
        return to_sample(self.images[i], self.boxes[i, :n], self.ignore[i, :n])


def cache_composites(path: str | os.PathLike, dataset: CompositeDataset) -> Path:
    """Make every composite of ``dataset`` once and save them to ``path`` (.npz)."""
    items = [dataset.composite(i) for i in range(len(dataset))]
    boxes, ignore = np.zeros((len(items), MAX_OBJECTS, 4), np.float32), np.zeros((len(items), MAX_OBJECTS), bool)
    count = np.zeros(len(items), np.int64)
    for i, c in enumerate(items):
        n = min(len(c.boxes), MAX_OBJECTS)
        boxes[i, :n], ignore[i, :n], count[i] = c.boxes[:n], c.ignore[:n], n
    _save_npz(Path(path), {"images": np.stack([c.image for c in items]), "boxes": boxes, "ignore": ignore, "count": count})
    return Path(path)


# ----------------------------------------------------------------------------- data module


class PeopleDataModule(pl.LightningDataModule):
    """Training composites on the fly, validation composites cached; both from cached renders."""

    def __init__(self, config: PeopleData) -> None:
        super().__init__()
        self.config = config
        self.train_set: CompositeDataset | None = None
        self.val_set: CachedComposites | None = None

    def _val_path(self) -> Path:
        c = self.config
        key = {k: getattr(c, k) for k in ("backgrounds", "mocap", "n_people_val", "render_size", "n_val", "size", "max_people", "empty_share", "seed")}
        digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]
        return Path(c.cache_dir) / f"val_composites_{digest}.npz"

    def prepare_data(self) -> None:
        c = self.config
        load_cutouts(c.cache_dir, "train", c.n_people, c.render_size, c.mocap)
        if not self._val_path().exists():
            people = load_cutouts(c.cache_dir, "val", c.n_people_val, c.render_size, c.mocap)
            val = CompositeDataset(people, Backgrounds(c.backgrounds, "val"), c.n_val, c.size, c.seed + 1,
                                   max_people=c.max_people, empty_share=c.empty_share)  # fmt: skip
            cache_composites(self._val_path(), val)

    def setup(self, stage: str | None = None) -> None:
        c = self.config
        self.prepare_data()  # a no-op when the caches exist (DDP ranks other than 0 wait for rank 0's)
        people = load_cutouts(c.cache_dir, "train", c.n_people, c.render_size, c.mocap)
        self.backgrounds = Backgrounds(c.backgrounds, "train")
        self.train_set = CompositeDataset(people, self.backgrounds, c.n_train, c.size, c.seed,
                                          max_people=c.max_people, empty_share=c.empty_share)  # fmt: skip
        self.val_set = CachedComposites(self._val_path())

    def describe(self) -> str:
        c = self.config
        photos, panoramas = find_backgrounds(c.backgrounds)
        where = f"{len(photos)} photos and {len(panoramas)} HDR panoramas ({c.backgrounds})" if photos or panoramas else "procedural backgrounds"
        return (
            f"synthetic composites {c.size}px: vivid.synth body renders ({c.n_people} train / {c.n_people_val} val people, "
            f"{c.render_size}px, motion {c.mocap}) cut out by their masks and pasted, up to {c.max_people} per image, "
            f"over {where} split train/val by file (cube maps whole); {c.empty_share:.0%} with nobody; {c.n_val} val composites"
        )

    def train_dataloader(self):
        c = self.config
        return DataLoader(self.train_set, batch_size=c.batch_size, shuffle=True, drop_last=True, num_workers=c.num_workers,
                          persistent_workers=c.num_workers > 0)  # fmt: skip

    def val_dataloader(self):
        return DataLoader(self.val_set, batch_size=self.config.val_batch_size, num_workers=0)
