"""The interpolation generator: local + non-local features, depth-aware flow projection,
adaptive warping and residual frame synthesis.

``InterpNet(I0, I1, t)`` with I0, I1 (B, 3, H, W) in [0, 1] and t a float or (B,) tensor in
(0, 1) returns an :class:`InterpOutput`. Any H, W is accepted: the input is padded
(replicate) to the multiple the pyramids need and every output is cropped back.

Steps (one file each):
1. local features -- :mod:`flow` (PWC-style F0->1, F1->0), :mod:`depth` (hourglass inverse
   depth), :mod:`kernels` (U-Net, 4x4 kernel per pixel per frame). With ``flow_scales`` the
   flow network also runs on downscaled copies of the frames (motion and structures shrink
   with them, into the range it was trained on) and each pixel keeps the estimate whose
   warping matches the other frame best (photometric error averaged over a ``flow_window``
   square); with ``flow_refine`` the network then runs again on each frame and the other
   frame warped onto it, and each pixel keeps the refined flow (estimate composed with the
   residual) where it matches better; ``flow_contrast`` adds the flow of contrast-normalised
   frames as a candidate, ``flow_median`` smooths the flow with a median filter, and with
   ``flow_still`` zero flow is a last candidate (see :meth:`InterpNet.estimate_flow`). These
   six *flow settings* have no weights: the model holds them as ``model.flow_settings``
   (a :class:`~vivid.interp.flow_settings.FlowSettings`, from the constructor), and a call
   may pass others (``flow_settings=``);
2. non-local features -- :mod:`nonlocal_branch`; ``nonlocal_layout="v1"`` is a named
   departure from the method, the layout of the bundled ``interp-default`` (the attention's
   value keeps all channels, the last upsampling is conv then bilinear; see that module), which
   its sidecar selects; new models train with ``"seed"``, the method's layout;
3. depth-aware flow projection to time t -- :mod:`projection`;
4. adaptive warping -- :mod:`warping`; a departure that DAIN makes too: the kernels, estimated
   on the input frames, are placed with the *projected* flows Ft->0, Ft->1 (each output pixel
   takes the kernel of the pixel it lands on, not of the source pixel the flow came from), and
   the projected flows enter the synthesis features as they are, not warped;
5. frame synthesis -- :mod:`synthesis`.
Each module can be switched off (``use_*`` flags) for ablations. ``match_brightness`` (no weights)
shows the network both frames at their common mean brightness and adds the linearly
interpolated mean back (:func:`match_brightness`), so that fades and exposure changes are
interpolated linearly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vivid.core.registry import register_model
from vivid.interp.depth import HourglassDepth
from vivid.interp.flow import PWCFlow
from vivid.interp.flow_settings import SCALES, FlowSettings, check_scale
# Also importable from here: the training recipe checks ``export.model_config`` with them.
from vivid.interp.flow_settings import FLOW_SETTINGS, check_flow_settings  # noqa: F401
from vivid.interp.kernels import KernelUNet
from vivid.interp.nonlocal_branch import DOWN_STEPS, NONLOCAL_LAYOUTS, NonLocalBranch
from vivid.interp.projection import FlowProjection
from vivid.interp.synthesis import FrameSynthesis
from vivid.interp.warping import AdaptiveWarping, backward_warp

# Flows enter the synthesis features divided by this (keeps them near unit scale).
FLOW_FEATURE_SCALE = 20.0


def box_mean(x: Tensor, k: int) -> Tensor:
    """Mean of ``x`` (B, C, H, W) over the k x k square around each pixel (k odd), over the part
    inside the image at the borders; from running sums, so the work does not grow with k."""
    r = k // 2
    h, w = x.shape[-2:]

    def along(x: Tensor, dim: int, n: int) -> Tensor:
        c = F.pad(x.double().cumsum(dim), (0, 0, 1, 0) if dim == -2 else (1, 0))
        idx = torch.arange(n, device=x.device)
        hi, lo = (idx + r + 1).clamp(max=n), (idx - r).clamp(min=0)
        total = c.index_select(dim, hi) - c.index_select(dim, lo)
        count = (hi - lo).to(total.dtype)
        return (total / (count[:, None] if dim == -2 else count)).to(x.dtype)

    return along(along(x, -1, w), -2, h)


def median_filter(x: Tensor, k: int, max_elements: int = 1 << 24) -> Tensor:
    """Median of ``x`` (B, C, H, W) over the k x k square around each pixel (k odd), edges
    replicated; in bands of rows, so that no intermediate holds more than about
    ``max_elements`` values."""
    r = k // 2
    b, c, h, w = x.shape
    padded = F.pad(x, (r, r, r, r), mode="replicate")
    rows = max(1, max_elements // (b * c * w * k * k))
    bands = []
    for top in range(0, h, rows):
        n = min(rows, h - top)
        patches = padded[:, :, top : top + n + 2 * r].unfold(2, k, 1).unfold(3, k, 1)  # (B, C, n, W, k, k)
        bands.append(patches.reshape(b, c, n, w, k * k).median(-1).values)
    return torch.cat(bands, 2)


def centred_padding(h: int, w: int, multiple: int) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) padding that brings (h, w) up to multiples of ``multiple``, split evenly."""
    ph, pw = (-h) % multiple, (-w) % multiple
    return (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)


@dataclass
class InterpOutput:
    """Everything the generator computes, at the input resolution.

    frame: (B, 3, H, W) the interpolated frame (clamped to [0, 1] in eval mode);
    flow_t0, flow_t1: (B, 2, H, W) projected flows from time t to frames 0 and 1 (pixels);
    flow01, flow10: (B, 2, H, W) flows between the inputs (pixels);
    depth0, depth1: (B, 1, H, W) inverse depth of each input (None when depth is off);
    warped0, warped1: (B, 3, H, W) the sampling results (inputs warped to time t);
    blend_weight: (B, 1, H, W) weight of ``warped1`` in the blend;
    flow_pyramid: coarse-to-fine flow estimates (2B, 2, h, w) on the padded input, for
    multi-scale supervision (first half 0->1, second half 1->0), with ``pad`` the padding
    (left, right, top, bottom) added before the network.
    """

    frame: Tensor
    flow_t0: Tensor
    flow_t1: Tensor
    flow01: Tensor
    flow10: Tensor
    depth0: Tensor | None
    depth1: Tensor | None
    warped0: Tensor
    warped1: Tensor
    blend_weight: Tensor
    flow_pyramid: list[Tensor] = field(default_factory=list)
    pad: tuple[int, int, int, int] = (0, 0, 0, 0)


# ``flow_contrast`` normalises each frame against its mean over this window (pixels).
CONTRAST_WINDOW = 15
# ``flow_median`` filters the flow at this fraction of the resolution (a 5x5 window spans 20x20 px).
MEDIAN_SCALE = 4
# With ``flow_still``, flows shorter than this (pixels) become zero wherever zero flow matches
# better over the small window: the network's flow drifts by a pixel or two over still,
# low-contrast background next to moving objects.
STILL_MAX_MOTION = 6.0


def match_brightness(image0: Tensor, image1: Tensor, t: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Both frames moved to their common mean brightness, and the offset that puts it back at t.

    A global brightness change between the frames (a fade, an exposure step) is not motion: the
    network sees the frames at equal mean brightness (per item and channel) and the output gets the
    linearly interpolated mean, ``(1 - t) m0 + t m1``, added back. Without it the learned blend
    weight reads the difference as occlusion and leans towards one frame (a flat 100 -> 200 pair
    gave 142 at t = 0.5).

    Each frame's shift ``mid - m`` is rounded to whole 8-bit grey levels (1/255), finer than
    what an 8-bit frame resolves: a frame that two neighbouring pairs share, with a brightness
    that changes by less than a grey level, then enters both pairs unchanged and its per-frame
    features are computed once (:func:`unique_frames`). The offset puts back exactly what the
    rounded shifts took away.

    Args:
        image0, image1: (B, 3, H, W). t: (B,).
    Returns:
        the shifted frames (B, 3, H, W) and the offset (B, 3, 1, 1) to add to the output.
    """
    m0 = image0.mean(dim=(2, 3), keepdim=True)
    m1 = image1.mean(dim=(2, 3), keepdim=True)
    mid = 0.5 * (m0 + m1)
    s0 = torch.round((mid - m0) * 255) / 255
    s1 = torch.round((mid - m1) * 255) / 255
    tt = t.reshape(-1, 1, 1, 1).to(image0.dtype)
    return image0 + s0, image1 + s1, -((1 - tt) * s0 + tt * s1)


def unique_frames(frames: Tensor) -> tuple[Tensor, Tensor]:
    """Indices of the distinct frames of ``frames`` (N, C, H, W) and, per frame, the position of
    its copy among them: ``frames[keep][where] == frames``. Consecutive pairs of a video share a
    frame (pairs (k-1, k) and (k, k+1)); per-frame work on ``frames[keep]`` does it once.
    Exact: frames count as equal only when every value is."""
    n = frames.shape[0]
    sums = frames.flatten(1).sum(1)
    keep: list[int] = []
    where = []
    for i in range(n):
        for j, k in enumerate(keep):
            if sums[i] == sums[k] and torch.equal(frames[i], frames[k]):
                where.append(j)
                break
        else:
            where.append(len(keep))
            keep.append(i)
    return torch.tensor(keep, device=frames.device), torch.tensor(where, device=frames.device)


def per_frame(fn: Callable, frames: Tensor):
    """``fn(frames)`` for a per-frame function ``fn`` (N, ...) -> tensor or list of tensors,
    computed once per distinct frame (:func:`unique_frames`)."""
    keep, where = unique_frames(frames)
    if keep.numel() == frames.shape[0]:
        return fn(frames)
    out = fn(frames[keep])
    if isinstance(out, Tensor):
        return out[where]
    return [x[where] for x in out]




class InterpNet(nn.Module):
    """Frame interpolation with local and non-local features (see module docstring)."""

    def __init__(
        self,
        *,
        flow_channels: tuple[int, ...] | list[int] = (16, 32, 48, 64, 96),
        flow_radius: int = 3,
        flow_hidden: int = 48,
        flow_out_level: int = 1,
        flow_context: tuple[int, ...] | list[int] = (),
        depth_channels: tuple[int, ...] | list[int] = (16, 24, 32),
        depth_downsample: int = 2,
        kernel_channels: tuple[int, ...] | list[int] = (12, 16, 24),
        nonlocal_channels: tuple[int, ...] | list[int] = (16, 24, 32, 48),
        nonlocal_out: int = 8,
        nonlocal_layout: str = "seed",
        synthesis_channels: int = 24,
        synthesis_blocks: int = 3,
        synthesis_shuffle: int = 2,
        learned_blend: bool = True,
        match_brightness: bool = False,
        use_nonlocal: bool = True,
        use_depth: bool = True,
        use_depth_projection: bool = True,
        use_kernels: bool = True,
        depth_power: float = 1.0,
        flow_scales: tuple[int, ...] | list[int] = (1,),
        flow_window: int = 9,
        flow_refine: int = 0,
        flow_contrast: float = 0.0,
        flow_median: int = 0,
        flow_still: int = 0,
    ) -> None:
        super().__init__()
        if nonlocal_layout not in NONLOCAL_LAYOUTS:
            raise ValueError(f"nonlocal_layout must be one of {', '.join(NONLOCAL_LAYOUTS)}, got {nonlocal_layout!r}")
        # How the flow is estimated unless a call says otherwise; replace it to change the default.
        self.flow_settings = FlowSettings(
            flow_scales=flow_scales,
            flow_window=flow_window,
            flow_refine=flow_refine,
            flow_contrast=flow_contrast,
            flow_median=flow_median,
            flow_still=flow_still,
        )
        # The constructor's arguments (checkpoints rebuild the model from them).
        self.config = dict(
            flow_channels=list(flow_channels),
            flow_radius=flow_radius,
            flow_hidden=flow_hidden,
            flow_out_level=flow_out_level,
            flow_context=[int(x) for x in flow_context],
            depth_channels=list(depth_channels),
            depth_downsample=depth_downsample,
            kernel_channels=list(kernel_channels),
            nonlocal_channels=list(nonlocal_channels),
            nonlocal_out=nonlocal_out,
            nonlocal_layout=nonlocal_layout,
            synthesis_channels=synthesis_channels,
            synthesis_blocks=synthesis_blocks,
            synthesis_shuffle=synthesis_shuffle,
            learned_blend=learned_blend,
            match_brightness=match_brightness,
            use_nonlocal=use_nonlocal,
            use_depth=use_depth,
            use_depth_projection=use_depth_projection,
            use_kernels=use_kernels,
            depth_power=depth_power,
            **self.flow_settings.as_config(),
        )
        self.flow = PWCFlow(tuple(flow_channels), flow_radius, flow_hidden, flow_out_level, tuple(flow_context))
        self.depth = HourglassDepth(tuple(depth_channels), depth_downsample) if use_depth else None
        self.kernels = KernelUNet(tuple(kernel_channels)) if use_kernels else None
        self.nonlocal_branch = NonLocalBranch(tuple(nonlocal_channels), nonlocal_out, nonlocal_layout) if use_nonlocal else None
        self.projection = FlowProjection(use_depth_projection, depth_power)
        self.warp = AdaptiveWarping(use_kernels)
        feat_ch = 3 + 3 + 2 + 2 + (2 if use_depth else 0) + (2 * nonlocal_out if use_nonlocal else 0)
        self.synthesis = FrameSynthesis(feat_ch, synthesis_channels, synthesis_blocks, learned_blend, synthesis_shuffle)
        multiples = [self.flow.multiple, depth_downsample * 2 ** len(depth_channels), 2 ** len(kernel_channels)]
        multiples += [synthesis_shuffle, MEDIAN_SCALE]
        if use_nonlocal:
            multiples.append(2**DOWN_STEPS)
        self.multiple = max(multiples)

    def _flow_at_scale(self, image0: Tensor, image1: Tensor, scale: int) -> tuple[Tensor, Tensor]:
        """Flows from the frames downscaled by ``scale``, upsampled back (in full-size pixels)."""
        h, w = image0.shape[-2:]
        small = [F.interpolate(x, scale_factor=1 / scale, mode="bilinear", align_corners=False, antialias=True) for x in (image0, image1)]
        sh, sw = small[0].shape[-2:]
        m = self.flow.multiple
        ph, pw = (-sh) % m, (-sw) % m
        if ph or pw:
            small = [F.pad(x, (0, pw, 0, ph), mode="replicate") for x in small]
        f01, f10, _ = self.flow(*small, feats=per_frame(self.flow.features, torch.cat(small)))
        return tuple(scale * F.interpolate(f[..., :sh, :sw], size=(h, w), mode="bilinear", align_corners=False) for f in (f01, f10))

    @staticmethod
    def _match_error(source: Tensor, other: Tensor, flow: Tensor, window: int) -> Tensor:
        """How badly ``other`` warped by ``flow`` matches ``source``: the mean absolute colour
        difference over the ``window`` x ``window`` square around each pixel (B, 1, H, W),
        without gradient."""
        with torch.no_grad():
            diff = (backward_warp(other, flow) - source).abs().mean(1, keepdim=True)
            return box_mean(diff, window)

    def _refined(
        self, image0: Tensor, image1: Tensor, flow01: Tensor, flow10: Tensor, feats: list[Tensor]
    ) -> tuple[Tensor, Tensor]:
        """One residual pass: the flow network on (I0, I1 warped onto I0) and (I1, I0 warped onto
        I1) gives what the flows still miss; each flow composed with its residual. ``feats``:
        the flow network's features of (I0, I1), from the first pass."""
        b = image0.shape[0]
        aligned = torch.cat((backward_warp(image1, flow01), backward_warp(image0, flow10)))
        residual = self.flow.one_way(torch.cat((image0, image1)), aligned, feats0=feats)
        r01, r10 = residual[:b], residual[b:]
        return r01 + backward_warp(flow01, r01), r10 + backward_warp(flow10, r10)

    def _still(self, source: Tensor, other: Tensor, flow: Tensor, window: int) -> Tensor:
        """Where zero flow should replace ``flow`` (B, 1, H, W) bool: the flow is shorter than
        :data:`STILL_MAX_MOTION` and zero flow matches better over the ``flow_still`` ``window``."""
        short = torch.linalg.vector_norm(flow, dim=1, keepdim=True) < STILL_MAX_MOTION
        zero = torch.zeros_like(flow)
        return short & (self._match_error(source, other, zero, window) < self._match_error(source, other, flow, window))

    def _contrast_flow(self, image0: Tensor, image1: Tensor, gain: float) -> tuple[Tensor, Tensor]:
        """The flow network on locally contrast-normalised frames: ``0.5 + gain * (I - mean of I
        over CONTRAST_WINDOW)``, clipped to [0, 1] (``gain``: ``flow_contrast``). Low-contrast
        texture, which the network otherwise passes over, gets the contrast of the textures it
        was trained on."""
        r = CONTRAST_WINDOW // 2

        def normalised(x: Tensor) -> Tensor:
            mean = F.avg_pool2d(F.pad(x, (r, r, r, r), mode="replicate"), CONTRAST_WINDOW, 1)
            return (0.5 + gain * (x - mean)).clamp(0, 1)

        n0, n1 = normalised(image0), normalised(image1)
        flow01, flow10, _ = self.flow(n0, n1, feats=per_frame(self.flow.features, torch.cat((n0, n1))))
        return flow01, flow10

    @staticmethod
    def _median(flow: Tensor, window: int) -> Tensor:
        """``flow`` (B, 2, H, W), H and W multiples of :data:`MEDIAN_SCALE`, averaged down to
        1/MEDIAN_SCALE resolution, median-filtered over ``window`` x ``window`` (``flow_median``)
        and upsampled."""
        small = median_filter(F.avg_pool2d(flow, MEDIAN_SCALE), window)
        return F.interpolate(small, size=flow.shape[-2:], mode="bilinear", align_corners=False)

    def estimate_flow(
        self, image0: Tensor, image1: Tensor, flow_settings: FlowSettings | None = None
    ) -> tuple[Tensor, Tensor, list[Tensor]]:
        """Step 1a: F0->1, F1->0 (B, 2, H, W) from frames (B, 3, H, W) whose H and W are multiples
        of :attr:`multiple`, and the full-resolution pass's pyramid, with ``flow_settings`` (by default
        :attr:`flow_settings`: ``flow_scales``, ``flow_window``, ``flow_refine``,
        ``flow_contrast``, ``flow_median`` and ``flow_still``).

        The candidates: the full-resolution estimate, those at the other ``flow_scales`` and,
        with ``flow_contrast`` > 0, the estimate from locally contrast-normalised frames. After
        the choice among them and after each residual pass, ``flow_median`` > 0 replaces the
        flow by its median over ``flow_median`` x ``flow_median`` windows at 1/:data:`MEDIAN_SCALE`
        resolution: the per-pixel choice leaves a patchwork, and the median keeps motion
        boundaries while it removes the patches. Last, with ``flow_still`` > 0,
        zero flow is one more candidate (matched over ``flow_window`` like the others), and a
        flow shorter than :data:`STILL_MAX_MOTION` also becomes zero wherever zero flow matches
        better over a ``flow_still`` window: still background keeps exactly its pixels."""
        s = self.flow_settings if flow_settings is None else flow_settings
        feats = per_frame(self.flow.features, torch.cat((image0, image1)))
        flow01, flow10, pyramid = self.flow(image0, image1, feats=feats)
        scales, passes, window = s.flow_scales[1:], s.flow_refine, s.flow_window
        contrast, median, still = s.flow_contrast, s.flow_median, s.flow_still
        if not scales and not passes and not contrast and not median and not still:
            return flow01, flow10, pyramid

        def errors(f01: Tensor, f10: Tensor) -> tuple[Tensor, Tensor]:
            return self._match_error(image0, image1, f01, window), self._match_error(image1, image0, f10, window)

        err01, err10 = errors(flow01, flow10)

        def keep_better(c01: Tensor, c10: Tensor) -> None:
            nonlocal flow01, flow10, err01, err10
            e01, e10 = errors(c01, c10)
            pick01, pick10 = e01 < err01, e10 < err10
            err01, err10 = torch.where(pick01, e01, err01), torch.where(pick10, e10, err10)
            flow01, flow10 = torch.where(pick01, c01, flow01), torch.where(pick10, c10, flow10)

        def smooth() -> None:
            nonlocal flow01, flow10, err01, err10
            if median:
                flow01, flow10 = self._median(flow01, median), self._median(flow10, median)
                err01, err10 = errors(flow01, flow10)

        for scale in scales:
            keep_better(*self._flow_at_scale(image0, image1, scale))
        if contrast:
            keep_better(*self._contrast_flow(image0, image1, contrast))
        smooth()
        for _ in range(passes):
            keep_better(*self._refined(image0, image1, flow01, flow10, feats))
            smooth()
        if still:
            keep_better(torch.zeros_like(flow01), torch.zeros_like(flow10))
            flow01 = flow01.masked_fill(self._still(image0, image1, flow01, still), 0.0)
            flow10 = flow10.masked_fill(self._still(image1, image0, flow10, still), 0.0)
        return flow01, flow10, pyramid

    def forward(
        self,
        image0: Tensor,
        image1: Tensor,
        t: Tensor | float = 0.5,
        flows: tuple[Tensor, Tensor] | None = None,
        flow_settings: FlowSettings | None = None,
        scale: float = 1.0,
    ) -> InterpOutput:
        """``flows=(F0->1, F1->0)``, each (B, 2, H, W) in pixels, replaces step 1a (flows from
        another estimator, e.g. OpenCV's DIS): the flow network is then not run.
        ``flow_settings`` replace :attr:`flow_settings` for this call.

        ``scale`` (one of :data:`SCALES`) is the internal resolution of the local features, as
        RIFE's and FILM's ``scale``: flow, depth, the flow projection and the kernels run on the
        frames downscaled by it (area average), and their outputs (projected flows, in pixels,
        depths and kernels) are upsampled bilinearly to the input resolution; the non-local
        branch, the adaptive warping and the synthesis run at the input resolution. Motion and
        structures shrink with the frames, which also brings large motion of large frames into
        the range the flow network was trained on. ``scale=1`` is the method as trained."""
        if image0.ndim != 4 or image0.shape[1] != 3 or image0.shape != image1.shape:
            raise ValueError(
                f"image0 and image1 must both be (B, 3, H, W) of one shape, got {tuple(image0.shape)} and {tuple(image1.shape)}"
            )
        scale = check_scale(scale)
        down = round(1 / scale)
        b, _, h, w = image0.shape
        t = torch.as_tensor(t, dtype=image0.dtype, device=image0.device).reshape(-1)
        if t.numel() == 1:
            t = t.expand(b)
        if t.numel() != b:
            raise ValueError(f"t must be a float or a (B,) tensor with B={b}, got {t.numel()} values")
        if flows is not None and any(f.shape != (b, 2, h, w) for f in flows):
            got = [tuple(f.shape) for f in flows]
            raise ValueError(f"flows must be two (B, 2, H, W) tensors of shape {(b, 2, h, w)}, got {got}")
        offset = None
        if self.config["match_brightness"]:
            image0, image1, offset = match_brightness(image0, image1, t)
        # Padded so that the downscaled frames are multiples of what the networks need.
        pad = centred_padding(h, w, self.multiple * down)
        if any(pad):
            image0 = F.pad(image0, pad, mode="replicate")
            image1 = F.pad(image1, pad, mode="replicate")
            if flows is not None:
                flows = tuple(F.pad(f, pad, mode="replicate") for f in flows)
        local0, local1 = image0, image1
        if down > 1:
            local0, local1 = F.avg_pool2d(image0, down), F.avg_pool2d(image1, down)
            if flows is not None:
                flows = tuple(F.avg_pool2d(f, down) / down for f in flows)

        def up(x: Tensor | None, pixels: bool = False) -> Tensor | None:
            """A local feature back at the input resolution (flows rescaled to its pixels)."""
            if x is None or down == 1:
                return x
            x = F.interpolate(x, scale_factor=down, mode="bilinear", align_corners=False)
            return x * down if pixels else x

        def pair_features(keep: Tensor | None) -> dict:
            """What does not depend on t: flows, depths, kernels and non-local features, of the
            pairs ``keep`` (None: all)."""
            pick = (lambda x: x) if keep is None else (lambda x: x[keep])
            l0, l1 = pick(local0), pick(local1)
            n = l0.shape[0]
            out: dict = {"depth0": None, "depth1": None, "k0": None, "k1": None, "nl": None}
            if flows is None:
                out["flow01"], out["flow10"], out["pyramid"] = self.estimate_flow(l0, l1, flow_settings)
            else:
                out["flow01"], out["flow10"], out["pyramid"] = pick(flows[0]), pick(flows[1]), []
            if self.depth is not None:
                depths = per_frame(self.depth, torch.cat((l0, l1)))
                out["depth0"], out["depth1"] = depths[:n], depths[n:]
            if self.kernels is not None:
                out["k0"], out["k1"] = self.kernels(l0, l1)
            if self.nonlocal_branch is not None:
                out["nl"] = self.nonlocal_branch(pick(image0), pick(image1))
            return out

        # A pair that appears several times in the batch (the times t of one interval, when
        # up-converting by more than 2x) has its t-independent features computed once.
        keep, where = unique_frames(torch.cat((local0, local1), 1))
        if keep.numel() == b:
            pf = pair_features(None)
        else:
            pf = pair_features(keep)
            pf = {k: (v[where] if isinstance(v, Tensor) else v) for k, v in pf.items()}
            # the pyramid holds both directions stacked ((2n, ...): 0->1 then 1->0)
            n = keep.numel()
            pf["pyramid"] = [torch.cat((x[:n][where], x[n:][where])) for x in pf["pyramid"]]
        flow01, flow10, pyramid = pf["flow01"], pf["flow10"], pf["pyramid"]
        depth0, depth1, k0, k1, nl = pf["depth0"], pf["depth1"], pf["k0"], pf["k1"], pf["nl"]
        flow_t0, flow_t1 = self.projection(flow01, flow10, t, depth0, depth1)

        flow01, flow10, flow_t0, flow_t1 = (up(f, pixels=True) for f in (flow01, flow10, flow_t0, flow_t1))
        depth0, depth1, k0, k1 = (up(x) for x in (depth0, depth1, k0, k1))
        warped0 = self.warp(image0, flow_t0, k0)
        warped1 = self.warp(image1, flow_t1, k1)

        feats = [warped0, warped1, flow_t0 / FLOW_FEATURE_SCALE, flow_t1 / FLOW_FEATURE_SCALE]
        if depth0 is not None:
            # Relative inverse depth: the projection only needs the ordering, and so does synthesis.
            d = torch.cat((depth0, depth1), 1)
            d = d / d.mean((1, 2, 3), keepdim=True)
            feats += [backward_warp(d[:, :1], flow_t0), backward_warp(d[:, 1:], flow_t1)]
        if nl is not None:
            half = nl.shape[1] // 2
            feats += [backward_warp(nl[:, :half], flow_t0), backward_warp(nl[:, half:], flow_t1)]
        frame, alpha = self.synthesis(torch.cat(feats, 1), warped0, warped1, t)
        if offset is not None:
            frame = frame + offset
        if not self.training:
            frame = frame.clamp(0, 1)

        def crop(x: Tensor | None) -> Tensor | None:
            if x is None or not any(pad):
                return x
            return x[..., pad[2] : pad[2] + h, pad[0] : pad[0] + w]

        return InterpOutput(
            frame=crop(frame),
            flow_t0=crop(flow_t0),
            flow_t1=crop(flow_t1),
            flow01=crop(flow01),
            flow10=crop(flow10),
            depth0=crop(depth0),
            depth1=crop(depth1),
            warped0=crop(warped0),
            warped1=crop(warped1),
            blend_weight=crop(alpha),
            flow_pyramid=pyramid,
            pad=pad,
        )


TINY = dict(
    flow_channels=(8, 12, 16),
    flow_radius=2,
    flow_hidden=16,
    flow_out_level=1,
    depth_channels=(8, 12),
    kernel_channels=(8, 12),
    nonlocal_channels=(8, 8, 8, 8),
    nonlocal_out=4,
    synthesis_channels=8,
)
DEFAULT: dict = {}
LARGE = dict(
    flow_channels=(16, 32, 64, 96, 128, 192),
    flow_radius=4,
    flow_hidden=128,
    flow_out_level=1,
    depth_channels=(32, 64, 128),
    depth_downsample=1,
    kernel_channels=(32, 64, 96),
    nonlocal_channels=(32, 48, 64, 96),
    nonlocal_out=16,
    synthesis_channels=64,
    synthesis_shuffle=1,
)


@register_model("interp")
def interp_tiny(**overrides) -> InterpNet:
    """58 k parameters, for tests and smoke runs."""
    return InterpNet(**{**TINY, **overrides})


@register_model("interp")
def interp_default(**overrides) -> InterpNet:
    """The bundled model: 0.84 M parameters (3.4 MB in float32), fast enough for CPU video."""
    return InterpNet(**{**DEFAULT, **overrides})


@register_model("interp")
def interp_large(**overrides) -> InterpNet:
    """The GPU recipe's model (5.0 M parameters): wider pyramids and one more flow level."""
    return InterpNet(**{**LARGE, **overrides})
