"""Stage 2's label alignment: move the label mesh H' onto the prediction H(f) before the losses.

First the similarity transform that best takes H''s 68 landmark vertices onto the prediction's
(:func:`vivid.core.geometry.procrustes`), then a few ICP steps on the predefined keypoints (a
fixed subset of the face region's vertices): label and prediction share one topology, so each
keypoint's closest point is its counterpart, and every step re-solves the similarity from all
keypoints, weighted down where the residual is large (robust to regions that differ, e.g. the
mouth). Batched and without gradients: the aligned label is a target, not a function of the network.
"""

from __future__ import annotations

import torch
from torch import Tensor

from vivid.core.geometry import apply_similarity, procrustes

__all__ = ["align_label", "keypoint_subset"]


def keypoint_subset(face_vertices: Tensor, step: int = 8) -> Tensor:
    """(V,) bool face region -> (N,) int64 indices of every ``step``-th face-region vertex."""
    return torch.nonzero(face_vertices).squeeze(1)[::step]


@torch.no_grad()
def align_label(label: Tensor, pred: Tensor, landmarks: Tensor, keypoints: Tensor | None = None,
                icp_iters: int = 3) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Similarity from the landmarks, then ICP on the keypoints, taking ``label`` onto ``pred``.

    Args:
        label, pred: (B, V, 3) vertices of one topology (the label mesh and the prediction).
        landmarks: (68,) landmark vertex indices; keypoints: (N,) vertex indices for ICP (None: no ICP).
        icp_iters: ICP steps after the landmark alignment.
    Returns:
        aligned (B, V, 3) label and its transform s (B,), R (B, 3, 3), t (B, 3): aligned = s R x + t.
    """
    if label.shape != pred.shape or label.ndim != 3:
        raise ValueError(f"label and prediction must be (B, V, 3) of one topology, got {tuple(label.shape)} and {tuple(pred.shape)}")
    src, dst = label.double(), pred.double()
    s, R, t = procrustes(src[:, landmarks], dst[:, landmarks])
    if keypoints is not None and icp_iters > 0:
        ks, kd = src[:, keypoints], dst[:, keypoints]
        for _ in range(icp_iters):
            # The keypoints correspond by index (one topology), so each keypoint's closest point
            # is its counterpart; nearest-neighbour matching would let a distorted prediction
            # drag its own target. Residuals reweight the fit, so that a mouth opened differently
            # does not tilt the whole face.
            r = (apply_similarity(ks, s, R, t) - kd).norm(dim=-1)
            w = 1.0 / (1.0 + (r / r.median(dim=-1, keepdim=True).values.clamp(min=1e-9)) ** 2)
            s, R, t = procrustes(ks, kd, weights=w)
    aligned = apply_similarity(src, s, R, t).to(label.dtype)
    return aligned, s.to(label.dtype), R.to(label.dtype), t.to(label.dtype)
