"""Flow estimation (method step 1a): a PWC-Net-style network.

Feature pyramid -> at each level, coarse to fine: upsample the flow of the level above, warp
the features of the second frame with it, build a cost volume (correlation over a
``(2r+1)^2`` window), and let a small decoder predict the flow update. The update is a
learned multiple of the soft-argmax of the cost volume plus a learned correction; both start
at zero, so the untrained network predicts zero flow.

Optionally (``context``), PWC-Net's context network refines the finest estimate: dilated
convolutions (dilations 1, 2, 4, 8, 16, then a plain output conv) over the finest decoder's
hidden features and flow; its wide receptive field is meant to carry motion into large
untextured regions where the cost volume is flat (off in the bundled model: trained flow-only on
this project's data it has not improved interpolation yet). Its last layer starts at zero, so
adding it leaves a trained network's output unchanged until it is trained.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vivid.core.blocks import ConvNormAct
from vivid.interp.warping import backward_warp


class _CostVolume(torch.autograd.Function):
    """Correlation with a hand-written backward: autograd through 2r+1 squared slices of a
    padded tensor would allocate and fill a full-size gradient per slice; here the gradient
    of the second input accumulates in place into one padded buffer."""

    @staticmethod
    def forward(ctx, f1: Tensor, f2: Tensor, radius: int) -> Tensor:
        b, c, h, w = f1.shape
        padded = F.pad(f2, (radius, radius, radius, radius))
        k = 2 * radius + 1
        out = f1.new_empty(b, k * k, h, w)
        for dy in range(k):
            for dx in range(k):
                out[:, dy * k + dx] = (f1 * padded[:, :, dy : dy + h, dx : dx + w]).sum(1)
        ctx.save_for_backward(f1, padded)
        ctx.radius = radius
        return out / c

    @staticmethod
    def backward(ctx, grad: Tensor):
        f1, padded = ctx.saved_tensors
        r = ctx.radius
        b, c, h, w = f1.shape
        k = 2 * r + 1
        grad = grad / c
        grad_f1 = torch.zeros_like(f1) if ctx.needs_input_grad[0] else None
        grad_pad = torch.zeros_like(padded) if ctx.needs_input_grad[1] else None
        for dy in range(k):
            for dx in range(k):
                g = grad[:, dy * k + dx : dy * k + dx + 1]
                if grad_f1 is not None:
                    grad_f1.addcmul_(g, padded[:, :, dy : dy + h, dx : dx + w])
                if grad_pad is not None:
                    grad_pad[:, :, dy : dy + h, dx : dx + w].addcmul_(g, f1)
        grad_f2 = grad_pad[:, :, r : r + h, r : r + w] if grad_pad is not None else None
        return grad_f1, grad_f2, None


def cost_volume(f1: Tensor, f2: Tensor, radius: int) -> Tensor:
    """Correlation of ``f1`` with ``f2`` shifted over a ``(2r+1)^2`` window.

    f1, f2: (B, C, H, W). Returns (B, (2r+1)^2, H, W); channel ``(dy + r) * (2r+1) + (dx + r)``
    holds ``mean_c f1(p) * f2(p + (dx, dy))`` (zero outside the image).
    """
    if f1.shape != f2.shape:
        raise ValueError(f"f1 and f2 must have one shape, got {tuple(f1.shape)} and {tuple(f2.shape)}")
    return _CostVolume.apply(f1, f2, radius)


def _conv(cin: int, cout: int, stride: int = 1) -> ConvNormAct:
    return ConvNormAct(cin, cout, stride=stride, act="leaky_relu")


class FeaturePyramid(nn.Module):
    """Image -> features at 1/2, 1/4, ... (one entry of ``channels`` per level).

    image: (B, 3, H, W). Returns a list, finest first, level ``i`` is (B, channels[i], H/2^(i+1), W/2^(i+1)).
    """

    def __init__(self, channels: tuple[int, ...]) -> None:
        super().__init__()
        layers, cin = [], 3
        for c in channels:
            layers.append(nn.Sequential(_conv(cin, c, 2), _conv(c, c)))
            cin = c
        self.levels = nn.ModuleList(layers)

    def forward(self, image: Tensor) -> list[Tensor]:
        feats, x = [], image
        for layer in self.levels:
            x = layer(x)
            feats.append(x)
        return feats


class FlowDecoder(nn.Module):
    """One pyramid level: (cost volume, features, upsampled flow) -> flow update and hidden state."""

    def __init__(self, feat_channels: int, radius: int, hidden: int) -> None:
        super().__init__()
        self.radius = radius
        taps = (2 * radius + 1) ** 2
        self.net = nn.Sequential(
            _conv(taps + feat_channels + 2, hidden),
            _conv(hidden, hidden),
            _conv(hidden, hidden // 2),
        )
        self.out = nn.Conv2d(hidden // 2, 2, 3, 1, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.log_temperature = nn.Parameter(torch.tensor(-2.0))
        # Weight of the soft-argmax term; it starts off, since matching untrained features at
        # the coarsest levels is noise, and training turns it on where it helps.
        self.soft_gain = nn.Parameter(torch.tensor(0.0))
        offs = torch.arange(-radius, radius + 1, dtype=torch.float32)
        dy, dx = torch.meshgrid(offs, offs, indexing="ij")
        self.register_buffer("offsets", torch.stack((dx.reshape(-1), dy.reshape(-1))), persistent=False)

    def forward(self, feat1: Tensor, feat2_warped: Tensor, flow: Tensor) -> tuple[Tensor, Tensor]:
        """Returns (flow update, hidden features for the context network)."""
        # Centred, normalised features make the correlation a cosine similarity in [-1, 1]
        # that discriminates even before training (raw ReLU features are all alike).
        mean = 0.5 * (feat1.mean((2, 3), keepdim=True) + feat2_warped.mean((2, 3), keepdim=True))
        cv = cost_volume(F.normalize(feat1 - mean, dim=1), F.normalize(feat2_warped - mean, dim=1), self.radius)
        cv = cv * feat1.shape[1]
        prob = torch.softmax(cv / self.log_temperature.exp(), dim=1)
        soft = torch.einsum("bkhw,ck->bchw", prob, self.offsets.to(prob.dtype))
        hidden = self.net(torch.cat((cv, feat1, flow), 1))
        return self.soft_gain * soft + self.out(hidden), hidden


class ContextNetwork(nn.Module):
    """PWC-Net's context network: (hidden features, flow) -> flow correction.

    One dilated 3x3 conv per entry of ``channels`` (dilations 1, 2, 4, ..., capped at 16),
    then a plain 3x3 conv to the 2-channel correction, initialised to zero.
    """

    def __init__(self, in_channels: int, channels: tuple[int, ...]) -> None:
        super().__init__()
        layers, cin = [], in_channels + 2
        for i, c in enumerate(channels):
            d = min(2**i, 16)
            layers += [*ConvNormAct(cin, c, dilation=d, act="leaky_relu")]
            cin = c
        self.net = nn.Sequential(*layers)
        self.out = nn.Conv2d(cin, 2, 3, 1, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, hidden: Tensor, flow: Tensor) -> Tensor:
        return self.out(self.net(torch.cat((hidden, flow), 1)))


class PWCFlow(nn.Module):
    """Bidirectional optical flow, PWC-Net style.

    forward(image0, image1): (B, 3, H, W) each in [0, 1], H and W multiples of
    ``2 ** len(channels)``. Returns ``(flow01, flow10, pyramid)`` where the flows are
    (B, 2, H, W) in pixels (``flow01``: frame 0 -> frame 1, sampled from frame 1 gives frame 0)
    and ``pyramid`` is the list of coarse-to-fine flow estimates (2B, 2, h, w) in pixels of
    their own level, for multi-scale supervision (first half of the batch: 0->1); with a
    context network its refined estimate comes last, at the finest level.
    """

    def __init__(
        self,
        channels: tuple[int, ...] = (16, 32, 48, 64, 96),
        radius: int = 3,
        hidden: int = 64,
        out_level: int = 1,
        context: tuple[int, ...] = (),
    ) -> None:
        super().__init__()
        self.channels = tuple(channels)
        self.out_level = out_level  # index into the pyramid of the finest estimate (1 = 1/4 res)
        self.pyramid = FeaturePyramid(self.channels)
        self.decoders = nn.ModuleList(
            FlowDecoder(c, radius, hidden) for i, c in enumerate(self.channels) if i >= out_level
        )
        self.context = ContextNetwork(hidden // 2, tuple(context)) if context else None

    @property
    def multiple(self) -> int:
        return 2 ** len(self.channels)

    def features(self, images: Tensor) -> list[Tensor]:
        """The feature pyramid of ``images`` (N, 3, H, W), finest first."""
        return self.pyramid(images - 0.5)

    def forward(self, image0: Tensor, image1: Tensor, feats: list[Tensor] | None = None) -> tuple[Tensor, Tensor, list[Tensor]]:
        """``feats``: ``features(cat(image0, image1))`` where the caller already has it."""
        b = image0.shape[0]
        # Both directions at once: (I0, I1) and (I1, I0) stacked on the batch.
        feats = self.features(torch.cat((image0, image1))) if feats is None else feats
        full, estimates = self._decode(feats, [torch.cat((f[b:], f[:b])) for f in feats], image0.shape[-2:])
        return full[:b], full[b:], estimates

    def one_way(self, image0: Tensor, image1: Tensor, feats0: list[Tensor] | None = None) -> Tensor:
        """Only the flow from ``image0`` to ``image1`` (B, 2, H, W), at half the decoding work;
        ``feats0``: ``features(image0)`` where the caller already has it."""
        feats0 = self.features(image0) if feats0 is None else feats0
        full, _ = self._decode(feats0, self.features(image1), image0.shape[-2:])
        return full

    def _decode(self, feats_a: list[Tensor], feats_b: list[Tensor], size) -> tuple[Tensor, list[Tensor]]:
        """Coarse to fine: the flow from each ``feats_a`` item to its ``feats_b`` item, upsampled
        to ``size`` in pixels, and the per-level estimates."""
        flow = None
        estimates = []
        levels = list(range(len(self.channels) - 1, self.out_level - 1, -1))
        for level in levels:
            fa, fb = feats_a[level], feats_b[level]
            if flow is None:
                flow = fa.new_zeros(fa.shape[0], 2, fa.shape[2], fa.shape[3])
                fb_w = fb
            else:
                flow = 2.0 * F.interpolate(flow, size=fa.shape[-2:], mode="bilinear", align_corners=False)
                fb_w = backward_warp(fb, flow)
            update, hidden = self.decoders[level - self.out_level](fa, fb_w, flow)
            flow = flow + update
            estimates.append(flow)
        if self.context is not None:
            flow = flow + self.context(hidden, flow)
            estimates.append(flow)
        scale = 2 ** (self.out_level + 1)
        return scale * F.interpolate(flow, size=tuple(size), mode="bilinear", align_corners=False), estimates
