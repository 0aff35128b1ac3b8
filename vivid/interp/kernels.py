"""Kernel estimation (method step 1c): a U-Net giving a 4x4 interpolation kernel per pixel
for each of the two frames.

The kernels are a softmax over the 16 taps of the adaptive warping window
(:mod:`vivid.interp.warping`); a fixed bias on the central 2x2 taps makes the untrained
network sample close to bilinearly, and the U-Net learns where to sharpen or smooth.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vivid.core.blocks import ConvNormAct, ResidualBlock
from vivid.interp.warping import KERNEL_OFFSETS, KERNEL_TAPS

CENTRE_BIAS = 3.0
FULL_RES_CHANNELS = 8


class KernelUNet(nn.Module):
    """(image0, image1) (B, 3, H, W) each, H, W multiples of ``2 ** len(channels)`` ->
    ``(kernel0, kernel1)`` (B, 16, H, W) each, non-negative, summing to 1 over the taps."""

    def __init__(self, channels: tuple[int, ...] = (16, 24, 32)) -> None:
        super().__init__()
        self.enc = nn.ModuleList()
        cin = 6
        for c in channels:
            self.enc.append(nn.Sequential(*ConvNormAct(cin, c, stride=2, act="leaky_relu"), ResidualBlock(c)))
            cin = c
        self.dec = nn.ModuleList()
        # Decoder: back up one level at a time, each time concatenating the encoder skip;
        # the last skip is the input pair itself (full resolution, kept thin for speed).
        skips = [6, *channels[:-1]]
        x_ch = channels[-1]
        for skip_ch in skips[::-1]:
            out = max(skip_ch, FULL_RES_CHANNELS)
            self.dec.append(ConvNormAct(x_ch + skip_ch, out, act="leaky_relu"))
            x_ch = out
        self.out = nn.Conv2d(x_ch, 2 * KERNEL_TAPS, 3, 1, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        bias = torch.zeros(KERNEL_TAPS)
        for i, dy in enumerate(KERNEL_OFFSETS):
            for j, dx in enumerate(KERNEL_OFFSETS):
                if dy in (0, 1) and dx in (0, 1):
                    bias[i * len(KERNEL_OFFSETS) + j] = CENTRE_BIAS
        self.register_buffer("centre_bias", bias.view(1, KERNEL_TAPS, 1, 1), persistent=False)

    def forward(self, image0: Tensor, image1: Tensor) -> tuple[Tensor, Tensor]:
        x = torch.cat((image0, image1), 1) - 0.5
        skips = [x]
        for layer in self.enc:
            x = layer(x)
            skips.append(x)
        skips.pop()
        for layer in self.dec:
            skip = skips.pop()
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = layer(torch.cat((x, skip), 1))
        logits = self.out(x)
        k0 = torch.softmax(logits[:, :KERNEL_TAPS] + self.centre_bias, 1)
        k1 = torch.softmax(logits[:, KERNEL_TAPS:] + self.centre_bias, 1)
        return k0, k1
