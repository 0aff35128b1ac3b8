"""Generator modules: shapes, gradients, hand-worked values, switches, any input size."""

from __future__ import annotations

import math

import pytest
import torch

from vivid.core.blocks import ResidualBlock, SelfAttention2d
from vivid.core.registry import create_model, list_models
from vivid.interp.depth import HourglassDepth
from vivid.interp.flow import PWCFlow, cost_volume
from vivid.interp.kernels import KernelUNet
from vivid.interp.model import InterpNet, InterpOutput, TINY
from vivid.interp.nonlocal_branch import NonLocalBranch
from vivid.interp.projection import linear_flow_t
from vivid.interp.synthesis import FrameSynthesis
from vivid.interp.warping import adaptive_warp, backward_warp, bilinear_kernel


def _pair(b=2, h=32, w=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, h, w, generator=g), torch.rand(b, 3, h, w, generator=g)


def _perturb(model: torch.nn.Module, scale: float = 0.05, seed: int = 0) -> torch.nn.Module:
    """Move every weight off its initial value: several output layers start at zero (the
    untrained model is the linear blend), which would hide what the layers before them do."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))
    return model


# Parameters that legitimately get no gradient from the registry test's loss, per model name,
# each with the reason. None at present: every parameter of every variant must be reached.
NO_GRADIENT: dict[str, dict[str, str]] = {}


def _has_grads(module: torch.nn.Module) -> bool:
    grads = [p.grad for p in module.parameters() if p.requires_grad]
    return bool(grads) and all(g is not None and torch.isfinite(g).all() for g in grads) and any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("name", [n for n in list_models("interp")])
def test_registry_models_shape_finite_backward(name):
    torch.manual_seed(0)
    model = _perturb(create_model(name).train())
    a, b = _pair(2, 37, 45)  # not a multiple of anything: padded and cropped inside
    out = model(a, b, torch.tensor([0.3, 0.7]))
    assert isinstance(out, InterpOutput)
    assert out.frame.shape == (2, 3, 37, 45)
    for f in (out.flow01, out.flow10, out.flow_t0, out.flow_t1):
        assert f.shape == (2, 2, 37, 45)
    assert out.depth0.shape == (2, 1, 37, 45)
    assert torch.isfinite(out.frame).all()
    (out.frame.mean() + out.flow01.abs().mean()).backward()
    exempt = NO_GRADIENT.get(name, {})
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad and n not in exempt}
    assert trainable and all(n in dict(model.named_parameters()) for n in exempt)
    missing = [n for n, p in trainable.items() if p.grad is None or not torch.isfinite(p.grad).all() or not p.grad.abs().sum() > 0]
    assert not missing, f"no (finite, non-zero) gradient for {missing}"
    assert model.config == create_model(name, **model.config).config


def test_interp_variants_registered():
    assert {"interp_tiny", "interp_default", "interp_large"} <= set(list_models("interp"))


def test_cost_volume_hand_values_and_gradcheck():
    f1 = torch.zeros(1, 2, 3, 3)
    f2 = torch.zeros(1, 2, 3, 3)
    f1[0, :, 1, 1] = torch.tensor([1.0, 2.0])
    f2[0, :, 1, 2] = torch.tensor([3.0, 4.0])  # one pixel to the right of f1's
    cv = cost_volume(f1, f2, 1)
    # offset (dx=+1, dy=0) is channel (0 + 1) * 3 + (1 + 1) = 5: mean(1*3, 2*4) = 5.5
    assert cv[0, 5, 1, 1].item() == pytest.approx(5.5)
    assert cv[0, :, 1, 1].abs().sum().item() == pytest.approx(5.5)
    a = torch.randn(1, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    b = torch.randn(1, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, y: cost_volume(x, y, 2), (a, b))


def test_backward_warp_integer_shift():
    src = torch.arange(5 * 6, dtype=torch.float32).view(1, 1, 5, 6)
    flow = torch.zeros(1, 2, 5, 6)
    flow[:, 0] = 1.0  # sample one pixel to the right
    out = backward_warp(src, flow)
    assert torch.allclose(out[..., :-1], src[..., 1:], atol=1e-4)


def test_adaptive_warp_bilinear_kernel_equals_bilinear_and_gradcheck():
    src = torch.rand(2, 3, 12, 14)
    flow = torch.randn(2, 2, 12, 14) * 1.5
    k = bilinear_kernel(2, 12, 14)
    a = adaptive_warp(src, flow, k)
    b = backward_warp(src, flow)
    assert torch.allclose(a[..., 3:-3, 3:-3], b[..., 3:-3, 3:-3], atol=1e-5)
    src64 = torch.rand(1, 2, 6, 7, dtype=torch.float64, requires_grad=True)
    kern = torch.rand(1, 16, 6, 7, dtype=torch.float64, requires_grad=True)
    fl = torch.full((1, 2, 6, 7), 0.3, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda s, kk: adaptive_warp(s, fl, kk), (src64, kern))


def test_adaptive_warp_matches_the_per_pixel_formula():
    # out(p) = sum_r k_r rho_r(theta) src(clamp(floor(p + flow) + r)) / sum_r k_r rho_r(theta), pixel by pixel
    g = torch.Generator().manual_seed(3)
    h, w = 5, 6
    src = torch.rand(2, 3, h, w, generator=g)
    flow = torch.randn(2, 2, h, w, generator=g) * 2.5  # reaches past the borders
    kern = torch.rand(2, 16, h, w, generator=g)
    out = adaptive_warp(src, flow, kern)
    offsets = (-1, 0, 1, 2)
    for n in range(2):
        for y in range(h):
            for x in range(w):
                px, py = x + flow[n, 0, y, x].item(), y + flow[n, 1, y, x].item()
                bx, by = math.floor(px), math.floor(py)
                tx, ty = px - bx, py - by
                num, den = torch.zeros(3), 0.0
                for i, dy in enumerate(offsets):
                    for j, dx in enumerate(offsets):
                        rho = (ty if dy > 0 else 1 - ty) * (tx if dx > 0 else 1 - tx)
                        wgt = kern[n, 4 * i + j, y, x].item() * rho
                        num += wgt * src[n, :, min(max(by + dy, 0), h - 1), min(max(bx + dx, 0), w - 1)]
                        den += wgt
                assert torch.allclose(out[n, :, y, x], num / (den + 1e-6), atol=1e-5)


def test_adaptive_warp_kernel_selects_taps():
    src = torch.arange(8 * 8, dtype=torch.float32).view(1, 1, 8, 8)
    k = torch.zeros(1, 16, 8, 8)
    k[:, 0] = 1.0  # only the (-1, -1) tap
    out = adaptive_warp(src, torch.zeros(1, 2, 8, 8), k)
    assert torch.allclose(out[..., 1:, 1:], src[..., :-1, :-1])


def test_submodules_shapes_and_gradients():
    a, b = _pair(2, 32, 32)
    flow = PWCFlow((8, 12, 16), radius=2, hidden=16, out_level=1)
    f01, f10, pyr = flow(a, b)
    assert f01.shape == f10.shape == (2, 2, 32, 32)
    assert [p.shape[-1] for p in pyr] == [4, 8]  # coarse to fine, down to 1/4
    ((f01 - 1.0).square().mean() + (pyr[0] + 1.0).square().mean()).backward()
    assert _has_grads(flow.decoders)
    with torch.no_grad():  # one direction only, with or without the features at hand
        for n in flow.decoders.parameters():
            n.add_(0.05 * torch.randn_like(n))  # decoders that do not start at zero flow
        f01, f10, _ = flow(a, b)
        assert f01.abs().mean() > 0
        torch.testing.assert_close(flow.one_way(a, b), f01)
        torch.testing.assert_close(flow.one_way(b, a, feats0=flow.features(b)), f10)

    # The context network refines the finest estimate: one more pyramid entry at that level,
    # and, its last layer starting at zero, the same flow as the network without it.
    with_context = PWCFlow((8, 12, 16), radius=2, hidden=16, out_level=1, context=(8, 8, 6))
    with_context.load_state_dict(flow.state_dict(), strict=False)
    c01, c10, cpyr = with_context(a, b)
    assert [p.shape[-1] for p in cpyr] == [4, 8, 8]
    assert torch.allclose(c01, f01.detach()) and torch.allclose(c10, f10.detach())
    assert [m.dilation[0] for m in with_context.context.net if isinstance(m, torch.nn.Conv2d)] == [1, 2, 4]
    (c01 - 1.0).square().mean().backward()
    assert with_context.context.out.weight.grad.abs().sum() > 0

    depth = HourglassDepth((8, 12), downsample=2)
    d = depth(a)
    assert d.shape == (2, 1, 32, 32) and (d > 0).all()
    d.mean().backward()
    assert _has_grads(depth)

    kern = KernelUNet((8, 12))
    k0, k1 = kern(a, b)
    assert k0.shape == k1.shape == (2, 16, 32, 32)
    assert torch.allclose(k0.sum(1), torch.ones(2, 32, 32), atol=1e-5)
    (k0[:, 0].mean() + k1[:, 5].mean()).backward()
    assert kern.out.weight.grad.abs().sum() > 0

    nl = NonLocalBranch((8, 8, 12, 12), out_channels=4)
    y = nl(a, b)
    assert y.shape == (2, 8, 32, 32)
    y.square().mean().backward()
    assert _has_grads(nl)

    att = SelfAttention2d(8)
    x = torch.randn(2, 8, 4, 5, requires_grad=True)
    assert att(x).shape == x.shape
    att(x).square().sum().backward()
    assert x.grad is not None and _has_grads(att)

    rb = ResidualBlock(4, 6)
    assert rb(torch.randn(1, 4, 5, 5)).shape == (1, 6, 5, 5)

    syn = FrameSynthesis(10, 8, 3, learned_blend=True, shuffle=2)
    frame, alpha = syn(torch.randn(2, 10, 16, 16), a[..., :16, :16], b[..., :16, :16], torch.tensor([0.25, 0.5]))
    assert frame.shape == (2, 3, 16, 16) and alpha.shape == (2, 1, 16, 16)
    # Untrained synthesis is exactly the temporal blend (its last layer starts at zero).
    assert torch.allclose(alpha[0], torch.full_like(alpha[0], 0.25), atol=1e-5)
    frame.mean().backward()
    assert syn.out.weight.grad.abs().sum() > 0


def test_untrained_model_is_the_linear_blend():
    # Zero flow, zero residual: with bilinear sampling the output is exactly the blend.
    model = create_model("interp_tiny", use_kernels=False).eval()
    a, b = _pair(1, 40, 40)
    out = model(a, b, 0.25)
    assert torch.allclose(out.frame, 0.75 * a + 0.25 * b, atol=1e-5)


def test_batch_equals_per_item_and_t_forms():
    torch.manual_seed(0)
    model = create_model("interp_tiny").eval()
    for p in model.parameters():  # leave the all-zero start so outputs depend on the inputs
        p.data.add_(0.05 * torch.randn_like(p))
    a, b = _pair(3, 24, 40)
    t = torch.tensor([0.2, 0.5, 0.9])
    with torch.no_grad():
        full = model(a, b, t).frame
        for i in range(3):
            one = model(a[i : i + 1], b[i : i + 1], float(t[i])).frame
            assert torch.allclose(full[i : i + 1], one, atol=1e-5)


def _switched_off(full: InterpNet, flag: str) -> InterpNet:
    """``full`` (built from TINY) with one module switched off and every other weight taken
    from ``full``: the synthesis head keeps its columns for the features that remain."""
    off = InterpNet(**{**TINY, flag: False})
    depth = 2 if full.depth is not None else 0
    nonlocal_ = 2 * full.config["nonlocal_out"] if full.nonlocal_branch is not None else 0
    features = list(range(10 + depth + nonlocal_))  # warped frames, flows, depths, non-local features
    if flag == "use_depth":
        features = features[:10] + features[10 + depth :]
    elif flag == "use_nonlocal":
        features = features[: 10 + depth]
    r2 = full.config["synthesis_shuffle"] ** 2  # space-to-depth: feature c becomes columns c*r2 ... c*r2 + r2-1
    columns = [c * r2 + k for c in features for k in range(r2)]
    state = full.state_dict()
    state["synthesis.head.0.weight"] = state["synthesis.head.0.weight"][:, columns]
    off.load_state_dict({k: state[k] for k in off.state_dict()})
    return off.train(full.training)


@pytest.mark.parametrize(
    "flag, attr",
    [("use_nonlocal", "nonlocal_branch"), ("use_depth", "depth"), ("use_kernels", "kernels")],
)
def test_switches_remove_modules_and_change_the_output(flag, attr):
    torch.manual_seed(0)
    full = _perturb(InterpNet(**TINY)).eval()
    off = _switched_off(full, flag)
    assert getattr(off, attr) is None and getattr(full, attr) is not None
    a, b = _pair(1, 32, 32)
    with torch.no_grad():
        with_module, without = full(a, b, 0.5).frame, off(a, b, 0.5).frame
    assert without.shape == (1, 3, 32, 32)
    # Same weights everywhere else: the difference is the module's own contribution.
    assert (with_module - without).abs().max() > 1e-3
    if flag == "use_nonlocal":  # ...which vanishes with the branch's output layer zeroed
        torch.nn.init.zeros_(full.nonlocal_branch.final.weight)
        torch.nn.init.zeros_(full.nonlocal_branch.final.bias)
        with torch.no_grad():
            assert torch.allclose(full(a, b, 0.5).frame, without, atol=1e-6)
    off.train()
    off(a, b, 0.5).frame.mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in off.parameters())


def test_without_depth_projection_flows_are_linear():
    model = InterpNet(**{**TINY, "use_depth_projection": False}).eval()
    for p in model.flow.parameters():
        p.data.add_(0.1 * torch.randn_like(p))
    a, b = _pair(1, 32, 32)
    with torch.no_grad():
        out = model(a, b, 0.3)
    ft0, ft1 = linear_flow_t(out.flow01, out.flow10, 0.3)
    assert torch.allclose(out.flow_t0, ft0, atol=1e-6) and torch.allclose(out.flow_t1, ft1, atol=1e-6)


def test_bad_inputs_raise():
    model = create_model("interp_tiny")
    a, b = _pair(2, 16, 16)
    with pytest.raises(ValueError):
        model(a, b[:, :2], 0.5)
    with pytest.raises(ValueError):
        model(a, b, torch.tensor([0.1, 0.2, 0.3]))


def test_bundled_checkpoint_loads_and_beats_the_blend_on_unseen_flying_layers():
    from vivid.core.checkpoints import load_checkpoint
    from vivid.core.metrics import psnr
    from vivid.interp.data import FlyingTriplets

    model, meta = load_checkpoint("interp-default", task="interp")
    assert meta["model_name"] == "interp_default" and isinstance(model, InterpNet)
    ds = FlyingTriplets(6, (96, 96), seed=20_000, random_t=False, augment=False, cache=False)
    items = [ds[i] for i in range(len(ds))]
    batch = {k: torch.stack([it[k] for it in items]) for k in items[0]}
    with torch.no_grad():
        out = model(batch["image0"], batch["image1"], batch["t"]).frame
    blend = 0.5 * (batch["image0"] + batch["image1"])
    assert psnr(out, batch["image_t"]).mean() > psnr(blend, batch["image_t"]).mean() + 1.0


def test_multiscale_flow_keeps_the_better_estimate_per_pixel():
    torch.manual_seed(0)
    net = InterpNet(**{**TINY, "flow_scales": (1, 2)}).eval()
    for p in net.flow.parameters():  # a non-trivial (random) flow network
        torch.nn.init.normal_(p, std=0.1)
    base = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 64, 80), 5, 1, 2)
    a, b = base[..., :, :64], base[..., :, 8:72]
    with torch.no_grad():
        f01, f10, pyramid = net.estimate_flow(a, b)
        full01, _, _ = net.flow(a, b)
        half01, _ = net._flow_at_scale(a, b, 2)
        out = net(a, b, 0.5)
    assert f01.shape == (1, 2, 64, 64) and out.frame.shape == (1, 3, 64, 64) and len(pyramid) == len(net.flow(a, b)[2])
    same_full = (f01 == full01).all(1)
    same_half = (f01 == half01).all(1)
    assert bool((same_full | same_half).all()) and same_half.any() and same_full.any()

    def err(flow):
        d = (backward_warp(b, flow) - a).abs().mean(1, keepdim=True)
        return torch.nn.functional.avg_pool2d(d, 9, 1, 4, count_include_pad=False)

    picked_half = same_half & ~same_full
    assert bool((err(half01) < err(full01))[:, 0][picked_half].all())
    assert bool((err(half01) >= err(full01))[:, 0][same_full & ~same_half].all())
    with pytest.raises(ValueError, match="flow_scales"):
        InterpNet(**{**TINY, "flow_scales": (2,)})


def test_box_mean_is_the_window_mean_inside_the_image():
    from vivid.interp.model import box_mean

    x = torch.rand(2, 3, 11, 17, generator=torch.Generator().manual_seed(0))
    for k in (1, 3, 9, 33):
        r = k // 2
        expected = torch.empty_like(x)
        for i in range(11):
            for j in range(17):
                expected[..., i, j] = x[..., max(0, i - r) : i + r + 1, max(0, j - r) : j + r + 1].mean((-1, -2))
        torch.testing.assert_close(box_mean(x, k), expected)


def test_flow_refine_composes_the_residual_where_it_matches_better():
    """A stand-in flow network answers 2 px for a 3 px shift, then a 1 px residual on the
    re-aligned pair: one refine pass composes them into 3 px (and -3 px back) wherever that
    matches better, i.e. away from the borders."""
    base = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 48, 72, generator=torch.Generator().manual_seed(1)), 3, 1, 1)
    a, b = base[..., 3:67], base[..., 0:64]  # b(x) = a(x - 3): frame 0 -> 1 is +3 px

    class Answers(torch.nn.Module):
        """(I0, I1) in: (shift, -shift). The residual pass's stacked (I0, I1) and their aligned
        partners in: shift for the first half, -shift for the second."""

        def __init__(self, *shifts):
            super().__init__()
            self.shifts, self.inputs = list(shifts), []

        def features(self, images):
            return [images]

        def _flow(self, like):
            flow = torch.zeros(like.shape[0], 2, *like.shape[-2:])
            flow[:, 0] = self.shifts.pop(0)
            return flow

        def forward(self, x0, x1, feats=None):
            self.inputs.append((x0, x1))
            flow = self._flow(x0)
            return flow, -flow, []

        def one_way(self, x0, x1, feats0=None):
            self.inputs.append((x0, x1))
            assert torch.equal(feats0[0], x0)  # the first pass's features, reused
            flow = self._flow(x0)
            flow[x0.shape[0] // 2 :] *= -1
            return flow

    for passes, expected in ((0, 2.0), (1, 3.0)):
        net = InterpNet(**{**TINY, "flow_refine": passes}).eval()
        net.flow = Answers(2.0, 1.0)
        with torch.no_grad():
            f01, f10, _ = net.estimate_flow(a, b)
        inner = (slice(None), 0, slice(8, -8), slice(8, -8))
        assert torch.allclose(f01[inner], torch.full_like(f01[inner], expected))
        assert torch.allclose(f10[inner], torch.full_like(f10[inner], -expected))
        assert len(net.flow.inputs) == 1 + passes
    x0, x1 = net.flow.inputs[1]  # the residual pass sees each frame beside the other one aligned to it
    assert torch.equal(x0, torch.cat((a, b)))
    two = torch.zeros_like(f01)
    two[:, 0] = 2.0
    assert torch.equal(x1, torch.cat((backward_warp(b, two), backward_warp(a, -two))))
    for bad in ({"flow_window": 4}, {"flow_window": 0}, {"flow_refine": -1}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            InterpNet(**{**TINY, **bad})


def test_flow_still_keeps_still_background_at_zero_flow():
    """The left half of the frames stands still, the right half moves 3 px to the right; a
    stand-in flow network answers 3 px everywhere. With ``flow_still`` the still half gets zero
    flow (both ways) and the moving half keeps its 3 px; without it nothing changes."""
    texture = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 48, 70, generator=torch.Generator().manual_seed(2)), 3, 1, 1)
    a = texture[..., 3:67].clone()
    b = a.clone()
    b[..., 32:] = texture[..., 32:64]  # b(x) = a(x - 3) on the right half

    class Drift(torch.nn.Module):
        def features(self, images):
            return [images]

        def forward(self, x0, x1, feats=None):
            flow = torch.zeros(x0.shape[0], 2, *x0.shape[-2:])
            flow[:, 0] = 3.0
            return flow, -flow, []

    left, right = (0, 0, slice(8, -8), slice(4, 24)), (0, 0, slice(8, -8), slice(44, 60))
    for still in (0, 5):
        net = InterpNet(**{**TINY, "flow_window": 9, "flow_still": still}).eval()
        net.flow = Drift()
        with torch.no_grad():
            f01, f10, _ = net.estimate_flow(a, b)
        assert torch.all(f01[left] == (0.0 if still else 3.0)) and torch.all(f10[left] == (0.0 if still else -3.0))
        assert torch.all(f01[right] == 3.0) and torch.all(f10[right] == -3.0)


def test_flow_still_leaves_long_flows_alone():
    """Over identical frames zero flow always matches best, yet only flows shorter than
    STILL_MAX_MOTION are set to zero by the small-window test."""
    from vivid.interp.model import STILL_MAX_MOTION

    net = InterpNet(**{**TINY, "flow_still": 5})
    frame = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    flow = torch.zeros(1, 2, 32, 32)
    flow[:, 1, :, :16] = STILL_MAX_MOTION - 1
    flow[:, 1, :, 16:] = STILL_MAX_MOTION + 1
    still = net._still(frame, frame, flow, net.flow_settings.flow_still)
    assert still[..., :16].all() and not still[..., 16:].any()
    for bad in (4, -1):
        with pytest.raises(ValueError, match="flow_still"):
            InterpNet(**{**TINY, "flow_still": bad})

def test_median_filter_is_the_window_median():
    from vivid.interp.model import median_filter

    x = torch.randn(2, 2, 13, 17, generator=torch.Generator().manual_seed(4))
    for k in (1, 3, 5):
        r = k // 2
        padded = torch.nn.functional.pad(x, (r, r, r, r), mode="replicate")
        expected = torch.empty_like(x)
        for i in range(13):
            for j in range(17):
                expected[..., i, j] = padded[..., i : i + k, j : j + k].reshape(2, 2, -1).median(-1).values
        assert torch.equal(median_filter(x, k), expected)
        assert torch.equal(median_filter(x, k, max_elements=100), expected)  # in bands of rows


def test_flow_median_removes_patches_and_keeps_motion_boundaries():
    """A 3 px flow with an 8x8 px patch of 10 px (a wrong candidate's) loses the patch; a step
    from 0 to 6 px stays a step away from the boundary."""
    net = InterpNet(**{**TINY, "flow_median": 5})
    flow = torch.full((1, 2, 64, 64), 3.0)
    flow[..., 24:32, 24:32] = 10.0
    assert torch.allclose(net._median(flow, net.flow_settings.flow_median), torch.full_like(flow, 3.0))
    step = torch.zeros(1, 2, 64, 64)
    step[..., 32:] = 6.0
    out = net._median(step, net.flow_settings.flow_median)
    assert torch.allclose(out[..., :24], torch.zeros(1, 2, 64, 24)) and torch.allclose(out[..., 40:], torch.full((1, 2, 64, 24), 6.0))
    with pytest.raises(ValueError, match="flow_median"):
        InterpNet(**{**TINY, "flow_median": 4})


def test_flow_contrast_runs_the_network_on_contrast_normalised_frames():
    """With ``flow_contrast`` the flow network runs once more, on 0.5 + gain * (frame - its local
    mean): a faint texture reaches it amplified; its estimate is kept where it matches better."""
    from vivid.interp.model import CONTRAST_WINDOW

    faint = 0.4 + 0.02 * torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    seen = []

    class Record(torch.nn.Module):
        def features(self, images):
            return [images]

        def forward(self, x0, x1, feats=None):
            seen.append(x0)
            flow = torch.zeros(x0.shape[0], 2, *x0.shape[-2:])
            return flow, flow, []

    net = InterpNet(**{**TINY, "flow_contrast": 4.0})
    net.flow = Record()
    with torch.no_grad():
        net.estimate_flow(faint, faint)
    assert len(seen) == 2 and torch.equal(seen[0], faint)
    r = CONTRAST_WINDOW // 2
    mean = torch.nn.functional.avg_pool2d(torch.nn.functional.pad(faint, (r, r, r, r), mode="replicate"), CONTRAST_WINDOW, 1)
    torch.testing.assert_close(seen[1], (0.5 + 4.0 * (faint - mean)).clamp(0, 1))
    assert seen[1].std() > 3 * faint.std()
    with pytest.raises(ValueError, match="flow_contrast"):
        InterpNet(**{**TINY, "flow_contrast": -1})

def test_given_flows_replace_the_flow_network():
    """flows=(F01, F10) skips the flow network (it would raise) and drives the projection: a
    uniform 4 px motion to the right lands at t = 0.5 as 2 px back to frame 0 and 2 px on to
    frame 1, also on a size that needs padding."""
    model = InterpNet(**{**TINY, "use_depth_projection": False}).eval()

    class NoFlow(torch.nn.Module):
        def forward(self, *args):
            raise AssertionError("the flow network ran")

    model.flow = NoFlow()
    a, b = _pair(1, 30, 37)
    f01 = torch.zeros(1, 2, 30, 37)
    f01[:, 0] = 4.0
    with torch.no_grad():
        out = model(a, b, 0.5, flows=(f01, -f01))
    assert torch.equal(out.flow01, f01) and torch.equal(out.flow10, -f01)
    assert torch.allclose(out.flow_t0[:, 0], torch.full((1, 30, 37), -2.0), atol=1e-5)
    assert torch.allclose(out.flow_t1[:, 0], torch.full((1, 30, 37), 2.0), atol=1e-5)
    assert out.frame.shape == (1, 3, 30, 37) and out.flow_pyramid == []
    with pytest.raises(ValueError, match="flows"):
        model(a, b, 0.5, flows=(f01[..., :-1], -f01[..., :-1]))
