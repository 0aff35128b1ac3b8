"""Flying layers: textured sprites moving over a moving background, with exact labels.

Each layer (the background plus 2-6 sprites) maps canonical coordinates ``u`` (pixels,
relative to the layer centre) to the screen at time ``t`` by

    x(u, t) = c + t v + A(t) (u + t d(u)),   A(t) = rotation(a0 + t w) * scale(s0 * exp(t g)),

an affine motion (translation, rotation, scale that change linearly with t) plus a mild
non-rigid warp ``d(u)`` (a smooth sinusoidal displacement field). Rendering at time ``t``
inverts the map per pixel (the affine part exactly, the non-rigid part by fixed-point
iteration, which converges because ``t |grad d| < 1``), samples the layer's texture and
alpha, and composites back to front in depth order. The flow from time ``ta`` to ``tb`` at a
pixel is ``x(u, tb) - x`` for the ``u`` of the front-most layer there, so flows, depth,
layer ids and occlusion masks are exact, and a frame exists at any ``t`` in [0, 1].

Textures are procedural (smooth noise, stripes, checks, blobs of colour), nearly flat colours
(``flat_prob``), or crops of user images given as (3, H, W) float tensors in [0, 1]. With
``static_prob`` some scenes keep the background still, as under a fixed camera. With
``band_prob`` some sprites are long flat bands (the side or roof of a vehicle, a wall seen up
close): longer than the frame, nearly untextured but for a few small details, and moving along
their own length, so that their edges say nothing about the motion and it has to be carried in
from the details.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor

FIXED_POINT_STEPS = 6
BACKGROUND_DEPTH = 50.0
# A pixel counts as covered by a layer when the layer's alpha there is above this.
COVER = 0.5


def _uniform(g: torch.Generator, lo: float, hi: float, *shape: int) -> Tensor:
    return lo + (hi - lo) * torch.rand(shape or (1,), generator=g)


def procedural_texture(h: int, w: int, g: torch.Generator) -> Tensor:
    """A random colour texture (3, h, w) in [0, 1]: smooth noise at two scales mixed with
    stripes or checks, so that it has structure at every scale a matcher needs."""
    def noise(cells: int) -> Tensor:
        ch, cw = max(2, h // cells), max(2, w // cells)
        n = torch.rand(1, 3, ch, cw, generator=g)
        return F.interpolate(n, size=(h, w), mode="bicubic", align_corners=False)[0]

    coarse = noise(int(_uniform(g, 12, 40)))
    fine = noise(int(_uniform(g, 2, 6)))
    ys = torch.arange(h, dtype=torch.float32).view(h, 1)
    xs = torch.arange(w, dtype=torch.float32).view(1, w)
    angle = float(_uniform(g, 0, math.pi))
    period = float(_uniform(g, 4, 24))
    proj = (xs * math.cos(angle) + ys * math.sin(angle)) * (2 * math.pi / period)
    kind = int(torch.randint(0, 3, (1,), generator=g))
    if kind == 0:
        pattern = 0.5 + 0.5 * torch.sin(proj)
    elif kind == 1:
        proj2 = (-xs * math.sin(angle) + ys * math.cos(angle)) * (2 * math.pi / period)
        pattern = ((torch.sin(proj) > 0) ^ (torch.sin(proj2) > 0)).float()
    else:
        pattern = noise(int(_uniform(g, 3, 10)))[0]
    c0 = torch.rand(3, 1, 1, generator=g)
    c1 = torch.rand(3, 1, 1, generator=g)
    mix = float(_uniform(g, 0.2, 0.6))
    tex = (1 - mix) * (c0 * (1 - pattern) + c1 * pattern) + mix * coarse
    tex = 0.75 * tex + 0.25 * fine
    return tex.clamp(0, 1)


def flat_texture(h: int, w: int, g: torch.Generator) -> Tensor:
    """A nearly untextured colour (3, h, w) in [0, 1]: one colour with a faint smooth shading,
    like a painted wall or a vehicle roof. Inside it the matching cost is flat, so its motion
    has to come from its outline."""
    colour = torch.rand(3, 1, 1, generator=g)
    cells = int(_uniform(g, 2, 5))
    shade = torch.rand(1, 1, cells, cells, generator=g)
    shade = F.interpolate(shade, size=(h, w), mode="bicubic", align_corners=False)[0]
    return (colour + float(_uniform(g, 0.02, 0.08)) * (shade - 0.5)).clamp(0, 1)


def _image_crop(image: Tensor, h: int, w: int, g: torch.Generator) -> Tensor:
    _, ih, iw = image.shape
    if ih < h or iw < w:
        scale = max(h / ih, w / iw) * 1.01
        image = F.interpolate(image[None], scale_factor=scale, mode="bilinear", align_corners=False)[0]
        _, ih, iw = image.shape
    y = int(torch.randint(0, ih - h + 1, (1,), generator=g))
    x = int(torch.randint(0, iw - w + 1, (1,), generator=g))
    return image[:, y : y + h, x : x + w]


@dataclass
class Layer:
    """One moving layer. ``texture`` (3, th, tw) is centred on ``u = 0``; ``shape`` holds the
    sprite outline (None for the background, which covers everything)."""

    texture: Tensor
    depth: float
    centre: Tensor  # (2,) screen position at t = 0
    velocity: Tensor  # (2,) pixels per unit t
    angle0: float
    spin: float
    scale0: float
    growth: float
    warp_amp: Tensor  # (2, K) non-rigid amplitudes (pixels)
    warp_freq: Tensor  # (2, K, 2) spatial frequencies (radians per pixel)
    warp_phase: Tensor  # (2, K)
    shape: dict | None = None

    def affine(self, t: float) -> Tensor:
        a = self.angle0 + t * self.spin
        s = self.scale0 * math.exp(t * self.growth)
        return torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]]) * s

    def warp(self, u: Tensor) -> Tensor:
        """Non-rigid displacement d(u); u: (..., 2) -> (..., 2)."""
        arg = torch.einsum("...j,ckj->...ck", u, self.warp_freq) + self.warp_phase
        return (self.warp_amp * torch.sin(arg)).sum(-1)

    def forward_map(self, u: Tensor, t: float) -> Tensor:
        """Screen position x(u, t); u: (..., 2) -> (..., 2)."""
        a = self.affine(t)
        return self.centre + t * self.velocity + (u + t * self.warp(u)) @ a.T

    def inverse_map(self, x: Tensor, t: float) -> Tensor:
        """Canonical u with x(u, t) = x; x: (..., 2) -> (..., 2)."""
        a_inv = torch.linalg.inv(self.affine(t))
        y = (x - self.centre - t * self.velocity) @ a_inv.T
        u = y
        for _ in range(FIXED_POINT_STEPS):
            u = y - t * self.warp(u)
        return u

    def alpha(self, u: Tensor) -> Tensor:
        """Coverage in [0, 1] at canonical u (..., 2), anti-aliased over about one pixel."""
        if self.shape is None:
            return torch.ones(u.shape[:-1])
        s = self.shape
        rx, ry, p = s["rx"], s["ry"], s["power"]
        dist = ((u[..., 0].abs() / rx) ** p + (u[..., 1].abs() / ry) ** p) ** (1.0 / p)
        theta = torch.atan2(u[..., 1], u[..., 0])
        wobble = 1.0 + sum(a * torch.cos(k * theta + ph) for k, a, ph in s["wobble"])
        return ((wobble - dist) * min(rx, ry) + 0.5).clamp(0, 1)

    def colour(self, u: Tensor) -> Tensor:
        """Texture at canonical u (H, W, 2) -> (3, H, W) (mirrored beyond the texture)."""
        _, th, tw = self.texture.shape
        gx = u[..., 0] / (tw / 2)
        gy = u[..., 1] / (th / 2)
        grid = torch.stack((gx, gy), -1)[None]
        return F.grid_sample(self.texture[None], grid, mode="bilinear", padding_mode="reflection", align_corners=False)[0]


@dataclass
class FlyingScene:
    """A sampled scene: layers back to front (index 0 = background)."""

    layers: list[Layer]
    height: int
    width: int

    def _grid(self) -> Tensor:
        ys, xs = torch.meshgrid(
            torch.arange(self.height, dtype=torch.float32), torch.arange(self.width, dtype=torch.float32), indexing="ij"
        )
        return torch.stack((xs, ys), -1)  # (H, W, 2)

    def render(self, t: float) -> dict[str, Tensor]:
        """Frame at time t and its per-pixel labels.

        Returns image (3, H, W) in [0, 1]; layer (H, W) long, index of the front-most layer;
        depth (H, W) of that layer; edge (H, W) bool, pixels where the front layer is only
        partly opaque (anti-aliased outlines); canon (H, W, 2) its canonical coordinates.
        """
        x = self._grid()
        image = torch.zeros(3, self.height, self.width)
        layer_id = torch.zeros(self.height, self.width, dtype=torch.long)
        depth = torch.full((self.height, self.width), BACKGROUND_DEPTH)
        canon = torch.zeros(self.height, self.width, 2)
        front_alpha = torch.ones(self.height, self.width)
        for i, layer in enumerate(self.layers):
            u = layer.inverse_map(x, t)
            a = layer.alpha(u)
            image = image * (1 - a) + layer.colour(u) * a
            cover = a > COVER
            layer_id = torch.where(cover, torch.full_like(layer_id, i), layer_id)
            depth = torch.where(cover, torch.full_like(depth, layer.depth), depth)
            canon = torch.where(cover[..., None], u, canon)
            front_alpha = torch.where(cover, a, front_alpha)
            # A layer that is partly transparent here but does not win still blends colour.
            front_alpha = torch.where(~cover & (a > 0.01), torch.minimum(front_alpha, 1 - a), front_alpha)
        return dict(image=image, layer=layer_id, depth=depth, edge=front_alpha < 0.99, canon=canon)

    def flow(self, rendered: dict[str, Tensor], t_to: float) -> Tensor:
        """Exact flow (2, H, W) from the frame ``rendered`` to time ``t_to`` (pixels)."""
        x = self._grid()
        target = torch.zeros_like(x)
        for i, layer in enumerate(self.layers):
            m = rendered["layer"] == i
            if m.any():
                target[m] = layer.forward_map(rendered["canon"][m], t_to)
        return (target - x).permute(2, 0, 1)

    def occlusion(self, rendered: dict[str, Tensor], flow: Tensor, other: dict[str, Tensor]) -> Tensor:
        """(H, W) bool: pixels of ``rendered`` not visible in ``other`` (the frame ``flow``
        points to): they leave the image or another layer covers them there."""
        x = self._grid() + flow.permute(1, 2, 0)
        xi = x[..., 0].round().long()
        yi = x[..., 1].round().long()
        inside = (xi >= 0) & (xi < self.width) & (yi >= 0) & (yi < self.height)
        there = other["layer"][yi.clamp(0, self.height - 1), xi.clamp(0, self.width - 1)]
        return ~inside | (there != rendered["layer"])


class FlyingLayers:
    """Sampler of flying-layer scenes.

    size: (H, W) of the frames; sprites: (min, max) number of sprites; max_motion: largest
    sprite displacement between t = 0 and 1 as a fraction of the frame's longer side;
    images: optional (3, h, w) tensors in [0, 1] whose crops are used as textures (with
    probability ``image_prob``). sprite_size: (min, max) sprite radius as a fraction of the
    frame's shorter side; flat_prob: probability that a sprite is nearly untextured
    (:func:`flat_texture`); static_prob: probability that the background does not move at all
    (a fixed camera); band_prob: probability that a sprite is a long flat band moving along its
    length (see the module docstring; its width comes from ``sprite_size``). With their
    defaults the scenes are exactly those of earlier versions.
    """

    def __init__(
        self,
        size: tuple[int, int] = (128, 128),
        sprites: tuple[int, int] = (2, 6),
        max_motion: float = 0.15,
        background_motion: float = 0.06,
        max_rotation: float = 0.25,
        max_scale_change: float = 0.15,
        nonrigid: float = 2.0,
        images: list[Tensor] | None = None,
        image_prob: float = 0.5,
        sprite_size: tuple[float, float] = (0.08, 0.25),
        flat_prob: float = 0.0,
        static_prob: float = 0.0,
        band_prob: float = 0.0,
    ) -> None:
        if sprites[0] < 0 or sprites[1] < sprites[0]:
            raise ValueError(f"sprites must be (min, max) with 0 <= min <= max, got {sprites}")
        if not 0 < sprite_size[0] <= sprite_size[1]:
            raise ValueError(f"sprite_size must be (min, max) with 0 < min <= max, got {sprite_size}")
        if not all(0 <= p <= 1 for p in (flat_prob, static_prob, band_prob)):
            raise ValueError(
                f"flat_prob, static_prob and band_prob must lie in [0, 1], got {flat_prob}, {static_prob}, {band_prob}"
            )
        self.sprite_size = (float(sprite_size[0]), float(sprite_size[1]))
        self.flat_prob = flat_prob
        self.static_prob = static_prob
        self.band_prob = band_prob
        self.size = size
        self.sprites = sprites
        self.max_motion = max_motion
        self.background_motion = background_motion
        self.max_rotation = max_rotation
        self.max_scale_change = max_scale_change
        self.nonrigid = nonrigid
        self.images = list(images or [])
        self.image_prob = image_prob

    def _texture(self, h: int, w: int, g: torch.Generator, flat: bool = False) -> Tensor:
        if flat:
            return flat_texture(h, w, g)
        if self.images and float(torch.rand(1, generator=g)) < self.image_prob:
            idx = int(torch.randint(0, len(self.images), (1,), generator=g))
            return _image_crop(self.images[idx], h, w, g)
        return procedural_texture(h, w, g)

    def _band_texture(self, h: int, w: int, g: torch.Generator) -> Tensor:
        """A flat colour (3, h, w) with 1-4 small textured details near its middle third."""
        tex = flat_texture(h, w, g)
        for _ in range(int(torch.randint(1, 5, (1,), generator=g))):
            dh = max(2, int(float(_uniform(g, 0.1, 0.35)) * h))
            dw = max(2, int(float(_uniform(g, 0.03, 0.1)) * w))
            y = int(_uniform(g, 0.2 * h, 0.8 * h - dh))
            x = int(_uniform(g, w / 3, 2 * w / 3 - dw))
            tex[:, y : y + dh, x : x + dw] = procedural_texture(dh, dw, g)
        return tex

    def _band(self, g: torch.Generator, depth: float, motion: float, radius: float) -> Layer:
        """A long flat band through the frame, moving along its length (``band_prob``)."""
        h, w = self.size
        side = max(h, w)
        half_length = float(_uniform(g, 0.8, 1.5)) * side
        half_width = radius * float(_uniform(g, 0.5, 1.0))
        tex = self._band_texture(int(2.4 * half_width) + 4, int(2.4 * half_length) + 4, g)
        angle = float(_uniform(g, -math.pi, math.pi))
        jitter = float(_uniform(g, -0.1, 0.1))
        backwards = float(torch.rand(1, generator=g)) < 0.5
        direction = angle + jitter + (math.pi if backwards else 0.0)
        speed = float(_uniform(g, 0.2 * motion, motion)) * side
        rigid = torch.zeros(2, 2)  # no non-rigid warp: zero amplitudes
        return Layer(
            texture=tex,
            depth=depth,
            centre=torch.stack((_uniform(g, 0.2 * w, 0.8 * w)[0], _uniform(g, 0.2 * h, 0.8 * h)[0])),
            velocity=torch.tensor([math.cos(direction), math.sin(direction)]) * speed,
            angle0=angle,
            spin=0.0,
            scale0=1.0,
            growth=0.0,
            warp_amp=rigid,
            warp_freq=torch.zeros(2, 2, 2),
            warp_phase=rigid,
            shape=dict(rx=half_length, ry=half_width, power=6.0, wobble=[]),
        )

    def _layer(self, g: torch.Generator, depth: float, motion: float, radius: float | None) -> Layer:
        h, w = self.size
        side = max(h, w)
        k = 2
        # |grad d| <= sum(amp * |freq|); keep it under 0.3 so the inverse map converges.
        freq_mag = _uniform(g, 0.02, 0.06, 2, k, 1)
        freq_dir = torch.nn.functional.normalize(torch.randn(2, k, 2, generator=g), dim=-1)
        freq = freq_mag * freq_dir
        amp = _uniform(g, 0.0, self.nonrigid, 2, k)
        amp = torch.minimum(amp, 0.15 / freq_mag[..., 0])
        if radius is None:  # background: a texture larger than the frame, centred on it
            tex = self._texture(int(1.6 * h) + 8, int(1.6 * w) + 8, g)
            centre = torch.tensor([(w - 1) / 2, (h - 1) / 2]) + _uniform(g, -0.05, 0.05, 2) * side
            shape = None
            rot = self.max_rotation * 0.3
        else:
            flat = self.flat_prob > 0 and float(torch.rand(1, generator=g)) < self.flat_prob
            tex = self._texture(int(2.4 * radius) + 4, int(2.4 * radius) + 4, g, flat)
            centre = torch.stack((_uniform(g, 0, w - 1)[0], _uniform(g, 0, h - 1)[0]))
            aspect = float(_uniform(g, 0.6, 1.0))
            shape = dict(
                rx=radius,
                ry=radius * aspect,
                power=float([2.0, 2.0, 1.2, 6.0][int(torch.randint(0, 4, (1,), generator=g))]),
                wobble=[(kk, float(_uniform(g, -0.12, 0.12)), float(_uniform(g, 0, 2 * math.pi))) for kk in (2, 3, 5)],
            )
            rot = self.max_rotation
        direction = float(_uniform(g, 0, 2 * math.pi))
        speed = float(_uniform(g, 0, motion)) * side
        return Layer(
            texture=tex,
            depth=depth,
            centre=centre,
            velocity=torch.tensor([math.cos(direction), math.sin(direction)]) * speed,
            angle0=float(_uniform(g, -math.pi, math.pi)) if radius is not None else 0.0,
            spin=float(_uniform(g, -rot, rot)),
            scale0=1.0,
            growth=float(_uniform(g, -self.max_scale_change, self.max_scale_change)),
            warp_amp=amp,
            warp_freq=freq,
            warp_phase=_uniform(g, 0, 2 * math.pi, 2, k),
            shape=shape,
        )

    def scene(self, g: torch.Generator) -> FlyingScene:
        """A random scene (background + sprites, back to front)."""
        h, w = self.size
        n = int(torch.randint(self.sprites[0], self.sprites[1] + 1, (1,), generator=g))
        depths = sorted((float(d) for d in _uniform(g, 1.0, 20.0, max(n, 1))[:n]), reverse=True)
        static = self.static_prob > 0 and float(torch.rand(1, generator=g)) < self.static_prob
        background = self._layer(g, BACKGROUND_DEPTH, self.background_motion, None)
        if static:
            still = torch.zeros_like(background.warp_amp)
            background = replace(background, velocity=torch.zeros(2), spin=0.0, growth=0.0, warp_amp=still)
        layers = [background]
        for d in depths:
            radius = float(_uniform(g, *self.sprite_size)) * min(h, w)
            if self.band_prob > 0 and float(torch.rand(1, generator=g)) < self.band_prob:
                layers.append(self._band(g, d, self.max_motion, radius))
            else:
                layers.append(self._layer(g, d, self.max_motion, radius))
        return FlyingScene(layers, h, w)

    def sample(self, g: torch.Generator, t: float = 0.5) -> dict[str, Tensor]:
        """One triplet with labels.

        Returns image0, image1, image_t (3, H, W) in [0, 1]; t (scalar tensor); flow01, flow10
        (2, H, W) pixels; invdepth0, invdepth1 (1, H, W) (1 / depth, larger = nearer);
        occlusion0 (1, H, W) bool: pixels of frame 0 not visible in frame 1 (occlusion1 the
        reverse); valid01 / valid10 (1, H, W) bool: visible in both and not on an outline;
        flow_t0, flow_t1 (2, H, W) exact flows from the frame at t to frames 0 and 1.
        """
        scene = self.scene(g)
        r0, r1, rt = scene.render(0.0), scene.render(1.0), scene.render(t)
        f01, f10 = scene.flow(r0, 1.0), scene.flow(r1, 0.0)
        occ0 = scene.occlusion(r0, f01, r1)
        occ1 = scene.occlusion(r1, f10, r0)
        edge0 = F.max_pool2d(r0["edge"].float()[None, None], 3, 1, 1)[0, 0] > 0
        edge1 = F.max_pool2d(r1["edge"].float()[None, None], 3, 1, 1)[0, 0] > 0
        return dict(
            image0=r0["image"],
            image1=r1["image"],
            image_t=rt["image"],
            t=torch.tensor(float(t)),
            flow01=f01,
            flow10=f10,
            flow_t0=scene.flow(rt, 0.0),
            flow_t1=scene.flow(rt, 1.0),
            invdepth0=(1.0 / r0["depth"])[None],
            invdepth1=(1.0 / r1["depth"])[None],
            occlusion0=occ0[None],
            occlusion1=occ1[None],
            valid01=(~occ0 & ~edge0)[None],
            valid10=(~occ1 & ~edge1)[None],
        )
