"""Steps 3-5 of the method: the motion and spatial enhancement layers and their fusion.

Both layers apply the same two-sub-layer block (:class:`EnhancementBlock`, after EMA, "efficient
multi-scale attention with cross-spatial learning") to elements of the first tensor
``x`` [B, C, S, H, W]:

- the **motion enhancement layer** to each **sequence feature element**, the [S, H, W] block of one
  (sequence, channel): B x C of them, batched as a [B*C, S, H, W] tensor whose channels are the
  S frames (first and second sub-layers);
- the **spatial enhancement layer** to each **channel feature element**, the [c, H, W] block of one
  (sequence, frame, group) of the **second tensor** [B, S, G, c, H, W] (``c`` the sub-channel
  count, ``G = C / c``): B x S x G of them, batched as [B*S*G, c, H, W] (third and fourth
  sub-layers: the same block with its own kernels and variant switches).

The block's sub-layers, on an element ``e`` [N, K, H, W] (K = S or c):

1. horizontal + vertical enhancement: average pooling along W and along H gives the first
   horizontal [K, H, 1] and first vertical [K, 1, W] features; the vertical one is transposed and
   concatenated with the horizontal, passed through one conv with the **first kernel** and split
   back; sigmoids give the horizontal and vertical weights, whose product is the first
   enhancement weight over H x W; ``e1 = e * weight`` is the **first enhanced feature**.
2. different receptive fields: a conv with the **second kernel** on ``e1`` gives the **second
   enhanced feature** ``e2``; 2-D average pooling and a softmax over K give the first and second
   average weights [1, K] (of ``e1`` and ``e2``); first average weight x ``e2`` flattened
   [K, H*W] is the first local weight [1, H*W], second average weight x ``e1`` the second; the
   sigmoid of their sum, reshaped to H x W, is the enhancement weight (the **motion enhancement
   weight** in the motion layer); ``e * it`` is the enhanced element.

Variants (each a switch of :class:`EnhancementBlock`): ``split_convs`` (two first-kernel convs, one
for H and one for W, no concatenation), ``pool="conv"`` (learned 1-D depthwise convs across W and
across H instead of the 1-D average pooling), ``local_weight="norm"`` (normalisation-based local
weights: each enhanced feature standardised over H x W and averaged over K), ``double_weighting``
(the sum of ``e1`` and ``e2`` each weighted by its own local weight, instead of ``e`` weighted
once) and ``second_on_raw`` (the second conv applied to the raw element).

Fusion (:class:`Fusion`): motion + spatial is the **preliminary fused feature**; its 2-D average
pooling is the **fifth average weight**, per sequence, channel and frame. It is read as a pair of
weights over the two branches (a per-channel linear map to two logits, softmax across the
branches, as in selective-kernel fusion), so that fusion is not a constant rescale of the sum:
the motion feature times its weight is the **first fused**, the spatial feature times its weight
the **second fused** feature, and their sum the **dual enhanced feature**.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

POOLS = ("avg", "conv")
LOCAL_WEIGHTS = ("matmul", "norm")
FUSIONS = ("select", "preliminary", "first", "second")


def _check_first_tensor(x: Tensor) -> None:
    if x.ndim != 5:
        raise ValueError(f"expected the first tensor [B, C, S, H, W], got {tuple(x.shape)}")


def average_weights(feature: Tensor) -> Tensor:
    """[N, K, H, W] -> [N, 1, K]: 2-D average pooling, softmax over the K channels (frames)."""
    return feature.mean(dim=(2, 3)).softmax(dim=1)[:, None]


def local_weight(average: Tensor, feature: Tensor) -> Tensor:
    """[N, 1, K] average weight x [N, K, H, W] feature flattened to [K, H*W] -> [N, 1, H*W]."""
    return average @ feature.flatten(2)


def standardised_mean(feature: Tensor, eps: float = 1e-5) -> Tensor:
    """Normalisation-based local weight: [N, K, H, W] standardised over H x W, mean over K -> [N, 1, H*W]."""
    flat = feature.flatten(2)
    flat = (flat - flat.mean(-1, keepdim=True)) / (flat.std(-1, keepdim=True, unbiased=False) + eps)
    return flat.mean(1, keepdim=True)


class EnhancementBlock(nn.Module):
    """The two sub-layers on elements [N, K, H, W] (K frames or sub-channels); see the module docstring.

    Args:
        channels: K. height, width: H and W (needed by ``pool="conv"``).
        first_kernel, second_kernel: sizes of the sub-layers' convs (odd; they must differ).
        split_convs, pool, local_weight, double_weighting, second_on_raw: the variants.
    """

    def __init__(self, channels: int, height: int, width: int, *, first_kernel: int = 1, second_kernel: int = 3,
                 split_convs: bool = False, pool: Literal["avg", "conv"] = "avg",
                 local_weight: Literal["matmul", "norm"] = "matmul", double_weighting: bool = False,
                 second_on_raw: bool = False) -> None:  # fmt: skip
        super().__init__()
        if first_kernel % 2 == 0 or second_kernel % 2 == 0 or first_kernel < 1:
            raise ValueError(f"kernel sizes must be odd, got {first_kernel} and {second_kernel}")
        if first_kernel == second_kernel:
            raise ValueError(f"the first and second kernels must differ in size, both are {first_kernel}")
        if pool not in POOLS or local_weight not in LOCAL_WEIGHTS:
            raise ValueError(f"pool must be one of {POOLS} and local_weight one of {LOCAL_WEIGHTS}")
        self.split_convs, self.pool, self.local_mode = split_convs, pool, local_weight
        self.double_weighting, self.second_on_raw = double_weighting, second_on_raw
        self.height, self.width = height, width
        # The first kernel runs along the concatenated H + W axis (a k x 1 conv on [K, H + W, 1]).
        k1 = (first_kernel, 1)
        pad1 = (first_kernel // 2, 0)
        if split_convs:
            self.conv_h = nn.Conv2d(channels, channels, k1, padding=pad1)
            self.conv_w = nn.Conv2d(channels, channels, k1, padding=pad1)
        else:
            self.conv_hw = nn.Conv2d(channels, channels, k1, padding=pad1)
        if pool == "conv":
            self.pool_h = nn.Conv2d(channels, channels, (1, width), groups=channels, bias=False)
            self.pool_w = nn.Conv2d(channels, channels, (height, 1), groups=channels, bias=False)
            nn.init.constant_(self.pool_h.weight, 1.0 / width)  # starts as the average
            nn.init.constant_(self.pool_w.weight, 1.0 / height)
        self.conv2 = nn.Conv2d(channels, channels, second_kernel, padding=second_kernel // 2)

    def directional_features(self, e: Tensor) -> tuple[Tensor, Tensor]:
        """First horizontal [N, K, H, 1] and first vertical [N, K, 1, W] features."""
        if self.pool == "conv":
            if e.shape[-2:] != (self.height, self.width):
                raise ValueError(f"pool='conv' was built for {self.height}x{self.width} elements, got {tuple(e.shape[-2:])}")
            return self.pool_h(e), self.pool_w(e)
        return e.mean(dim=3, keepdim=True), e.mean(dim=2, keepdim=True)

    def first(self, e: Tensor) -> tuple[Tensor, Tensor]:
        """First sub-layer: (first enhancement weight [N, K, H, W] in (0, 1), first enhanced feature)."""
        xh, xw = self.directional_features(e)
        xw = xw.transpose(2, 3)  # [N, K, W, 1]
        if self.split_convs:
            wh, ww = self.conv_h(xh), self.conv_w(xw)
        else:
            wh, ww = torch.split(self.conv_hw(torch.cat([xh, xw], dim=2)), [e.shape[2], e.shape[3]], dim=2)
        weight = wh.sigmoid() * ww.transpose(2, 3).sigmoid()
        return weight, e * weight

    def second(self, e: Tensor, e1: Tensor) -> tuple[Tensor, Tensor]:
        """Second sub-layer: (enhancement weight [N, 1, H, W] in (0, 1), enhanced element [N, K, H, W])."""
        N, K, H, W = e.shape
        e2 = self.conv2(e if self.second_on_raw else e1)
        if self.local_mode == "norm":
            l1, l2 = standardised_mean(e2), standardised_mean(e1)
        else:
            l1, l2 = local_weight(average_weights(e1), e2), local_weight(average_weights(e2), e1)
        if self.double_weighting:
            w1, w2 = l1.sigmoid().view(N, 1, H, W), l2.sigmoid().view(N, 1, H, W)
            return (w1 + w2) / 2, e1 * w1 + e2 * w2
        weight = (l1 + l2).sigmoid().view(N, 1, H, W)
        return weight, e * weight

    def forward(self, e: Tensor) -> Tensor:
        """[N, K, H, W] elements -> [N, K, H, W] enhanced elements."""
        if e.ndim != 4:
            raise ValueError(f"expected elements [N, K, H, W], got {tuple(e.shape)}")
        _, e1 = self.first(e)
        return self.second(e, e1)[1]


def sequence_elements(x: Tensor) -> Tensor:
    """First tensor [B, C, S, H, W] -> its B*C sequence feature elements [B*C, S, H, W]."""
    _check_first_tensor(x)
    return x.flatten(0, 1)


def second_tensor(x: Tensor, sub_channels: int) -> Tensor:
    """First tensor [B, C, S, H, W] -> second tensor [B, S, G, c, H, W], c = ``sub_channels``."""
    _check_first_tensor(x)
    if x.shape[1] % sub_channels:
        raise ValueError(f"{x.shape[1]} channels do not split into groups of {sub_channels}")
    B, C, S, H, W = x.shape
    return x.view(B, C // sub_channels, sub_channels, S, H, W).permute(0, 3, 1, 2, 4, 5)


def channel_elements(x: Tensor, sub_channels: int) -> Tensor:
    """First tensor -> its B*S*G channel feature elements [B*S*G, c, H, W]."""
    return second_tensor(x, sub_channels).flatten(0, 2)


class MotionEnhancement(nn.Module):
    """Motion enhancement layer: [B, C, S, H, W] -> motion enhanced feature [B, C, S, H, W].

    Args:
        seq_len: S (the frames are the block's channels). height, width: H, W.
        block: keyword arguments of :class:`EnhancementBlock` (kernels and variants).
    """

    def __init__(self, seq_len: int, height: int, width: int, **block) -> None:
        super().__init__()
        self.seq_len = seq_len
        self.block = EnhancementBlock(seq_len, height, width, **block)

    def forward(self, x: Tensor) -> Tensor:
        _check_first_tensor(x)
        if x.shape[2] != self.seq_len:
            raise ValueError(f"the motion enhancement layer was built for sequences of {self.seq_len} frames, got {x.shape[2]}")
        return self.block(sequence_elements(x)).view(x.shape)


class SpatialEnhancement(nn.Module):
    """Spatial enhancement layer: [B, C, S, H, W] -> spatial enhanced feature [B, C, S, H, W].

    Args:
        channels: C. sub_channels: c, or groups: G (give one; G = C / c).
        height, width: H, W. block: keyword arguments of :class:`EnhancementBlock`.
    """

    def __init__(self, channels: int, height: int, width: int, *, sub_channels: int | None = None,
                 groups: int | None = None, **block) -> None:  # fmt: skip
        super().__init__()
        if (sub_channels is None) == (groups is None):
            raise ValueError("give either sub_channels or groups for the spatial enhancement layer")
        c = sub_channels if sub_channels is not None else channels // groups
        if c < 1 or channels % c:
            raise ValueError(f"{channels} channels do not split into groups of {c} sub-channels")
        self.sub_channels = c
        self.block = EnhancementBlock(c, height, width, **block)

    def forward(self, x: Tensor) -> Tensor:
        B, C, S, H, W = x.shape
        out = self.block(channel_elements(x, self.sub_channels))  # [(B S G), c, H, W]
        return out.view(B, S, C // self.sub_channels, self.sub_channels, H, W).permute(0, 2, 3, 1, 4, 5).reshape(x.shape)


class Fusion(nn.Module):
    """Fusion of the motion and spatial enhanced features [B, C, S, H, W] -> dual enhanced feature.

    ``mode``: "select" (the method: the fifth average weight read as a softmax pair over the two
    branches, see the module docstring), or a variant: "preliminary" (motion + spatial),
    "first" (the first fused feature alone), "second" (the second fused feature alone).
    """

    def __init__(self, channels: int, mode: str = "select") -> None:
        super().__init__()
        if mode not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {mode!r}")
        self.mode = mode
        self.select = nn.Conv1d(channels, 2 * channels, 1)
        # Starts as an even split between the branches.
        nn.init.zeros_(self.select.weight)
        nn.init.zeros_(self.select.bias)

    def branch_weights(self, preliminary: Tensor) -> Tensor:
        """Fifth average weight [B, C, S] -> branch weights [B, 2, C, S] (softmax over dim 1)."""
        B, C, S = preliminary.shape[:3]
        fifth = preliminary.mean(dim=(3, 4))
        return self.select(fifth).view(B, 2, C, S).softmax(dim=1)

    def forward(self, motion: Tensor, spatial: Tensor) -> Tensor:
        preliminary = motion + spatial
        if self.mode == "preliminary":
            return preliminary
        w = self.branch_weights(preliminary)[..., None, None]
        first, second = motion * w[:, 0], spatial * w[:, 1]
        if self.mode == "first":
            return first
        if self.mode == "second":
            return second
        return first + second
