"""The networks: a CNN from a face crop to (f, p, s), and a small 68-landmark heatmap network.

:class:`ReconNet` (ResNet-style, CPU-sized) maps a square face crop to the morphable-face
coefficients f (identity, expression, albedo), the head pose p and SH lighting s (9 x 3); its
last layer starts at zero, so an untrained network predicts the mean face, frontal, under
:func:`vivid.core.render.default_sh`. The pose is predicted in crop terms (a rotation from the
frontal one, the face centre's pixel and its apparent size) and turned into a camera-frame
rotation and translation with the crop's intrinsics (:meth:`FaceParams.pose`), so the same
network serves crops of any focal length.

:class:`LandmarkNet` maps the crop to 68 heatmaps at a quarter of its size (soft-argmax gives
the landmarks) and a face/no-face score (used to find faces when no detector is at hand).

:class:`Face3DNet` holds both (submodules ``landmarks`` and ``recon``): one checkpoint, two tools.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from vivid.core.blocks import BasicBlock, ConvNormAct
from vivid.core.geometry import axis_angle_to_matrix
from vivid.core.registry import register_model
from vivid.core.render import default_sh

__all__ = ["Face3DNet", "ReconNet", "LandmarkNet", "FaceParams", "LandmarkOutput", "FRONTAL", "soft_argmax",
           "face3d_tiny", "face3d_default", "face3d_large"]

_PIXEL_MEAN, _PIXEL_STD = 0.5, 0.25
N_LANDMARKS, N_EXPRESSION, N_ALBEDO, SH_COEFFS = 68, 52, 8, 9
# Head frame (x subject's left, y back, z up) -> camera frame (x right, y down, z forward) of a
# camera straight in front of the face.
FRONTAL = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
# The head-frame point whose projection the network places (between the eyes, mean face) and the
# mean face width (m): the scale that turns the predicted apparent size into a depth.
FACE_CENTRE = (0.0, -0.11, 0.11)
FACE_WIDTH = 0.133
# The share of a crop's side a face's width takes when ``log_size`` is 0.
CROP_FACE_SHARE = 0.55
_EXPRESSION_BIAS = -3.0  # sigmoid(-3) ~ 0.05: expressions start near neutral


def _encoder(width: int, depth: int) -> tuple[nn.Sequential, int]:
    """Stem (stride 2) and ``depth`` stages (stride 2 then a basic block each): (B, 3, S, S) ->
    (B, C, S / 2^(depth+1), ...). Returns the layers and C."""
    layers: list[nn.Module] = [ConvNormAct(3, width, 5, 2, norm="batch")]
    c = width
    for i in range(depth):
        out = width * 2 ** min(i + 1, 3)
        layers += [ConvNormAct(c, out, 3, 2, norm="batch"), BasicBlock(out)]
        c = out
    return nn.Sequential(*layers), c


def _normalise(image: Tensor, size: int) -> Tensor:
    if image.ndim != 4 or image.shape[1] != 3 or image.shape[-2:] != (size, size):
        raise ValueError(f"expected face crops (B, 3, {size}, {size}), got {tuple(image.shape)}")
    return (image - _PIXEL_MEAN) / _PIXEL_STD


@dataclass
class FaceParams:
    """What :class:`ReconNet` predicts for B crops.

    identity (B, K) in N(0, 1) units; expression (B, 52) in [0, 1] (ARKit order); albedo (B, 8);
    rot (B, 3) axis-angle of the head rotation after the frontal one; centre (B, 2) the face
    centre's crop pixel in [-1, 1] units of the half side; log_size (B,) log of the face width's
    share of the crop over :data:`CROP_FACE_SHARE`; sh (B, 9, 3) lighting, camera frame.
    """

    identity: Tensor
    expression: Tensor
    albedo: Tensor
    rot: Tensor
    centre: Tensor
    log_size: Tensor
    sh: Tensor

    def rotation(self) -> Tensor:
        """(B, 3, 3) head-to-camera rotation."""
        return axis_angle_to_matrix(self.rot) @ FRONTAL.to(self.rot)

    def pose(self, K: Tensor, size: int) -> tuple[Tensor, Tensor]:
        """Head-to-camera rotation (B, 3, 3) and translation (B, 3) for crops of ``size`` pixels
        with intrinsics K (B, 3, 3): the face centre lands at its predicted pixel, at the depth
        where the mean face width spans its predicted share of the crop."""
        R = self.rotation()
        f = K[:, 0, 0]
        z = f * FACE_WIDTH / (size * CROP_FACE_SHARE * torch.exp(self.log_size))
        px = (self.centre + 1) * (size / 2) - 0.5
        ray = torch.stack([(px[:, 0] - K[:, 0, 2]) / f, (px[:, 1] - K[:, 1, 2]) / K[:, 1, 1], torch.ones_like(f)], -1)
        centre = torch.tensor(FACE_CENTRE, dtype=R.dtype, device=R.device)
        t = ray * z[:, None] - R @ centre
        return R, t


class ReconNet(nn.Module):
    """Face crop (B, 3, S, S) in [0, 1] -> :class:`FaceParams`.

    Args:
        input_size: S. width: channels of the stem. depth: encoder stages. n_identity: K, the
            face model's identity components. hidden: width of the fully connected layer.
    """

    def __init__(self, *, input_size: int = 96, width: int = 16, depth: int = 4, n_identity: int = 9,
                 hidden: int = 256) -> None:
        super().__init__()
        self.input_size, self.n_identity = input_size, n_identity
        self.encoder, c = _encoder(width, depth)
        self.sizes = [n_identity, N_EXPRESSION, N_ALBEDO, 3, 2, 1, SH_COEFFS * 3]
        self.fc = nn.Sequential(nn.Linear(c, hidden), nn.ReLU(inplace=True))
        self.out = nn.Linear(hidden, sum(self.sizes))
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, image: Tensor) -> FaceParams:
        x = self.encoder(_normalise(image, self.input_size)).mean(dim=(2, 3))
        ident, expr, alb, rot, centre, size, sh = self.out(self.fc(x)).split(self.sizes, dim=1)
        B = image.shape[0]
        sh = default_sh(B, dtype=image.dtype, device=image.device) + sh.reshape(B, SH_COEFFS, 3)
        return FaceParams(identity=ident, expression=torch.sigmoid(expr + _EXPRESSION_BIAS), albedo=alb, rot=rot,
                          centre=centre, log_size=size[:, 0], sh=sh)


@dataclass
class LandmarkOutput:
    """heatmaps (B, 68, h, w) logits; landmarks (B, 68, 2) crop pixels (x, y) by soft-argmax;
    score (B,) face/no-face logit."""

    heatmaps: Tensor
    landmarks: Tensor
    score: Tensor

    @property
    def confidence(self) -> Tensor:
        """(B,) mean over the landmarks of their heatmap's peak probability (about 0.1 on faces,
        under 0.05 on plain or random crops)."""
        B, N = self.heatmaps.shape[:2]
        return torch.softmax(self.heatmaps.reshape(B, N, -1), dim=-1).max(dim=-1).values.mean(dim=-1)


def soft_argmax(heatmaps: Tensor, size: int) -> Tensor:
    """(B, N, h, w) logits -> (B, N, 2) expected pixel (x, y) in a crop of ``size`` pixels."""
    B, N, h, w = heatmaps.shape
    p = torch.softmax(heatmaps.reshape(B, N, -1), dim=-1).reshape(B, N, h, w)
    xs = (torch.arange(w, dtype=p.dtype, device=p.device) + 0.5) * (size / w) - 0.5
    ys = (torch.arange(h, dtype=p.dtype, device=p.device) + 0.5) * (size / h) - 0.5
    return torch.stack([(p.sum(2) * xs).sum(-1), (p.sum(3) * ys).sum(-1)], dim=-1)


class LandmarkNet(nn.Module):
    """Face crop (B, 3, S, S) -> :class:`LandmarkOutput` (heatmaps at S / 4).

    Args:
        input_size: S. width: channels of the stem (the bottleneck has 4x). depth: encoder stages.
    """

    def __init__(self, *, input_size: int = 96, width: int = 16, depth: int = 3) -> None:
        super().__init__()
        self.input_size = input_size
        self.encoder, c = _encoder(width, depth)
        self.score = nn.Linear(c, 1)
        ups: list[nn.Module] = []
        for _ in range(depth - 1):  # back up to S / 4
            ups += [nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), ConvNormAct(c, width * 2, norm="batch")]
            c = width * 2
        self.decoder = nn.Sequential(*ups)
        self.heatmap = nn.Conv2d(c, N_LANDMARKS, 1)

    def forward(self, image: Tensor) -> LandmarkOutput:
        feat = self.encoder(_normalise(image, self.input_size))
        heat = self.heatmap(self.decoder(feat))
        return LandmarkOutput(heatmaps=heat, landmarks=soft_argmax(heat, self.input_size),
                              score=self.score(feat.mean(dim=(2, 3)))[:, 0])


class Face3DNet(nn.Module):
    """The face3d model: ``landmarks`` (:class:`LandmarkNet`) and ``recon`` (:class:`ReconNet`),
    both on crops of ``input_size`` pixels. ``forward`` is the reconstruction."""

    def __init__(self, *, input_size: int = 96, width: int = 16, depth: int = 4, n_identity: int = 9,
                 hidden: int = 256, landmark_width: int = 16, landmark_depth: int = 3) -> None:
        super().__init__()
        self.config = {"input_size": input_size, "width": width, "depth": depth, "n_identity": n_identity,
                       "hidden": hidden, "landmark_width": landmark_width, "landmark_depth": landmark_depth}
        self.input_size = input_size
        self.landmarks = LandmarkNet(input_size=input_size, width=landmark_width, depth=landmark_depth)
        self.recon = ReconNet(input_size=input_size, width=width, depth=depth, n_identity=n_identity, hidden=hidden)

    def forward(self, image: Tensor) -> FaceParams:
        """image: (B, 3, S, S) float in [0, 1] -> :class:`FaceParams`."""
        return self.recon(image)


@register_model("face3d")
def face3d_tiny(**overrides) -> Face3DNet:
    return Face3DNet(**{"input_size": 64, "width": 8, "depth": 3, "hidden": 64, "landmark_width": 8,
                        "landmark_depth": 2, **overrides})


@register_model("face3d")
def face3d_default(**overrides) -> Face3DNet:
    return Face3DNet(**{"input_size": 96, "width": 16, "depth": 4, "hidden": 256, "landmark_width": 16,
                        "landmark_depth": 3, **overrides})


@register_model("face3d")
def face3d_large(**overrides) -> Face3DNet:
    return Face3DNet(**{"input_size": 128, "width": 32, "depth": 4, "hidden": 512, "landmark_width": 32,
                        "landmark_depth": 3, **overrides})
