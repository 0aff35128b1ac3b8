"""Depth estimation (method step 1b): an hourglass network giving inverse depth.

Encoder-decoder with skip connections (hourglass). The output is a positive inverse depth
(larger = nearer) at the input resolution; it weighs the flow projection and is warped into
the synthesis features. Only the relative ordering matters for the projection.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vivid.core.blocks import ConvNormAct, ResidualBlock


class HourglassDepth(nn.Module):
    """image (B, 3, H, W) in [0, 1], H and W multiples of ``downsample * 2 ** len(channels)`` ->
    inverse depth (B, 1, H, W), positive."""

    def __init__(self, channels: tuple[int, ...] = (16, 24, 32), downsample: int = 1) -> None:
        super().__init__()
        # Depth is smooth: ``downsample`` > 1 runs the hourglass on a smaller copy of the image.
        self.downsample = downsample
        self.stem = ConvNormAct(3, channels[0], stride=2, act="leaky_relu")
        self.down = nn.ModuleList()
        for cin, cout in zip(channels[:-1], channels[1:]):
            self.down.append(nn.Sequential(*ConvNormAct(cin, cout, stride=2, act="leaky_relu"), ResidualBlock(cout)))
        self.up = nn.ModuleList()
        for cin, cout in zip(channels[::-1][:-1], channels[::-1][1:]):
            self.up.append(ConvNormAct(cin + cout, cout, act="leaky_relu"))
        self.out = nn.Conv2d(channels[0], 1, 3, 1, 1)

    def forward(self, image: Tensor) -> Tensor:
        x = image - 0.5
        if self.downsample > 1:
            x = F.avg_pool2d(x, self.downsample)
        x = self.stem(x)
        skips = [x]
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        for layer, skip in zip(self.up, skips[::-1][1:]):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = layer(torch.cat((x, skip), 1))
        x = F.interpolate(self.out(x), size=image.shape[-2:], mode="bilinear", align_corners=False)
        return F.softplus(x) + 1e-2
