"""Radiance ``.hdr`` (RGBE) images in numpy: a reader and a writer.

The format (Greg Ward's RGBE, as Radiance writes it): a text header starting ``#?RADIANCE`` (or
``#?RGBE``) with ``KEY=value`` lines, a blank line, a resolution line ``-Y H +X W`` (rows from
top to bottom, columns left to right), then ``H`` scanlines of 4 bytes per pixel: a shared
exponent ``E`` and three mantissas, decoding to ``(m + 0.5) * 2 ** (E - 136)`` (``E = 0`` is
black), as Radiance's ``colr_color`` does. A scanline is stored either flat (``4 W`` bytes) or
run-length encoded per channel: it starts with the bytes ``2 2 W_hi W_lo``, then each of the four
channels in turn as runs, a count byte ``c > 128`` followed by one value repeated ``c - 128``
times, or ``c <= 128`` followed by ``c`` literal values. The old (pre-1991) run-length scheme is
not read.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from vivid.core.errors import VividError

__all__ = ["read_hdr", "write_hdr", "rgbe_to_float", "float_to_rgbe"]

_RES_RE = re.compile(rb"^-Y (\d+) \+X (\d+)$")


def rgbe_to_float(rgbe: np.ndarray) -> np.ndarray:
    """(..., 4) uint8 RGBE -> (..., 3) float32 linear radiance."""
    e = rgbe[..., 3].astype(np.int32)
    scale = np.where(e > 0, np.ldexp(1.0, e - 136), 0.0).astype(np.float32)
    return (rgbe[..., :3].astype(np.float32) + 0.5) * scale[..., None]


def float_to_rgbe(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) float linear radiance (>= 0) -> (..., 4) uint8 RGBE (values below 1e-32 are black)."""
    rgb = np.maximum(np.asarray(rgb, dtype=np.float64), 0.0)
    v = rgb.max(-1)
    mant, exp = np.frexp(v)  # v = mant * 2 ** exp, mant in [0.5, 1)
    ok = v >= 1e-32
    scale = np.where(ok, mant * 256.0 / np.where(ok, v, 1.0), 0.0)
    out = np.zeros(rgb.shape[:-1] + (4,), dtype=np.uint8)
    out[..., :3] = np.clip(np.floor(rgb * scale[..., None]), 0, 255).astype(np.uint8)
    out[..., 3] = np.where(ok, exp + 128, 0).astype(np.uint8)
    return out


def _header(data: bytes, path: Path) -> tuple[int, int, int]:
    """(height, width, offset of the first scanline)."""
    if not (data.startswith(b"#?RADIANCE") or data.startswith(b"#?RGBE")):
        raise VividError(f"{path} is not a Radiance .hdr file (no #?RADIANCE header)")
    end = data.find(b"\n\n")
    if end < 0:
        raise VividError(f"{path}: the header has no end (blank line)")
    for line in data[:end].split(b"\n"):
        if line.startswith(b"FORMAT=") and line.strip() != b"FORMAT=32-bit_rle_rgbe":
            raise VividError(f"{path}: unsupported pixel format {line.decode(errors='replace')}; only RGBE is read")
    nl = data.find(b"\n", end + 2)
    m = _RES_RE.match(data[end + 2 : nl].strip())
    if nl < 0 or not m:
        raise VividError(f"{path}: unsupported resolution line (only '-Y H +X W', rows top to bottom, is read)")
    return int(m.group(1)), int(m.group(2)), nl + 1


def _scanline_rle(data: bytes, pos: int, width: int, out: np.ndarray, path: Path) -> int:
    """Decode one run-length encoded scanline (after its 4-byte marker) into ``out`` (4, W)."""
    for ch in range(4):
        row = out[ch]
        x = 0
        while x < width:
            count = data[pos]
            pos += 1
            if count > 128:
                count -= 128
                if x + count > width:
                    raise VividError(f"{path}: corrupt run-length data (a run passes the end of a scanline)")
                row[x : x + count] = data[pos]
                pos += 1
            else:
                if count == 0 or x + count > width:
                    raise VividError(f"{path}: corrupt run-length data (bad literal count)")
                row[x : x + count] = np.frombuffer(data, np.uint8, count, pos)
                pos += count
            x += count
    return pos


def read_hdr(path: str | os.PathLike) -> np.ndarray:
    """Read a Radiance ``.hdr`` file: (H, W, 3) float32 linear radiance, rows top to bottom."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise VividError(f"cannot read {path}: {err}") from err
    H, W, pos = _header(data, path)
    rgbe = np.empty((H, W, 4), dtype=np.uint8)
    line = np.empty((4, W), dtype=np.uint8)
    try:
        for y in range(H):
            rle = 8 <= W < 32768 and data[pos] == 2 and data[pos + 1] == 2 and not data[pos + 2] & 0x80
            if rle:
                if (data[pos + 2] << 8 | data[pos + 3]) != W:
                    raise VividError(f"{path}: scanline {y} has the wrong length")
                pos = _scanline_rle(data, pos + 4, W, line, path)
                rgbe[y] = line.T
            else:
                if data[pos] == 1 and data[pos + 1] == 1 and data[pos + 2] == 1:
                    raise VividError(f"{path}: old-style run-length encoding is not supported")
                rgbe[y] = np.frombuffer(data, np.uint8, 4 * W, pos).reshape(W, 4)
                pos += 4 * W
    except (IndexError, ValueError) as err:
        raise VividError(f"{path} ends before its {H} scanlines are complete") from err
    return rgbe_to_float(rgbe)


def _rle_channel(values: np.ndarray) -> bytes:
    """Run-length encode one channel of a scanline (runs of 4 or more become run codes)."""
    out = bytearray()
    n, x = len(values), 0
    while x < n:
        run = 1
        while x + run < n and run < 127 and values[x + run] == values[x]:
            run += 1
        if run >= 4:
            out += bytes((128 + run, int(values[x])))
            x += run
            continue
        start = x  # literals up to the next run of 4 or more
        while x < n and x - start < 128:
            if x + 3 < n and values[x] == values[x + 1] == values[x + 2] == values[x + 3]:
                break
            x += 1
        out.append(x - start)
        out += values[start:x].tobytes()
    return bytes(out)


def write_hdr(path: str | os.PathLike, image: np.ndarray, *, rle: bool = True) -> None:
    """Write (H, W, 3) linear radiance as a Radiance ``.hdr`` file, run-length encoded or flat."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise VividError(f"an HDR image must be (H, W, 3), got {image.shape}")
    H, W, _ = image.shape
    rgbe = float_to_rgbe(image)
    chunks = [b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n", f"-Y {H} +X {W}\n".encode()]
    rle = rle and 8 <= W < 32768
    for y in range(H):
        if rle:
            chunks.append(bytes((2, 2, W >> 8, W & 0xFF)))
            chunks += [_rle_channel(rgbe[y, :, ch]) for ch in range(4)]
        else:
            chunks.append(rgbe[y].tobytes())
    Path(path).write_bytes(b"".join(chunks))
