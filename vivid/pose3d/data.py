"""Data for the 3D pose method.

Every dataset here yields the same sample dict (tensors; B is added by the default collate):

- ``image`` (3, S, S) float32 in [0, 1]: a square crop centred on the person, S = input size;
- ``joints2d`` (17, 2) float32 crop pixels (x, y), H36M-17 order; ``weight2d`` (17,) 1 where the
  2D label exists and lies inside the crop;
- ``joints3d`` (17, 3) float32 camera frame (metres; zeros when absent), ``rel_depth`` (17,)
  ``z_j - z_pelvis``, ``root_depth`` () pelvis z;
- ``has3d`` () bool: whether the 3D label may be used (the 2D-only flag);
- ``K`` (3, 3) float32 intrinsics of the crop.

Sources:

- synthetic renders from :mod:`vivid.synth` (:func:`build_synth_cache` writes crops once to an
  ``.npz`` cache, rendered in parts so that a stopped render resumes; :class:`CachedPoseDataset`
  reads it and applies the 2D-only flag, turning a chosen fraction of the 3D-labelled samples into 2D-only ones, chosen by seed);
- Human3.6M as preprocessed by VideoPose3D (``data_3d_h36m.npz``, ``data_2d_h36m_gt.npz``):
  :func:`load_h36m_3d`, :func:`load_h36m_2d`, :class:`H36MPoses` (poses without images);
- COCO keypoint JSON (:class:`CocoKeypoints`), mapped to H36M-17 (see :data:`COCO_TO_H36M`).
"""

from __future__ import annotations

import io
import json
import logging
import os
import pickle
import zipfile
import dataclasses
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.utils.data import Dataset

from vivid.core.errors import VividError
from vivid.core.geometry import intrinsics_from_fov
from vivid.pose3d.config import Pose3DData
from vivid.pose3d.bones import NUM_JOINTS, ROOT, flip_permutation
from vivid.pose3d.crop import crop_and_resize, person_box, to_crop

log = logging.getLogger(__name__)

# ----------------------------------------------------------------------------- samples


def flip_sample(sample: dict) -> dict:
    """Mirror a sample left-right: image, 2D/3D joints (with left/right swapped) and K."""
    out = dict(sample)
    size = sample["image"].shape[-1]
    perm = flip_permutation()
    out["image"] = sample["image"].flip(-1)
    j2 = sample["joints2d"][perm].clone()
    j2[:, 0] = size - 1 - j2[:, 0]
    out["joints2d"] = j2
    out["weight2d"] = sample["weight2d"][perm]
    j3 = sample["joints3d"][perm].clone()
    j3[:, 0] = -j3[:, 0]
    out["joints3d"] = j3
    out["rel_depth"] = sample["rel_depth"][perm]
    K = sample["K"].clone()
    K[0, 2] = size - 1 - K[0, 2]
    K[0, 1] = -K[0, 1]
    out["K"] = K
    return out


def make_sample(image: Tensor, joints2d: Tensor, weight2d: Tensor, K: Tensor, joints3d: Tensor | None) -> dict:
    """Assemble the sample dict (see the module docstring); ``joints3d=None`` for 2D-only."""
    has3d = joints3d is not None and bool(torch.isfinite(joints3d).all())
    j3 = joints3d.to(torch.float32) if has3d else torch.zeros(NUM_JOINTS, 3)
    size = image.shape[-1]
    inside = ((joints2d >= -0.5) & (joints2d <= size - 0.5)).all(-1) & torch.isfinite(joints2d).all(-1)
    return {
        "image": image.to(torch.float32),
        "joints2d": torch.nan_to_num(joints2d.to(torch.float32)),
        "weight2d": (weight2d.to(torch.float32) * inside).clamp(0, 1),
        "joints3d": j3,
        "rel_depth": j3[:, 2] - j3[ROOT, 2],
        "root_depth": j3[ROOT, 2].clone(),
        "has3d": torch.tensor(has3d),
        "K": K.to(torch.float32),
    }


def label_mask(n: int, fraction: float, seed: int) -> np.ndarray:
    """Which of ``n`` samples keep their 3D label: exactly ``round(fraction * n)`` of them
    (at least one when fraction > 0), drawn by ``seed``. Returns (n,) bool."""
    if not 0.0 <= fraction <= 1.0:
        raise VividError(f"3D-labelled fraction must be in [0, 1], got {fraction}")
    k = int(round(fraction * n))
    if fraction > 0:
        k = max(k, 1)
    mask = np.zeros(n, dtype=bool)
    mask[np.random.default_rng(seed).permutation(n)[:k]] = True
    return mask


# ----------------------------------------------------------------------------- synthetic renders

# Held-out splits of the synthetic data: different seeds and body weights (Anny phenotype 3);
# mocap clips (when a mocap folder is used) are split by whole takes (vivid.synth.mocap_library).
# Procedural and static poses are drawn from each split's own seeds.
SYNTH_SPLITS = {
    "train": {"seed": 1000, "phenotype_low": (0, 0, 0, 0, 0, 0), "phenotype_high": (1, 1, 1, 0.75, 1, 1)},
    "val": {"seed": 2000, "phenotype_low": (0, 0, 0, 0, 0, 0), "phenotype_high": (1, 1, 1, 0.75, 1, 1)},
    "test": {"seed": 3000, "phenotype_low": (0, 0, 0, 0.75, 0, 0), "phenotype_high": (1, 1, 1, 1, 1, 1)},
}


def synth_scene_config(split: str, image_size: int = 160, mocap=None):
    """The :class:`vivid.synth.scenes.SceneConfig` of a split (full framing: the whole body in view).

    ``mocap``: a :class:`vivid.synth.mocap_library.MocapSplit` whose ``split`` clips pose the bodies
    besides procedural and static poses, or None for procedural and static poses only.
    """
    from vivid.synth.cameras import CameraConfig
    from vivid.synth.scenes import SceneConfig

    if split not in SYNTH_SPLITS:
        raise VividError(f"unknown split {split!r}; use one of {', '.join(SYNTH_SPLITS)}")
    s = SYNTH_SPLITS[split]
    clips = [str(p) for p in mocap.paths(split)] if mocap is not None else []
    return SceneConfig(
        kind="body",
        height=image_size,
        width=image_size,
        seed=s["seed"],
        phenotype_low=tuple(float(v) for v in s["phenotype_low"]),
        phenotype_high=tuple(float(v) for v in s["phenotype_high"]),
        motion_sources=("mocap", "procedural", "static") if clips else ("procedural", "static"),
        mocap=tuple(clips) if clips else None,
        camera=CameraConfig(partial_prob=0.0),
    )


# Joints nearer the camera than this (metres, camera z) project far off the image or behind the
# camera (a body cut by the frame edge may have the camera almost touching it): they are left out
# of the crop box and of the 2D loss. The box side is also capped at CROP_CAP x the larger image
# side, so that no sample asks for a huge padded crop.
NEAR_Z = 0.3
CROP_CAP = 2.0


def crop_synth_sample(raw: dict, size: int, rng: np.random.Generator | None = None) -> dict:
    """A :mod:`vivid.synth` body sample (numpy dict of the shared data contract) -> cropped sample.

    The crop is centred on the person's 2D joints (those at least :data:`NEAR_Z` in front of the
    camera); with ``rng`` the box is jittered (scale x0.9-1.15, shift up to 6 % of the side) as
    training augmentation.
    """
    image = torch.from_numpy(np.asarray(raw["image"])).permute(2, 0, 1).float() / 255
    joints2d = torch.from_numpy(np.asarray(raw["joints2d"], dtype=np.float32))
    joints3d = torch.from_numpy(np.asarray(raw["joints3d"], dtype=np.float32))
    K = torch.from_numpy(np.asarray(raw["K"], dtype=np.float32))
    valid = joints3d[:, 2] > NEAR_Z
    cx, cy, side = person_box(joints2d, valid if valid.any() else None)
    if rng is not None:
        side *= float(rng.uniform(0.9, 1.15))
        cx += float(rng.uniform(-0.06, 0.06)) * side
        cy += float(rng.uniform(-0.06, 0.06)) * side
    side = min(side, CROP_CAP * max(image.shape[1:]))
    crop, Kc, tf = crop_and_resize(image, K, (cx, cy, side), size)
    # Every joint of a render has an exact 2D label, occluded or not; weight2d drops the joints
    # nearer than NEAR_Z here, and those outside the crop (make_sample).
    return make_sample(crop, to_crop(joints2d, tf), valid.float(), Kc, joints3d)


def default_render_size(size: int) -> int:
    """Side of the rendered frames for crops of ``size`` pixels: 4/3 of it rounded up to 16, at
    least 160, so that the person's crop is not upsampled much (96 -> 160, 192 -> 256)."""
    return max(160, -(-round(size * 4 / 3) // 16) * 16)


REALISM = ("off", "effects", "auto")
# With realism on, this share of the bodies is cut by the frame edge (as people in real footage are).
TRUNCATED_SHARE = 0.15


def realism_tag(realism: str) -> str:
    """Cache-name suffix of a realism setting ("" for off, so older caches keep their names)."""
    if realism not in REALISM:
        raise VividError(f"data.realism must be one of {', '.join(REALISM)}, got {realism!r}")
    return {"off": "", "effects": "_fx", "auto": "_real"}[realism]


def build_synth_cache(path: str | os.PathLike, split: str, n: int, *, size: int = 96, render_size: int | None = None,
                      jitter: bool | None = None, mocap=None, realism: str = "off") -> Path:
    """Render ``n`` body images of ``split`` with :mod:`vivid.synth`, crop them to ``size`` and save
    the crops (:func:`save_crop_cache`). ``render_size`` defaults to :func:`default_render_size`;
    jitter defaults to on for the train split only; ``mocap`` as for :func:`synth_scene_config`.

    ``realism``: "off" (procedural backdrops, clean renders), "effects" (camera effects and
    occluders over procedural backdrops) or "auto" (effects and occluders over the shared data's
    real photos and HDR panoramas, with their light and real garment fabrics, when present:
    :func:`vivid.synth.assets.realistic_config`); some bodies are also cut by the frame edge.
    """
    from vivid.synth.assets import realistic_config, resolve_render_assets
    from vivid.synth.mocap_library import describe_mocap
    from vivid.synth.scenes import BodyScenes

    realism_tag(realism)
    render_size = default_render_size(size) if render_size is None else render_size
    cfg = synth_scene_config(split, render_size, mocap)
    assets = None
    if realism != "off":
        assets = resolve_render_assets("auto", split) if realism == "auto" else None
        cfg = realistic_config(cfg, assets)
        cfg.camera = dataclasses.replace(cfg.camera, partial_prob=TRUNCATED_SHARE)
    jitter = split == "train" if jitter is None else jitter
    meta = {"split": split, "n": n, "size": size, "render_size": render_size, "scene": cfg.to_dict(), "jitter": jitter,
            "motion": describe_mocap(mocap)["source"], "realism": realism,
            "assets": assets.describe() if assets is not None else None}
    parts = _render_parts(Path(path), BodyScenes(cfg), n, size, jitter, split)
    return merge_crop_parts(path, parts, meta)


# Renders are written in parts of this many samples: a stopped render keeps its finished parts, and
# memory holds one part at a time.
PART_SIZE = 500


def _parts_dir(path: Path) -> Path:
    return path.with_name(path.stem + ".parts")


def _render_parts(path: Path, gen, n: int, size: int, jitter: bool, split: str) -> list[Path]:
    """Render samples 0..n-1 of ``gen`` into part files beside ``path`` (``NAME.parts/``), reusing
    the parts a stopped render left (a part's samples depend only on the seed and their index)."""
    folder = _parts_dir(path)
    folder.mkdir(parents=True, exist_ok=True)
    parts = []
    for start in range(0, n, PART_SIZE):
        stop = min(n, start + PART_SIZE)
        part = folder / f"part_{start:07d}_{stop:07d}.npz"
        parts.append(part)
        if part.exists():
            continue
        samples = []
        for i in range(start, stop):
            rng = np.random.default_rng([gen.cfg.seed, i, 7]) if jitter else None
            samples.append(crop_synth_sample(gen.generate(i).to_arrays(), size, rng))
        save_crop_cache(part, samples, {"start": start, "stop": stop})
        log.info("rendered %d/%d %s samples", stop, n, split)
    return parts


def merge_crop_parts(path: str | os.PathLike, parts: list[Path], meta: dict) -> Path:
    """Join part caches (:func:`save_crop_cache` files, in order) into one cache at ``path`` with
    ``meta``, then remove the parts."""
    from vivid.core.fileio import atomic_write

    path = Path(path)
    arrays: dict[str, list[np.ndarray]] = {}
    for part in parts:
        with np.load(part) as z:
            for k in CACHE_KEYS:
                arrays.setdefault(k, []).append(z[k])
    joined = {k: np.concatenate(v) for k, v in arrays.items()}
    joined["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with atomic_write(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **joined)
    for part in parts:
        part.unlink()
    if parts:
        try:
            parts[0].parent.rmdir()
        except OSError:
            pass  # something else is in the folder: leave it
    return path


# ----------------------------------------------------------------------------- cache of crops


CACHE_KEYS = ("images", "joints2d", "weight2d", "joints3d", "K")


def save_crop_cache(path: str | os.PathLike, samples: list[dict], meta: dict) -> Path:
    """Write cropped samples (from :func:`make_sample`, all with 3D labels) to one ``.npz``."""
    from vivid.core.fileio import atomic_write, to_uint8

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {
        "images": to_uint8(torch.stack([s["image"] for s in samples])),
        "joints2d": np.stack([s["joints2d"].numpy() for s in samples]).astype(np.float32),
        "weight2d": np.stack([s["weight2d"].numpy() for s in samples]).astype(np.float32),
        "joints3d": np.stack([s["joints3d"].numpy() for s in samples]).astype(np.float32),
        "K": np.stack([s["K"].numpy() for s in samples]).astype(np.float32),
        "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
    }
    with atomic_write(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return path


class CachedPoseDataset(Dataset):
    """Crops from a cache written by :func:`save_crop_cache`.

    Args:
        path: the ``.npz`` cache.
        three_d_fraction: fraction of samples that keep their 3D label; the others become
            2D-only (``has3d`` False, 3D fields zeroed). Chosen by ``label_seed``.
        subset: "all", "3d" (only the 3D-labelled ones) or "2d" (only the 2D-only ones).
        flip: mirror each sample with probability 0.5 (training augmentation).
        limit: use only the first ``limit`` samples of the cache.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        three_d_fraction: float = 1.0,
        label_seed: int = 0,
        subset: str = "all",
        flip: bool = False,
        limit: int | None = None,
    ) -> None:
        path = Path(path)
        if not path.exists():
            raise VividError(f"pose cache {path} does not exist; build it first (benchmarks/pose3d.py or the recipe)")
        with np.load(path) as z:
            self.arrays = {k: z[k] for k in CACHE_KEYS}
            self.meta = json.loads(bytes(z["meta"]).decode()) if "meta" in z else {}
        n = len(self.arrays["images"]) if limit is None else min(limit, len(self.arrays["images"]))
        self.has3d = label_mask(n, three_d_fraction, label_seed)
        if subset == "all":
            self.indices = np.arange(n)
        elif subset == "3d":
            self.indices = np.flatnonzero(self.has3d)
        elif subset == "2d":
            self.indices = np.flatnonzero(~self.has3d)
        else:
            raise ValueError(f"subset must be 'all', '3d' or '2d', got {subset!r}")
        self.flip = flip

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict:
        k = int(self.indices[i])
        a = self.arrays
        image = torch.from_numpy(a["images"][k]).permute(2, 0, 1).float() / 255
        j3 = torch.from_numpy(a["joints3d"][k]) if self.has3d[k] else None
        sample = make_sample(image, torch.from_numpy(a["joints2d"][k]), torch.from_numpy(a["weight2d"][k]), torch.from_numpy(a["K"][k]), j3)
        if self.flip and torch.rand(()) < 0.5:
            sample = flip_sample(sample)
        return sample

    def joints3d_labelled(self) -> Tensor:
        """(N3, 17, 3) the 3D labels this dataset may use (for reference bone lengths)."""
        keep = self.indices[self.has3d[self.indices]]
        return torch.from_numpy(self.arrays["joints3d"][keep])


# ----------------------------------------------------------------------------- Human3.6M (VideoPose3D)

# VideoPose3D keeps 17 of the 32 Human3.6M joints (it removes 4, 5, 9, 10, 11, 16, 20-24, 28-31);
# in that order they are exactly the H36M-17 joints of vivid.
H36M32_TO_17 = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)

_SAFE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("collections", "OrderedDict"),
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler for VideoPose3D's object arrays: only dicts, lists and numpy arrays, so that a
    crafted file cannot run code while loading."""

    def find_class(self, module: str, name: str):
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _read_object_npz(path: str | os.PathLike, key: str):
    """The Python object stored under ``key`` of a ``np.savez`` file (an object array)."""
    path = Path(path)
    if not path.exists():
        raise VividError(f"{path} does not exist")
    try:
        with zipfile.ZipFile(path) as zf:
            if f"{key}.npy" not in zf.namelist():
                raise VividError(f"{path} has no {key!r} array; is it a VideoPose3D-preprocessed Human3.6M file?")
            raw = io.BytesIO(zf.read(f"{key}.npy"))
        version = np.lib.format.read_magic(raw)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(raw)
        if dtype.hasobject:
            obj = _ArrayUnpickler(raw).load()
            return obj.item() if isinstance(obj, np.ndarray) and obj.shape == () else obj
        raw.seek(0)
        return np.lib.format.read_array(raw, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, pickle.UnpicklingError, EOFError) as err:
        raise VividError(f"cannot read {path}: {err}") from err


def load_h36m_3d(path: str | os.PathLike) -> dict[str, dict[str, np.ndarray]]:
    """``data_3d_h36m.npz``: subject -> action -> (N, 17, 3) float32 world positions in metres.

    The file holds ``positions_3d``, a dict subject -> action -> (N, 32, 3) (Human3.6M's 32 joints,
    metres, world frame); the 17 H36M joints are kept (:data:`H36M32_TO_17`). Arrays that already
    have 17 joints are kept as they are.
    """
    data = _read_object_npz(path, "positions_3d")
    if not isinstance(data, dict):
        raise VividError(f"{path}: positions_3d should be a dict subject -> action -> array")
    out = {}
    for subject, actions in data.items():
        out[subject] = {}
        for action, pos in actions.items():
            pos = np.asarray(pos, dtype=np.float32)
            if pos.ndim != 3 or pos.shape[1] not in (17, 32) or pos.shape[2] != 3:
                raise VividError(f"{path}: {subject}/{action} has shape {pos.shape}, expected (N, 32, 3)")
            out[subject][action] = pos[:, list(H36M32_TO_17)] if pos.shape[1] == 32 else pos
    return out


def load_h36m_2d(path: str | os.PathLike) -> tuple[dict[str, dict[str, list[np.ndarray]]], dict]:
    """``data_2d_h36m_gt.npz``: (subject -> action -> [one (N, 17, 2) pixel array per camera], metadata).

    metadata is VideoPose3D's ``{"num_joints": 17, "keypoints_symmetry": [left, right]}``.
    """
    positions = _read_object_npz(path, "positions_2d")
    metadata = _read_object_npz(path, "metadata")
    if not isinstance(positions, dict) or not isinstance(metadata, dict):
        raise VividError(f"{path}: expected positions_2d and metadata dicts (VideoPose3D format)")
    if metadata.get("num_joints", 17) != 17:
        raise VividError(f"{path}: {metadata.get('num_joints')} joints; only the 17-joint H36M layout is supported")
    out = {
        s: {a: [np.asarray(v, dtype=np.float32) for v in views] for a, views in acts.items()}
        for s, acts in positions.items()
    }
    return out, metadata


def _qrot(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors v (..., 3) by the unit quaternion q (w, x, y, z)."""
    qvec = np.broadcast_to(q[1:], v.shape)
    uv = np.cross(qvec, v)
    uuv = np.cross(qvec, uv)
    return v + 2 * (q[0] * uv + uuv)


def h36m_world_to_camera(points: np.ndarray, orientation, translation_mm) -> np.ndarray:
    """VideoPose3D's convention: ``X_cam = rotate(conj(q), X - t)`` with the camera orientation
    quaternion q (w, x, y, z) and position t (given in millimetres in its camera table)."""
    q = np.asarray(orientation, dtype=np.float64)
    q = np.concatenate([q[:1], -q[1:]]) / np.linalg.norm(q)
    t = np.asarray(translation_mm, dtype=np.float64) / 1000.0
    return _qrot(q, np.asarray(points, dtype=np.float64) - t).astype(np.float32)


class H36MPoses(Dataset):
    """Human3.6M poses (no images) from VideoPose3D's files, one item per (subject, action, camera, frame).

    Args:
        path_3d: ``data_3d_h36m.npz``. path_2d: ``data_2d_h36m_gt.npz`` (optional).
        subjects: e.g. ("S1", "S5", "S6", "S7", "S8") for training; all when None.
        cameras: optional JSON path or dict subject -> list of per-camera dicts with
            ``orientation`` (w, x, y, z), ``translation`` (mm), ``focal_length`` (fx, fy) and
            ``center`` (cx, cy) in pixels, as in VideoPose3D's camera table. With cameras, ``joints3d``
            is in the camera frame and ``K`` is given; without, ``joints3d`` is the world frame.
        stride: keep every ``stride``-th frame.
    Items: dict with ``joints3d`` (17, 3) metres, ``joints3d_rel`` (17, 3) pelvis-relative,
    ``joints2d`` (17, 2) pixels (NaN without a 2D file), ``K`` (3, 3) (NaN without cameras),
    ``subject``, ``action``, ``camera``, ``frame``.
    """

    def __init__(self, path_3d, path_2d=None, *, subjects=None, cameras=None, stride: int = 1) -> None:
        self.poses = load_h36m_3d(path_3d)
        self.poses2d = load_h36m_2d(path_2d)[0] if path_2d is not None else None
        if isinstance(cameras, (str, os.PathLike)):
            try:
                cameras = json.loads(Path(cameras).read_text())
            except (OSError, json.JSONDecodeError) as err:
                raise VividError(f"cannot read camera file {cameras}: {err}") from err
        self.cameras = cameras
        subjects = list(subjects) if subjects is not None else sorted(self.poses)
        missing = [s for s in subjects if s not in self.poses]
        if missing:
            raise VividError(f"subjects {missing} are not in {path_3d}; it has {sorted(self.poses)}")
        self.index = []
        for s in subjects:
            for a, pos in sorted(self.poses[s].items()):
                n_cams = len(self.poses2d[s][a]) if self.poses2d is not None else len((cameras or {}).get(s, [None]))
                for c in range(max(n_cams, 1)):
                    for f in range(0, len(pos), stride):
                        self.index.append((s, a, c, f))

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict:
        s, a, c, f = self.index[i]
        world = self.poses[s][a][f]
        K = torch.full((3, 3), float("nan"))
        joints = world
        if self.cameras is not None and s in self.cameras:
            cam = self.cameras[s][c]
            joints = h36m_world_to_camera(world, cam["orientation"], cam["translation"])
            (fx, fy), (cx, cy) = cam["focal_length"], cam["center"]
            K = torch.tensor([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]], dtype=torch.float32)
        j2 = torch.full((NUM_JOINTS, 2), float("nan"))
        if self.poses2d is not None:
            j2 = torch.from_numpy(self.poses2d[s][a][c][f].copy())
        j3 = torch.from_numpy(np.ascontiguousarray(joints, dtype=np.float32))
        return {
            "joints3d": j3,
            "joints3d_rel": j3 - j3[ROOT],
            "joints2d": j2,
            "K": K,
            "subject": s,
            "action": a,
            "camera": c,
            "frame": f,
        }

    def joints3d(self) -> Tensor:
        """(N, 17, 3) every kept frame (world frame), e.g. for reference bone lengths."""
        return torch.from_numpy(np.concatenate([p for s in self.poses.values() for p in s.values()]))


# ----------------------------------------------------------------------------- COCO keypoints

COCO_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip

# H36M-17 joint -> COCO-17 source. An int copies that keypoint; a pair is the midpoint of two
# (labelled only when both are); None has no COCO counterpart (spine and head top stay unlabelled).
# H36M's "neck/nose" joint (9) takes COCO's nose.
COCO_TO_H36M: tuple = (
    (11, 12),  # 0 pelvis = mid-hips
    12, 14, 16,  # 1-3 right hip, knee, ankle
    11, 13, 15,  # 4-6 left hip, knee, ankle
    None,  # 7 spine
    (5, 6),  # 8 thorax = mid-shoulders
    0,  # 9 neck/nose = nose
    None,  # 10 head top
    5, 7, 9,  # 11-13 left shoulder, elbow, wrist
    6, 8, 10,  # 14-16 right shoulder, elbow, wrist
)  # fmt: skip


def coco_to_h36m(keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """COCO keypoints (17, 3) (x, y, v with v > 0 labelled) -> H36M-17 (17, 2) pixels and (17,) 0/1 labels."""
    kp = np.asarray(keypoints, dtype=np.float32).reshape(17, 3)
    joints = np.zeros((NUM_JOINTS, 2), dtype=np.float32)
    labelled = np.zeros(NUM_JOINTS, dtype=np.float32)
    for j, src in enumerate(COCO_TO_H36M):
        if src is None:
            continue
        srcs = src if isinstance(src, tuple) else (src,)
        if all(kp[s, 2] > 0 for s in srcs):
            joints[j] = kp[list(srcs), :2].mean(0)
            labelled[j] = 1.0
    return joints, labelled


class CocoKeypoints(Dataset):
    """2D-labelled person crops from a COCO keypoint file (``person_keypoints_*.json``).

    One item per non-crowd person annotation with at least ``min_keypoints`` labelled keypoints,
    cropped around its labelled joints (or its bbox) to ``size`` and returned as a 2D-only sample.
    K is assumed (``fov_deg`` across the larger image side) because COCO has no calibration.
    """

    def __init__(self, json_path, image_dir, *, size: int = 96, min_keypoints: int = 6, fov_deg: float = 55.0) -> None:
        json_path, self.image_dir = Path(json_path), Path(image_dir)
        try:
            data = json.loads(json_path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise VividError(f"cannot read COCO keypoint file {json_path}: {err}") from err
        if not isinstance(data, dict) or not {"images", "annotations"} <= set(data):
            raise VividError(f"{json_path} is not a COCO keypoint file (needs images and annotations)")
        self.images = {im["id"]: im for im in data["images"]}
        self.items = [
            a
            for a in data["annotations"]
            if not a.get("iscrowd", 0) and a.get("num_keypoints", 0) >= min_keypoints and a["image_id"] in self.images
        ]
        self.size, self.fov_deg = size, fov_deg

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        from vivid.core.fileio import read_image, to_tensor

        ann = self.items[i]
        info = self.images[ann["image_id"]]
        image = to_tensor(read_image(self.image_dir / info["file_name"]))
        joints, labelled = coco_to_h36m(np.asarray(ann["keypoints"]))
        joints, labelled = torch.from_numpy(joints), torch.from_numpy(labelled)
        if labelled.sum() >= 2:
            box = person_box(joints, labelled > 0)
        else:
            x, y, w, h = ann["bbox"]
            box = (x + w / 2, y + h / 2, max(w, h) * 1.2)
        K = intrinsics_from_fov(fov_deg=self.fov_deg, height=image.shape[1], width=image.shape[2])
        crop, Kc, tf = crop_and_resize(image, K, box, self.size)
        return make_sample(crop, to_crop(joints, tf), labelled, Kc, None)


# ----------------------------------------------------------------------------- DataModule


class Pose3DDataModule(pl.LightningDataModule):
    """Synthetic crops for training: a 3D-labelled pool and a 2D-only pool.

    Args:
        config: the recipe's ``data`` settings (:class:`vivid.pose3d.config.Pose3DData`, whose
            docstring lists them); ``size`` must be set (the model's input size). Mocap clips
            (``mocap``) are split by whole takes, so validation and test motions stay out of training.
    """

    def __init__(self, config: Pose3DData | None = None) -> None:
        from vivid.synth.mocap_library import resolve_mocap

        super().__init__()
        config = config or Pose3DData()
        if config.size is None:
            raise VividError("data.size is not set; the recipe sets it to the model's input size")
        self.cfg = asdict(config)
        self.mocap = resolve_mocap(config.mocap)  # reads file names only; clips load when rendering
        self.train_3d = self.train_2d = self.val = None

    def motion_tag(self) -> str:
        """Which motions the renders use: "procedural" or the mocap split's tag."""
        return "procedural" if self.mocap is None else self.mocap.tag()

    def cache_path(self, split: str) -> Path:
        tag = self.motion_tag() + realism_tag(self.cfg["realism"])
        return Path(self.cfg["cache_dir"]) / f"synth_{split}_{self.cfg['size']}_{tag}.npz"

    def _ensure(self, split: str, n: int) -> None:
        path = self.cache_path(split)
        if path.exists():
            with np.load(path) as z:
                if len(z["images"]) >= n:
                    return
        log.info("rendering %d %s samples into %s", n, split, path)
        build_synth_cache(path, split, n, size=self.cfg["size"], mocap=self.mocap, realism=self.cfg["realism"])

    def prepare_data(self) -> None:
        self._ensure("train", self.cfg["n_train"])
        self._ensure("val", self.cfg["n_val"])

    def setup(self, stage: str | None = None) -> None:
        c = self.cfg
        common = dict(three_d_fraction=c["three_d_fraction"], label_seed=c["label_seed"], limit=c["n_train"])
        self.train_3d = CachedPoseDataset(self.cache_path("train"), subset="3d", flip=c["flip"], **common)
        self.train_2d = CachedPoseDataset(self.cache_path("train"), subset="2d", flip=c["flip"], **common) if c["use_2d"] else None
        if self.train_2d is not None and len(self.train_2d) == 0:
            self.train_2d = None
        self.val = CachedPoseDataset(self.cache_path("val"), limit=c["n_val"])

    def reference_bone_lengths(self) -> Tensor:
        """Mean bone lengths (16,) of the 3D-labelled training samples."""
        from vivid.pose3d.bones import mean_bone_lengths

        if self.train_3d is None:
            self.setup("fit")
        return mean_bone_lengths(self.train_3d.joints3d_labelled())

    def _loader(self, ds, batch_size: int, shuffle: bool):
        from torch.utils.data import DataLoader

        return DataLoader(
            ds, batch_size=batch_size, shuffle=shuffle, drop_last=shuffle, num_workers=self.cfg["num_workers"],
            persistent_workers=self.cfg["num_workers"] > 0,
        )  # fmt: skip

    def train_dataloader(self):
        c = self.cfg
        if self.train_2d is None:
            return {"3d": self._loader(self.train_3d, min(c["batch_size"], len(self.train_3d)), True)}
        if c["mix"] == "alternate":
            n3 = n2 = c["batch_size"]
        else:
            n2 = int(round(c["batch_size"] * c["ratio_2d"]))
            n3 = c["batch_size"] - n2
        return {
            "3d": self._loader(self.train_3d, min(max(n3, 1), len(self.train_3d)), True),
            "2d": self._loader(self.train_2d, min(max(n2, 1), len(self.train_2d)), True),
        }

    def val_dataloader(self):
        return self._loader(self.val, self.cfg["val_batch_size"], False)
