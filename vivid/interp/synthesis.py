"""Frame synthesis (method step 5).

The synthesis network reads the synthesis features (the concatenated warping and sampling
results), runs three residual blocks (:class:`vivid.core.blocks.ResidualBlock`) and
predicts a residual that is added to the blend of the two warped frames. With
``learned_blend`` it also predicts the blend weight (a correction of the temporal weight
``t`` in logit space, so it can favour the frame that is not occluded).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vivid.core.blocks import ConvNormAct, ResidualBlock


class FrameSynthesis(nn.Module):
    """Synthesis features -> output frame.

    forward(features (B, F, H, W), H and W multiples of ``shuffle``, warped0 (B, 3, H, W), warped1 (B, 3, H, W), t (B,)) ->
    ``(frame (B, 3, H, W), blend_weight (B, 1, H, W))`` where ``blend_weight`` is the weight of
    ``warped1`` in the blend.
    """

    def __init__(
        self, in_channels: int, channels: int = 32, blocks: int = 3, learned_blend: bool = True, shuffle: int = 1
    ) -> None:
        super().__init__()
        self.learned_blend = learned_blend
        outputs = 4 if learned_blend else 3
        # ``shuffle`` > 1 runs the blocks on space-to-depth features (each position holds a
        # shuffle x shuffle patch): the same receptive field in pixels costs far less compute.
        self.unshuffle = nn.PixelUnshuffle(shuffle) if shuffle > 1 else nn.Identity()
        self.shuffle = nn.PixelShuffle(shuffle) if shuffle > 1 else nn.Identity()
        # 1x1 head: the residual blocks that follow supply the spatial context.
        self.head = ConvNormAct(in_channels * shuffle**2, channels, 1, act="leaky_relu")
        self.blocks = nn.Sequential(*[ResidualBlock(channels) for _ in range(blocks)])
        self.out = nn.Conv2d(channels, outputs * shuffle**2, 3, 1, 1)
        # Start as the plain temporal blend of the warped frames.
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, features: Tensor, warped0: Tensor, warped1: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        y = self.shuffle(self.out(self.blocks(self.head(self.unshuffle(features)))))
        t = t.reshape(-1, 1, 1, 1).to(warped0.dtype)
        if self.learned_blend:
            prior = torch.logit(t.clamp(1e-3, 1 - 1e-3))
            alpha = torch.sigmoid(prior + y[:, 3:4])
        else:
            alpha = t.expand_as(warped0[:, :1])
        blend = (1 - alpha) * warped0 + alpha * warped1
        return blend + y[:, :3], alpha
