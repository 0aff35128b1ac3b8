"""What `vivid interp` and `vivid repair` keep of their input files: every audio stream (copied
where the output format takes it, else AAC), the container tags, and the input's orientation
(a rotated video or an EXIF-turned photo is worked on upright)."""

from __future__ import annotations

import logging
from fractions import Fraction

import av
import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from vivid.cli import app
from vivid.core.checkpoints import save_checkpoint
from vivid.core.registry import create_model
from vivid.core.video import frame_end, iter_frames, probe
from vivid.interp.apply import interpolate_images, upconvert_file
from vivid.interp.repair import repair_file

RATE = 48000  # audio samples per second


def blend(frame0, frame1, t):
    t = t.reshape(-1, 1, 1, 1)
    return (1 - t) * frame0 + t * frame1


def picture(i: int, h: int = 32, w: int = 48) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.stack([127 + 100 * np.sin((x + 2 * i) / 6), 127 + 90 * np.cos(y / 5), np.full_like(x, 60.0)], -1).astype(np.uint8)


def clip_with_audio(path, audio=(("aac", "eng"),), n=25, fps=25, seconds=1.0, tags=None, images=None):
    """A clip of ``n`` frames with one audio stream per (codec, language): tones of 1 s."""
    container = av.open(str(path), "w")
    container.metadata.update(tags or {"title": "a test clip", "comment": "made by the tests"})
    video = container.add_stream("libx264", rate=fps)
    video.width, video.height, video.pix_fmt = 48, 32, "yuv420p"
    streams = []
    for codec, language in audio:
        stream = container.add_stream(codec, rate=RATE, layout="stereo")
        stream.metadata["language"] = language
        streams.append(stream)
    for i in range(n):
        frame = av.VideoFrame.from_ndarray(picture(i) if images is None else images[i], format="rgb24")
        frame.pts = i
        container.mux(video.encode(frame))
    t = np.arange(int(RATE * seconds)) / RATE
    for k, stream in enumerate(streams):
        tone = (0.3 * np.sin(2 * np.pi * (440 + 110 * k) * t)).astype(np.float32)
        for start in range(0, len(t), 1024):
            chunk = tone[start : start + 1024]
            frame = av.AudioFrame.from_ndarray(np.stack([chunk, chunk]), format="fltp", layout="stereo")
            frame.sample_rate, frame.pts = RATE, start
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    container.mux(video.encode())
    container.close()
    return path


def audio_of(path) -> list[dict]:
    """Per audio stream: codec, language, packets (time, bytes), first and last sample time."""
    out = []
    with av.open(str(path)) as container:
        for stream in container.streams.audio:
            packets = [p for p in container.demux(stream) if p.size > 0]
            tb = stream.time_base
            out.append(
                {
                    "codec": stream.codec_context.name,
                    "language": stream.metadata.get("language"),
                    "packets": [(float(p.pts * tb), bytes(p)) for p in packets],
                    "start": float(packets[0].pts * tb),
                    "end": float((packets[-1].pts + packets[-1].duration) * tb),
                }
            )
            container.seek(0)
    return out


def tags_of(path) -> dict:
    with av.open(str(path)) as container:
        return dict(container.metadata)


AAC_FRAME = 1024 / RATE  # one audio frame, seconds


# ------------------------------------------------------------------ audio


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv"])
def test_upconversion_copies_audio_and_tags(tmp_path, suffix):
    src = clip_with_audio(tmp_path / "in.mp4")
    out = tmp_path / f"up{suffix}"
    upconvert_file(src, out, blend, factor=2)
    (before,), (after,) = audio_of(src), audio_of(out)
    assert after["codec"] == "aac" and after["language"] == "eng"
    # copied, not re-encoded: the same packets
    assert [b for _, b in after["packets"]] == [b for _, b in before["packets"]]
    assert after["end"] - after["start"] == pytest.approx(before["end"] - before["start"], abs=AAC_FRAME)
    assert tags_of(out)["title"] == "a test clip"
    # the picture still spans the input (Matroska may start it later, with the audio's priming)
    frames = list(iter_frames(out))
    assert frame_end(frames[-1], 50) - frames[0].time == pytest.approx(1.0, abs=1 / 50)


def test_every_audio_stream_is_kept(tmp_path):
    src = clip_with_audio(tmp_path / "in.mkv", audio=(("aac", "eng"), ("mp3", "fra")))
    out = tmp_path / "up.mp4"
    upconvert_file(src, out, blend, fps=50.0)
    kept = audio_of(out)
    assert [(a["codec"], a["language"]) for a in kept] == [("aac", "eng"), ("mp3float", "fra")]
    assert [[b for _, b in a["packets"]] for a in kept] == [[b for _, b in a["packets"]] for a in audio_of(src)]


def test_audio_the_output_cannot_hold_is_encoded_to_aac(tmp_path, caplog):
    src = clip_with_audio(tmp_path / "in.mkv", audio=(("flac", "eng"),))  # FLAC does not go into .mov
    out = tmp_path / "up.mov"
    with caplog.at_level(logging.INFO, logger="vivid.core.video"):
        upconvert_file(src, out, blend, factor=2)
    (before,), (after,) = audio_of(src), audio_of(out)
    assert after["codec"] == "aac" and after["language"] == "eng"
    assert after["end"] == pytest.approx(before["end"], abs=AAC_FRAME)
    assert any("AAC" in r.getMessage() for r in caplog.records)


def test_repair_keeps_audio_in_sync(tmp_path):
    images = [picture(i) for i in range(25)]
    images[10] = images[9]  # a stutter
    src = clip_with_audio(tmp_path / "in.mp4", images=images)
    out = tmp_path / "fixed.mp4"
    result = repair_file(src, out, blend, threshold=0.5)
    assert result.repaired == [10]
    (before,), (after,) = audio_of(src), audio_of(out)
    assert after["packets"] == before["packets"]  # same bytes at the same times
    assert [f.time for f in iter_frames(out)] == pytest.approx([f.time for f in iter_frames(src)], abs=1e-6)
    assert probe(out).duration == pytest.approx(probe(src).duration, abs=1e-6)
    assert tags_of(out)["comment"] == "made by the tests"


def test_audio_can_be_dropped_and_a_folder_says_it_holds_none(tmp_path, caplog):
    src = clip_with_audio(tmp_path / "in.mp4")
    upconvert_file(src, tmp_path / "silent.mp4", blend, factor=2, audio=False)
    repair_file(src, tmp_path / "silent2.mp4", blend, audio=False)
    assert audio_of(tmp_path / "silent.mp4") == [] and audio_of(tmp_path / "silent2.mp4") == []
    assert tags_of(tmp_path / "silent.mp4")["title"] == "a test clip"  # tags are not audio
    with caplog.at_level(logging.WARNING, logger="vivid.core.video"):
        upconvert_file(src, tmp_path / "frames", blend, factor=2)
    assert any("audio" in r.getMessage() and "folder" in r.getMessage() for r in caplog.records)


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    torch.manual_seed(0)
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny", create_model("interp_tiny"), task="interp", model_name="interp_tiny")


def test_cli_keeps_audio_unless_no_audio(tmp_path, tiny_ckpt):
    src = clip_with_audio(tmp_path / "in.mp4", n=6, seconds=0.24)
    runner = CliRunner()
    for command, extra in (("interp", ["--factor", "2"]), ("repair", [])):
        for flag, streams in (([], 1), (["--no-audio"], 0)):
            out = tmp_path / f"{command}{len(flag)}.mp4"
            args = [command, str(src), "-o", str(out), "--model", str(tiny_ckpt), "-q", *extra, *flag]
            res = runner.invoke(app, args)
            assert res.exit_code == 0, res.output
            assert len(audio_of(out)) == streams


# ------------------------------------------------------------------ orientation


def rotated_clip(path, images, degrees):
    """A clip stored as ``images`` that players turn by ``degrees`` counter-clockwise."""
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=25)
    stream.height, stream.width = images[0].shape[:2]
    stream.pix_fmt = "yuv420p"
    stream.set_display_rotation(degrees)
    for i, image in enumerate(images):
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = i
        container.mux(stream.encode(frame))
    container.mux(stream.encode())
    container.close()
    return path


def _psnr(a, b):
    return 10 * np.log10(255.0**2 / np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


@pytest.mark.parametrize("tool", ["interp", "repair"])
def test_rotated_video_is_written_upright(tmp_path, tool):
    stored = [picture(i) for i in range(6)]  # 48x32 as stored, shown as 32x48 (portrait)
    src = rotated_clip(tmp_path / "phone.mp4", stored, -90)
    out = tmp_path / "out.mp4"
    if tool == "interp":
        upconvert_file(src, out, blend, factor=2)
    else:
        repair_file(src, out, blend)
    info = probe(out)
    assert (info.width, info.height, info.rotation) == (32, 48, 0)  # upright, no rotation left to apply
    written = [f.image for f in iter_frames(out)]
    inputs = written[::2] if tool == "interp" else written
    for got, image in zip(inputs, stored):
        assert _psnr(got, np.rot90(image, -1)) > 30.0


def test_an_exif_turned_photo_pairs_with_a_portrait_photo(tmp_path):
    portrait = picture(0, h=48, w=32)
    stored = np.ascontiguousarray(np.rot90(picture(2, h=48, w=32), 1))  # 48 wide as stored
    im = Image.fromarray(stored)
    exif = im.getexif()
    exif[0x0112] = 6  # show turned a quarter clockwise: 32 wide, 48 high
    im.save(tmp_path / "phone.png", exif=exif.tobytes())
    Image.fromarray(portrait).save(tmp_path / "portrait.png")
    mid = interpolate_images(tmp_path / "portrait.png", tmp_path / "phone.png", tmp_path / "mid.png", blend)
    assert mid.shape == (48, 32, 3)
    expected = (portrait.astype(np.float64) + picture(2, h=48, w=32)) / 2
    assert np.abs(mid - expected).max() <= 1.0
