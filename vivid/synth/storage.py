"""On-disk format of generated scenes: shards plus an index JSON; readers and a streaming dataset.

Layout of an output folder::

    out/
      index.json            # format, kind, size, seed, n, shard_size, generator config, shards
      shard-000000.npz      # samples 0 .. shard_size-1
      shard-000001.npz
      ...

A shard is a zip file (``numpy.load`` reads it lazily) with one member per sample and label,
``"<local index:05d>/<label>.npy"``: masks and label maps deflated (level 1), images, depth and
flow stored as they are (they barely compress, and compressing them would cost more time than
generating them). Sample ``i`` is generated from its own
random stream ``numpy.random.default_rng([seed, i])``, so the data depend only on the seed and
the config, not on the number of workers or on interruptions.

Reading, and training without disk::

    from vivid.synth.storage import SynthDataset, SynthStream
    from vivid.synth.scenes import GeneratorFactory, SceneConfig

    ds = SynthDataset("out")                 # written by `vivid synth body --n 1000 -o out`
    item = ds[0]                             # image (3, H, W) float, joints2d, joints3d, K, mask, ...
    cfg = SceneConfig(kind="body", height=256, width=256, seed=1)
    stream = SynthStream(GeneratorFactory(cfg))   # endless; equals the disk data of the same seed
    loader = torch.utils.data.DataLoader(stream, batch_size=32, num_workers=2)

Safety: every shard is written under a temporary name and renamed when complete; the index is
written atomically after each finished shard (never before the first). An interrupted run
therefore leaves only complete shards under final names, and running the same command again
continues where it stopped (it refuses to continue a folder made with a different kind, size,
seed or config; an index without shards holds nothing to continue and is replaced).
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import re
import zipfile
from collections import OrderedDict

from pathlib import Path
from typing import Callable, Iterator, Mapping

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from vivid.core.errors import VividError
from vivid.core.fileio import atomic_write
from vivid.synth.samples import Sample

log = logging.getLogger(__name__)

__all__ = [
    "INDEX_NAME",
    "OWN_FILES",
    "write_shards",
    "read_index",
    "SynthDataset",
    "SynthStream",
    "decode_sample",
    "sample_arrays",
    "save_shard",
    "load_shard_sample",
]

INDEX_NAME = "index.json"
# What a run leaves in its folder (with atomic_write's temporaries): nothing else may be there.
OWN_FILES = (INDEX_NAME, "shard-*.npz", ".shard-*.tmp.npz", ".index.*.tmp.json")
FORMAT = "vivid-synth"
VERSION = 1
_SHARD_RE = re.compile(r"^shard-(\d{6})\.npz$")


def shard_name(k: int) -> str:
    return f"shard-{k:06d}.npz"


# ----------------------------------------------------------------------------- encode / decode


def sample_arrays(sample: Sample | Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The stored form of a generated sample: its label arrays by name (see
    :meth:`vivid.synth.samples.Sample.to_arrays`); a mapping of arrays is taken as it is."""
    return sample.to_arrays() if isinstance(sample, Sample) else dict(sample)


def decode_sample(raw: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Storage arrays -> training tensors.

    ``image`` uint8 (..., H, W, 3) becomes float32 (..., 3, H, W) in [0, 1]; other uint8 images
    (``image_b``, ``flat_garment(_b)``, ``background``) likewise; everything else is converted as it is (bool masks
    stay bool, float32 labels stay float32, int arrays become int64)."""
    out: dict[str, torch.Tensor] = {}
    for k, v in raw.items():
        t = torch.from_numpy(v if v.flags.c_contiguous else np.ascontiguousarray(v))  # keeps 0-d arrays 0-d
        if v.dtype == np.uint8 and v.ndim >= 3 and v.shape[-1] == 3 and k in _RGB_KEYS:
            t = t.movedim(-1, -3).float().div_(255.0)
        elif v.dtype in (np.int16, np.int32, np.uint8, np.uint16) and k not in _RGB_KEYS:
            t = t.long()
        elif v.dtype == np.float16:
            t = t.float()
        out[k] = t
    return out


_RGB_KEYS = {"image", "image_b", "flat_garment", "flat_garment_b", "background"}


def _deflate(v: np.ndarray) -> bool:
    """Masks and label maps shrink ~20x under deflate, cheaply; images, depth and flow barely
    shrink and would cost more time to compress than they save, so they are stored as they are."""
    return v.dtype == np.bool_ or (v.dtype == np.uint8 and (v.ndim < 3 or v.shape[-1] != 3)) or v.nbytes < 4096


def save_shard(path: Path, samples: list[dict[str, np.ndarray]]) -> None:
    """Write samples to a shard atomically (temporary file renamed on success)."""
    with atomic_write(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for i, s in enumerate(samples):
                for k, v in s.items():
                    v = np.asarray(v)
                    member: str | zipfile.ZipInfo = f"{i:05d}/{k}.npy"
                    if not _deflate(v):
                        member = zipfile.ZipInfo(member)  # ZIP_STORED by default
                    with zf.open(member, "w", force_zip64=True) as fh:
                        np.lib.format.write_array(fh, v, allow_pickle=False)


def _shard_keys(zf: zipfile.ZipFile) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for name in zf.namelist():
        i, k = name.split("/", 1)
        out.setdefault(int(i), []).append(k[:-4])
    return out


def load_shard_sample(zf: zipfile.ZipFile, i: int, keys: list[str]) -> dict[str, np.ndarray]:
    out = {}
    for k in keys:
        with zf.open(f"{i:05d}/{k}.npy") as fh:
            out[k] = np.lib.format.read_array(fh, allow_pickle=False)
    return out


# ----------------------------------------------------------------------------- index


def read_index(root: str | os.PathLike) -> dict:
    """Read ``root/index.json``; VividError when missing or not a vivid-synth index."""
    p = Path(root) / INDEX_NAME
    if not p.is_file():
        raise VividError(f"{root} holds no {INDEX_NAME}; generate data with `vivid synth` first")
    try:
        idx = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise VividError(f"cannot read {p}: {err}") from err
    if idx.get("format") != FORMAT:
        raise VividError(f"{p} is not a vivid synth index (format {idx.get('format')!r})")
    return idx


def _write_index(root: Path, index: dict) -> None:
    with atomic_write(root / INDEX_NAME) as tmp:
        tmp.write_text(json.dumps(index, indent=1))


# ----------------------------------------------------------------------------- writing

_worker_gen = None


def _worker_init(factory: Callable, threads: int) -> None:
    global _worker_gen
    torch.set_num_threads(threads)
    _worker_gen = factory()


BATCH = 16  # samples generated together (the body model poses a batch at once)


def _generate(gen, first: int, count: int) -> list[dict[str, np.ndarray]]:
    out: list[dict[str, np.ndarray]] = []
    for s in range(first, first + count, BATCH):
        out += [sample_arrays(x) for x in gen.generate_batch(list(range(s, min(s + BATCH, first + count))))]
    return out


def _worker_shard(args: tuple[Path, int, int, int]) -> tuple[int, int]:
    root, k, first, count = args
    save_shard(root / shard_name(k), _generate(_worker_gen, first, count))
    return k, count


def write_shards(
    root: str | os.PathLike,
    make_generator: Callable,
    *,
    kind: str,
    size: tuple[int, int],
    seed: int,
    n: int,
    config: dict,
    shard_size: int = 64,
    workers: int = 1,
    threads: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> dict:
    """Generate ``n`` samples into ``root`` as shards (resuming a previous run), return the index.

    Args:
        make_generator: picklable zero-argument callable returning an object with
            ``generate_batch(ids)``, the samples ``ids`` of the dataset
            (:class:`~vivid.synth.samples.Sample` or dicts of numpy arrays).
        config: the generator config (JSON-serialisable), stored in the index and compared on resume.
        workers: processes generating shards in parallel (each builds its own generator).
        threads: torch threads per worker process (default: the cores divided among the workers).
        on_progress: called with the number of samples of each finished shard.
    """
    if n <= 0:
        raise VividError(f"--n must be a positive number of samples, got {n}")
    if shard_size <= 0:
        raise VividError(f"shard size must be positive, got {shard_size}")
    if workers <= 0:
        raise VividError(f"--workers must be at least 1, got {workers}")
    # build the generator before touching the disk, so that a bad config leaves nothing behind
    gen = make_generator() if workers == 1 else None
    root = Path(root)
    made_root = not root.exists()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise VividError(f"cannot create output folder {root}: {err.strerror}; choose a writable folder") from err
    if not os.access(root, os.W_OK):
        raise VividError(f"output folder {root} is not writable; choose a writable folder")
    head = {
        "format": FORMAT,
        "version": VERSION,
        "kind": kind,
        "size": list(size),
        "seed": int(seed),
        "shard_size": int(shard_size),
        "config": config,
    }
    done: dict[int, int] = {}
    old = read_index(root) if (root / INDEX_NAME).exists() else None
    if old is not None and old["shards"]:
        diff = [k for k in head if json.dumps(old.get(k), sort_keys=True) != json.dumps(head[k], sort_keys=True)]
        if diff:
            raise VividError(
                f"{root} already holds data generated with a different {', '.join(diff)}; "
                "use another output folder or the same settings to continue it"
            )
        done = {int(s["shard"]): int(s["count"]) for s in old["shards"]}
    elif any(_SHARD_RE.match(p.name) for p in root.iterdir()):
        raise VividError(f"{root} holds shards but no {INDEX_NAME} listing them; use an empty output folder")
    # leftovers of an interrupted writer (atomic_write temporaries) are never under final names
    for p in root.glob(".shard-*.tmp.npz"):
        p.unlink()
    n_shards = (n + shard_size - 1) // shard_size
    todo = []
    for k in range(n_shards):
        first = k * shard_size
        count = min(shard_size, n - first)
        if done.get(k) == count and (root / shard_name(k)).is_file():
            continue
        done.pop(k, None)
        todo.append((root, k, first, count))
    # shards from a run with a larger n stay on disk but are not part of this dataset
    done = {k: c for k, c in done.items() if k < n_shards}

    def index_now() -> dict:
        shards = [
            {"shard": k, "file": shard_name(k), "first": k * shard_size, "count": c} for k, c in sorted(done.items())
        ]
        complete = sum(c for c in done.values()) == n and len(done) == n_shards
        return {**head, "n": int(n), "complete": complete, "shards": shards}

    # The index is written once a shard exists: an index alone would bind the folder to these
    # settings with nothing in it to continue.
    if done:
        _write_index(root, index_now())
        if on_progress is not None:
            on_progress(sum(done.values()))
    try:
        if todo and gen is not None:
            for _, k, first, count in todo:
                save_shard(root / shard_name(k), _generate(gen, first, count))
                done[k] = count
                _write_index(root, index_now())
                if on_progress is not None:
                    on_progress(count)
        elif todo:
            _write_in_workers(root, make_generator, todo, done, index_now, workers, threads, on_progress)
    except BaseException:
        if made_root and not any(root.iterdir()):
            root.rmdir()  # nothing was generated: leave no trace of this run
        raise
    return index_now()


def _write_in_workers(root, make_generator, todo, done, index_now, workers, threads, on_progress) -> None:
    """The shards of ``todo`` from a pool of worker processes (each builds its own generator)."""
    from vivid.core.cli_utils import terminate_as_interrupt

    ctx = mp.get_context("spawn")
    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    try:
        # SIGTERM is taken like Ctrl-C, so that the pool stops its workers too.
        with (
            terminate_as_interrupt(),
            ctx.Pool(workers, initializer=_worker_init, initargs=(make_generator, threads)) as pool,
        ):
            for k, count in pool.imap_unordered(_worker_shard, todo):
                done[k] = count
                _write_index(root, index_now())
                if on_progress is not None:
                    on_progress(count)
    except BaseException:
        # Workers are stopped without running their clean-up: remove their temporaries here.
        for p in root.glob(".shard-*.tmp.npz"):
            p.unlink(missing_ok=True)
        raise


# ----------------------------------------------------------------------------- reading


class SynthDataset(Dataset):
    """Map-style dataset over a generated folder. Items are dicts of tensors (see
    :func:`decode_sample`); for ``body`` data they follow the shared pose contract:
    image (3, H, W) float32, joints2d (17, 2), visibility (17,), joints3d (17, 3), K (3, 3),
    mask (H, W) bool, and more labels.

    Args:
        root: the output folder of ``vivid synth``.
        keys: labels to load (default all); loading fewer is faster.
        allow_incomplete: read the complete shards of an unfinished run.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        keys: list[str] | None = None,
        allow_incomplete: bool = False,
        transform: Callable | None = None,
    ) -> None:
        self.root = Path(root)
        self.index = read_index(self.root)
        if not self.index.get("complete") and not allow_incomplete:
            raise VividError(f"{root} is an unfinished run; run the same `vivid synth` command again to complete it")
        self.shards = self.index["shards"]
        self._starts = np.cumsum([0] + [s["count"] for s in self.shards])
        self.keys = keys
        self.transform = transform
        self._open: OrderedDict[int, zipfile.ZipFile] = OrderedDict()
        self._pid = os.getpid()
        self._keys_cache: dict[int, list[str]] = {}

    def __len__(self) -> int:
        return int(self._starts[-1])

    @property
    def kind(self) -> str:
        return self.index["kind"]

    def _zip(self, s: int) -> zipfile.ZipFile:
        if self._pid != os.getpid():
            # a forked DataLoader worker: the inherited handles share file offsets with the
            # parent and the other workers, so each process opens its own
            self._open = OrderedDict()
            self._pid = os.getpid()
        zf = self._open.get(s)
        if zf is None:
            path = self.root / self.shards[s]["file"]
            try:
                zf = zipfile.ZipFile(path)
            except (OSError, zipfile.BadZipFile) as err:
                raise VividError(f"cannot read shard {path}: {err}") from err
            self._open[s] = zf
            if len(self._open) > 8:
                self._open.popitem(last=False)[1].close()
        else:
            self._open.move_to_end(s)
        return zf

    def raw(self, i: int) -> dict[str, np.ndarray]:
        """Sample i as stored (numpy arrays)."""
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} samples")
        i %= len(self)
        s = int(np.searchsorted(self._starts, i, side="right") - 1)
        zf = self._zip(s)
        if s not in self._keys_cache:
            self._keys_cache[s] = _shard_keys(zf)[0]
        keys = self._keys_cache[s] if self.keys is None else self.keys
        return load_shard_sample(zf, i - int(self._starts[s]), keys)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        item = decode_sample(self.raw(i))
        return self.transform(item) if self.transform is not None else item

    def __getstate__(self):  # zip handles do not cross process boundaries
        state = self.__dict__.copy()
        state["_open"] = OrderedDict()
        return state


class SynthStream(IterableDataset):
    """Samples generated on the fly, for training without disk.

    Yields ``decode_sample(sample_arrays(generator.generate(i)))`` for i = start, start+1, ...
    (``n`` of them, or forever when ``n`` is None). DataLoader workers split the indices (worker
    w takes i = w mod workers), so each sample is produced once and the stream equals the
    on-disk dataset made with the same seed and config.

    Args:
        make_generator: zero-argument callable returning the scene generator (built lazily in each
            worker).
    """

    def __init__(
        self,
        make_generator: Callable,
        *,
        n: int | None = None,
        start: int = 0,
        transform: Callable | None = None,
        chunk: int = 8,
    ) -> None:
        self.make_generator, self.n, self.start, self.transform = make_generator, n, start, transform
        self.chunk = chunk
        self._gen = None

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        info = get_worker_info()
        wid, nw = (info.id, info.num_workers) if info is not None else (0, 1)
        if self._gen is None:
            self._gen = self.make_generator()
        i = self.start + wid
        end = None if self.n is None else self.start + self.n
        while end is None or i < end:
            ids = [j for j in range(i, i + self.chunk * nw, nw) if end is None or j < end]
            for sample in self._gen.generate_batch(ids):
                item = decode_sample(sample_arrays(sample))
                yield self.transform(item) if self.transform is not None else item
            i += self.chunk * nw

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_gen"] = None
        return state
