"""The person detector network: a light strided CNN with CenterNet heads at 1/4 resolution.

CenterNet ("Objects as Points", Zhou et al. 2019): each person is the peak of a centre heatmap;
at that cell the network also gives the box size and the sub-cell offset of the centre. Here
the backbone is a stack of depthwise-separable convolutions (MobileNet style) to 1/32, a small
top-down path (FPN style) back to 1/4, and three heads. Sizes are predicted as ``log(side / 4)``
(side in input pixels), which keeps the L1 loss alike for a 20 px and a 300 px person.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vivid.core.registry import register_model

STRIDE = 4  # output cells per input pixel side
HEAT_PRIOR = 0.01  # initial centre probability everywhere (CenterNet's bias init, -2.19 for 0.1)


@dataclass
class PeopleOutput:
    """Raw network outputs at 1/4 of the input (h = H / 4, w = W / 4).

    Attributes:
        heatmap: (B, 1, h, w) logits of "a person's centre is in this cell".
        size: (B, 2, h, w) ``log(width / 4), log(height / 4)`` of the box centred here (input px).
        offset: (B, 2, h, w) centre position inside the cell, x and y in [0, 1).
    """

    heatmap: Tensor
    size: Tensor
    offset: Tensor


def _conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class SeparableBlock(nn.Module):
    """Depthwise k x k (optionally strided) + pointwise 1 x 1, residual when the shape is kept."""

    def __init__(self, cin: int, cout: int, *, stride: int = 1, kernel: int = 3) -> None:
        super().__init__()
        self.dw = _conv_bn(cin, cin, kernel, stride, groups=cin)
        self.pw = _conv_bn(cin, cout, 1)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        y = self.pw(self.dw(x))
        return x + y if self.residual else y


class PeopleNet(nn.Module):
    """Person detector: image -> :class:`PeopleOutput` at 1/4 resolution.

    Args:
        widths: channels of the stem (1/2, a space-to-depth step) and of the four stages (1/4, 1/8, 1/16, 1/32).
        depths: blocks per stage (the first of each is strided).
        kernels: depthwise kernel size per stage (5 x 5 in the deep stages widens the view for large people).
        neck: channels of the top-down path and the heads.
        input_size: the longer side of the letterboxed input the detector feeds (pixels).
        score_threshold: the detector's default score threshold (chosen on synthetic validation
            composites during training; stored with the checkpoint, not a weight).
    """

    def __init__(
        self,
        *,
        widths: tuple[int, ...] = (16, 24, 48, 96, 160),
        depths: tuple[int, ...] = (1, 2, 3, 2),
        kernels: tuple[int, ...] = (3, 3, 5, 5),
        neck: int = 48,
        input_size: int = 320,
        score_threshold: float = 0.3,
    ) -> None:
        super().__init__()
        widths, depths, kernels = tuple(widths), tuple(depths), tuple(kernels)
        if len(widths) != 5 or len(depths) != 4 or len(kernels) != 4:
            raise ValueError("widths needs 5 values (stem + 4 stages), depths and kernels 4 each")
        if input_size % 32:
            raise ValueError(f"input_size must be a multiple of 32, got {input_size}")
        self.config = {"widths": list(widths), "depths": list(depths), "kernels": list(kernels), "neck": neck,
                       "input_size": input_size, "score_threshold": float(score_threshold)}  # fmt: skip
        self.input_size = input_size
        # A 2 x 2 space-to-depth stem (a stride-2 2 x 2 convolution): the cheapest way to 1/2 on a CPU.
        self.stem = nn.Sequential(nn.PixelUnshuffle(2), _conv_bn(12, widths[0], 1))
        stages = []
        for i in range(4):
            cin, cout = widths[i], widths[i + 1]
            blocks = [SeparableBlock(cin, cout, stride=2, kernel=kernels[i])]
            blocks += [SeparableBlock(cout, cout, kernel=kernels[i]) for _ in range(depths[i] - 1)]
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.ModuleList(stages)
        self.lateral = nn.ModuleList(nn.Conv2d(c, neck, 1) for c in widths[1:])
        self.smooth = nn.ModuleList(SeparableBlock(neck, neck) for _ in range(3))
        # One shared head block, then a 1 x 1 output per head: at 1/4 every channel costs the most.
        self.head = SeparableBlock(neck, neck)
        self.heat_out = nn.Conv2d(neck, 1, 1)
        self.size_out = nn.Conv2d(neck, 2, 1)
        self.offset_out = nn.Conv2d(neck, 2, 1)
        nn.init.constant_(self.heat_out.bias, -torch.log(torch.tensor((1 - HEAT_PRIOR) / HEAT_PRIOR)).item())

    def forward(self, image: Tensor) -> PeopleOutput:
        """image: (B, 3, H, W) float in [0, 1], H and W multiples of 32 -> outputs at (H/4, W/4)."""
        if image.ndim != 4 or image.shape[1] != 3 or image.shape[2] % 32 or image.shape[3] % 32:
            raise ValueError(f"expected images (B, 3, H, W) with H, W multiples of 32, got {tuple(image.shape)}")
        x = self.stem(image * 2 - 1)
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        y = self.lateral[3](feats[3])
        for i in (2, 1, 0):  # top-down: 1/16, 1/8, 1/4
            y = F.interpolate(y, size=feats[i].shape[-2:], mode="nearest") + self.lateral[i](feats[i])
            y = self.smooth[i](y)
        y = self.head(y)
        return PeopleOutput(self.heat_out(y), self.size_out(y), self.offset_out(y))


TINY = {"widths": (8, 8, 16, 16, 24), "depths": (1, 1, 1, 1), "kernels": (3, 3, 3, 3), "neck": 16, "input_size": 128}
DEFAULT: dict = {}


@register_model("people")
def people_tiny(**overrides) -> PeopleNet:
    """A few thousand weights: for tests."""
    return PeopleNet(**{**TINY, **overrides})


@register_model("people")
def people_default(**overrides) -> PeopleNet:
    """The bundled detector (``people-default``): ~0.3 M weights, 320 px input."""
    return PeopleNet(**{**DEFAULT, **overrides})
