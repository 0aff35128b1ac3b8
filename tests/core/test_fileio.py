import os

import numpy as np
import pytest
import torch
from PIL import Image

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


# ----------------------------------------------------------------------------- orientation and modes


def _stored() -> np.ndarray:
    """3x5 pixels, all different, so every flip and turn gives another array."""
    return np.arange(3 * 5 * 3, dtype=np.uint8).reshape(3, 5, 3) * 5


# What a viewer shows for each EXIF orientation of the stored pixels S (EXIF 2.3, tag 0x0112).
_SHOWN = {
    1: lambda s: s,
    2: lambda s: s[:, ::-1],
    3: lambda s: s[::-1, ::-1],
    4: lambda s: s[::-1],
    5: lambda s: s.transpose(1, 0, 2),
    6: lambda s: np.rot90(s, -1),  # turned a quarter clockwise
    7: lambda s: s[::-1, ::-1].transpose(1, 0, 2),
    8: lambda s: np.rot90(s, 1),
}


@pytest.mark.parametrize("orientation", sorted(_SHOWN))
def test_exif_orientation_is_applied(tmp_path, orientation):
    stored = _stored()
    im = Image.fromarray(stored)
    exif = im.getexif()
    exif[0x0112] = orientation
    im.save(tmp_path / "o.png", exif=exif.tobytes())  # PNG keeps the pixels exact
    assert np.array_equal(read_image(tmp_path / "o.png"), _SHOWN[orientation](stored))


def test_jpeg_with_orientation_6_reads_as_portrait(tmp_path):
    stored = np.full((24, 40, 3), 20, np.uint8)  # landscape as stored, bright block top-left
    stored[:8, :8] = 240
    im = Image.fromarray(stored)
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(tmp_path / "phone.jpg", exif=exif.tobytes(), quality=95)
    shown = read_image(tmp_path / "phone.jpg")
    assert shown.shape == (40, 24, 3)  # a quarter turn clockwise: portrait
    assert shown[:8, -8:].mean() > 200 and shown[:8, :8].mean() < 60  # the block is now top-right


def _png16(path, array: np.ndarray) -> None:
    """Write a 16-bit RGB PNG by hand (Pillow cannot write one)."""
    import struct
    import zlib

    h, w, _ = array.shape
    raw = b"".join(b"\x00" + array[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


GREY = np.array([[0, 1, 64, 127], [128, 200, 254, 255]], dtype=np.uint8)  # (2, 4) 8-bit levels


def _rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(grey[..., None], 3, axis=2)


def _grey_in_mode(mode: str) -> Image.Image:
    """GREY stored in ``mode`` at that mode's own scale."""
    wide = GREY.astype(np.int64) * 257  # 8-bit level v is 16-bit level 257 v
    nudge = np.where(GREY > 127, -100, 100)  # off by up to 128 still rounds to v
    arrays = {
        "1": GREY > 127,
        "L": GREY,
        "I;16": (wide + nudge).astype(np.uint16),
        "I": (wide + nudge).astype(np.int32),
        "F": GREY.astype(np.float32) / 255,
    }
    return Image.fromarray(arrays[mode])


@pytest.mark.parametrize(
    "mode, suffix", [("1", ".png"), ("L", ".png"), ("I;16", ".png"), ("I;16", ".tif"), ("I", ".tif"), ("F", ".tif")]
)
def test_greyscale_modes_read_to_full_scale_rgb(tmp_path, mode, suffix):
    image = _grey_in_mode(mode)
    assert image.mode == mode
    image.save(tmp_path / f"grey{suffix}")
    expected = _rgb(np.where(GREY > 127, 255, 0).astype(np.uint8)) if mode == "1" else _rgb(GREY)
    got = read_image(tmp_path / f"grey{suffix}")
    assert got.dtype == np.uint8 and got.shape == (2, 4, 3)
    assert np.array_equal(got, expected), got[..., 0]


def test_sixteen_bit_grey_png_is_not_white(tmp_path):
    ramp = (np.arange(64, dtype=np.uint16) * 1024).reshape(8, 8)
    Image.fromarray(ramp).save(tmp_path / "g16.png")
    got = read_image(tmp_path / "g16.png")[..., 0].astype(int)
    assert np.abs(got - np.rint(ramp / 257)).max() == 0 and got.min() == 0 and got.max() == 251


def test_sixteen_bit_rgb_png_within_one_level(tmp_path):
    rgb16 = np.random.default_rng(0).integers(0, 65536, (5, 6, 3)).astype(np.uint16)
    _png16(tmp_path / "rgb16.png", rgb16)
    got = read_image(tmp_path / "rgb16.png").astype(int)
    assert np.abs(got - np.rint(rgb16 / 257)).max() <= 1


def test_palette_and_cmyk_modes(tmp_path):
    palette = [0, 0, 0, 255, 0, 0, 0, 255, 0, 10, 20, 30]
    p = Image.new("P", (3, 2))
    p.putpalette(palette)
    p.frombytes(bytes([0, 1, 2, 3, 2, 1]))
    p.save(tmp_path / "p.png")
    colours = np.array(palette, np.uint8).reshape(-1, 3)
    assert np.array_equal(read_image(tmp_path / "p.png"), colours[[[0, 1, 2], [3, 2, 1]]])
    cmyk = Image.new("CMYK", (2, 1))
    cmyk.putpixel((0, 0), (255, 0, 0, 0))  # full cyan ink
    cmyk.putpixel((1, 0), (0, 0, 0, 128))  # half black ink
    cmyk.save(tmp_path / "c.tif")
    assert read_image(tmp_path / "c.tif").tolist() == [[[0, 255, 255], [127, 127, 127]]]


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P+transparency"])
def test_alpha_is_dropped_with_one_warning_per_file(tmp_path, caplog, mode):
    rgb = np.random.default_rng(1).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    alpha = np.zeros((4, 5), np.uint8)  # fully transparent: the stored colours are still used
    if mode == "RGBA":
        im, expected = Image.fromarray(np.dstack([rgb, alpha])), rgb
    elif mode == "LA":
        im, expected = Image.fromarray(np.dstack([rgb[..., 0], alpha]), mode="LA"), _rgb(rgb[..., 0])
    else:
        im = Image.fromarray(rgb).quantize(8)
        im.info["transparency"] = 0
        expected = np.asarray(im.convert("RGB"))
    path = tmp_path / "alpha.png"
    im.save(path, transparency=0) if mode.startswith("P") else im.save(path)
    with caplog.at_level("WARNING", logger="vivid.core.fileio"):
        first, second = read_image(path), read_image(path)
    assert np.array_equal(first, expected) and np.array_equal(second, expected)
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "alpha" in said[0] and str(path) in said[0]


def test_opaque_rgb_reads_silently(tmp_path, caplog):
    write_image(tmp_path / "rgb.png", _stored())
    with caplog.at_level("WARNING", logger="vivid.core.fileio"):
        assert np.array_equal(read_image(tmp_path / "rgb.png"), _stored())
    assert caplog.records == []
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
