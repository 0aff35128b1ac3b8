"""Stage 3's mixing ratio: set from the labels' quality, raised when reconstructions look wrong.

Ratios are ``unlabelled : labelled`` samples per batch, one of :data:`RATIOS` (1:1, 2:1, 3:1 as
the method names them). :func:`ratio_from_quality` maps a measured label-quality score (the
label's registration residual in mm: 0 for synthetic meshes, the fit's residual for a registered
scan; see :func:`label_quality`) to a ratio: better labels, more labelled samples per batch.
:class:`DynamicRatio` holds the current ratio and, given the SSIM of reconstructions of target
images against the images, raises the labelled share one step when it falls under a threshold,
keeping a log of every adjustment (step, similarity, new ratio).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

__all__ = ["RATIOS", "ratio_from_quality", "label_quality", "batch_split", "DynamicRatio", "Adjustment"]

log = logging.getLogger(__name__)

RATIOS = (3, 2, 1)  # unlabelled per labelled, from fewest labelled samples to most


def ratio_from_quality(residual_mm: float, thresholds: tuple[float, float] = (0.5, 1.5)) -> int:
    """Label residual (mm) -> unlabelled per labelled: <= thresholds[0]: 1 (1:1),
    <= thresholds[1]: 2 (2:1), else 3 (3:1)."""
    if residual_mm < 0:
        raise ValueError(f"a label residual is non-negative, got {residual_mm}")
    good, fair = thresholds
    return 1 if residual_mm <= good else 2 if residual_mm <= fair else 3


def label_quality(residuals_mm: list[float]) -> float:
    """The labelled set's score: the mean residual (mm) over its labels."""
    if not residuals_mm:
        raise ValueError("no labels to score")
    return float(sum(residuals_mm) / len(residuals_mm))


def batch_split(batch_size: int, ratio: float) -> tuple[int, int]:
    """(unlabelled, labelled) counts of a batch at ``ratio`` unlabelled per labelled (at least one each)."""
    if batch_size < 2:
        raise ValueError(f"a mixed batch needs at least 2 samples, got {batch_size}")
    labelled = min(batch_size - 1, max(1, round(batch_size / (ratio + 1))))
    return batch_size - labelled, labelled


@dataclass
class Adjustment:
    step: int
    similarity: float
    ratio: float


@dataclass
class DynamicRatio:
    """The current ratio (unlabelled per labelled) with SSIM-driven adjustment.

    ``update(step, similarity)``: when ``similarity < threshold``, the labelled share goes up
    one step (3 -> 2 -> 1 -> 1/2 -> ... down to ``min_ratio``) and the change is logged.
    """

    ratio: float = 3.0
    threshold: float = 0.8
    min_ratio: float = 0.25
    history: list[Adjustment] = field(default_factory=list)

    def update(self, step: int, similarity: float) -> bool:
        """Returns True when the ratio changed."""
        if similarity >= self.threshold or self.ratio <= self.min_ratio:
            return False
        lower = [r for r in RATIOS if r < self.ratio]
        self.ratio = float(lower[0]) if lower else max(self.min_ratio, self.ratio / 2)
        self.history.append(Adjustment(step=step, similarity=float(similarity), ratio=self.ratio))
        log.info("step %d: reconstruction SSIM %.3f < %.2f, ratio now %g:1 (unlabelled:labelled)",
                 step, similarity, self.threshold, self.ratio)
        return True
