"""The interpolation engine: tiling, the model as an interpolator, up-conversion grid, batching,
streaming, scene cuts, clip I/O."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
import torch
from torch import nn

from vivid.core.errors import VividError
from vivid.core.fileio import to_tensor, to_uint8
from vivid.core.registry import create_model
from vivid.core.video import Frame, FrameSink, VideoWriter, iter_frames, probe
from vivid.interp.apply import upconvert_file
from vivid.interp.flow_settings import FlowSettings
from vivid.interp.interpolator import ModelInterpolator, ensemble_view, interpolate_pair
from vivid.interp.scenecut import SceneCutDetector, thumbnail
from vivid.interp.tiling import tile_starts, tiled_interpolate
from vivid.interp.upconvert import check_rate, expected_output_count, upconvert


class Out:
    """The part of a model's output the interpolator reads."""

    def __init__(self, frame):
        self.frame = frame


class BlendNet(nn.Module):
    """Stand-in with the model interface: a pointwise cross-fade."""

    def forward(self, frame0, frame1, t):
        t = torch.as_tensor(t, dtype=frame0.dtype).reshape(-1, 1, 1, 1)
        return Out((1 - t) * frame0 + t * frame1)


def blend(frame0, frame1, t):
    t = t.reshape(-1, 1, 1, 1)
    return (1 - t) * frame0 + t * frame1


def texture(h: int, w: int, shift: float = 0.0, seed: int = 0) -> np.ndarray:
    """A smooth colourful pattern, moved right by ``shift`` pixels."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    x = x - shift
    img = np.zeros((h, w, 3))
    for c in range(3):
        fx, fy, ph = rng.uniform(0.02, 0.09), rng.uniform(0.02, 0.09), rng.uniform(0, 6.3)
        img[..., c] = 0.5 + 0.4 * np.sin(fx * x + ph) * np.cos(fy * y + 0.5 * ph)
    return (img * 255).round().astype(np.uint8)


def clip(n: int, fps: float = 10.0, h: int = 32, w: int = 48, step: float = 2.0) -> list[Frame]:
    return [Frame(image=texture(h, w, shift=i * step), pts=i, time=i / fps, index=i) for i in range(n)]


# ------------------------------------------------------------------ tiling


def test_tile_starts_hand_values():
    assert tile_starts(10, 4, 1) == [0, 3, 6]
    assert tile_starts(11, 4, 1) == [0, 3, 6, 7]  # last tile pushed back to end at 11
    assert tile_starts(4, 4, 1) == [0]
    assert tile_starts(3, 4, 1) == [0]
    for length, tile, overlap in [(100, 32, 8), (257, 64, 16), (65, 64, 0)]:
        starts = tile_starts(length, tile, overlap)
        assert starts[0] == 0 and starts[-1] + tile == length
        assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:]))


def test_tiling_equals_untiled_for_pointwise_model():
    f0 = torch.rand(2, 3, 150, 230)
    f1 = torch.rand(2, 3, 150, 230)
    t = torch.tensor([0.3, 0.75])
    full = blend(f0, f1, t)
    tiled = tiled_interpolate(blend, f0, f1, t, tile=64, overlap=16)
    assert torch.allclose(tiled, full, atol=1e-6)
    # the model wrapper tiles the same way
    wrapped = ModelInterpolator(BlendNet(), tile=64, overlap=16)(f0, f1, t)
    assert torch.allclose(wrapped, full, atol=1e-6)


# ------------------------------------------------------------------ self-ensemble


def test_ensemble_views_are_the_eight_flips_and_transposes_and_map_back():
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)
    views = [ensemble_view(x, k) for k in range(8)]
    assert [tuple(v.shape[-2:]) for v in views] == [(4, 5)] * 4 + [(5, 4)] * 4
    assert len({tuple(v.flatten().tolist()) for v in views}) == 8
    assert torch.equal(views[1], x.flip(-1)) and torch.equal(views[4], x.transpose(-1, -2))
    for k, v in enumerate(views):
        assert torch.equal(ensemble_view(v, k, inverse=True), x)


class ShiftNet(nn.Module):
    """Not flip-invariant: frame0 moved one pixel to the left (the last column repeated)."""

    def forward(self, frame0, frame1, t):
        return Out(torch.cat((frame0[..., 1:], frame0[..., -1:]), -1))


def test_ensemble_averages_the_views_mapped_back():
    f0, f1, t = torch.rand(1, 3, 6, 7), torch.rand(1, 3, 6, 7), torch.tensor([0.5])
    # a pointwise model gives the same output from every view
    for n in (2, 4, 8):
        assert torch.allclose(ModelInterpolator(BlendNet(), tile=0, ensemble=n)(f0, f1, t), blend(f0, f1, t), atol=1e-6)
    # the left-right flipped view of a shift to the left is a shift to the right
    left = torch.cat((f0[..., 1:], f0[..., -1:]), -1)
    right = torch.cat((f0[..., :1], f0[..., :-1]), -1)
    out = ModelInterpolator(ShiftNet(), tile=0, ensemble=2)(f0, f1, t)
    assert torch.allclose(out, 0.5 * (left + right), atol=1e-6)
    # transposed views shift along y
    up = torch.cat((f0[..., 1:, :], f0[..., -1:, :]), -2)
    down = torch.cat((f0[..., :1, :], f0[..., :-1, :]), -2)
    out = ModelInterpolator(ShiftNet(), tile=0, ensemble=8)(f0, f1, t)
    assert torch.allclose(out, 0.25 * (left + right + up + down), atol=1e-6)
    with pytest.raises(VividError, match="--ensemble"):
        ModelInterpolator(BlendNet(), ensemble=3)


def test_flow_settings_parse_and_reach_each_call_not_the_model():
    items = ["flow_scales=1,2,4", "flow_window=9", "flow_refine=0", "flow_contrast=2.5", "flow_median=3", "flow_still=5"]
    assert FlowSettings(flow_window=33).parse(items).as_config() == {
        "flow_scales": [1, 2, 4],
        "flow_window": 9,
        "flow_refine": 0,
        "flow_contrast": 2.5,
        "flow_median": 3,
        "flow_still": 5,
    }
    assert FlowSettings(flow_window=33).parse(["flow_refine=2"]) == FlowSettings(flow_window=33, flow_refine=2)  # on top
    bad_items = (("flow_window=8", "odd"), ("flow_scales=1,x", "flow_scales=1,x"), ("use_depth=0", "NAME=VALUE"), ("flow_still=2", "flow_still"))
    for bad, message in bad_items:
        with pytest.raises(VividError, match=message):
            FlowSettings().parse([bad])
    torch.manual_seed(0)
    net = create_model("interp_tiny", flow_scales=[1, 2], flow_refine=1).train()
    for p in net.flow.parameters():  # a flow network that moves pixels, so its settings matter
        p.data.add_(0.1 * torch.randn_like(p))
    fn = ModelInterpolator(net, tile=0, flow_settings={"flow_scales": [1], "flow_window": 5})
    assert fn.flow_settings == FlowSettings(flow_scales=(1,), flow_window=5, flow_refine=1)
    a, b = (to_tensor(texture(32, 48, s))[None] for s in (0.0, 4.0))
    out = fn(a, b, torch.tensor([0.5]))
    # The caller's model is left as it was: its settings, its config, its training mode.
    assert net.flow_settings == FlowSettings(flow_scales=(1, 2), flow_refine=1)
    assert (net.config["flow_scales"], net.config["flow_window"], net.config["flow_refine"]) == ([1, 2], 9, 1)
    assert net.training and all(m.training for m in net.modules())
    with torch.no_grad():
        net.eval()
        given = net(a, b, 0.5, flow_settings=fn.flow_settings).frame
        own = net(a, b, 0.5).frame
    assert torch.equal(out, given) and not torch.equal(out, own)
    with pytest.raises(VividError, match="flow_refine"):
        ModelInterpolator(net, tile=0, flow_settings={"flow_refine": -1})
    with pytest.raises(VividError, match="no flow settings"):
        ModelInterpolator(BlendNet(), tile=0, flow_settings={"flow_refine": 0})


def test_tiling_blends_overlaps_instead_of_pasting():
    """A tile-position-dependent 'model' exposes the feathering: each pixel is a convex mix."""
    calls = []

    def tile_id(frame0, frame1, t):
        calls.append(frame0.shape)
        return torch.full_like(frame0, float(len(calls)))

    f = torch.zeros(1, 3, 100, 100)
    out = tiled_interpolate(tile_id, f, f, torch.tensor([0.5]), tile=64, overlap=16)
    assert len(calls) == 4
    assert out[0, 0, 0, 0] == 1 and out[0, 0, -1, -1] == 4  # corners belong to one tile
    seam = out[0, 0, 10, 36:64]  # overlap of tiles 1 and 2 along x
    assert torch.all(seam > 1) and torch.all(seam < 2) and torch.all(seam[1:] >= seam[:-1])


def test_tiling_close_to_untiled_for_interp_tiny():
    from vivid.core.registry import create_model

    torch.manual_seed(0)
    model = create_model("interp_tiny").eval()
    a = to_tensor(texture(64, 112, 0.0))[None]
    b = to_tensor(texture(64, 112, 3.0))[None]
    t = torch.tensor([0.5])
    full = ModelInterpolator(model, tile=0)(a, b, t)
    tiled = ModelInterpolator(model, tile=64, overlap=24)(a, b, t)  # 2 tiles side by side
    assert full.shape == tiled.shape == (1, 3, 64, 112)
    assert (full - tiled).abs().mean() < 0.01


# ------------------------------------------------------------------ interpolate_pair


def test_interpolate_pair_shapes_and_batch_equals_per_item():
    a, b = torch.rand(3, 3, 20, 24), torch.rand(3, 3, 20, 24)
    t = torch.tensor([0.2, 0.5, 0.9])
    batch = interpolate_pair(BlendNet(), a, b, t)
    for i in range(3):
        single = interpolate_pair(BlendNet(), a[i], b[i], float(t[i]))
        assert single.shape == (3, 20, 24)
        assert torch.allclose(single, batch[i], atol=1e-6)
    assert torch.allclose(batch[1], 0.5 * (a[1] + b[1]), atol=1e-6)
    with pytest.raises(ValueError):
        interpolate_pair(BlendNet(), a, b[:, :, :10])


def test_interpolate_pair_with_interp_tiny_runs_any_size():
    from vivid.core.registry import create_model

    out = interpolate_pair(create_model("interp_tiny"), torch.rand(3, 37, 53), torch.rand(3, 37, 53), 0.5)
    assert out.shape == (3, 37, 53) and torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


# ------------------------------------------------------------------ up-conversion grid


@pytest.mark.parametrize("factor", [2, 3])
def test_upconvert_factor_counts_times_and_frames(factor):
    frames = clip(5, fps=10.0)
    out = list(upconvert(frames, blend, factor=factor, batch_size=3))
    assert len(out) == (5 - 1) * factor + 1 == expected_output_count(5, 10.0, factor=factor)
    assert [o.index for o in out] == list(range(len(out)))
    np.testing.assert_allclose([o.time for o in out], np.arange(len(out)) / (10.0 * factor), atol=1e-9)
    for k, o in enumerate(out):
        i, j = divmod(k, factor)
        if j == 0:
            assert o.kind == "input" and np.array_equal(o.image, frames[i].image)
        else:
            t = j / factor
            expect = to_uint8(blend(to_tensor(frames[i].image)[None], to_tensor(frames[i + 1].image)[None], torch.tensor([t])))[0]
            assert o.kind == "interpolated" and o.t == pytest.approx(t)
            assert np.array_equal(o.image, expect)


def test_upconvert_to_fps_uses_the_new_time_grid():
    frames = clip(5, fps=10.0)  # times 0 .. 0.4 s
    out = list(upconvert(frames, blend, fps=25.0))
    assert len(out) == 11 == expected_output_count(5, 10.0, fps=25.0)  # 0, 0.04, ..., 0.40
    np.testing.assert_allclose([o.time for o in out], np.arange(11) / 25.0, atol=1e-9)
    # 0.04 s lies 0.4 of the way from frame 0 to frame 1; 0.20 s is frame 2 itself
    assert out[1].source == 0 and out[1].t == pytest.approx(0.4)
    expect = to_uint8(0.6 * to_tensor(frames[0].image) + 0.4 * to_tensor(frames[1].image))
    assert np.array_equal(out[1].image, expect)
    assert out[5].kind == "input" and out[5].source == 2 and np.array_equal(out[5].image, frames[2].image)
    assert out[-1].kind == "input" and np.array_equal(out[-1].image, frames[-1].image)


def test_upconvert_fps_with_uneven_timestamps():
    frames = clip(3, fps=10.0)
    frames[2].time = 0.3  # the second interval is twice as long
    out = list(upconvert(frames, blend, fps=20.0))
    assert [o.source for o in out] == [0, 0, 1, 1, 1, 1, 2]  # 0, 0.05, ..., 0.30 s
    assert [round(o.t, 6) for o in out] == [0.0, 0.5, 0.0, 0.25, 0.5, 0.75, 0.0]


def test_batch_size_does_not_change_the_result():
    frames = clip(6)
    a = [o.image for o in upconvert(frames, blend, factor=3, batch_size=1)]
    b = [o.image for o in upconvert(frames, blend, factor=3, batch_size=5)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b)) and len(a) == len(b) == 16


def test_batches_are_filled_across_intervals():
    sizes = []

    def counting(f0, f1, t):
        sizes.append(len(t))
        return blend(f0, f1, t)

    list(upconvert(clip(6), counting, factor=2, batch_size=4))
    assert sizes == [4, 1]  # 5 interpolated frames in two calls


def test_upconvert_streams_with_bounded_lookahead():
    consumed = 0

    def long_video():
        nonlocal consumed
        for i in range(10_000):
            consumed += 1
            yield Frame(image=np.full((8, 8, 3), i % 256, np.uint8), pts=i, time=i / 25, index=i)

    first = list(itertools.islice(upconvert(long_video(), blend, factor=2, batch_size=2, scene_cuts=None), 10))
    assert len(first) == 10
    assert consumed <= 8  # a few frames, not the whole video


def test_upconvert_rejects_bad_input():
    frames = clip(3)
    with pytest.raises(VividError, match="at least 2"):
        list(upconvert(frames[:1], blend, factor=2))
    frames[1] = Frame(image=np.zeros((10, 10, 3), np.uint8), pts=1, time=0.1, index=1)
    with pytest.raises(VividError, match="one size"):
        list(upconvert(frames, blend, factor=2))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(factor=1), "from 2 to 16"),
        (dict(factor=17), "from 2 to 16"),
        (dict(fps=25.0), "not above"),
        (dict(fps=10.0), "not above"),
        (dict(fps=1000.0), "more than 16x"),
        (dict(), "exactly one"),
        (dict(factor=2, fps=50.0), "exactly one"),
    ],
)
def test_check_rate_rejects_absurd_requests(kwargs, message):
    with pytest.raises(VividError, match=message):
        check_rate(25.0, **kwargs)


def test_check_rate_values():
    assert check_rate(25.0, factor=2) == 50.0
    assert check_rate(25.0, fps=60.0) == 60.0


# ------------------------------------------------------------------ scene cuts


def test_scene_cut_detector_separates_cuts_from_motion():
    det = SceneCutDetector()
    a = thumbnail(texture(90, 160, 0.0, seed=1))
    moved = thumbnail(texture(90, 160, 6.0, seed=1))
    other = thumbnail(texture(90, 160, 0.0, seed=7) // 3)  # another scene, darker
    assert not det.is_cut(a, moved)
    assert det.is_cut(a, other)
    assert not det.is_cut(a, a)


def test_no_blend_across_a_scene_cut():
    scene_a = clip(3, h=36, w=64)
    scene_b = [Frame(image=texture(36, 64, 2.0 * i, seed=5) // 3, pts=i, time=i / 10, index=i) for i in range(3, 6)]
    frames = scene_a + scene_b
    pairs_seen = []

    def recording(f0, f1, t):
        for x in f0:
            pairs_seen.append(float(x.mean()))
        return blend(f0, f1, t)

    out = list(upconvert(frames, recording, factor=3))
    cut = [o for o in out if o.source == 2]  # the interval 2 -> 3 straddles the cut
    assert [o.kind for o in cut] == ["input", "cut", "cut"]
    assert np.array_equal(cut[1].image, frames[2].image)  # t = 1/3: nearest is frame 2
    assert np.array_equal(cut[2].image, frames[3].image)  # t = 2/3: nearest is frame 3
    assert len(pairs_seen) == 2 * 4  # only the 4 intervals inside a scene were interpolated
    # without the detector the cut is blended
    out = list(upconvert(frames, blend, factor=3, scene_cuts=None))
    assert [o.kind for o in out if o.source == 2] == ["input", "interpolated", "interpolated"]


# ------------------------------------------------------------------ files


def test_upconvert_file_video_round_trip(tmp_path):
    src = tmp_path / "in.mp4"
    with VideoWriter(src, Fraction(25)) as w:
        for f in clip(6, fps=25.0, h=48, w=64):
            w.write(f.image)
    summary = upconvert_file(src, tmp_path / "out.mp4", blend, factor=2)
    assert (summary.n_input, summary.n_output, summary.n_interpolated) == (6, 11, 5)
    info = probe(tmp_path / "out.mp4", exact=True)
    assert info.n_frames == 11 and info.fps == 50
    times = [f.time for f in iter_frames(tmp_path / "out.mp4")]
    np.testing.assert_allclose(times, np.arange(11) / 50, atol=1e-4)


@pytest.mark.parametrize("in_fps", [Fraction(24), Fraction(25), Fraction(30000, 1001)])
@pytest.mark.parametrize("request_", [{"factor": 2}, {"factor": 3}, {"fps": 60.0}])
def test_upconverted_video_spans_the_input(tmp_path, in_fps, request_):
    """The output lasts as long as the input, the last input frame's display time included."""
    n = round(2 * in_fps)  # 2 s (2.002 s at 29.97 fps)
    src = tmp_path / "in.mp4"
    with VideoWriter(src, in_fps) as w:
        for f in clip(n, fps=float(in_fps), h=32, w=48):
            w.write(f.image)
    length = n / float(in_fps)
    assert probe(src).duration == pytest.approx(length, abs=1e-6)
    for suffix in (".mp4", ".mkv", ".mov"):
        out = tmp_path / f"out{suffix}"
        summary = upconvert_file(src, out, blend, **request_)
        period = 1.0 / summary.out_fps
        info = probe(out)
        assert info.duration == pytest.approx(length, abs=period / 2), suffix
        assert summary.n_output == expected_output_count(n, float(in_fps), **request_)
        # still a constant frame rate: only the last frame is shown longer
        assert not info.is_vfr and float(info.fps) == pytest.approx(summary.out_fps)


def test_upconvert_file_folder_output_and_refusals(tmp_path):
    from vivid.core.fileio import write_image

    folder = tmp_path / "frames"
    folder.mkdir()
    for f in clip(4):
        write_image(folder / f"f{f.index}.png", f.image)
    out = tmp_path / "up"
    summary = upconvert_file(folder, out, blend, factor=3, input_fps=10)
    assert summary.n_output == 10 and summary.out_fps == 30
    assert sorted(p.name for p in out.iterdir())[:2] == ["frame_000000.png", "frame_000001.png"]
    assert len(list(out.iterdir())) == 10
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left
    with pytest.raises(VividError, match="not empty"):
        upconvert_file(folder, out, blend, factor=2)
    with pytest.raises(VividError, match="input"):
        upconvert_file(folder, folder, blend, factor=2)
    with pytest.raises(VividError, match="unsupported output"):
        FrameSink(tmp_path / "x.gif", 25)


def test_flow_projection_keeps_float32_under_mixed_precision():
    """Under autocast the flow projection would index pixels with low-precision floats; it turns
    autocast off and works in float32 itself, so the model runs and stays close to the float32
    result (CPU bfloat16 stands in for CUDA float16 here)."""
    from vivid.core.registry import create_model
    from vivid.interp.projection import FlowProjection

    torch.manual_seed(0)
    model = create_model("interp_tiny").eval()
    a = to_tensor(texture(48, 80, 0.0))[None]
    b = to_tensor(texture(48, 80, 2.0))[None]
    with torch.no_grad():
        ref = model(a, b, 0.5).frame
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(a, b, 0.5).frame
    assert torch.isfinite(out).all()
    assert (out.float() - ref).abs().mean() < 0.02
    flow = torch.full((1, 2, 8, 8), 1.5)
    expected = FlowProjection()(flow, -flow, 0.5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        half = FlowProjection()(flow.bfloat16(), -flow.bfloat16(), torch.tensor([0.5]))
    assert all(h.dtype == torch.float32 for h in half)
    assert all(torch.equal(h, e) for h, e in zip(half, expected))


def test_dis_flow_source_feeds_the_generator():
    """flow="dis": the generator gets OpenCV's DIS flows (not its flow network's); for a
    textured image shifted by 6 px they say so, and the result is the half-way image."""
    pytest.importorskip("cv2")
    from vivid.core.registry import create_model

    torch.manual_seed(0)
    model = create_model("interp_tiny", use_depth_projection=False).eval()
    seen = {}
    forward = model.forward

    def spy(image0, image1, t, flows=None):
        seen["flows"] = flows
        return forward(image0, image1, t, flows=flows)

    model.forward = spy
    a, mid, b = (to_tensor(texture(64, 96, s))[None] for s in (0.0, 3.0, 6.0))
    fn = ModelInterpolator(model, flow="dis", tile=0)
    out = fn(a, b, torch.tensor([0.5]))
    f01, f10 = seen["flows"]
    inner = (slice(None), 0, slice(8, -8), slice(12, -12))
    assert abs(f01[inner].median().item() - 6.0) < 0.5 and abs(f10[inner].median().item() + 6.0) < 0.5
    blend_err = (0.5 * (a + b) - mid)[..., 8:-8, 12:-12].abs().mean()
    assert (out - mid)[..., 8:-8, 12:-12].abs().mean() < 0.5 * blend_err
    with pytest.raises(VividError, match="--flow"):
        ModelInterpolator(model, flow="raft")
