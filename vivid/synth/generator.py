"""The base of the scene generators: per-sample random streams, phenotypes and backgrounds."""

from __future__ import annotations

import numpy as np
import torch

from vivid.synth import appearance as app
from vivid.synth.backgrounds import PanoramaBank, PanoramaDraw
from vivid.synth.config import SceneConfig
from vivid.synth.samples import Sample

__all__ = ["SceneGenerator"]


class SceneGenerator:
    """Draws sample ``i`` from ``numpy.random.default_rng([seed, i])``, so the data depend only
    on the seed and the config. Subclasses make one scene kind: they extend the constructor
    (calling it first) with the models they need and implement :meth:`generate_batch` or
    :meth:`generate`.

    Background images come from a bank of ``BANK`` procedural images per generator (entry ``j``
    made from ``default_rng([seed, 2, j])``, so the data still depend only on the seed), and each
    use is varied by a random crop, flip, channel permutation and gains: drawing a fresh
    procedural image per frame would cost more than rendering the body. With ``hdri_dir`` a
    share of the scenes is set in an HDR panorama instead (:meth:`_backdrop`): the view behind
    the scene camera and SH lighting from the same panorama.

    Args:
        cfg: the scene config (validated here).
        device: where the body or head model runs; rendering and labels run on the CPU.
    """

    BANK = 32

    def __init__(self, cfg: SceneConfig, *, device: str = "cpu") -> None:
        self.cfg = cfg.validate()
        self.device = torch.device(device)
        self.photos = app.load_photos(cfg.backgrounds_dir) if cfg.backgrounds_dir else None
        self.panoramas = PanoramaBank(cfg.hdri_dir) if cfg.hdri_dir else None
        self._bg_bank: dict[int, torch.Tensor] = {}

    def warm_up(self) -> None:
        """Fill the appearance banks now (otherwise they fill lazily over the first samples)."""
        for j in range(self.BANK):
            self._background_entry(j)
        if self.panoramas is not None:
            self.panoramas.warm_up()

    def generate(self, i: int) -> Sample:
        """Sample ``i`` (see :mod:`vivid.synth.samples` for the type of each kind)."""
        return self.generate_batch([i])[0]

    def generate_batch(self, indices: list[int]) -> list[Sample]:
        """Samples ``indices``; equal to ``[generate(i) for i in indices]``, but batched."""
        return [self.generate(i) for i in indices]

    # -- random draws

    def _rng(self, i: int) -> np.random.Generator:
        if i < 0:
            raise IndexError(f"sample index must be >= 0, got {i}")
        return np.random.default_rng([int(self.cfg.seed), int(i)])

    def _phenotype(self, rng: np.random.Generator) -> np.ndarray:
        lo, hi = np.asarray(self.cfg.phenotype_low), np.asarray(self.cfg.phenotype_high)
        return lo + (hi - lo) * rng.random(6)

    def _background_entry(self, j: int) -> torch.Tensor:
        """Bank image ``j`` (3, S, S), S = 1.5 x the larger image side."""
        if j not in self._bg_bank:
            c = self.cfg
            kinds = tuple(c.background_kinds)
            # drawn at half resolution and upsampled: backdrops are smooth, and it is 4x cheaper
            side = int(1.5 * max(c.height, c.width))
            small = app.background(
                np.random.default_rng([int(c.seed), 2, j]), side // 2, side // 2, kind=kinds[j % len(kinds)]
            )[0]
            self._bg_bank[j] = torch.nn.functional.interpolate(
                small[None], size=(side, side), mode="bilinear", align_corners=False
            )[0]
        return self._bg_bank[j]

    def _background(self, rng: np.random.Generator, height: int, width: int) -> torch.Tensor:
        """A background (3, height, width): a photo crop, or a recoloured crop of a bank image."""
        if self.photos and rng.random() < 0.5:
            return app.background(rng, height, width, kind="photo", photos=self.photos)[0]
        img = self._background_entry(int(rng.integers(self.BANK)))
        S = img.shape[-1]
        scale = rng.uniform(1.0, 1.3) * max(height / S, width / S)
        if scale > 1.0:
            size = (max(height, int(S * max(scale, 1.0))), max(width, int(S * max(scale, 1.0))))
            img = torch.nn.functional.interpolate(img[None], size=size, mode="bilinear", align_corners=False)[0]
        y0 = int(rng.integers(img.shape[1] - height + 1))
        x0 = int(rng.integers(img.shape[2] - width + 1))
        out = img[:, y0 : y0 + height, x0 : x0 + width]
        if rng.random() < 0.5:
            out = out.flip(-1)
        perm = torch.from_numpy(rng.permutation(3))
        gain = torch.from_numpy(rng.uniform(0.75, 1.2, 3).astype(np.float32))[:, None, None]
        return (out[perm] * gain).clamp(0, 1).contiguous()

    def _panorama(self, rng: np.random.Generator) -> PanoramaDraw | None:
        """A panorama draw for a scene (a share ``hdri_prob`` of them), else None. Draws no
        random number without panoramas, so procedural scenes stay as they were."""
        if self.panoramas is None or rng.random() >= self.cfg.hdri_prob:
            return None
        return self.panoramas.draw(rng)

    def _backdrop(
        self, rng: np.random.Generator, R: torch.Tensor, K: torch.Tensor, height: int, width: int
    ) -> tuple[torch.Tensor, np.ndarray]:
        """Background (3, height, width) and camera-frame SH lighting (9, 3) of a still camera
        (``R`` world-to-camera, ``K``: (3, 3)): from a panorama, or random light and a
        photo or procedural background."""
        d = self._panorama(rng)
        if d is not None:
            sh, exposure = self.panoramas.lighting(d, R)
            return self.panoramas.view(d, R, K, height, width, exposure), sh
        sh_world, _ = app.random_sh(rng)
        sh = app.sh_to_camera(sh_world, R.double().numpy())
        return self._background(rng, height, width), sh
