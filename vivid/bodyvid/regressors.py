"""Step 6 of the method: the regression layer, per frame, from a frame's enhanced feature map to
Anny body parameters (:data:`vivid.bodyvid.skeleton.BONES` rotations as 6D, the 6 phenotype
values, the camera ``(s, tx, ty)``).

Every regressor sees one frame at a time, so that every gain in smoothness comes from the
enhancement layers and the velocity loss. A frame encoder (a stride-2 conv and a linear layer)
turns the [C, H, W] map into a feature vector; then:

- :class:`IterativeRegressor` (the default, as HMR): starting from the mean parameters, an MLP
  that sees the feature and the current estimate adds a correction, ``iterations`` times;
- :class:`GraphRegressor`: one node per bone, graph convolutions over the bone tree (with
  self-loops, symmetric normalisation), each node's rotation read from its own features;
- :class:`EncoderDecoderRegressor`: an MLP through a narrow bottleneck and back.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vivid.core.geometry import matrix_to_rotation_6d
from vivid.bodyvid.skeleton import BONE_PARENTS, NUM_BONES

REGRESSORS = ("iterative", "graph", "encoder_decoder")
NUM_PHENOTYPE = 6
NUM_CAMERA = 3
NUM_PARAMS = NUM_BONES * 6 + NUM_PHENOTYPE + NUM_CAMERA
# An upright person facing the camera: body x (the subject's left) -> camera x, body y (back) ->
# camera z (away), body z (up) -> camera -y.
FACING_CAMERA = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
INITIAL_SCALE = 0.9  # the person fills most of a crop made around it


def mean_parameters() -> Tensor:
    """(NUM_PARAMS,) starting estimate: rest pose facing the camera, mean phenotype, centred."""
    rot = torch.eye(3).repeat(NUM_BONES, 1, 1)
    rot[0] = FACING_CAMERA
    return torch.cat([matrix_to_rotation_6d(rot).flatten(), torch.zeros(NUM_PHENOTYPE), torch.zeros(NUM_CAMERA)])


class FrameEncoder(nn.Module):
    """[N, C, H, W] -> [N, features]: a 3x3 stride-2 conv and a linear layer over the flattened map."""

    def __init__(self, channels: int, height: int, width: int, features: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(channels, channels, 3, 2, 1), nn.ReLU(inplace=True))
        h, w = (height + 1) // 2, (width + 1) // 2
        self.fc = nn.Sequential(nn.Linear(channels * h * w, features), nn.ReLU(inplace=True))

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.conv(x).flatten(1))


def _small_last(layer: nn.Linear, gain: float = 0.01) -> nn.Linear:
    nn.init.xavier_uniform_(layer.weight, gain=gain)
    nn.init.zeros_(layer.bias)
    return layer


class IterativeRegressor(nn.Module):
    """[N, F] -> [N, NUM_PARAMS] by iterative error feedback from the mean parameters."""

    def __init__(self, features: int, hidden: int = 256, iterations: int = 3) -> None:
        super().__init__()
        self.iterations = iterations
        self.mlp = nn.Sequential(nn.Linear(features + NUM_PARAMS, hidden), nn.ReLU(inplace=True),
                                 nn.Linear(hidden, hidden), nn.ReLU(inplace=True), _small_last(nn.Linear(hidden, NUM_PARAMS)))
        self.register_buffer("mean", mean_parameters(), persistent=False)

    def forward(self, f: Tensor) -> Tensor:
        theta = self.mean.expand(f.shape[0], -1)
        for _ in range(self.iterations):
            theta = theta + self.mlp(torch.cat([f, theta], -1))
        return theta


def bone_adjacency() -> Tensor:
    """(NUM_BONES, NUM_BONES) symmetric-normalised adjacency of the bone tree with self-loops."""
    A = torch.eye(NUM_BONES)
    for c, p in enumerate(BONE_PARENTS):
        if p >= 0:
            A[c, p] = A[p, c] = 1.0
    d = A.sum(1).rsqrt()
    return d[:, None] * A * d[None]


class GraphRegressor(nn.Module):
    """[N, F] -> [N, NUM_PARAMS]: node features per bone, graph convolutions over the bone tree."""

    def __init__(self, features: int, hidden: int = 64, layers: int = 2) -> None:
        super().__init__()
        self.hidden = hidden
        self.nodes = nn.Linear(features, NUM_BONES * hidden)
        self.convs = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(layers))
        self.rotation = _small_last(nn.Linear(hidden, 6))
        self.rest = _small_last(nn.Linear(hidden, NUM_PHENOTYPE + NUM_CAMERA))
        self.register_buffer("adjacency", bone_adjacency(), persistent=False)
        self.register_buffer("mean", mean_parameters(), persistent=False)

    def forward(self, f: Tensor) -> Tensor:
        x = self.nodes(f).view(f.shape[0], NUM_BONES, self.hidden).relu()
        for conv in self.convs:
            x = x + (self.adjacency @ conv(x)).relu()
        out = torch.cat([self.rotation(x).flatten(1), self.rest(x.mean(1))], -1)
        return self.mean + out


class EncoderDecoderRegressor(nn.Module):
    """[N, F] -> [N, NUM_PARAMS] through a ``bottleneck``-wide code."""

    def __init__(self, features: int, hidden: int = 256, bottleneck: int = 32) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, bottleneck))
        self.decoder = nn.Sequential(nn.ReLU(inplace=True), nn.Linear(bottleneck, hidden), nn.ReLU(inplace=True),
                                     _small_last(nn.Linear(hidden, NUM_PARAMS)))
        self.register_buffer("mean", mean_parameters(), persistent=False)

    def forward(self, f: Tensor) -> Tensor:
        return self.mean + self.decoder(self.encoder(f))


def make_regressor(kind: str, features: int, hidden: int, iterations: int) -> nn.Module:
    if kind == "iterative":
        return IterativeRegressor(features, hidden, iterations)
    if kind == "graph":
        return GraphRegressor(features, max(16, hidden // 4))
    if kind == "encoder_decoder":
        return EncoderDecoderRegressor(features, hidden)
    raise ValueError(f"regressor must be one of {REGRESSORS}, got {kind!r}")
