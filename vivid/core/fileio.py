"""Safe file handling: atomic writes, input/output checks, image read/write."""

from __future__ import annotations

import contextlib
import logging
import fnmatch
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

import numpy as np

from vivid.core.errors import VividError

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Temporary files are created private (0600); finished outputs get the usual permissions.
_FILE_MODE = 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success.

    An interrupted or failing writer never leaves a half-written file under the final name.
    The temporary name keeps the suffix so that format-sniffing writers (PIL, PyAV) still work.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise VividError(f"output folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK):
        raise VividError(f"output folder {parent} is not writable")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def ensure_distinct(inp: str | os.PathLike, out: str | os.PathLike) -> None:
    """Refuse an output path that is (or resolves to) the input path."""
    a, b = Path(inp), Path(out)
    same = a.resolve() == b.resolve()
    if not same and a.exists() and b.exists():
        same = os.path.samefile(a, b)
    if same:
        raise VividError(f"output {out} is the input file; choose another output path")


def refuse_existing(path: str | os.PathLike, overwrite: bool = False) -> None:
    """Refuse an output file that already exists unless ``overwrite`` (the CLI's --overwrite)."""
    if Path(path).is_file() and not overwrite:
        raise VividError(f"output {path} exists; pass --overwrite to replace it")


# Pillow modes that hold more than 8 bits per sample, and the value that means full scale in
# each: 16-bit greyscale, 32-bit integers (taken as 16-bit data, which is what PNG and TIFF
# readers put in them), 32-bit float (taken as 0..1).
_WIDE_MODES = {"I;16": 65535, "I;16L": 65535, "I;16B": 65535, "I;16N": 65535, "I": 65535, "F": 1.0}

# Files whose dropped alpha channel was already reported (said once per file, not per read).
_ALPHA_REPORTED: set[str] = set()


def _has_alpha(im) -> bool:
    return "A" in im.getbands() or "a" in im.getbands() or "transparency" in im.info


def _to_rgb8(im) -> np.ndarray:
    """A Pillow image in any mode -> uint8 (H, W, 3) RGB, full scale kept."""
    if im.mode in _WIDE_MODES:
        # Pillow's own conversion clips these at 255 (a 16-bit grey image turns white).
        grey = np.nan_to_num(np.asarray(im, dtype=np.float64)) * (255.0 / _WIDE_MODES[im.mode])
        grey = np.rint(np.clip(grey, 0.0, 255.0)).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if im.mode != "RGB":
        # Pillow converts a few modes (PA, La, ...) to RGB only through RGBA.
        try:
            im = im.convert("RGB")
        except ValueError:
            im = im.convert("RGBA").convert("RGB")
    return np.asarray(im, dtype=np.uint8).copy()
def check_writable(folder: str | os.PathLike, *, like: str | os.PathLike | None = None, what: str | None = None) -> None:
    """Create and remove a temporary file in ``folder``, as :func:`atomic_write` will for ``like``.

    Permission bits do not tell (root may write anywhere they say, yet not into ``/proc``, a
    read-only mount or a full disk), so the only sure check is the creation itself. ``what``
    says in the message what could not be done (default: write ``like``'s name).
    """
    folder = Path(folder) if str(folder) else Path(".")
    name = Path(like).name if like is not None else "vivid"
    stem, suffix = Path(name).stem, Path(name).suffix
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=f".tmp{suffix}", dir=folder)
    except OSError as err:
        what = what or (f"write {name}" if like is not None else "write output files")
        raise VividError(f"cannot {what} in {folder}: {err.strerror or err}; choose a writable place") from None
    os.close(fd)
    os.unlink(tmp)


def check_output_file(
    path: str | os.PathLike,
    *,
    suffixes: Iterable[str],
    inputs: Iterable[str | os.PathLike] = (),
    overwrite: bool = False,
    what: str = "output",
    in_new_folder: bool = False,
) -> Path:
    """Check an output file before any work: not a folder, a supported suffix, none of the
    ``inputs``, absent unless ``overwrite``, and its folder exists and takes a new file.

    ``what`` names the option in messages (``"--report"``, ``"--overlay"``); ``in_new_folder``:
    the file goes into an output folder that the command makes (checked with
    :func:`check_output_folder`), which need not exist yet. Returns ``path``.
    """
    path = Path(path)
    suffixes = list(suffixes)
    kinds = " or ".join(filter(None, [", ".join(suffixes[:-1]), suffixes[-1]]))
    if path.is_dir():
        raise VividError(f"{what} {path} is a folder; give a file name ({kinds})")
    if path.suffix.lower() not in suffixes:
        raise VividError(f"{what} {path} must be a {kinds} file")
    for inp in inputs:
        ensure_distinct(inp, path)
    refuse_existing(path, overwrite)
    parent = path.parent if str(path.parent) else Path(".")
    if in_new_folder and not parent.exists():
        return path
    if not parent.is_dir():
        problem = "is not a folder" if parent.exists() else "does not exist; create it first"
        raise VividError(f"output folder {parent} {problem}")
    check_writable(parent, like=path)
    return path


def check_output_folder(folder: str | os.PathLike, *, own: Iterable[str] | None = None) -> list[str]:
    """Check an output folder before any work: a folder (or nothing yet) that can be written.

    A missing folder is created later with its parents, so the nearest folder that exists must
    take a new file. ``own`` (glob patterns) are the names an earlier run of the same command
    leaves there: with ``own`` given, a folder holding anything else is refused (an output
    folder must be new, empty or the command's own). Returns the names found in the folder.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise VividError(f"output folder {folder} is a file; give a folder name")
    if not folder.exists():
        base = folder.parent
        while not base.exists() and base != base.parent:
            base = base.parent
        if not base.is_dir():
            raise VividError(f"cannot create output folder {folder}: {base} is not a folder; choose another place")
        check_writable(base, what=f"create output folder {folder}")
        return []
    names = sorted(p.name for p in folder.iterdir())
    if own is not None:
        patterns = list(own)
        foreign = [n for n in names if not any(fnmatch.fnmatchcase(n, p) for p in patterns)]
        if foreign:
            shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
            raise VividError(f"output folder {folder} holds other files ({shown}); give a new or empty folder")
    check_writable(folder)
    return names


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as upright RGB. Returns uint8 array (H, W, 3).

    - The EXIF orientation (any of the 8) is applied, so the array is what a viewer shows.
    - Every mode reads to full-scale 8-bit RGB: bilevel (1), greyscale (L), palette (P), CMYK
      (Pillow's plain conversion; embedded colour profiles are not applied), 16-bit greyscale
      (I;16, scaled by 255/65535 and rounded), 32-bit integer (I, taken as 16-bit data) and
      float (F, taken as 0..1). 16-bit RGB(A) PNG/TIFF come through Pillow as their high byte
      (within one grey level of the rounded value).
    - An alpha channel (RGBA, LA, PA, or a transparent colour) is dropped, keeping the stored
      colours; a warning says so once per file.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise VividError(f"image {path} does not exist")
    try:
        with Image.open(path) as im:
            ImageOps.exif_transpose(im, in_place=True)
            if _has_alpha(im) and str(path.resolve()) not in _ALPHA_REPORTED:
                _ALPHA_REPORTED.add(str(path.resolve()))
                log.warning("%s has an alpha channel (mode %s); it is dropped and the stored colours are used", path, im.mode)
            return _to_rgb8(im)
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise VividError(f"cannot read image {path}: {err}") from err


def write_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write uint8 (H, W, 3) RGB atomically; the format follows the suffix."""
    from PIL import Image

    path = Path(path)
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise VividError(f"unsupported image format {path.suffix!r}; use one of {sorted(IMAGE_SUFFIXES)}")
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected uint8 (H, W, 3), got {image.dtype} {image.shape}")
    with atomic_write(path) as tmp:
        Image.fromarray(image).save(tmp, format=Image.registered_extensions()[path.suffix.lower()])


def to_tensor(image: np.ndarray) -> "torch.Tensor":
    """uint8 (H, W, 3) -> float32 (3, H, W) in [0, 1]."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255.0)


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """float (3, H, W) or (B, 3, H, W) in [0, 1] -> uint8 (H, W, 3) or (B, H, W, 3), rounded."""
    import torch

    x = image.detach().float().clamp(0, 1).mul(255.0).round().to(torch.uint8).cpu()
    return (x.permute(1, 2, 0) if x.ndim == 3 else x.permute(0, 2, 3, 1)).numpy()
