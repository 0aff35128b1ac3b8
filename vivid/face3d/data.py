"""Data for face3d: synthetic face crops, real portraits, labelled scan renders, mixed batches.

Every sample is a dict of tensors (B added by collation):

- ``image`` (3, S, S) float32 in [0, 1], a square face crop (:mod:`vivid.face3d.crop`);
- ``K`` (3, 3) float32 intrinsics of the crop;
- ``landmarks`` (68, 2) crop pixels and ``visibility`` (68,): the true 2D landmarks (landmark
  training, labelled images, evaluation; zeros with visibility 0 where the pool is unlabelled);
- ``has_mesh`` () bool and ``vertices`` (V, 3) head-frame label mesh H' (zeros without one);
  ``R`` (3, 3), ``t`` (3,) the true head-to-camera pose (evaluation only).

Pools (rendered once by ``vivid synth face``'s :class:`vivid.synth.face_scenes.FaceScenes` into
``.npz`` caches, each with its own seed so that no identity is shared): ``landmark`` (stage 0),
``unlabelled`` (images only: the stage-1 module detects their landmarks with the landmark
network, their meshes are never read), ``labelled`` (with meshes), ``val`` and ``test``.
Unlabelled and landmark images are corrupted (:func:`vivid.face3d.augment.corrupt`).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset

from vivid.core.errors import VividError
from vivid.core.fileio import atomic_write, to_uint8
from vivid.face3d.augment import corrupt
from vivid.face3d.config import Face3DData
from vivid.face3d.crop import box_from_landmarks, crop_image, crop_intrinsics, to_crop
from vivid.face3d.ratio import DynamicRatio, batch_split

log = logging.getLogger(__name__)

POOL_SEEDS = {"landmark": 100, "unlabelled": 200, "labelled": 300, "val": 400, "test": 500}
SHARED_FACES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "faces"
SCAN_PATH = SHARED_FACES / "lee_perry_smith_head_scan" / "LeePerrySmith.glb"
_CACHE_VERSION = 1


def face_scene_config(pool: str, render_size: int, seed: int = 0):
    from vivid.synth.config import SceneConfig

    return SceneConfig(kind="face", height=render_size, width=render_size, seed=POOL_SEEDS[pool] + 1000 * seed)


def crop_face_sample(sample, size: int, r: np.random.Generator | None, corruption: dict | None) -> dict:
    """A :class:`vivid.synth.samples.FaceSample` -> numpy crop record (see the module docstring);
    ``r`` jitters the box (None: the box rule as is); ``corruption`` the chances of
    :func:`corrupt` (None: none)."""
    from vivid.core.fileio import to_tensor

    scale, shift = (1.0, (0.0, 0.0)) if r is None else (r.uniform(0.9, 1.15), tuple(r.uniform(-0.06, 0.06, 2)))
    box = box_from_landmarks(sample.landmarks2d, scale, shift)
    img = crop_image(to_tensor(sample.image), box, size)
    lm = to_crop(sample.landmarks2d, box, size)
    if corruption is not None and r is not None:
        img = corrupt(img, r, lm, p_occlude=corruption["occlude"], p_blur=corruption["blur"], p_jpeg=corruption["jpeg"])
    R = sample.pose_R.astype(np.float32)
    t = sample.pose_t.astype(np.float32)
    head = (sample.vertices - t) @ R  # camera frame -> head frame
    return {"image": to_uint8(img), "K": crop_intrinsics(sample.K, box, size), "landmarks": lm,
            "visibility": sample.landmark_visibility.astype(np.float32), "vertices": head.astype(np.float32),
            "R": R, "t": t}


def build_pool(path: str | os.PathLike, pool: str, n: int, *, size: int, render_size: int, seed: int = 0,
               corruption: dict | None = None, keep_meshes: bool = True) -> Path:
    """Render ``n`` faces of ``pool``, crop them to ``size`` and write one ``.npz``."""
    from vivid.synth.face_scenes import FaceScenes

    cfg = face_scene_config(pool, render_size, seed)
    gen = FaceScenes(cfg)
    records = []
    for start in range(0, n, 16):
        for i, s in zip(range(start, min(n, start + 16)), gen.generate_batch(list(range(start, min(n, start + 16))))):
            jitter = pool != "test"
            r = np.random.default_rng([cfg.seed, i, 7]) if jitter else None
            records.append(crop_face_sample(s, size, r, corruption))
        if (start // 16) % 16 == 15:
            log.info("rendered %d/%d %s faces", min(n, start + 16), n, pool)
    keys = ["image", "K", "landmarks", "visibility", "R", "t"] + (["vertices"] if keep_meshes else [])
    arrays = {k: np.stack([rec[k] for rec in records]) for k in keys}
    meta = {"pool": pool, "n": n, "size": size, "scene": cfg.to_dict(), "corruption": corruption, "meshes": keep_meshes}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return path


def pool_path(cfg: Face3DData, pool: str, n: int, size: int) -> Path:
    return Path(cfg.cache_dir) / f"v{_CACHE_VERSION}-{pool}-n{n}-s{size}-r{cfg.render_size}-seed{cfg.seed}.npz"


def ensure_pool(cfg: Face3DData, pool: str, n: int, size: int) -> Path:
    """The cache of ``pool`` (rendered now when missing)."""
    path = pool_path(cfg, pool, n, size)
    if not path.exists():
        corrupted = pool in ("landmark", "unlabelled")
        corruption = {"occlude": cfg.occlude, "blur": cfg.blur, "jpeg": cfg.jpeg} if corrupted else None
        log.info("rendering %d %s faces into %s", n, pool, path)
        build_pool(path, pool, n, size=size, render_size=cfg.render_size, seed=cfg.seed, corruption=corruption,
                   keep_meshes=pool != "unlabelled")
    return path


def _load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files if k != "meta"}


def concat_records(parts: list[dict[str, np.ndarray]], n_vertices: int) -> dict[str, np.ndarray]:
    """Pools with possibly different keys -> one (missing meshes become (n_vertices, 3) zeros with
    has_mesh 0)."""
    parts = [p for p in parts if len(p["image"])]
    V = n_vertices
    out = {}
    for k in ("image", "K", "landmarks", "visibility", "R", "t"):
        out[k] = np.concatenate([p[k] for p in parts])
    out["vertices"] = np.concatenate([p["vertices"] if "vertices" in p else np.zeros((len(p["image"]), V, 3), np.float32)
                                      for p in parts])
    out["has_mesh"] = np.concatenate([np.full(len(p["image"]), "vertices" in p) for p in parts])
    return out


class FaceCrops(Dataset):
    """Crop records (from :func:`concat_records`) as sample dicts. ``labels=False`` zeroes the
    landmark labels (unlabelled use: image and intrinsics only)."""

    def __init__(self, records: dict[str, np.ndarray], *, labels: bool = True) -> None:
        self.r, self.labels = records, labels

    def __len__(self) -> int:
        return len(self.r["image"])

    def __getitem__(self, i: int) -> dict:
        r = self.r
        vis = r["visibility"][i] if self.labels else np.zeros_like(r["visibility"][i])
        return {
            "image": torch.from_numpy(r["image"][i]).permute(2, 0, 1).float() / 255.0,
            "K": torch.from_numpy(r["K"][i]),
            "landmarks": torch.from_numpy(r["landmarks"][i] if self.labels else np.zeros_like(r["landmarks"][i])),
            "visibility": torch.from_numpy(vis),
            "has_mesh": torch.tensor(bool(r["has_mesh"][i]) and self.labels),
            "vertices": torch.from_numpy(r["vertices"][i]),
            "R": torch.from_numpy(r["R"][i]),
            "t": torch.from_numpy(r["t"][i]),
            "is_face": torch.tensor(True),
        }


class WithNegatives(Dataset):
    """A face dataset plus as many non-face crops (its images cut into shuffled 8x8-pixel blocks,
    which keeps colours and edges but no face), for the landmark network's face score."""

    def __init__(self, faces: FaceCrops, seed: int = 0) -> None:
        self.faces, self.seed = faces, seed

    def __len__(self) -> int:
        return 2 * len(self.faces)

    def __getitem__(self, i: int) -> dict:
        n = len(self.faces)
        s = self.faces[i % n]
        if i < n:
            return s
        r = np.random.default_rng([self.seed, i])
        img = s["image"]
        S = img.shape[-1]
        b = 8
        blocks = img[:, : S // b * b, : S // b * b].reshape(3, S // b, b, S // b, b).permute(1, 3, 0, 2, 4).reshape(-1, 3, b, b)
        blocks = blocks[torch.from_numpy(r.permutation(len(blocks)))]
        img = blocks.reshape(S // b, S // b, 3, b, b).permute(2, 0, 3, 1, 4).reshape(3, S // b * b, S // b * b)
        out = dict(s)
        out["image"] = torch.nn.functional.pad(img, (0, S - img.shape[2], 0, S - img.shape[1]))
        out["visibility"] = torch.zeros_like(s["visibility"])
        out["is_face"] = torch.tensor(False)
        return out


class MixedBatches(IterableDataset):
    """Endless batches of ``batch_size`` samples, ``ratio.ratio`` unlabelled per labelled one
    (read at every batch, so :class:`DynamicRatio` updates take effect at once)."""

    def __init__(self, unlabelled: Dataset, labelled: Dataset, batch_size: int, ratio: DynamicRatio, seed: int = 0) -> None:
        self.unlabelled, self.labelled, self.batch_size, self.ratio, self.seed = unlabelled, labelled, batch_size, ratio, seed

    def __iter__(self):
        from torch.utils.data import default_collate

        g = np.random.default_rng(self.seed)
        while True:
            n_u, n_l = batch_split(self.batch_size, self.ratio.ratio)
            items = [self.unlabelled[int(i)] for i in g.integers(len(self.unlabelled), size=n_u)]
            items += [self.labelled[int(i)] for i in g.integers(len(self.labelled), size=n_l)]
            yield default_collate(items)


def real_portraits(folder: str | os.PathLike, holdout: list[str]) -> list[Path]:
    """Image files under ``folder`` (recursively) except those named in ``holdout``."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    suffixes = {".png", ".jpg", ".jpeg"}
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in suffixes and p.name not in holdout
                  and "head_scan" not in str(p))


def real_records(paths: list[Path], landmark_net, size: int, repeat: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Unlabelled crops of the faces found in real portraits (``repeat`` jittered crops each)."""
    from vivid.core.fileio import read_image, to_tensor
    from vivid.face3d.crop import default_K
    from vivid.face3d.detect import find_faces

    recs = {k: [] for k in ("image", "K", "landmarks", "visibility", "R", "t")}
    for p in paths:
        img = read_image(p)
        faces = find_faces(img, landmark_net)
        K = default_K(*img.shape[:2])
        for j, face in enumerate(faces):
            for k in range(repeat):
                r = np.random.default_rng([seed, len(recs["image"]), 3])
                box = box_from_landmarks(face.landmarks, r.uniform(0.9, 1.15), tuple(r.uniform(-0.06, 0.06, 2)))
                recs["image"].append(to_uint8(crop_image(to_tensor(img), box, size)))
                recs["K"].append(crop_intrinsics(K, box, size))
                recs["landmarks"].append(np.zeros((68, 2), np.float32))
                recs["visibility"].append(np.zeros(68, np.float32))
                recs["R"].append(np.eye(3, dtype=np.float32))
                recs["t"].append(np.zeros(3, np.float32))
    log.info("real portraits: %d faces in %d images", len(recs["image"]) // max(repeat, 1), len(paths))
    if not recs["image"]:
        return {"image": np.zeros((0, size, size, 3), np.uint8), "K": np.zeros((0, 3, 3), np.float32),
                "landmarks": np.zeros((0, 68, 2), np.float32), "visibility": np.zeros((0, 68), np.float32),
                "R": np.zeros((0, 3, 3), np.float32), "t": np.zeros((0, 3), np.float32)}
    return {k: np.stack(v) for k, v in recs.items()}


def resolve_auto(value: str, default: Path) -> str:
    """``"auto"`` -> ``default`` when it exists, else ""; anything else as given."""
    if value == "auto":
        return str(default) if default.exists() else ""
    return value


class Face3DDataModule(pl.LightningDataModule):
    """The pools a stage needs: stage 0 landmark images (+ non-face crops); stage 1 unlabelled
    synthetic and real images; stage 2 labelled synthetic images and scan renders; stage 3 both
    as :class:`MixedBatches` at ``ratio``. Validation: the ``val`` pool (with meshes).

    Args:
        config: the data settings. size: crop size (the model's input). stage: 0-3.
        ratio: the shared :class:`DynamicRatio` of stage 3. landmark_net: finds faces in real
            portraits (stages 1 and 3). scan_views: records of labelled scan renders or None.
        n_vertices: the head mesh's vertex count.
    """

    def __init__(self, config: Face3DData, *, size: int, stage: int, n_vertices: int, ratio: DynamicRatio | None = None,
                 landmark_net=None, scan_views: dict | None = None) -> None:
        super().__init__()
        self.n_vertices = n_vertices
        self.config, self.size, self.stage = config, size, stage
        self.ratio = ratio or DynamicRatio()
        self.landmark_net, self.scan_views = landmark_net, scan_views
        self.n_real = 0

    def prepare_data(self) -> None:
        c = self.config
        for pool, n in self._pools():
            ensure_pool(c, pool, n, self.size)

    def _pools(self) -> list[tuple[str, int]]:
        c = self.config
        pools = [("val", c.n_val)]
        if self.stage == 0:
            pools.append(("landmark", c.n_landmark))
        if self.stage in (1, 3):
            pools.append(("unlabelled", c.n_unlabelled))
        if self.stage in (2, 3):
            pools.append(("labelled", c.n_labelled))
        return pools

    def _records(self, pool: str, n: int) -> dict[str, np.ndarray]:
        return _load(ensure_pool(self.config, pool, n, self.size))

    def unlabelled_set(self) -> FaceCrops:
        c = self.config
        parts = [self._records("unlabelled", c.n_unlabelled)]
        real_dir = resolve_auto(c.real_dir, SHARED_FACES)
        if real_dir and self.landmark_net is not None:
            real = real_records(real_portraits(real_dir, c.real_holdout), self.landmark_net, self.size, c.real_repeat, c.seed)
            self.n_real = len(real["image"])
            parts.append(real)
        return FaceCrops(concat_records(parts, self.n_vertices), labels=False)

    def labelled_set(self) -> FaceCrops:
        c = self.config
        parts = [self._records("labelled", c.n_labelled)]
        if self.scan_views is not None:
            parts.append(self.scan_views)
        return FaceCrops(concat_records(parts, self.n_vertices))

    def setup(self, stage: str | None = None) -> None:
        c = self.config
        self.val = FaceCrops(concat_records([self._records("val", c.n_val)], self.n_vertices))
        if self.stage == 0:
            self.train = WithNegatives(FaceCrops(concat_records([self._records("landmark", c.n_landmark)], self.n_vertices)), c.seed)
        elif self.stage == 1:
            self.train = self.unlabelled_set()
        elif self.stage == 2:
            self.train = self.labelled_set()
        else:
            self.train = MixedBatches(self.unlabelled_set(), self.labelled_set(), c.batch_size, self.ratio, c.seed)

    def train_dataloader(self):
        if isinstance(self.train, MixedBatches):
            return DataLoader(self.train, batch_size=None)
        if len(self.train) < self.config.batch_size:
            raise VividError(f"{len(self.train)} training samples are fewer than a batch of {self.config.batch_size}")
        return DataLoader(self.train, batch_size=self.config.batch_size, shuffle=True, drop_last=True)

    def val_dataloader(self):
        return DataLoader(self.val, batch_size=self.config.val_batch_size)
