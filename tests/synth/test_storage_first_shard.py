"""The index is written once a shard exists: a run that fails before leaves the folder free."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vivid.synth.storage import INDEX_NAME, SynthDataset, write_shards


class Scenes:
    def __init__(self, fail: bool) -> None:
        self.fail = fail

    def generate_batch(self, ids):
        if self.fail:
            raise MemoryError("a sample too large for this machine")
        return [{"image": np.full((4, 4, 3), i, np.uint8), "index": np.array(i)} for i in ids]


def _write(root, *, fail=False, size=(4, 4)):
    return write_shards(
        root, lambda: Scenes(fail), kind="body", size=size, seed=0, n=3, config={"size": list(size)}, shard_size=2
    )


def test_a_failing_first_shard_leaves_no_index_and_no_folder(tmp_path):
    with pytest.raises(MemoryError):
        _write(tmp_path / "d", fail=True)
    assert not (tmp_path / "d").exists()
    (tmp_path / "e").mkdir()
    with pytest.raises(MemoryError):
        _write(tmp_path / "e", fail=True)
    assert list((tmp_path / "e").iterdir()) == []  # a folder that was there stays, empty
    index = _write(tmp_path / "e", size=(8, 8))  # and takes other settings afterwards
    assert index["complete"] and len(SynthDataset(tmp_path / "e")) == 3


def test_an_index_without_shards_holds_nothing_to_continue(tmp_path):
    root = tmp_path / "d"
    root.mkdir()
    head = {"format": "vivid-synth", "version": 1, "kind": "body", "size": [100000, 100000], "seed": 0,
            "shard_size": 2, "config": {}, "n": 3, "complete": False, "shards": []}  # fmt: skip
    (root / INDEX_NAME).write_text(json.dumps(head))
    index = _write(root)
    assert index["complete"] and index["size"] == [4, 4]
    assert json.loads((root / INDEX_NAME).read_text()) == index
