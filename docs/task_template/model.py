"""The network: a plain ``nn.Module`` with its config as keyword-only constructor arguments."""

from __future__ import annotations

from torch import Tensor, nn

from vivid.core.registry import register_model


class MyNet(nn.Module):
    """Mean colour of an image.

    Args:
        width: channels of the hidden layer.
    """

    def __init__(self, *, width: int = 8) -> None:
        super().__init__()
        self.config = {"width": width}  # checkpoints rebuild the model from this
        self.body = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, 3, 1))

    def forward(self, image: Tensor) -> Tensor:
        """image: (B, 3, H, W) float in [0, 1] -> (B, 3) colour."""
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f"expected images (B, 3, H, W), got {tuple(image.shape)}")
        return self.body(image).mean(dim=(2, 3))


@register_model("mytask")
def mytask_tiny(**overrides) -> MyNet:
    return MyNet(**{"width": 8, **overrides})
