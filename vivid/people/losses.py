"""The detector's losses (function + Module pairs) and the targets they compare against.

CenterNet's training objective: a penalty-reduced focal loss on the centre heatmap (Gaussian
bumps around each person's centre, Eq. 1 of "Objects as Points" with alpha = 2, beta = 4) plus an
L1 loss on the size and the offset at the centre cells. The Gaussians here are elliptic, with
standard deviations proportional to the box's width and height (as in TTFNet), since people's
boxes are tall.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from vivid.people.model import STRIDE, PeopleOutput

SIGMA_FACTOR = 6.0  # the Gaussian's sigma is a sixth of the box side (in output cells)
MIN_SIGMA = 0.7


@dataclass
class Targets:
    """Dense targets at the output resolution (h, w).

    Attributes:
        heatmap: (B, 1, h, w) in [0, 1]: 1 at each centre cell, Gaussian around it.
        weight: (B, 1, h, w) 0 where the heatmap is not judged (boxes marked ignore), else 1.
        size: (B, 2, h, w) ``log(w / 4), log(h / 4)`` at the centre cells.
        offset: (B, 2, h, w) the centre's position inside its cell.
        centres: (B, h, w) 1 at the centre cells (where size and offset are judged).
    """

    heatmap: Tensor
    weight: Tensor
    size: Tensor
    offset: Tensor
    centres: Tensor


def encode_targets(boxes: Tensor, count: Tensor, ignore: Tensor, out_hw: tuple[int, int]) -> Targets:
    """The targets of a batch of boxes.

    Args:
        boxes: (B, M, 4) input pixels (x0, y0, x1, y1), padded; count: (B,) boxes in use per image;
        ignore: (B, M) bool, boxes whose region is neither a positive nor a negative (e.g. people
            hidden behind others); out_hw: the output size (h, w).
    """
    B, M, _ = boxes.shape
    h, w = out_hw
    heat = torch.zeros(B, 1, h, w)
    weight = torch.ones(B, 1, h, w)
    size = torch.zeros(B, 2, h, w)
    offset = torch.zeros(B, 2, h, w)
    centres = torch.zeros(B, h, w)
    ys, xs = torch.arange(h, dtype=torch.float32)[:, None], torch.arange(w, dtype=torch.float32)[None, :]
    for b in range(B):
        for m in range(int(count[b])):
            x0, y0, x1, y1 = (float(v) / STRIDE for v in boxes[b, m])
            if x1 - x0 <= 0 or y1 - y0 <= 0:
                continue
            if bool(ignore[b, m]):
                weight[b, 0, max(0, int(y0)) : int(y1) + 1, max(0, int(x0)) : int(x1) + 1] = 0
                continue
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            ix, iy = min(max(int(cx), 0), w - 1), min(max(int(cy), 0), h - 1)
            sx, sy = max((x1 - x0) / SIGMA_FACTOR, MIN_SIGMA), max((y1 - y0) / SIGMA_FACTOR, MIN_SIGMA)
            g = torch.exp(-((xs - ix) ** 2) / (2 * sx**2) - ((ys - iy) ** 2) / (2 * sy**2))
            heat[b, 0] = torch.maximum(heat[b, 0], g)
            size[b, :, iy, ix] = torch.tensor([x1 - x0, y1 - y0]).clamp(min=1e-3).log()
            offset[b, :, iy, ix] = torch.tensor([cx - ix, cy - iy]).clamp(0, 1)
            centres[b, iy, ix] = 1
    weight = torch.maximum(weight, (heat > 0.99).float())  # a centre inside another's ignore box stays judged
    return Targets(heat, weight, size, offset, centres)


def focal_loss(logits: Tensor, target: Tensor, weight: Tensor | None = None, alpha: float = 2.0, beta: float = 4.0) -> Tensor:
    """CenterNet's penalty-reduced focal loss, summed and divided by the number of centres.

    logits, target, weight: (B, 1, h, w); target 1 at centres, a Gaussian below 1 around them.
    """
    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = (target > 0.99).float()
    w = torch.ones_like(target) if weight is None else weight
    pos_term = -torch.log(p) * (1 - p) ** alpha * pos
    neg_term = -torch.log(1 - p) * p**alpha * (1 - target) ** beta * (1 - pos)
    return ((pos_term + neg_term) * w).sum() / pos.sum().clamp(min=1.0)


def masked_l1(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean L1 distance over the cells where ``mask`` (B, h, w) is 1; pred, target (B, C, h, w)."""
    m = mask[:, None].expand_as(pred)
    return (pred - target).abs().mul(m).sum() / m.sum().clamp(min=1.0)


def detection_loss(out: PeopleOutput, targets: Targets, *, size_weight: float = 1.0, offset_weight: float = 1.0) -> dict[str, Tensor]:
    """The three terms and their weighted sum ``loss``."""
    heat = focal_loss(out.heatmap, targets.heatmap, targets.weight)
    size = masked_l1(out.size, targets.size, targets.centres)
    offset = masked_l1(out.offset, targets.offset, targets.centres)
    return {"loss": heat + size_weight * size + offset_weight * offset, "heatmap": heat, "size": size, "offset": offset}


class FocalLoss(nn.Module):
    def forward(self, logits: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return focal_loss(logits, target, weight)


class MaskedL1(nn.Module):
    def forward(self, pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        return masked_l1(pred, target, mask)


class DetectionLoss(nn.Module):
    def __init__(self, *, size_weight: float = 1.0, offset_weight: float = 1.0) -> None:
        super().__init__()
        self.size_weight, self.offset_weight = size_weight, offset_weight

    def forward(self, out: PeopleOutput, targets: Targets) -> dict[str, Tensor]:
        return detection_loss(out, targets, size_weight=self.size_weight, offset_weight=self.offset_weight)
