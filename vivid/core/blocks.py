"""Network blocks that several tasks' models are built from.

- :class:`ConvNormAct`: convolution, optional batch norm, optional activation;
- :class:`ResidualBlock`: two 3x3 convolutions with a skip, no normalisation;
- :class:`BasicBlock`: ResNet's basic block (two 3x3 conv + batch norm, activation after the sum);
- :class:`SelfAttention2d`: SAGAN-style self-attention over all positions of a feature map.

Every block is an ``nn.Module`` whose submodule names are part of the checkpoints of the models
that use it: renaming one breaks every bundled checkpoint.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

# Negative slope of the leaky ReLU used throughout the interpolation generator.
LEAKY_SLOPE = 0.1
ACTIVATIONS = ("relu", "leaky_relu")
NORMS = ("batch",)


def activation(name: str) -> nn.Module:
    """``"relu"`` or ``"leaky_relu"`` (slope :data:`LEAKY_SLOPE`), in place."""
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "leaky_relu":
        return nn.LeakyReLU(LEAKY_SLOPE, inplace=True)
    raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {name!r}")


class ConvNormAct(nn.Sequential):
    """conv (``kernel_size`` x ``kernel_size``, "same" padding for stride 1) -> norm -> act;
    (B, C_in, H, W) -> (B, C_out, ceil(H / stride), ceil(W / stride)).

    ``norm``: None or ``"batch"``; ``act``: None, ``"relu"`` or ``"leaky_relu"``. The conv has a
    bias only without a norm (a batch norm's shift replaces it), unless ``bias`` says otherwise.
    The layers are numbered like a plain ``nn.Sequential`` (conv ``0``, then norm, then act), so
    ``nn.Sequential(*ConvNormAct(...), more)`` continues the numbering.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        *,
        dilation: int = 1,
        norm: str | None = None,
        act: str | None = "relu",
        bias: bool | None = None,
    ) -> None:
        if norm is not None and norm not in NORMS:
            raise ValueError(f"norm must be None or one of {', '.join(NORMS)}, got {norm!r}")
        bias = norm is None if bias is None else bias
        padding = dilation * (kernel_size // 2)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation=dilation, bias=bias)]
        if norm is not None:
            layers.append(nn.BatchNorm2d(out_channels))
        if act is not None:
            layers.append(activation(act))
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    """x -> skip(x) + conv2(leaky_relu(conv1(x))); (B, C_in, H, W) -> (B, C_out, H, W).

    ``skip`` is the identity, or a 1x1 conv when the channel count changes.
    """

    def __init__(self, channels: int, out_channels: int | None = None) -> None:
        super().__init__()
        out_channels = out_channels or channels
        self.conv1 = nn.Conv2d(channels, out_channels, 3, 1, 1)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1)
        self.act = activation("leaky_relu")
        self.skip = nn.Identity() if out_channels == channels else nn.Conv2d(channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.skip(x) + self.conv2(self.act(self.conv1(x)))


class BasicBlock(nn.Module):
    """ResNet's basic block: x -> relu(x + bn(conv(relu(bn(conv(x)))))); (B, C, H, W) -> (B, C, H, W)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *ConvNormAct(channels, channels, norm="batch"), *ConvNormAct(channels, channels, norm="batch", act=None)
        )
        self.act = activation("relu")

    def forward(self, x: Tensor) -> Tensor:
        return self.act(x + self.body(x))


class SelfAttention2d(nn.Module):
    """(B, C, H, W) -> (B, C, H, W): ``x + W_o(softmax(q^T k / sqrt(c')) v)`` over the H*W positions.

    Query and key are 1x1 convs to ``c' = max(C // reduction, 4)`` channels, the value a 1x1
    conv to ``C // value_reduction`` channels and the output projection ``W_o`` a 1x1 conv back
    to C (SAGAN's layout, as in BigGAN's reference code, has ``value_reduction=2``: the fourth
    conv restores the channels the value dropped; ``value_reduction=1`` keeps C throughout).
    Memory grows with (H*W)^2: use it on coarse feature maps.
    """

    def __init__(self, channels: int, reduction: int = 4, value_reduction: int = 1) -> None:
        super().__init__()
        if value_reduction < 1 or channels % value_reduction:
            raise ValueError(f"value_reduction must divide channels ({channels}), got {value_reduction}")
        inner = max(channels // reduction, 4)
        self.value_channels = channels // value_reduction
        self.query = nn.Conv2d(channels, inner, 1)
        self.key = nn.Conv2d(channels, inner, 1)
        self.value = nn.Conv2d(channels, self.value_channels, 1)
        self.proj = nn.Conv2d(self.value_channels, channels, 1)
        self.scale = inner**-0.5

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        q = self.query(x).flatten(2)  # (B, c', N)
        k = self.key(x).flatten(2)  # (B, c', N)
        v = self.value(x).flatten(2)  # (B, C // value_reduction, N)
        attn = torch.softmax(torch.einsum("bci,bcj->bij", q, k) * self.scale, dim=-1)  # (B, N, N)
        out = torch.einsum("bij,bcj->bci", attn, v).reshape(b, self.value_channels, h, w)
        return x + self.proj(out)
