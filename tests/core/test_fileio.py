import os

import numpy as np
import pytest
import torch

from vivid.core.errors import VividError
from vivid.core.fileio import (
    atomic_write,
    check_output_file,
    check_output_folder,
    check_writable,
    ensure_distinct,
    read_image,
    to_tensor,
    to_uint8,
    write_image,
)

# A folder no one can create files in, root included (permission bits do not stop root).
UNWRITABLE = "/proc"
needs_proc = pytest.mark.skipif(not os.path.isdir(UNWRITABLE), reason="no /proc here")


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_write(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_keeps_old_file_until_success(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as tmp:
            tmp.write_text("new")
            raise RuntimeError
    assert target.read_text() == "old"
    with atomic_write(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and len(list(tmp_path.iterdir())) == 1
    # finished outputs follow the umask, not the private mode of the temporary file
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask


def test_atomic_write_missing_folder(tmp_path):
    with pytest.raises(VividError, match="does not exist"):
        with atomic_write(tmp_path / "no" / "x.txt"):
            pass


def test_ensure_distinct(tmp_path):
    a = tmp_path / "a.mp4"
    a.write_bytes(b"x")
    ensure_distinct(a, tmp_path / "b.mp4")
    with pytest.raises(VividError, match="is the input"):
        ensure_distinct(a, tmp_path / "." / "a.mp4")
    (tmp_path / "link.mp4").symlink_to(a)
    with pytest.raises(VividError):
        ensure_distinct(a, tmp_path / "link.mp4")


def test_image_round_trip_and_errors(tmp_path):
    img = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    write_image(tmp_path / "a.png", img)
    assert np.array_equal(read_image(tmp_path / "a.png"), img)
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(VividError, match="cannot read image"):
        read_image(tmp_path / "bad.png")
    with pytest.raises(VividError, match="does not exist"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(VividError, match="unsupported image format"):
        write_image(tmp_path / "a.xyz", img)


def test_tensor_conversions_invert():
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 7
    t = to_tensor(img)
    assert t.shape == (3, 2, 3) and t.dtype == torch.float32
    assert t[1, 0, 0] == pytest.approx(7 / 255)
    assert np.array_equal(to_uint8(t), img)
    assert to_uint8(t[None]).shape == (1, 2, 3, 3)


def test_check_output_file_refuses_each_problem_before_any_work(tmp_path):
    src = tmp_path / "in.png"
    src.write_bytes(b"input")
    ok = check_output_file(tmp_path / "out.png", suffixes=[".png", ".jpg"], inputs=[src])
    assert ok == tmp_path / "out.png" and sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]  # probe removed
    cases = [
        (tmp_path, "is a folder"),
        (tmp_path / "out.gif", "must be a .png or .jpg file"),
        (tmp_path / "." / "in.png", "is the input"),
        (tmp_path / "nodir" / "out.png", "nodir does not exist"),
        (src / "out.png", "is not a folder"),
    ]
    for path, words in cases:
        with pytest.raises(VividError, match=words):
            check_output_file(path, suffixes=[".png", ".jpg"], inputs=[src])
    (tmp_path / "old.png").write_bytes(b"old")
    with pytest.raises(VividError, match="--overwrite"):
        check_output_file(tmp_path / "old.png", suffixes=[".png"])
    check_output_file(tmp_path / "old.png", suffixes=[".png"], overwrite=True)
    check_output_file(tmp_path / "new" / "sheet.png", suffixes=[".png"], in_new_folder=True)
    assert (tmp_path / "old.png").read_bytes() == b"old" and not (tmp_path / "new").exists()


@needs_proc
def test_writability_is_tried_not_read_from_permission_bits(tmp_path):
    check_writable(tmp_path, like="x.mp4")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(VividError, match="cannot write x.mp4 in /proc"):
        check_writable(UNWRITABLE, like="x.mp4")
    with pytest.raises(VividError, match="cannot write"):
        check_output_file(f"{UNWRITABLE}/x.json", suffixes=[".json"])
    with pytest.raises(VividError, match="cannot create output folder /proc/x/y"):
        check_output_folder(f"{UNWRITABLE}/x/y")


def test_check_output_folder_new_empty_or_own(tmp_path):
    assert check_output_folder(tmp_path / "a" / "b") == [] and not (tmp_path / "a").exists()
    run = tmp_path / "run"
    run.mkdir()
    assert check_output_folder(run, own=["index.json"]) == []
    (run / "index.json").write_text("{}")
    (run / "shard-000000.npz").write_bytes(b"")
    assert check_output_folder(run, own=["index.json", "shard-*.npz"]) == ["index.json", "shard-000000.npz"]
    (run / "notes.txt").write_text("mine")
    with pytest.raises(VividError, match=r"holds other files \(notes.txt\); give a new or empty folder"):
        check_output_folder(run, own=["index.json", "shard-*.npz"])
    assert check_output_folder(run) == ["index.json", "notes.txt", "shard-000000.npz"]  # any content
    with pytest.raises(VividError, match="is a file"):
        check_output_folder(run / "notes.txt")
    with pytest.raises(VividError, match="cannot create output folder .*notes.txt is not a folder"):
        check_output_folder(run / "notes.txt" / "sub")
    assert sorted(p.name for p in run.iterdir()) == ["index.json", "notes.txt", "shard-000000.npz"]
