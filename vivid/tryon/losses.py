"""Losses of the try-on generator, each a function and a thin Module.

total = l1 * :func:`l1_all` + region * :func:`l1_region` + gan * :func:`generator_gan_loss`
(temporal PatchGAN, :class:`TemporalDiscriminator`) + perceptual * :func:`perceptual_loss`
(features of the discriminator by default, or of VGG-16 with user-supplied weights,
:func:`load_vgg_features`). Videos are (B, T, 3, H, W) in [0, 1].
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vivid.core.errors import VividError

__all__ = ["l1_all", "l1_region", "L1All", "L1Region", "TemporalDiscriminator", "discriminator_gan_loss", "generator_gan_loss",
           "GeneratorGanLoss", "perceptual_loss", "PerceptualLoss", "VGGFeatures", "load_vgg_features"]


def l1_all(pred: Tensor, target: Tensor) -> Tensor:
    """Mean absolute error over all pixels of (B, T, 3, H, W) videos."""
    return (pred - target).abs().mean()


def l1_region(pred: Tensor, target: Tensor, region: Tensor) -> Tensor:
    """Mean absolute error over the try-on region (B, T, 1, H, W) in [0, 1] (0 without one)."""
    weight = region.expand_as(pred)
    return ((pred - target).abs() * weight).sum() / weight.sum().clamp(min=1.0)


class L1All(nn.Module):
    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return l1_all(pred, target)


class L1Region(nn.Module):
    def forward(self, pred: Tensor, target: Tensor, region: Tensor) -> Tensor:
        return l1_region(pred, target, region)


class TemporalDiscriminator(nn.Module):
    """A temporal PatchGAN: 3-D convolutions over frame stacks.

    (B, T, 3, H, W) -> patch logits (B, 1, T', H / 8, W / 8) (T' = T for T >= 1; the time kernels
    are padded) and, with ``features=True``, the activations of every layer (for the perceptual loss).
    """

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        chans = [3, width, 2 * width, 4 * width]
        self.layers = nn.ModuleList(
            nn.Sequential(nn.Conv3d(chans[i], chans[i + 1], (3, 4, 4), stride=(1, 2, 2), padding=(1, 1, 1)), nn.LeakyReLU(0.2))
            for i in range(3)
        )
        self.out = nn.Conv3d(chans[-1], 1, (3, 3, 3), padding=1)

    def forward(self, video: Tensor, features: bool = False):
        if video.ndim != 5 or video.shape[2] != 3:
            raise ValueError(f"expected videos (B, T, 3, H, W), got {tuple(video.shape)}")
        x = video.transpose(1, 2) * 2 - 1  # (B, 3, T, H, W)
        feats = []
        for layer in self.layers:
            x = layer(x)
            feats.append(x)
        logits = self.out(x)
        return (logits, feats) if features else logits


def discriminator_gan_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Least-squares GAN loss of the discriminator: real -> 1, fake -> 0."""
    return 0.5 * ((real_logits - 1) ** 2).mean() + 0.5 * (fake_logits**2).mean()


def generator_gan_loss(fake_logits: Tensor) -> Tensor:
    """Least-squares GAN loss of the generator: its videos -> 1."""
    return ((fake_logits - 1) ** 2).mean()


class GeneratorGanLoss(nn.Module):
    def forward(self, fake_logits: Tensor) -> Tensor:
        return generator_gan_loss(fake_logits)


def perceptual_loss(pred_features: list[Tensor], target_features: list[Tensor]) -> Tensor:
    """Mean L1 distance between matching feature maps (the target's detached)."""
    if len(pred_features) != len(target_features) or not pred_features:
        raise ValueError("perceptual loss needs the same non-empty list of feature maps for both")
    return sum((p - t.detach()).abs().mean() for p, t in zip(pred_features, target_features)) / len(pred_features)


class PerceptualLoss(nn.Module):
    """Perceptual loss on the features of ``extractor`` (videos (B, T, 3, H, W) -> list of maps):
    the temporal discriminator's (``extractor(video, features=True)[1]``) or :class:`VGGFeatures`."""

    def __init__(self, extractor: nn.Module) -> None:
        super().__init__()
        self.extractor = extractor

    def _features(self, video: Tensor) -> list[Tensor]:
        if isinstance(self.extractor, TemporalDiscriminator):
            return self.extractor(video, features=True)[1]
        return self.extractor(video)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        with torch.no_grad():
            target_features = self._features(target)
        return perceptual_loss(self._features(pred), target_features)


# VGG-16 "features" layers up to relu4_3 (torchvision's numbering, so its state dict loads as is)
_VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512]
_VGG_TAPS = (3, 8, 15, 22)  # relu1_2, relu2_2, relu3_3, relu4_3
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class VGGFeatures(nn.Module):
    """VGG-16 feature maps (relu1_2 .. relu4_3) of each frame of (B, T, 3, H, W) videos, frozen."""

    def __init__(self) -> None:
        super().__init__()
        layers, c = [], 3
        for v in _VGG16:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=False)]
                c = v
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)

    def forward(self, video: Tensor) -> list[Tensor]:
        x = (video.flatten(0, 1) - self.mean) / self.std
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in _VGG_TAPS:
                out.append(x)
        return out


def load_vgg_features(path: str | Path) -> VGGFeatures:
    """VGG-16 features with weights from a user's file: a torchvision ``vgg16`` state dict
    (``.pth`` or ``.safetensors``; keys ``features.N.weight``/``bias``, others ignored)."""
    path = Path(path)
    if not path.is_file():
        raise VividError(f"VGG weights {path} do not exist; give a torchvision vgg16 state dict (.pth or .safetensors)")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise VividError(f"cannot read VGG weights {path}: {err}") from err
    model = VGGFeatures()
    wanted = {k: v for k, v in state.items() if k.startswith("features.") and k in model.state_dict()}
    missing = [k for k in model.state_dict() if k not in wanted]
    if missing:
        raise VividError(f"VGG weights {path} lack {', '.join(missing[:3])}...; expected a torchvision vgg16 state dict")
    model.load_state_dict(wanted)
    return model
