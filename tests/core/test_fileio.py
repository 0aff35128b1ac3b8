import os

import numpy as np
import pytest
import torch

from vivid.core.errors import VividError
from vivid.core.fileio import atomic_write, ensure_distinct, read_image, to_tensor, to_uint8, write_image


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
