"""Evaluation metrics for images, 3D joints and meshes.

Every metric returns one value per sample (no reduction): take ``.mean()`` for a data-set
figure. Units follow the input: give joints in millimetres to get errors in millimetres
(the convention of the Human3.6M / 3DPW literature), or in metres to get metres.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

from vivid.core import geometry

__all__ = [
    "psnr",
    "ssim",
    "mpjpe",
    "pa_mpjpe",
    "pve",
    "acceleration_error",
    "pck3d",
    "vertex_to_mesh_distance",
]

ALIGN_MODES = ("none", "rigid", "similarity")


def _check_images(pred: Tensor, target: Tensor) -> None:
    if pred.ndim != 4 or pred.shape[1] not in (1, 3):
        raise ValueError(f"images must have shape (B, 3, H, W) or (B, 1, H, W), got {tuple(pred.shape)}")
    if pred.shape != target.shape:
        raise ValueError(f"pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}")


def _check_points(pred: Tensor, gt: Tensor, what: str = "joints") -> None:
    if pred.ndim < 2 or pred.shape[-1] != 3:
        raise ValueError(f"{what} must have shape (..., N, 3), got {tuple(pred.shape)}")
    if pred.shape != gt.shape:
        raise ValueError(f"pred and gt shapes differ: {tuple(pred.shape)} vs {tuple(gt.shape)}")


def psnr(pred: Tensor, target: Tensor, data_range: float = 1.0) -> Tensor:
    """Peak signal-to-noise ratio per image, ``10 log10(data_range^2 / MSE)`` in dB.

    Args:
        pred, target: (B, 3, H, W) float images in [0, data_range].
    Returns:
        (B,) PSNR in dB (``inf`` for identical images).
    """
    _check_images(pred, target)
    return peak_signal_noise_ratio(pred, target, data_range=data_range, reduction="none", dim=(1, 2, 3))


def ssim(pred: Tensor, target: Tensor, data_range: float = 1.0) -> Tensor:
    """Structural similarity per image (Wang et al. 2004; Gaussian window 11, sigma 1.5).

    Args:
        pred, target: (B, 3, H, W) float images in [0, data_range]; H, W >= 11.
    Returns:
        (B,) SSIM in [-1, 1] (1 for identical images).
    """
    _check_images(pred, target)
    if min(pred.shape[-2:]) < 11:
        raise ValueError(f"ssim needs images of at least 11x11 pixels, got {tuple(pred.shape[-2:])}")
    return structural_similarity_index_measure(pred, target, data_range=data_range, reduction="none")


def mpjpe(pred: Tensor, gt: Tensor, root: int | None = None) -> Tensor:
    """Mean per-joint position error: mean over joints of ``||pred_j - gt_j||``.

    Args:
        pred, gt: (..., J, 3) joint positions (same unit).
        root: if given, subtract this joint from each skeleton first (root-relative MPJPE,
            e.g. ``root=0`` for the H36M pelvis).
    Returns:
        (...) error in the input unit.
    """
    _check_points(pred, gt)
    if root is not None:
        pred = pred - pred[..., root : root + 1, :]
        gt = gt - gt[..., root : root + 1, :]
    return (pred - gt).norm(dim=-1).mean(dim=-1)


def _align(pred: Tensor, gt: Tensor, mode: str) -> Tensor:
    if mode not in ALIGN_MODES:
        raise ValueError(f"align must be one of {ALIGN_MODES}, got {mode!r}")
    if mode == "none":
        return pred
    s, R, t = geometry.procrustes(pred, gt, scale=mode == "similarity")
    return geometry.apply_similarity(pred, s, R, t)


def pa_mpjpe(pred: Tensor, gt: Tensor) -> Tensor:
    """Procrustes-aligned MPJPE: MPJPE after the best similarity transform of each predicted
    skeleton onto its ground truth (scale, rotation, translation; :func:`geometry.procrustes`).

    Args:
        pred, gt: (..., J, 3) joint positions.
    Returns:
        (...) error in the input unit.
    """
    _check_points(pred, gt)
    return mpjpe(_align(pred, gt, "similarity"), gt)


def pve(pred: Tensor, gt: Tensor, align: str = "none") -> Tensor:
    """Per-vertex error: mean over vertices of ``||pred_v - gt_v||`` (same topology).

    Args:
        pred, gt: (..., V, 3) vertices in correspondence.
        align: "none", "rigid" or "similarity" alignment of pred onto gt first.
    Returns:
        (...) error in the input unit.
    """
    _check_points(pred, gt, "vertices")
    return (_align(pred, gt, align) - gt).norm(dim=-1).mean(dim=-1)


def acceleration_error(pred: Tensor, gt: Tensor) -> Tensor:
    """Acceleration error (Kanazawa et al. 2019, HMMR; used by VIBE).

    ``a_t = x_{t-1} - 2 x_t + x_{t+1}`` is the second finite difference; the error of frame t is
    the mean over joints of ``||a_t(pred) - a_t(gt)||``. The unit is the input unit per
    frame^2: millimetres in gives mm/frame^2.

    Args:
        pred, gt: (..., T, J, 3) joint (or vertex) trajectories, T >= 3.
    Returns:
        (..., T - 2) error per interior frame.
    """
    _check_points(pred, gt)
    if pred.ndim < 3 or pred.shape[-3] < 3:
        raise ValueError(f"acceleration_error needs (..., T, J, 3) with T >= 3, got {tuple(pred.shape)}")

    def accel(x: Tensor) -> Tensor:
        return x[..., :-2, :, :] - 2 * x[..., 1:-1, :, :] + x[..., 2:, :, :]

    return (accel(pred) - accel(gt)).norm(dim=-1).mean(dim=-1)


def pck3d(pred: Tensor, gt: Tensor, threshold: float = 150.0) -> Tensor:
    """3D percentage of correct keypoints: share of joints with ``||pred_j - gt_j|| <= threshold``.

    Args:
        pred, gt: (..., J, 3) joint positions.
        threshold: distance in the input unit; the default 150 is the usual 150 mm for inputs in
            millimetres (pass 0.15 for metres).
    Returns:
        (...) percentage in [0, 100].
    """
    _check_points(pred, gt)
    return ((pred - gt).norm(dim=-1) <= threshold).to(pred.dtype).mean(dim=-1) * 100.0


def _icp_align(pred: Tensor, gt: Tensor, scale: bool) -> Tensor:
    """ICP from two starts (as given, and centroids matched); keep the better fit.

    Predictions usually sit close to the ground truth already (identity start), but one in a
    different frame needs the centroid start; ICP only finds the nearest local optimum.
    """
    eye = torch.eye(3, dtype=pred.dtype, device=pred.device)
    starts = [(eye, torch.zeros(3, dtype=pred.dtype, device=pred.device)), (eye, gt.mean(dim=0) - pred.mean(dim=0))]
    fits = [geometry.icp(pred, gt, scale=scale, init=init) for init in starts]
    best = min(fits, key=lambda fit: float(fit.rmse))
    return best.apply(pred)


def vertex_to_mesh_distance(
    pred_vertices: Tensor,
    gt_vertices: Tensor,
    gt_faces: Tensor,
    align: str = "rigid",
) -> Tensor:
    """Mean distance from predicted vertices to the ground-truth mesh *surface*, after alignment.

    Alignment takes each predicted mesh onto the ground truth: with the same vertex count the
    vertices are taken as corresponding and aligned in closed form (:func:`geometry.procrustes`);
    with different topologies the alignment is found by ICP (:func:`geometry.icp`, nearest
    neighbours; started both as given and with centroids matched, the better fit kept; each
    step compares all vertex pairs, so on the CPU this path is slow for body-sized meshes).
    The distance is then point-to-triangle (:func:`geometry.point_to_mesh_distance`), not
    point-to-vertex.

    Args:
        pred_vertices: (B, V, 3) or (V, 3) predicted vertices.
        gt_vertices: (B, W, 3) or (W, 3) ground-truth vertices. gt_faces: (F, 3) long.
        align: "rigid" (rotation + translation), "similarity" (adds scale) or "none".
    Returns:
        (B,) or () mean distance in the input unit.
    """
    if align not in ALIGN_MODES:
        raise ValueError(f"align must be one of {ALIGN_MODES}, got {align!r}")
    single = pred_vertices.ndim == 2
    if single:
        pred_vertices, gt_vertices = pred_vertices[None], gt_vertices[None]
    if pred_vertices.ndim != 3 or gt_vertices.ndim != 3 or pred_vertices.shape[-1] != 3 or gt_vertices.shape[-1] != 3:
        raise ValueError(
            f"vertices must be (B, V, 3) or (V, 3), got {tuple(pred_vertices.shape)} and {tuple(gt_vertices.shape)}"
        )
    if pred_vertices.shape[0] != gt_vertices.shape[0]:
        raise ValueError("pred_vertices and gt_vertices must have the same batch size")
    out = []
    for pred, gt in zip(pred_vertices, gt_vertices):
        if align != "none":
            if pred.shape == gt.shape:
                pred = _align(pred, gt, align)
            else:
                pred = _icp_align(pred, gt, scale=align == "similarity")
        out.append(geometry.point_to_mesh_distance(pred, gt, gt_faces).mean())
    result = torch.stack(out)
    return result[0] if single else result
