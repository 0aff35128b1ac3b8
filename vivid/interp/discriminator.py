"""VGG-13-style discriminator (critic) for the relativistic average GAN.

Ten 3x3 convs in five blocks of two (VGG-13's layout) with LeakyReLU, a 2x downsampling after
each block, global average pooling and a linear layer giving one logit per image. It is
trained from scratch (no pretrained weights are available offline); users with their own
VGG-13 weights can load them with :func:`load_discriminator_weights`.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import Tensor, nn

from vivid.core.errors import VividError

VGG13_WIDTHS = (64, 128, 256, 512, 512)
# Indices of the conv layers inside torchvision's ``vgg13().features`` (the usual weight names).
TORCHVISION_VGG13_CONVS = (0, 2, 5, 7, 10, 12, 15, 17, 20, 22)


class VGGDiscriminator(nn.Module):
    """image (B, 3, H, W) in [0, 1], H, W >= 32 -> critic logits (B,).

    widths: channels of the five blocks; VGG-13 itself is (64, 128, 256, 512, 512).
    """

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 128, 128)) -> None:
        super().__init__()
        self.config = dict(widths=list(widths))
        layers: list[nn.Module] = []
        cin = 3
        for w in widths:
            layers += [nn.Conv2d(cin, w, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True)]
            layers += [nn.Conv2d(w, w, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True)]
            layers.append(nn.AvgPool2d(2))
            cin = w
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(cin, 1)

    def convs(self) -> list[nn.Conv2d]:
        return [m for m in self.features if isinstance(m, nn.Conv2d)]

    def forward(self, image: Tensor) -> Tensor:
        x = self.features(image * 2.0 - 1.0)
        return self.head(x.mean((2, 3))).reshape(-1)


def torchvision_vgg13_names(model: VGGDiscriminator) -> dict[str, str]:
    """Mapping from this model's conv parameter names to torchvision VGG-13 ``features.*`` names."""
    names = {}
    conv_positions = [i for i, m in enumerate(model.features) if isinstance(m, nn.Conv2d)]
    for ours, theirs in zip(conv_positions, TORCHVISION_VGG13_CONVS):
        for p in ("weight", "bias"):
            names[f"features.{ours}.{p}"] = f"features.{theirs}.{p}"
    return names


def load_discriminator_weights(
    model: VGGDiscriminator, path: str | os.PathLike, name_map: dict[str, str] | None = None
) -> list[str]:
    """Fill ``model``'s conv layers from a user-supplied safetensors file.

    ``name_map`` maps this model's parameter names to names in the file (default: the
    torchvision VGG-13 layout, which needs ``widths == VGG13_WIDTHS``). Parameters not in the
    map (the linear head) keep their values. Returns the names that were loaded. Raises
    VividError for an unreadable file, a missing name or a shape that does not fit.
    """
    path = Path(path)
    if path.suffix != ".safetensors":
        raise VividError(f"{path} is not a .safetensors file; discriminator weights load from safetensors only")
    try:
        state = load_file(str(path), device="cpu")
    except (SafetensorError, OSError) as err:
        raise VividError(f"cannot read discriminator weights {path}: {err}") from err
    name_map = name_map or torchvision_vgg13_names(model)
    own = dict(model.named_parameters())
    loaded = []
    with torch.no_grad():
        for ours, theirs in name_map.items():
            if ours not in own:
                raise VividError(f"name map refers to {ours!r}, which the discriminator does not have")
            if theirs not in state:
                raise VividError(f"{path.name} has no tensor {theirs!r} (needed for {ours}); pass a name_map that fits the file")
            if state[theirs].shape != own[ours].shape:
                raise VividError(
                    f"{path.name}:{theirs} has shape {tuple(state[theirs].shape)}, the discriminator's {ours} needs "
                    f"{tuple(own[ours].shape)}; build it with widths={VGG13_WIDTHS} for VGG-13 weights"
                )
            own[ours].copy_(state[theirs])
            loaded.append(ours)
    return loaded
