"""Non-local features (method step 2).

I0 and I1 concatenated (6 ch) -> 4 x [2x average pooling + residual block] -> self-attention
block -> 3 x [upsampling (bilinear x2 + conv) + residual block] -> upsampling layer back to
the input resolution (bilinear x2, then conv). The self-attention block (SAGAN-style,
:class:`vivid.core.blocks.SelfAttention2d`) uses three 1x1 convs for query, key and value
(the value reduced to half the channels), ``softmax(q^T k)`` attention weights over all
positions, the weighted values, and a fourth 1x1 conv restoring the channels, added to its
input. The output has ``2 * out_channels`` channels: the first half is warped with
``Ft->0``, the second with ``Ft->1``.

Layouts (``layout``, the model config's ``nonlocal_layout``):

- ``"seed"`` (the default, for new training): as above.
- ``"v1"``: a departure from the method, kept so that checkpoints trained with it (the bundled
  ``interp-default`` among them) load and compute what they were measured with: the value conv
  keeps all C channels, so the fourth conv restores nothing, and the last upsampling runs the
  conv first, at half resolution, then upsamples bilinearly (a quarter of that conv's cost).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vivid.core.blocks import ResidualBlock, SelfAttention2d

DOWN_STEPS = 4
UP_STEPS = 3
NONLOCAL_LAYOUTS = ("seed", "v1")
# The seed layout's value conv keeps C // VALUE_REDUCTION channels (SAGAN / BigGAN: C / 2).
VALUE_REDUCTION = 2


class NonLocalBranch(nn.Module):
    """(image0, image1) (B, 3, H, W) each, H, W multiples of 16 -> (B, 2 * out_channels, H, W)."""

    def __init__(self, channels: tuple[int, ...] = (16, 24, 32, 48), out_channels: int = 8, layout: str = "seed") -> None:
        super().__init__()
        if len(channels) != DOWN_STEPS:
            raise ValueError(f"channels needs one width per downsampling step ({DOWN_STEPS}), got {channels}")
        if layout not in NONLOCAL_LAYOUTS:
            raise ValueError(f"nonlocal_layout must be one of {', '.join(NONLOCAL_LAYOUTS)}, got {layout!r}")
        self.layout = layout
        self.stem = nn.Conv2d(6, channels[0], 3, 1, 1)
        self.down = nn.ModuleList(
            ResidualBlock(cin, cout) for cin, cout in zip((channels[0], *channels[:-1]), channels)
        )
        self.attention = SelfAttention2d(channels[-1], value_reduction=VALUE_REDUCTION if layout == "seed" else 1)
        # Up path mirrors the down path: 1/16 -> 1/8 -> 1/4 -> 1/2.
        ups = channels[::-1][: UP_STEPS + 1]
        self.up_convs = nn.ModuleList(nn.Conv2d(cin, cout, 3, 1, 1) for cin, cout in zip(ups[:-1], ups[1:]))
        self.up_blocks = nn.ModuleList(ResidualBlock(c) for c in ups[1:])
        self.final = nn.Conv2d(ups[-1], 2 * out_channels, 3, 1, 1)

    def forward(self, image0: Tensor, image1: Tensor) -> Tensor:
        size = image0.shape[-2:]
        # The stem conv runs after the first pooling: same receptive field, a quarter of the cost.
        x = F.avg_pool2d(torch.cat((image0, image1), 1) - 0.5, 2)
        x = self.down[0](self.stem(x))
        for block in self.down[1:]:
            x = block(F.avg_pool2d(x, 2))
        x = self.attention(x)
        for conv, block in zip(self.up_convs, self.up_blocks):
            x = block(F.leaky_relu(conv(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)), 0.1))
        # Upsampling layer back to the input resolution (the last x2 after three x2 steps from 1/16).
        if self.layout == "v1":
            return F.interpolate(self.final(x), size=size, mode="bilinear", align_corners=False)
        return self.final(F.interpolate(x, size=size, mode="bilinear", align_corners=False))
