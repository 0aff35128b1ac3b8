"""Real backdrops: HDR panoramas seen by the scene camera, lit consistently, and photo folders.

:class:`PanoramaBank` holds the ``.hdr`` panoramas of a folder (read lazily, once each, kept as
float16 with a 32 x 64 copy for lighting). A scene draws one (:meth:`PanoramaBank.draw`: which
panorama, its turn about the vertical and the exposure key) and then asks for the background
behind any camera (:meth:`~PanoramaBank.view`) and the SH lighting in that camera's frame
(:meth:`~PanoramaBank.lighting`): the light comes from where the panorama is bright, and the
exposure of the backdrop and of the light is one (see :mod:`vivid.synth.panorama`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vivid.core.errors import VividError
from vivid.synth import panorama as pano
from vivid.synth.hdr import read_hdr

__all__ = ["PanoramaDraw", "PanoramaBank", "hdr_files", "KEY_RANGE"]

KEY_RANGE = (0.65, 1.0)
"""Display value of a white surface facing the brightest direction (see :func:`panorama.exposed_lighting`)."""


def hdr_files(folder: str | os.PathLike) -> list[Path]:
    """The ``.hdr`` files of ``folder`` (sorted); VividError when there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise VividError(f"HDR panorama folder {folder} does not exist")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".hdr")
    if not files:
        raise VividError(f"{folder} holds no .hdr panoramas (equirectangular Radiance RGBE files)")
    return files


@dataclass(frozen=True)
class PanoramaDraw:
    """One use of a panorama: its index in the bank, its turn about z (radians) and the
    exposure key (see :data:`KEY_RANGE`)."""

    index: int
    yaw: float
    key: float


class PanoramaBank:
    """The panoramas of a folder, read on first use.

    Args:
        folder: a folder of equirectangular ``.hdr`` panoramas (width = 2 x height, a
            multiple of 64 wide).
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.files = hdr_files(folder)
        self._cache: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self._peaks: dict[int, float] = {}

    def __len__(self) -> int:
        return len(self.files)

    def get(self, j: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Panorama ``j``: radiance as :func:`panorama.pad_panorama` gives it (1, 3, Hp, Wp + 2) and
        its (32, 64, 3) box average, float32."""
        if j not in self._cache:
            rad = torch.from_numpy(read_hdr(self.files[j]))
            Hp, Wp, _ = rad.shape
            if Wp != 2 * Hp or Hp % 32:
                raise VividError(
                    f"{self.files[j]} is {Wp}x{Hp}: an equirectangular panorama is twice as wide as high, "
                    "with a height that is a multiple of 32"
                )
            self._cache[j] = (pano.pad_panorama(rad), pano.downsample_panorama(rad, 32))
        return self._cache[j]

    def warm_up(self) -> None:
        """Read every panorama now (about 0.2 s each)."""
        for j in range(len(self)):
            self.get(j)

    def draw(self, rng: np.random.Generator) -> PanoramaDraw:
        """A random panorama, turn and exposure key."""
        return PanoramaDraw(int(rng.integers(len(self))), pano.random_yaw(rng), float(rng.uniform(*KEY_RANGE)))

    def lighting(self, d: PanoramaDraw, R: torch.Tensor) -> tuple[np.ndarray, float]:
        """Display SH lighting (9, 3) float64 in the frame of world-to-camera ``R`` (3, 3), and the
        exposure (the same for every camera of a draw: it depends on the panorama, not the view)."""
        sh = pano.panorama_sh(self.get(d.index)[1], R, d.yaw)
        if d.index not in self._peaks:  # the same for every rotation: once per panorama
            self._peaks[d.index] = pano.peak_irradiance(sh)
        lit, exposure = pano.exposed_lighting(sh, d.key, self._peaks[d.index])
        return lit.numpy(), exposure

    def view(
        self, d: PanoramaDraw, R: torch.Tensor, K: torch.Tensor, height: int, width: int, exposure: float
    ) -> torch.Tensor:
        """The background (3, height, width) float32 in [0, 1] seen by the camera (``R``, ``K``:
        (3, 3)), tone-mapped with the ``exposure`` of :meth:`lighting`."""
        return pano.tone_map(pano.panorama_view(self.get(d.index)[0], R, K, height, width, d.yaw), exposure)
