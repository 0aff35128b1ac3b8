"""The try-on networks: warping, parsing, the garment-photo mask and the MPDT video generator.

:class:`TryonNet` holds them all (one checkpoint):

- ``warper`` (:class:`AppearanceFlowWarper`): flat garment + pose images of a frame -> an
  appearance flow that samples the flat garment into the frame (the warped garment C) and its mask;
- ``parser``: frame -> body parts and garment (16 classes), for real video;
- ``segmenter``: garment photo -> garment mask;
- the generator: three encoders (warped garment, pose, background) to 1/4 resolution, ``blocks``
  stacked :class:`MPDTBlock`, and a decoder to the initial try-on I_r and garment mask m_c, which
  :func:`compose` blends with C and the background sequence A.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vivid.core.blocks import ConvNormAct, ResidualBlock
from vivid.core.registry import register_model

from .attention import MultiScalePatchAttention, patch_sizes
from .inputs import NUM_PARSE, POSE_CHANNELS

__all__ = ["TryonOutput", "compose", "UNet", "placement_grid", "AppearanceFlowWarper", "MPDTBlock", "TryonNet"]

RGB_MASK = 4  # an image and its mask
MAX_OFFSET = 0.25  # the warper's flow refines the placement by at most an eighth of the frame (normalised units)
ACT = "leaky_relu"  # a ReLU unit that stops firing stops passing gradient: the decoder once died that way


@dataclass
class TryonOutput:
    """Generator outputs, each (B, T, C, H, W): ``initial`` I_r (3), ``garment_mask`` m_c (1),
    ``masked`` I_masked = m_c C + (1 - m_c) I_r, ``output`` I_out = (1 - m_a) I_masked + m_a A."""

    initial: Tensor
    garment_mask: Tensor
    masked: Tensor
    output: Tensor


def compose(initial: Tensor, garment_mask: Tensor, warped: Tensor, background: Tensor, background_mask: Tensor) -> tuple[Tensor, Tensor]:
    """The two compositions: I_masked = m_c * C + (1 - m_c) * I_r, then
    I_out = (1 - m_a) * I_masked + m_a * A. Images (..., 3, H, W), masks (..., 1, H, W)."""
    masked = garment_mask * warped + (1 - garment_mask) * initial
    return masked, (1 - background_mask) * masked + background_mask * background


class UNet(nn.Module):
    """A small U-Net (two downsamplings) for the preprocessing networks: (N, cin, H, W) -> (N, cout, H, W)."""

    def __init__(self, cin: int, cout: int, width: int) -> None:
        super().__init__()
        self.e1 = ConvNormAct(cin, width, 3, act=ACT)
        self.e2 = nn.Sequential(ConvNormAct(width, 2 * width, 3, stride=2, act=ACT), ResidualBlock(2 * width))
        self.e3 = nn.Sequential(ConvNormAct(2 * width, 4 * width, 3, stride=2, act=ACT), ResidualBlock(4 * width))
        self.d2 = ConvNormAct(6 * width, 2 * width, 3, act=ACT)
        self.d1 = ConvNormAct(3 * width, width, 3, act=ACT)
        self.out = nn.Conv2d(width, cout, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        H, W = x.shape[-2:]
        if H % 4 or W % 4:
            raise ValueError(f"UNet input size {H}x{W} must be divisible by 4")
        a = self.e1(x)
        b = self.e2(a)
        c = self.e3(b)
        up = lambda t, ref: F.interpolate(t, size=ref.shape[-2:], mode="bilinear", align_corners=False)  # noqa: E731
        d = self.d2(torch.cat([up(c, b), b], 1))
        return self.out(self.d1(torch.cat([up(d, a), a], 1)))


def _bbox(mask: Tensor) -> Tensor:
    """(N, 1, H, W) masks -> (N, 4) boxes (x0, y0, x1, y1) in the normalised coordinates of
    ``grid_sample`` (align_corners=True) of the pixels above 0.5; an empty mask gives the whole frame."""
    H, W = mask.shape[-2:]
    on = mask[:, 0] > 0.5
    cols, rows = on.any(1), on.any(2)  # (N, W), (N, H)

    def ends(hit: Tensor, n: int) -> tuple[Tensor, Tensor]:
        idx = torch.arange(n, device=hit.device, dtype=torch.float32)
        lo = torch.where(hit, idx, torch.full_like(idx, float(n))).amin(1)
        hi = torch.where(hit, idx, torch.full_like(idx, -1.0)).amax(1)
        empty = ~hit.any(1)
        lo, hi = torch.where(empty, torch.zeros_like(lo), lo), torch.where(empty, torch.full_like(hi, n - 1.0), hi)
        return lo / max(n - 1, 1) * 2 - 1, hi / max(n - 1, 1) * 2 - 1

    x0, x1 = ends(cols, W)
    y0, y1 = ends(rows, H)
    return torch.stack([x0, y0, x1, y1], 1)


def placement_grid(flat_mask: Tensor, region: Tensor) -> Tensor:
    """The coarse placement of the warper: a sampling grid (N, H, W, 2) that maps the box of the
    try-on region of each frame (``region`` (N, 1, H, W)) onto the box of the flat garment
    (``flat_mask`` (N, 1, H, W), on the frame's grid), so that the garment starts where it belongs
    and the learned flow only has to refine it."""
    H, W = region.shape[-2:]
    f, r = _bbox(flat_mask), _bbox(region)
    sx = (f[:, 2] - f[:, 0]) / (r[:, 2] - r[:, 0]).clamp(min=2.0 / max(W - 1, 1))
    sy = (f[:, 3] - f[:, 1]) / (r[:, 3] - r[:, 1]).clamp(min=2.0 / max(H - 1, 1))
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, H, device=region.device), torch.linspace(-1, 1, W, device=region.device), indexing="ij")
    gx = f[:, 0, None, None] + (xs[None] - r[:, 0, None, None]) * sx[:, None, None]
    gy = f[:, 1, None, None] + (ys[None] - r[:, 1, None, None]) * sy[:, None, None]
    return torch.stack([gx, gy], -1)


class AppearanceFlowWarper(nn.Module):
    """Garment warping by pose with an appearance flow.

    For each frame the flat garment is first placed by :func:`placement_grid` (its box onto the
    box of the frame's try-on region, when the region is given; else left where it is); a U-Net
    sees the placed garment (with its mask) and the frame's pose images and predicts offsets (in
    normalised coordinates, added to the placement grid) at which to sample the flat garment, and
    a visibility logit; the offsets are bounded by :data:`MAX_OFFSET`. The warped mask is the sampled garment mask times the visibility (times
    the try-on region, which holds the garment by construction)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.net = UNet(RGB_MASK + POSE_CHANNELS, 3, width)
        nn.init.zeros_(self.net.out.weight)
        nn.init.zeros_(self.net.out.bias)

    def forward(self, flat: Tensor, flat_mask: Tensor, pose: Tensor, region: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """flat: (B, 3, Hf, Wf), flat_mask: (B, 1, Hf, Wf), pose: (B, T, 31, H, W), region: None or
        (B, T, 1, H, W) the try-on region (1 - m_a) -> warped garment C (B, T, 3, H, W) and its mask
        (B, T, 1, H, W)."""
        B, T, _, H, W = pose.shape
        g = F.interpolate(torch.cat([flat, flat_mask], 1), size=(H, W), mode="bilinear", align_corners=False)
        g = g[:, None].expand(B, T, -1, -1, -1).reshape(B * T, RGB_MASK, H, W)
        if region is not None:
            region = region.reshape(B * T, 1, H, W).to(g.dtype)
            base = placement_grid(g[:, 3:], region)
        else:
            ys, xs = torch.meshgrid(torch.linspace(-1, 1, H, device=pose.device), torch.linspace(-1, 1, W, device=pose.device), indexing="ij")
            base = torch.stack([xs, ys], -1)[None].expand(B * T, -1, -1, -1)
        placed = F.grid_sample(g, base, mode="bilinear", padding_mode="zeros", align_corners=True)
        out = self.net(torch.cat([placed, pose.reshape(B * T, -1, H, W)], 1))
        # bounded: an unbounded flow once left the frame in a few dozen steps, where the sampled
        # garment is zero and no gradient brings it back
        grid = base + MAX_OFFSET * torch.tanh(out[:, :2]).permute(0, 2, 3, 1)
        sampled = F.grid_sample(g, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
        mask = sampled[:, 3:] * torch.sigmoid(out[:, 2:3] + 4.0)  # starts visible everywhere the garment lands
        if region is not None:
            mask = mask * region
        warped = sampled[:, :3] * mask
        return warped.view(B, T, 3, H, W), mask.view(B, T, 1, H, W)


def _encoder(cin: int, channels: int) -> nn.Sequential:
    """(N, cin, H, W) -> (N, channels, H/4, W/4)."""
    return nn.Sequential(
        ConvNormAct(cin, channels // 2, 3, stride=2, act=ACT),
        ConvNormAct(channels // 2, channels, 3, stride=2, act=ACT),
        ResidualBlock(channels),
    )


class MPDTBlock(nn.Module):
    """A multi-scale patch dual-stream transformer block.

    q = conv1x1(p) cut into each head's patches; the garment module attends with (k_c, v_c) from c
    over the warped-garment region, the background module with (k_a, v_a) from a over the
    background region (``region_attention=False``: over all patches); a 3x3 conv fuses each
    module's heads (att_c, att_a); o = conv1x1(concat(att_c, att_a)). Returns
    (c + att_c, p + o, a + att_a, o).
    """

    def __init__(self, channels: int, divisors: tuple[int, ...], *, temporal: bool = True, background_stream: bool = True,
                 region_attention: bool = True) -> None:
        super().__init__()
        self.q = nn.Conv2d(channels, channels, 1)
        self.garment = MultiScalePatchAttention(channels, divisors, temporal=temporal)
        self.background = MultiScalePatchAttention(channels, divisors, temporal=temporal) if background_stream else None
        self.out = nn.Conv2d(2 * channels, channels, 1)
        self.region_attention = region_attention

    def forward(self, c: Tensor, p: Tensor, a: Tensor, garment_region: Tensor, background_region: Tensor):
        """c, p, a: (B, T, C, h, w); regions (B, T, h, w) in [0, 1]."""
        B, T, C, h, w = p.shape
        q = self.q(p.reshape(B * T, C, h, w)).view(B, T, C, h, w)
        att_c = self.garment(q, c, garment_region if self.region_attention else None)
        att_a = self.background(q, a, background_region if self.region_attention else None) if self.background is not None else torch.zeros_like(att_c)
        o = self.out(torch.cat([att_c, att_a], 2).reshape(B * T, 2 * C, h, w)).view(B, T, C, h, w)
        return c + att_c, p + o, a + att_a, o


class TryonNet(nn.Module):
    """The try-on model (see the module docstring).

    Args:
        channels: feature channels of the generator (divisible by the number of heads).
        blocks: stacked MPDT blocks (N).
        divisors: patch divisor of each head (patch = feature map / divisor).
        temporal: attention over the patches of all frames (False: the per-frame baseline).
        background_stream: the background attention module (False: ablation).
        region_attention: attention restricted to the garment / background regions (False: all patches).
        prep_width: width of the warping, parsing and garment-photo networks.
    """

    def __init__(self, *, channels: int = 32, blocks: int = 4, divisors: tuple[int, ...] = (1, 2, 4, 8), temporal: bool = True,
                 background_stream: bool = True, region_attention: bool = True, prep_width: int = 16) -> None:
        super().__init__()
        divisors = tuple(int(d) for d in divisors)
        self.config = {"channels": channels, "blocks": blocks, "divisors": list(divisors), "temporal": temporal,
                       "background_stream": background_stream, "region_attention": region_attention, "prep_width": prep_width}
        self.divisors = divisors
        self.warper = AppearanceFlowWarper(prep_width)
        self.parser = UNet(3, NUM_PARSE, prep_width)
        self.segmenter = UNet(3, 1, max(8, prep_width // 2))
        self.enc_c = _encoder(RGB_MASK, channels)
        self.enc_p = _encoder(POSE_CHANNELS, channels)
        self.enc_a = _encoder(RGB_MASK, channels)
        self.blocks = nn.ModuleList(
            MPDTBlock(channels, divisors, temporal=temporal, background_stream=background_stream, region_attention=region_attention)
            for _ in range(blocks)
        )
        self.up = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), ConvNormAct(channels, channels // 2, 3, act=ACT),
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), ConvNormAct(channels // 2, channels // 4, 3, act=ACT),
        )
        self.head = nn.Sequential(ConvNormAct(channels // 4 + 2 * RGB_MASK, channels // 4, 3, act=ACT), nn.Conv2d(channels // 4, 4, 3, padding=1))

    def check_size(self, height: int, width: int) -> None:
        """Raise ValueError unless (height, width) frames give 1/4 feature maps divisible by every patch divisor."""
        if height % 4 or width % 4:
            raise ValueError(f"frame size {height}x{width} must be divisible by 4")
        patch_sizes(height // 4, width // 4, self.divisors)

    def forward(self, pose: Tensor, background: Tensor, background_mask: Tensor, warped: Tensor, warped_mask: Tensor) -> TryonOutput:
        """pose: (B, T, 31, H, W); background A: (B, T, 3, H, W) with mask m_a (B, T, 1, H, W);
        warped garment C: (B, T, 3, H, W) with mask (B, T, 1, H, W) -> :class:`TryonOutput`."""
        if pose.ndim != 5 or pose.shape[2] != POSE_CHANNELS:
            raise ValueError(f"expected pose images (B, T, {POSE_CHANNELS}, H, W), got {tuple(pose.shape)}")
        B, T, _, H, W = pose.shape
        self.check_size(H, W)
        flat = lambda x: x.reshape(B * T, *x.shape[2:])  # noqa: E731
        h, w = H // 4, W // 4
        c = self.enc_c(flat(torch.cat([warped, warped_mask], 2))).view(B, T, -1, h, w)
        p = self.enc_p(flat(pose)).view(B, T, -1, h, w)
        a = self.enc_a(flat(torch.cat([background, background_mask], 2))).view(B, T, -1, h, w)
        g_region = F.adaptive_max_pool2d(flat(warped_mask), (h, w)).view(B, T, h, w)
        a_region = F.adaptive_max_pool2d(flat(background_mask), (h, w)).view(B, T, h, w)
        o = p
        for block in self.blocks:
            c, p, a, o = block(c, p, a, g_region, a_region)
        x = self.up(flat(o))
        x = self.head(torch.cat([x, flat(warped), flat(warped_mask), flat(background), flat(background_mask)], 1))
        x = torch.sigmoid(x).view(B, T, 4, H, W)
        initial, m_c = x[:, :, :3], x[:, :, 3:]
        masked, output = compose(initial, m_c, warped, background, background_mask)
        return TryonOutput(initial, m_c, masked, output)


@register_model("tryon")
def tryon_tiny(**overrides) -> TryonNet:
    return TryonNet(**{"channels": 16, "blocks": 1, "prep_width": 8, **overrides})


@register_model("tryon")
def tryon_default(**overrides) -> TryonNet:
    return TryonNet(**{"channels": 32, "blocks": 4, "prep_width": 16, **overrides})


@register_model("tryon")
def tryon_large(**overrides) -> TryonNet:
    return TryonNet(**{"channels": 64, "blocks": 6, "prep_width": 32, **overrides})
