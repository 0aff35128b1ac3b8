"""Pose3DNet: an encoder-decoder (a ResNet-style encoder of basic blocks, a simple-baseline style
decoder with skip connections) whose output layer has J heatmap channels and J depth-map channels.

The two output groups come from separate heads on the shared decoder features, so the
"partial-channel" step of the method (2D-labelled images train only the heatmap channels) can
leave every depth-channel weight untouched: the depth head is simply not in that step's graph.

Reference mean bone lengths (``ref_bone_lengths``, metres) are a persistent buffer: they are
computed from the 3D training data and saved with the weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from vivid.core.blocks import BasicBlock, ConvNormAct
from vivid.core.registry import register_model
from vivid.pose3d.bones import DEFAULT_BONE_LENGTHS, NUM_BONES, NUM_JOINTS

# Images enter in [0, 1]; the network sees them centred and scaled by these constants.
_PIXEL_MEAN = 0.5
_PIXEL_STD = 0.25


@dataclass
class PoseMaps:
    """Network output: heatmaps (B, J, h, w) logits; depthmaps (B, J, h, w) root-relative depth in
    metres, or None when the depth head was skipped."""

    heatmaps: Tensor
    depthmaps: Tensor | None


class Up(nn.Module):
    """Upsample x2, add the projected skip, refine. (B, Cin, h, w) + (B, Cs, 2h, 2w) -> (B, Cout, 2h, 2w)."""

    def __init__(self, cin: int, cskip: int, cout: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(cin, cout, 1, bias=False)
        self.skip = nn.Conv2d(cskip, cout, 1, bias=False)
        self.refine = ConvNormAct(cout, cout, norm="batch")

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        x = nn.functional.interpolate(self.reduce(x), scale_factor=2, mode="bilinear", align_corners=False)
        return self.refine(x + self.skip(skip))


def head(cin: int, cout: int) -> nn.Sequential:
    """Output head: 3x3 conv + ReLU + 1x1 conv (no normalisation, so no running statistics)."""
    return nn.Sequential(*ConvNormAct(cin, cin, act="relu"), nn.Conv2d(cin, cout, 1))


class Pose3DNet(nn.Module):
    """Image crop -> J heatmaps + J depth maps at 1/4 of the input resolution.

    Args:
        num_joints: J (17 for H36M order).
        input_size: side of the square input crop the model is trained for (pixels).
        widths: channels of the stem and of each stride-2 stage (stem at 1/2, then 1/4, 1/8, ...).
        blocks: residual blocks per stage after the stem (len(widths) - 1 entries).
        head_width: channels of the decoder output at 1/4 resolution.
    """

    stride = 4

    def __init__(
        self,
        *,
        num_joints: int = NUM_JOINTS,
        input_size: int = 96,
        widths: list[int] | tuple[int, ...] = (24, 32, 48, 64),
        blocks: list[int] | tuple[int, ...] = (1, 1, 1),
        head_width: int = 32,
    ) -> None:
        super().__init__()
        widths, blocks = list(widths), list(blocks)
        if len(widths) < 3 or len(blocks) != len(widths) - 1:
            raise ValueError("need at least 3 widths and one block count per stage after the stem")
        if input_size % (2 ** len(widths)) != 0:
            raise ValueError(f"input_size {input_size} must be divisible by {2 ** len(widths)}")
        self.config = {
            "num_joints": num_joints,
            "input_size": input_size,
            "widths": widths,
            "blocks": blocks,
            "head_width": head_width,
        }
        self.num_joints = num_joints
        self.input_size = input_size
        self.stem = ConvNormAct(3, widths[0], stride=2, norm="batch")
        self.stages = nn.ModuleList(
            nn.Sequential(ConvNormAct(widths[i], widths[i + 1], stride=2, norm="batch"), *[BasicBlock(widths[i + 1]) for _ in range(n)])
            for i, n in enumerate(blocks)
        )
        # Decoder: from the deepest stage back up to stage 0's output (1/4 resolution).
        ups = []
        cin = widths[-1]
        for i in range(len(widths) - 2, 0, -1):
            cout = head_width if i == 1 else widths[i]
            ups.append(Up(cin, widths[i], cout))
            cin = cout
        self.ups = nn.ModuleList(ups)
        self.heatmap_head = head(head_width, num_joints)
        self.depth_head = head(head_width, num_joints)
        self.register_buffer("ref_bone_lengths", torch.tensor(DEFAULT_BONE_LENGTHS, dtype=torch.float32))

    @property
    def heatmap_size(self) -> int:
        return self.input_size // self.stride

    def set_reference_bones(self, lengths: Tensor) -> None:
        """Store reference mean bone lengths (16,) in metres (computed from 3D training data)."""
        if lengths.shape != (NUM_BONES,) or not bool(torch.isfinite(lengths).all()) or bool((lengths <= 0).any()):
            raise ValueError(f"reference bone lengths must be ({NUM_BONES},) positive finite values")
        self.ref_bone_lengths.copy_(lengths.to(self.ref_bone_lengths))

    def features(self, images: Tensor) -> Tensor:
        """images (B, 3, H, W) in [0, 1] -> decoder features (B, head_width, H/4, W/4)."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must have shape (B, 3, H, W), got {tuple(images.shape)}")
        x = self.stem((images - _PIXEL_MEAN) / _PIXEL_STD)
        skips = []
        for stage in self.stages:
            skips.append(x)
            x = stage(x)
        # skips[0] is the stem output (1/2); the decoder stops at skips[1] (1/4).
        for up, skip in zip(self.ups, reversed(skips[1:])):
            x = up(x, skip)
        return x

    def forward(self, images: Tensor, *, with_depth: bool = True) -> PoseMaps:
        """images (B, 3, H, W) in [0, 1], H and W divisible by 2**len(widths) ->
        PoseMaps(heatmaps (B, J, H/4, W/4), depthmaps (B, J, H/4, W/4) or None)."""
        feats = self.features(images)
        return PoseMaps(self.heatmap_head(feats), self.depth_head(feats) if with_depth else None)


TINY = dict(input_size=64, widths=[8, 12, 16, 24], blocks=[1, 1, 1], head_width=16)
# The first bundled architecture (96x96 crops, four levels); kept so its checkpoints load.
SMALL96 = dict(input_size=96, widths=[24, 32, 48, 64], blocks=[1, 1, 1], head_width=32)
# 192x192 crops, five levels down to 1/32 (6x6 at 192 px) for a receptive field over the whole
# crop; depth goes to the coarse stages, where it is cheap, so that a CPU thread still runs tens of
# crops a second.
DEFAULT = dict(input_size=192, widths=[24, 48, 96, 128, 192], blocks=[1, 2, 3, 2], head_width=32)
LARGE = dict(input_size=256, widths=[32, 64, 128, 192, 256], blocks=[2, 3, 4, 2], head_width=64)


@register_model("pose3d")
def pose3d_tiny(**overrides) -> Pose3DNet:
    """Test-sized variant (64x64 input)."""
    return Pose3DNet(**{**TINY, **overrides})


@register_model("pose3d")
def pose3d_small96(**overrides) -> Pose3DNet:
    """The first bundled architecture: 96x96 input, about 0.24 M parameters."""
    return Pose3DNet(**{**SMALL96, **overrides})


@register_model("pose3d")
def pose3d_default(**overrides) -> Pose3DNet:
    """Default variant: 192x192 input, about 3.3 M parameters, sized for CPU inference.

    Checkpoints whose sidecar names ``pose3d_default`` with a full ``model_config`` (such as the
    bundled 96 px model) rebuild their own architecture: the config replaces every setting here.
    """
    return Pose3DNet(**{**DEFAULT, **overrides})


@register_model("pose3d")
def pose3d_large(**overrides) -> Pose3DNet:
    """Wider and deeper variant for GPU training (256x256 input, about 7.5 M parameters)."""
    return Pose3DNet(**{**LARGE, **overrides})
