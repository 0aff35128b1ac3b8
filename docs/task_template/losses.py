"""Losses as function + Module pairs."""

from __future__ import annotations

from torch import Tensor, nn


def colour_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Mean squared error between (B, 3) colours."""
    return ((pred - target) ** 2).mean()


class ColourLoss(nn.Module):
    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return colour_loss(pred, target)
