"""The model's inputs from a person clip: pose image sequence, try-on region, background sequence.

Shared by training (synthetic labels) and inference (labels from vivid's own models), so both
build the inputs the same way:

- keypoint maps (:func:`keypoint_maps`): one Gaussian per H36M-17 joint (first keypoint
  information); body-part maps (:func:`part_maps`): one channel per body part (second);
- the try-on region (:func:`tryon_region`): the garment and the body parts a garment of the
  category covers, enlarged; the background mask m_a is its complement;
- the background sequence (:func:`background_sequence`): each frame with the try-on region set to
  one constant value, everything else kept.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from vivid.core.body import PART_NAMES
from vivid.core.errors import VividError

__all__ = ["NUM_JOINTS", "NUM_PARTS", "POSE_CHANNELS", "GARMENT_LABEL", "NUM_PARSE", "CATEGORIES", "FILL",
           "keypoint_maps", "part_maps", "pose_images", "tryon_region", "background_sequence"]

NUM_JOINTS = 17
NUM_PARTS = len(PART_NAMES) - 1  # without the background
POSE_CHANNELS = NUM_JOINTS + NUM_PARTS
GARMENT_LABEL = len(PART_NAMES)  # the parser's extra class
NUM_PARSE = len(PART_NAMES) + 1
CATEGORIES = ("upper", "lower", "full")
FILL = 0.5  # the constant of the try-on region in the background sequence

_REGION_PARTS = {
    "upper": ("torso", "left_upper_arm", "right_upper_arm"),
    "lower": ("left_upper_leg", "right_upper_leg", "left_lower_leg", "right_lower_leg"),
    "full": ("torso", "left_upper_arm", "right_upper_arm", "left_upper_leg", "right_upper_leg", "left_lower_leg",
             "right_lower_leg"),
}


def keypoint_maps(joints2d: Tensor, visibility: Tensor, height: int, width: int, sigma: float = 2.0) -> Tensor:
    """joints2d: (..., 17, 2) pixels (x, y); visibility: (..., 17) in [0, 1] -> (..., 17, H, W)
    Gaussians of ``sigma`` pixels, scaled by visibility."""
    if joints2d.shape[-2:] != (NUM_JOINTS, 2):
        raise ValueError(f"expected joints (..., 17, 2), got {tuple(joints2d.shape)}")
    ys = torch.arange(height, dtype=joints2d.dtype, device=joints2d.device)
    xs = torch.arange(width, dtype=joints2d.dtype, device=joints2d.device)
    dy = (ys - joints2d[..., 1:2]) ** 2  # (..., 17, H)
    dx = (xs - joints2d[..., 0:1]) ** 2  # (..., 17, W)
    g = torch.exp(-(dy[..., :, None] + dx[..., None, :]) / (2 * sigma**2))
    return g * visibility[..., None, None]


def part_maps(parts: Tensor) -> Tensor:
    """parts: (..., H, W) integer labels (0 background) -> (..., 14, H, W) float one-hot of parts 1..14."""
    onehot = F.one_hot(parts.long().clamp(0, NUM_PARTS), NUM_PARTS + 1)[..., 1:]
    return onehot.movedim(-1, -3).float()


def pose_images(joints2d: Tensor, visibility: Tensor, parts: Tensor, sigma: float = 2.0) -> Tensor:
    """The pose image sequence (..., 31, H, W): keypoint maps then body-part maps of ``parts`` (..., H, W)."""
    H, W = parts.shape[-2:]
    return torch.cat([keypoint_maps(joints2d.float(), visibility.float(), H, W, sigma), part_maps(parts)], -3)


def tryon_region(parts: Tensor, garment: Tensor, category: str, *, grow: int | None = None) -> Tensor:
    """The try-on region (..., H, W) bool: the garment and the body parts a garment of ``category``
    covers, enlarged by ``grow`` pixels (default 1/24 of the height) so that a garment of another
    outline fits.

    Args:
        parts: (..., H, W) body-part labels; garment: (..., H, W) bool.
    """
    if category not in _REGION_PARTS:
        raise VividError(f"unknown garment category {category!r}; use upper, lower or full")
    ids = torch.tensor([PART_NAMES.index(n) for n in _REGION_PARTS[category]], device=parts.device)
    region = torch.isin(parts.long(), ids) | garment.bool()
    H, W = region.shape[-2:]
    g = max(1, H // 24) if grow is None else grow
    flat = region.reshape(-1, 1, H, W).float()
    grown = F.max_pool2d(flat, 2 * g + 1, stride=1, padding=g) > 0
    return grown.reshape(region.shape)


def background_sequence(frames: Tensor, region: Tensor) -> tuple[Tensor, Tensor]:
    """frames: (..., 3, H, W) in [0, 1]; region: (..., H, W) bool -> the background sequence A
    (..., 3, H, W) (the region set to :data:`FILL`) and the background mask m_a (..., 1, H, W)."""
    m_a = (~region.bool()).unsqueeze(-3).to(frames.dtype)
    return frames * m_a + FILL * (1 - m_a), m_a
