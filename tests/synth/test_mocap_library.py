"""Mocap folders split by whole takes, category by category."""

from __future__ import annotations

import pytest

from vivid.core.errors import VividError
from vivid.synth.mocap_library import SPLITS, resolve_mocap, split_mocap_folder, take_name


def _folder(parent, rows):
    folder = parent / "mocap"
    folder.mkdir(parents=True)
    for name, _ in rows:
        (folder / name).write_text("HIERARCHY\n")
    (folder / "index.csv").write_text("file,category\n" + "".join(f"{n},{c}\n" for n, c in rows))
    return folder


def test_take_name_merges_salsa_partners():
    assert take_name("cmu_61_03_salsa.bvh") == take_name("cmu_60_03_salsa.bvh") == "cmu_60_03"
    assert take_name("cmu_02_01_walk.bvh") == "cmu_02_01"
    assert take_name("my_clip.bvh") == "my_clip"


def test_split_by_category_whole_takes_and_partners(tmp_path):
    rows = [(f"cmu_07_{i:02d}_walk.bvh", "walk") for i in range(1, 21)]
    rows += [(f"cmu_60_{i:02d}_salsa.bvh", "dance") for i in range(1, 8)]
    rows += [(f"cmu_61_{i:02d}_salsa.bvh", "dance") for i in range(1, 8)]
    rows += [("cmu_02_10_wash.bvh", "everyday"), ("cmu_02_11_wash.bvh", "everyday"), ("cmu_03_01_sit.bvh", "sit")]
    split = split_mocap_folder(_folder(tmp_path, rows))
    names = [n for s in SPLITS for n in split.clips[s]]
    assert sorted(names) == sorted(n for n, _ in rows)  # every clip once
    for s in SPLITS:  # categories with three or more takes are in every split
        cats = {split.categories[n] for n in split.clips[s]}
        assert {"walk", "dance"} <= cats, s
    # partners of one take share a split
    for s in SPLITS:
        for n in split.clips[s]:
            if n.startswith("cmu_60_"):
                assert n.replace("cmu_60_", "cmu_61_") in split.clips[s]
    # two takes: train and test; one take: train
    assert sorted(split.categories[n] for n in split.clips["test"] if split.categories[n] == "everyday") == ["everyday"]
    assert "cmu_03_01_sit.bvh" in split.clips["train"]
    # the same folder splits the same way, and the tag names the split
    again = split_mocap_folder(tmp_path / "mocap")
    assert again.clips == split.clips and again.tag() == split.tag()
    assert [p.name for p in split.paths("test")] == list(split.clips["test"])


def test_folder_without_index_is_one_category(tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    for i in range(10):
        (folder / f"take{i}.bvh").write_text("HIERARCHY\n")
    split = split_mocap_folder(folder)
    assert [len(split.clips[s]) for s in SPLITS] == [7, 1, 2]


def test_settings_and_bad_folders(tmp_path, monkeypatch):
    assert resolve_mocap("procedural") is None
    monkeypatch.setenv("VIVID_SHARED_DATA", str(tmp_path / "nothing_here"))
    with pytest.raises(VividError, match="does not exist"):
        resolve_mocap(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(VividError, match="no .bvh"):
        split_mocap_folder(tmp_path / "empty")
    assert resolve_mocap("auto") is None  # no shared folder: procedural
    data = tmp_path / "data"
    _folder(data, [("a.bvh", "walk")])
    monkeypatch.setenv("VIVID_SHARED_DATA", str(data))
    auto = resolve_mocap("auto")
    assert auto is not None and auto.clips["train"] == ("a.bvh",)


def test_shared_clips_split_with_every_category_in_train_and_test(shared_data):
    split = split_mocap_folder(shared_data / "mocap")
    cats = set(split.categories.values())
    for s in ("train", "test"):
        assert {split.categories[n] for n in split.clips[s]} == cats, s
    takes = {s: {take_name(n) for n in split.clips[s]} for s in SPLITS}
    assert not takes["train"] & takes["test"] and not takes["train"] & takes["val"] and not takes["val"] & takes["test"]
