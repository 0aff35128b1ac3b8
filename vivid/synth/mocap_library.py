"""Motion-capture folders for training recipes: where they are and how they split by whole clips.

vivid ships no motion capture of its own: ``vivid synth`` draws procedural motion unless the user
gives BVH files (``--mocap``). Training recipes take a ``data.mocap`` setting:

- ``"auto"`` (default): the shared data folder's ``mocap/`` when it exists (``$VIVID_SHARED_DATA/mocap``,
  else ``../shared/data/mocap`` beside the repository), otherwise procedural motion only;
- ``"procedural"``: no mocap;
- a folder of ``.bvh`` files.

A folder is split into train / validation / test by whole takes, so that test motions are never
seen in training. With an ``index.csv`` (columns ``file`` and ``category``) every category is
split on its own, so each split holds every category that has at least three takes (a category
with two takes goes to train and test, one with a single take to train). Without an index the
whole folder is one category. The choice within a category is a fixed hash of the take's name,
so adding clips moves no existing one between splits unless its category's counts change.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from vivid.core.errors import VividError

SPLITS = ("train", "val", "test")
SHARED_ENV = "VIVID_SHARED_DATA"
VAL_FRACTION = 0.12
TEST_FRACTION = 0.15
# CMU subjects 60 and 61 are the two partners of the same salsa takes (60_01 with 61_01, ...):
# one take, so both files go to one split.
SAME_TAKE_SUBJECTS = {"61": "60"}


@dataclass(frozen=True)
class MocapSplit:
    """Clips of one folder by split.

    Attributes:
        folder: the folder holding the files.
        clips: split name -> sorted file names (relative to ``folder``).
        categories: file name -> action category ("all" without an index).
    """

    folder: Path
    clips: dict[str, tuple[str, ...]]
    categories: dict[str, str] = field(default_factory=dict)

    def paths(self, split: str) -> list[Path]:
        """Full paths of ``split``'s clips."""
        if split not in SPLITS:
            raise VividError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
        return [self.folder / name for name in self.clips[split]]

    def describe(self) -> dict:
        """JSON-ready record for a run's sidecar: the folder and each split's clips."""
        return {"folder": str(self.folder), **{s: list(self.clips[s]) for s in SPLITS}}

    def tag(self) -> str:
        """Short stable name of this split, for cache file names."""
        text = "\n".join(f"{s}:{','.join(self.clips[s])}" for s in SPLITS)
        return "mocap-" + hashlib.sha1(text.encode()).hexdigest()[:10]


def shared_data_dir() -> Path | None:
    """The shared data folder, or None: ``$VIVID_SHARED_DATA`` when set, else ``../shared/data``
    beside the repository (a source checkout; an installed package has none)."""
    env = os.environ.get(SHARED_ENV)
    path = Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "data"
    return path if path.is_dir() else None


def take_name(file_name: str) -> str:
    """The take a clip belongs to: its CMU subject and trial, with partner subjects merged.

    ``cmu_61_03_salsa.bvh`` -> ``cmu_60_03``; names without a subject_trial pattern are their own take.
    """
    m = re.match(r"^(cmu_)?(\d+)_(\d+)", file_name)
    if not m:
        return Path(file_name).stem
    subject = SAME_TAKE_SUBJECTS.get(m.group(2), m.group(2))
    return f"{m.group(1) or ''}{subject}_{m.group(3)}"


def _read_index(folder: Path, files: list[str]) -> dict[str, str]:
    index = folder / "index.csv"
    if not index.exists():
        return {f: "all" for f in files}
    with open(index, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if rows and not {"file", "category"} <= set(rows[0]):
        raise VividError(f"{index} needs the columns file and category")
    categories = {r["file"]: r["category"] for r in rows}
    # A clip missing from the index is kept, in a category of its own kind.
    return {f: categories.get(f, "unlisted") for f in files}


def _stable_order(names: list[str]) -> list[str]:
    return sorted(names, key=lambda n: hashlib.sha1(n.encode()).hexdigest())


def split_mocap_folder(folder: str | os.PathLike) -> MocapSplit:
    """Split the ``.bvh`` files of ``folder`` by whole takes, category by category (see the module docstring)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise VividError(f"mocap folder {folder} does not exist; give a folder of .bvh files, 'auto' or 'procedural'")
    files = sorted(p.name for p in folder.glob("*.bvh"))
    if not files:
        raise VividError(f"mocap folder {folder} holds no .bvh files")
    categories = _read_index(folder, files)
    takes: dict[str, dict[str, list[str]]] = {}
    for f in files:
        takes.setdefault(categories[f], {}).setdefault(take_name(f), []).append(f)
    clips: dict[str, list[str]] = {s: [] for s in SPLITS}
    for category in sorted(takes):
        order = _stable_order(list(takes[category]))
        n = len(order)
        if n >= 3:
            n_test = max(1, round(TEST_FRACTION * n))
            n_val = max(1, round(VAL_FRACTION * n))
        else:
            n_test, n_val = (1 if n == 2 else 0), 0
        chosen = {"test": order[:n_test], "val": order[n_test : n_test + n_val], "train": order[n_test + n_val :]}
        for split, names in chosen.items():
            for take in names:
                clips[split].extend(takes[category][take])
    return MocapSplit(folder=folder, clips={s: tuple(sorted(v)) for s, v in clips.items()}, categories=categories)


def resolve_mocap(setting: str | os.PathLike | None) -> MocapSplit | None:
    """A recipe's ``data.mocap`` setting -> the split clips, or None for procedural motion only."""
    if setting is None or str(setting) == "procedural":
        return None
    if str(setting) == "auto":
        shared = shared_data_dir()
        folder = shared / "mocap" if shared is not None else None
        if folder is None or not any(folder.glob("*.bvh")):
            return None
        return split_mocap_folder(folder)
    return split_mocap_folder(setting)


def describe_mocap(split: MocapSplit | None) -> dict:
    """What a run's sidecar records of its motion: the source and, for mocap, every split's clips."""
    if split is None:
        return {"source": "procedural"}
    return {"source": "mocap", **split.describe()}
