"""Nothing from ../shared/data is in the repository: no byte-identical file, and no BVH whose
motion frames are a shared clip's frames (trimmed, subsampled or reformatted copies included)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
GUARDED = ("vivid", "tests", "benchmarks", "docs")
SKIP_PARTS = {"__pycache__", ".pytest_cache"}
# A repository BVH fails when this share of its frames (rounded to two decimals) are frames of one shared clip.
FRAME_SHARE = 0.5


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not SKIP_PARTS & set(p.parts)]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def bvh_frames(path: Path) -> set[bytes]:
    """Digests of a BVH file's motion frames, each rounded to two decimals (``7.1700`` == ``7.17``)."""
    text = path.read_text(errors="replace")
    at = text.find("Frame Time")
    if at < 0:
        return set()
    body = text[text.index("\n", at) + 1 :]
    rows = [r for r in body.splitlines() if r.strip()]
    digests = set()
    for row in rows:
        try:
            values = np.round(np.array(row.split(), dtype=np.float64), 2) + 0.0  # + 0.0: -0.0 -> 0.0
        except ValueError:
            continue
        digests.add(hashlib.sha1(values.tobytes()).digest())
    return digests


def shared_copies(trees: list[Path], shared: Path) -> list[str]:
    """Files under ``trees`` that are copies of files under ``shared``: one line each."""
    ours = [p for t in trees if t.is_dir() for p in _files(t)]
    theirs = _files(shared)
    found = []
    by_size: dict[int, list[Path]] = {}
    for p in theirs:
        by_size.setdefault(p.stat().st_size, []).append(p)
    shared_hashes: dict[Path, str] = {}
    for p in ours:
        candidates = by_size.get(p.stat().st_size, [])
        if not candidates:
            continue
        digest = _sha256(p)
        for q in candidates:
            if shared_hashes.setdefault(q, _sha256(q)) == digest:
                found.append(f"{p} is byte-identical to {q}")
    our_bvh = [p for p in ours if p.suffix.lower() == ".bvh"]
    if our_bvh:
        shared_bvh = {q: bvh_frames(q) for q in theirs if q.suffix.lower() == ".bvh"}
        for p in our_bvh:
            frames = bvh_frames(p)
            for q, other in shared_bvh.items():
                if frames and len(frames & other) >= FRAME_SHARE * len(frames):
                    found.append(f"{p}: {len(frames & other)} of its {len(frames)} motion frames are frames of {q}")
    return found


def test_repository_holds_no_copy_of_shared_data(shared_data):
    found = shared_copies([REPO / name for name in GUARDED], shared_data)
    assert not found, "\n".join(found)


def test_guard_finds_a_byte_copy_and_a_reformatted_subsampled_bvh(shared_data, tmp_path):
    """The guard fails on a tree holding a plain copy of a shared file, and on a BVH made from a
    shared clip by keeping every 4th frame and rewriting its numbers with four decimals."""
    tree = tmp_path / "vivid"
    tree.mkdir()
    photo = next(p for p in _files(shared_data) if p.suffix.lower() in (".png", ".jpg"))
    shutil.copy(photo, tree / "renamed_asset.png")
    source = shared_data / "mocap" / "cmu_02_01.bvh"
    head, body = source.read_text().split("Frame Time:", 1)
    frame_time, *rows = [r for r in body.splitlines() if r.strip()]
    kept = rows[::4]
    rewritten = "\n".join(" ".join(f"{float(v):.4f}" for v in r.split()) for r in kept)
    head = head.replace(head[head.index("Frames:") :], f"Frames: {len(kept)}\n")
    (tree / "walk.bvh").write_text(f"{head}Frame Time: {float(frame_time) * 4:.6f}\n{rewritten}\n")
    (tree / "own.bvh").write_text(head + "Frame Time: 0.033333\n" + "0.5 " * len(kept[0].split()) + "\n")

    found = shared_copies([tree], shared_data)
    assert any("renamed_asset.png is byte-identical" in f for f in found)
    assert any("walk.bvh" in f and "cmu_02_01.bvh" in f for f in found)
    assert not any("own.bvh" in f for f in found)


def test_the_removed_bundled_clips_would_fail_the_guard(shared_data, tmp_path):
    """The two BVH files once in ``vivid/assets/mocap`` (trimmed, subsampled, reformatted) are caught."""
    if not (REPO / ".git").exists():
        pytest.skip("needs the repository's history")
    names = ("cmu_02_01_walk.bvh", "cmu_131_03_hop.bvh")
    for name in names:
        show = subprocess.run(
            ["git", "-C", str(REPO), "show", f"97cc329:vivid/assets/mocap/{name}"], capture_output=True
        )
        if show.returncode != 0:
            pytest.skip("the commit that held the clips is not in this clone")
        (tmp_path / name).write_bytes(show.stdout)
    found = shared_copies([tmp_path], shared_data)
    for name in names:
        assert any(name in f for f in found), name
