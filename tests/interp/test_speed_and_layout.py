"""The speed paths keep the method (internal ``scale``, per-frame work once per frame, decode and
encode threads) and the non-local branch's layouts (the method's ``seed`` and the bundled
model's ``v1``)."""

from __future__ import annotations

import threading

import pytest
import torch
import torch.nn.functional as F

from vivid.core.blocks import SelfAttention2d
from vivid.core.errors import VividError
from vivid.core.registry import create_model
from vivid.interp.apply import BackgroundWriter, prefetched
from vivid.interp.flow_settings import PRESETS, auto_scale, parse_scale
from vivid.interp.interpolator import ModelInterpolator
from vivid.interp.model import match_brightness, per_frame, unique_frames
from vivid.interp.nonlocal_branch import DOWN_STEPS, UP_STEPS, VALUE_REDUCTION, NonLocalBranch


def _perturbed(name="interp_tiny", **kw):
    torch.manual_seed(0)
    model = create_model(name, **kw).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return model


def _frames(n=4, h=40, w=56, seed=0):
    g = torch.Generator().manual_seed(seed)
    base = F.avg_pool2d(torch.rand(1, 3, h + 8, w + 4 * n, generator=g), 3, 1, 1)
    return torch.cat([base[..., 4:h + 4, 4 * i : 4 * i + w] for i in range(n)])


# ----------------------------------------------------------------------------- attention / layout


def test_attention_value_is_reduced_and_the_fourth_conv_restores_the_channels():
    att = SelfAttention2d(8, value_reduction=2)
    seen = {}
    att.value.register_forward_hook(lambda m, i, o: seen.update(value=o.shape))
    att.proj.register_forward_hook(lambda m, i, o: seen.update(proj_in=i[0].shape, proj_out=o.shape))
    att.query.register_forward_hook(lambda m, i, o: seen.update(query=o.shape))
    x = torch.randn(2, 8, 4, 5)
    assert att(x).shape == x.shape
    assert seen["query"] == (2, 4, 4, 5)  # max(8 // 4, 4)
    assert seen["value"] == (2, 4, 4, 5) and seen["proj_in"] == (2, 4, 4, 5) and seen["proj_out"] == (2, 8, 4, 5)
    assert att.proj.weight.shape == (8, 4, 1, 1)
    # The default keeps all channels (the layout other users and the v1 checkpoints rely on).
    assert SelfAttention2d(8).value.weight.shape == (8, 8, 1, 1)
    with pytest.raises(ValueError, match="value_reduction"):
        SelfAttention2d(8, value_reduction=3)


@pytest.mark.parametrize("layout, final_at", [("seed", 1), ("v1", 2)])
def test_nonlocal_branch_goes_four_down_three_up_then_back_to_full_size(layout, final_at):
    nl = NonLocalBranch((8, 8, 12, 16), out_channels=4, layout=layout)
    sizes = {"down": [], "up": []}
    for block in nl.down:
        block.register_forward_hook(lambda m, i, o: sizes["down"].append(tuple(o.shape[-2:])))
    for block in nl.up_blocks:
        block.register_forward_hook(lambda m, i, o: sizes["up"].append(tuple(o.shape[-2:])))
    nl.final.register_forward_hook(lambda m, i, o: sizes.update(final=tuple(i[0].shape[-2:])))
    nl.attention.register_forward_hook(lambda m, i, o: sizes.update(attention=tuple(o.shape)))
    a, b = torch.rand(2, 2, 3, 64, 96).unbind(0)
    y = nl(a, b)
    assert y.shape == (2, 8, 64, 96)
    assert len(nl.down) == DOWN_STEPS == 4 and len(nl.up_blocks) == UP_STEPS == 3
    assert sizes["down"] == [(32, 48), (16, 24), (8, 12), (4, 6)]
    assert sizes["attention"] == (2, 16, 4, 6)
    assert sizes["up"] == [(8, 12), (16, 24), (32, 48)]
    # seed: bilinear to full size, then the conv; v1: the conv at half size, then bilinear.
    assert sizes["final"] == (64 // final_at, 96 // final_at)
    value = nl.attention.value.weight.shape[0]
    assert value == (16 // VALUE_REDUCTION if layout == "seed" else 16)


def test_new_models_take_the_method_layout_and_the_bundled_sidecar_selects_v1():
    from vivid.core.checkpoints import load_checkpoint, read_meta

    assert create_model("interp_tiny").config["nonlocal_layout"] == "seed"
    assert read_meta("interp-default")["model_config"]["nonlocal_layout"] == "v1"
    net, _ = load_checkpoint("interp-default", task="interp")
    att = net.nonlocal_branch.attention
    assert att.value.weight.shape == att.proj.weight.shape == (48, 48, 1, 1)
    with pytest.raises(ValueError, match="nonlocal_layout"):
        NonLocalBranch(layout="faithful")


# ----------------------------------------------------------------------------- internal scale


def test_scale_runs_the_local_features_at_the_reduced_size_and_returns_full_size():
    model = _perturbed()
    seen = {}
    model.kernels.register_forward_hook(lambda m, i, o: seen.update(kernels=tuple(i[0].shape[-2:])))
    model.depth.register_forward_hook(lambda m, i, o: seen.update(depth=tuple(i[0].shape[-2:])))
    model.synthesis.register_forward_hook(lambda m, i, o: seen.update(synthesis=tuple(i[0].shape[-2:])))
    f = _frames(2, 64, 96)
    with torch.no_grad():
        full = model(f[:1], f[1:], 0.5)
        half = model(f[:1], f[1:], 0.5, scale=0.5)
    assert seen == {"kernels": (32, 48), "depth": (32, 48), "synthesis": (64, 96)}
    for out in (full, half):
        assert out.frame.shape == (1, 3, 64, 96) and out.flow_t0.shape == (1, 2, 64, 96)
        assert out.depth0.shape == (1, 1, 64, 96)
    assert not torch.equal(full.frame, half.frame)
    with pytest.raises(ValueError, match="scale must be one of"):
        model(f[:1], f[1:], 0.5, scale=0.3)


def test_scale_upsamples_flows_in_pixels_of_the_input():
    """Given flows of a uniform shift, the projected flows come back at the input's pixels."""
    model = _perturbed(use_depth=False)
    f = _frames(2, 64, 96)
    shift = torch.zeros(1, 2, 64, 96)
    shift[:, 0] = 4.0
    with torch.no_grad():
        out = model(f[:1], f[1:], 0.5, flows=(shift, -shift), scale=0.5)
    inner = out.flow_t0[..., 8:-8, 8:-8]
    assert torch.allclose(inner[:, 0], torch.full_like(inner[:, 0], -2.0), atol=1e-4)
    assert torch.allclose(out.flow01[..., 8:-8, 8:-8][:, 0], torch.full_like(inner[:, 0], 4.0), atol=1e-4)


def test_auto_scale_follows_the_frame_size():
    quality, fast = PRESETS["quality"][1], PRESETS["fast"][1]
    assert auto_scale(360, 640, quality) == 1.0
    assert auto_scale(2160, 3840, quality) == 0.25
    assert auto_scale(1080, 1920, quality) == 0.5
    assert auto_scale(360, 640, fast) == 1.0 and auto_scale(720, 1280, fast) == 0.5
    assert parse_scale("auto") == "auto" and parse_scale("0.5") == 0.5
    with pytest.raises(VividError, match="--scale must be auto or one of 1, 0.5, 0.25"):
        parse_scale("0.3")


def test_auto_scale_is_chosen_from_the_whole_frame_not_a_tile():
    model = _perturbed()
    seen = []
    model.kernels.register_forward_hook(lambda m, i, o: seen.append(tuple(i[0].shape[-2:])))
    f = _frames(2, 48, 96)
    fn = ModelInterpolator(model, scale="auto", max_side=48, tile=64, overlap=16)
    fn(f[:1], f[1:], torch.tensor([0.5]))
    assert fn.scale_for(48, 96) == 0.5
    assert seen and all(s[0] * 2 <= 64 for s in seen)  # every tile at half its size


# ----------------------------------------------------------------------------- per-frame work once


def test_unique_frames_and_per_frame():
    f = _frames(3)
    frames = torch.cat((f[:2], f[1:]))  # (a, b, b, c): pairs (a, b), (b, c)
    keep, where = unique_frames(frames)
    assert keep.tolist() == [0, 1, 3] and where.tolist() == [0, 1, 1, 2]
    calls = []

    def fn(x):
        calls.append(x.shape[0])
        return [x * 2, x.mean(1, keepdim=True)]

    out = per_frame(fn, frames)
    assert calls == [3]
    assert torch.equal(out[0], frames * 2) and torch.equal(out[1], frames.mean(1, keepdim=True))
    nearly = frames.clone()
    nearly[2, 0, 0, 0] += 1e-6  # equal only when every value is
    assert unique_frames(nearly)[0].tolist() == [0, 1, 2, 3]


def test_consecutive_pairs_compute_each_frame_once_and_match_pair_by_pair():
    model = _perturbed(match_brightness=True)
    batches = []
    model.depth.register_forward_hook(lambda m, i, o: batches.append(i[0].shape[0]))
    # Moving content at a steady brightness (shifts of one image: equal means), as in most video.
    base = _frames(1, 40, 56)
    f = torch.cat([torch.roll(base, (i, 3 * i), (2, 3)) for i in range(5)])
    with torch.no_grad():
        together = model(f[:-1], f[1:], torch.full((4,), 0.5)).frame
        assert batches == [5]  # 5 distinct frames for 4 pairs, not 8
        alone = torch.cat([model(f[i : i + 1], f[i + 1 : i + 2], 0.5).frame for i in range(4)])
    assert torch.allclose(together, alone, atol=1e-5)


def test_match_brightness_rounds_shifts_to_grey_levels_and_restores_the_mean():
    a = torch.full((1, 3, 4, 4), 0.40)
    b = a + 0.5 / 255 - 1e-4  # less than a grey level brighter: no shift
    sa, sb, offset = match_brightness(a, b, torch.tensor([0.5]))
    assert torch.equal(sa, a) and torch.equal(sb, b) and torch.equal(offset, torch.zeros(1, 3, 1, 1))
    c = a + 40 / 255  # a fade: both at their common mean, the t-interpolated mean put back
    sa, sc, offset = match_brightness(a, c, torch.tensor([0.25]))
    assert torch.allclose(sa.mean(), sc.mean(), atol=1e-6)
    assert torch.allclose(sa.mean() + offset.mean(), 0.75 * a.mean() + 0.25 * c.mean(), atol=1e-6)


# ----------------------------------------------------------------------------- decode / encode threads


def test_prefetched_keeps_order_and_raises_the_producers_error():
    assert list(prefetched(range(50), depth=3)) == list(range(50))

    def broken():
        yield 1
        raise VividError("bad frame")

    got = []
    with pytest.raises(VividError, match="bad frame"):
        for x in prefetched(broken()):
            got.append(x)
    assert got == [1]
    it = prefetched(iter(range(1000)), depth=2)
    assert next(it) == 0
    it.close()  # a consumer that stops early stops the thread
    assert not any(t.name == "decode" and t.is_alive() for t in threading.enumerate())


def test_background_writer_writes_in_order_and_reports_errors():
    written = []
    w = BackgroundWriter(lambda x, time=None: written.append((x, time)), depth=2)
    for i in range(20):
        w.write(i, time=i / 10)
    w.close()
    assert written == [(i, i / 10) for i in range(20)]

    def fail(x):
        raise OSError("disk full")

    w = BackgroundWriter(fail)
    w.write(1)
    with pytest.raises(OSError, match="disk full"):
        w.close()


def test_one_pair_at_several_times_computes_its_features_once():
    """Up-converting by more than 2x asks for one pair at several t: flows, depths, kernels and
    non-local features are computed once, and each frame matches its own call."""
    model = _perturbed(match_brightness=True)
    batches = []
    for part in (model.kernels, model.nonlocal_branch, model.depth):
        part.register_forward_hook(lambda m, i, o: batches.append(i[0].shape[0]))
    f = _frames(2)
    a, b = f[:1].expand(3, -1, -1, -1), f[1:].expand(3, -1, -1, -1)
    ts = torch.tensor([0.25, 0.5, 0.75])
    with torch.no_grad():
        together = model(a, b, ts)
        assert batches == [2, 1, 1]  # depth: 2 frames; kernels and non-local branch: 1 pair
        alone = [model(f[:1], f[1:], float(t)) for t in ts]
    assert torch.allclose(together.frame, torch.cat([o.frame for o in alone]), atol=1e-5)
    assert len(together.flow_pyramid) == len(alone[0].flow_pyramid)
    for x, y in zip(together.flow_pyramid, alone[0].flow_pyramid):
        assert x.shape[0] == 6 and torch.allclose(x[0], y[0]) and torch.allclose(x[3], y[1])
