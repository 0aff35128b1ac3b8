"""Interpolation datasets: flying layers, video triplets, Vimeo-90K layout, DataModule."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from vivid.core.errors import VividError
from vivid.core.config import parse_config
from vivid.interp.config import FlyingData, InterpData
from vivid.interp.data import (
    FlyingTriplets,
    InterpDataModule,
    Vimeo90KTriplets,
    VideoTriplets,
    _augment,
    decode_video,
    list_videos,
)


def _ramp_clip(n=12, h=20, w=24):
    """Frame i is a constant image of value 10 * i: any triplet's middle is a linear blend."""
    return [torch.full((3, h, w), 10 * i, dtype=torch.uint8) for i in range(n)]


def test_video_triplets_time_matches_frames():
    ds = VideoTriplets([_ramp_clip()], gaps=(2, 3, 4), crop=(16, 16), length=50)
    for i in range(50):
        item = ds[i]
        t = item["t"].item()
        assert 0 < t < 1 and item["image0"].shape == (3, 16, 16)
        expected = (1 - t) * item["image0"] + t * item["image1"]
        assert torch.allclose(item["image_t"], expected, atol=1e-5)  # holds under reversal too
        assert item["has_labels"].item() == 0.0


def test_video_triplets_hold_out_the_tail():
    clip = _ramp_clip(20)
    train = VideoTriplets([clip], gaps=(2,), crop=None, frames=(0.0, 0.5), length=40)
    val = VideoTriplets([clip], gaps=(2,), crop=None, frames=(0.5, 1.0), length=40, augment=False, deterministic=True)
    train_vals = {round(train[i][k][0, 0, 0].item() * 255) for i in range(40) for k in ("image0", "image1", "image_t")}
    val_vals = {round(val[i][k][0, 0, 0].item() * 255) for i in range(40) for k in ("image0", "image1", "image_t")}
    assert max(train_vals) <= 90 and min(val_vals) >= 100  # frames 0-9 vs 10-19
    assert torch.equal(val[3]["image_t"], val[3]["image_t"])
    with pytest.raises(VividError):
        VideoTriplets([clip[:2]], gaps=(2,))


def test_augment_flips_flow_and_reverses_time():
    item = {
        "image0": torch.rand(3, 4, 5),
        "image1": torch.rand(3, 4, 5),
        "image_t": torch.rand(3, 4, 5),
        "t": torch.tensor(0.25),
        "flow01": torch.ones(2, 4, 5),
        "flow10": -torch.ones(2, 4, 5),
        "invdepth0": torch.ones(1, 4, 5),
        "invdepth1": 2 * torch.ones(1, 4, 5),
        "flow_valid0": torch.zeros(1, 4, 5),
        "flow_valid1": torch.ones(1, 4, 5),
    }
    seen = set()
    for seed in range(60):
        out = _augment(dict(item), random.Random(seed))
        rev = abs(out["t"].item() - 0.75) < 1e-6
        assert rev or abs(out["t"].item() - 0.25) < 1e-6
        src = item["image1"] if rev else item["image0"]
        flips = [(h, v) for h in (False, True) for v in (False, True)
                 if torch.equal(out["image0"], src.flip(-1) if h and not v else src.flip(-2) if v and not h
                                else src.flip(-1).flip(-2) if h and v else src)]
        assert len(flips) == 1
        h, v = flips[0]
        base = -1.0 if rev else 1.0  # flow01 of the output is the input's flow10 when reversed
        assert torch.all(out["flow01"][0] == base * (-1 if h else 1))
        assert torch.all(out["flow01"][1] == base * (-1 if v else 1))
        assert out["invdepth0"].mean().item() == (2.0 if rev else 1.0)
        assert out["flow_valid0"].mean().item() == (1.0 if rev else 0.0)
        seen.add((rev, h, v))
    assert len(seen) >= 5


def test_flying_triplets_items():
    ds = FlyingTriplets(3, (32, 32), seed=1, augment=False, random_t=False)
    a = ds[0]
    assert a["flow01"].shape == (2, 32, 32) and a["flow01"].dtype == torch.float32
    assert a["t"].item() == 0.5 and a["has_labels"].item() == 1.0
    again = FlyingTriplets(3, (32, 32), seed=1, augment=False, random_t=False)[0]
    assert torch.equal(a["image0"], again["image0"])  # fixed set


def _write_png(path, arr):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def test_vimeo_layout(tmp_path):
    rng = np.random.default_rng(0)
    names = ["00001/0001", "00001/0002", "00002/0001"]
    for n in names:
        for i in (1, 2, 3):
            _write_png(tmp_path / "sequences" / n / f"im{i}.png", (rng.random((16, 24, 3)) * 255).astype(np.uint8) + 0)
    (tmp_path / "tri_trainlist.txt").write_text("\n".join(names[:2]) + "\n")
    (tmp_path / "tri_testlist.txt").write_text(names[2] + "\n")
    train = Vimeo90KTriplets(tmp_path, "train", crop=(8, 8))
    test = Vimeo90KTriplets(tmp_path, "test", crop=None, augment=False)
    assert len(train) == 2 and len(test) == 1
    assert train[0]["image0"].shape == (3, 8, 8)
    from PIL import Image

    im2 = np.asarray(Image.open(tmp_path / "sequences" / names[2] / "im2.png"))
    assert torch.allclose(test[0]["image_t"], torch.from_numpy(im2).permute(2, 0, 1).float() / 255)
    with pytest.raises(VividError):
        Vimeo90KTriplets(tmp_path / "missing")
    with pytest.raises(VividError):
        Vimeo90KTriplets(tmp_path, "val")


def test_decode_video_and_list(tmp_path):
    import av

    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i in range(6):
            arr = np.full((48, 64, 3), 40 * (i % 5), np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    clips = decode_video(path, (None, 32))
    assert len(clips[0]) == 6 and clips[0][0].shape == (3, 48, 64) and clips[1][0].shape == (3, 24, 32)
    assert list_videos(tmp_path) == [path]
    with pytest.raises(VividError):
        list_videos(tmp_path / "nope")


def test_datamodule_flying_only():
    dm = InterpDataModule(parse_config(InterpData, {"crop": [32, 32], "flying": {"train": 4, "val": 2, "size": [32, 32]}, "batch_size": 2}))
    dm.setup("fit")
    loaders = dm.train_dataloader()
    batch = next(iter(loaders["flying"]))
    assert batch["image0"].shape == (2, 3, 32, 32) and batch["flow01"].shape == (2, 2, 32, 32)
    assert dm.val_names == ["flying"] and "flying layers" in dm.describe()


def test_datamodule_mixes_real_and_flying(tmp_path):
    import av

    path = tmp_path / "v.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i in range(12):
            arr = np.random.default_rng(i).integers(0, 255, (48, 64, 3), dtype=np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    dm = InterpDataModule(
        InterpData(crop=(32, 32), videos=[str(path)], long_sides=(64,), gaps=(2,), val_crop=(32, 32), val_items=2,
                   flying=FlyingData(train=4, val=2, fraction=0.5), batch_size=4, video_val_fraction=0.5)
    )
    dm.setup("fit")
    loaders = dm.train_dataloader()
    assert set(loaders) == {"flying", "real"}
    assert next(iter(loaders["real"]))["image0"].shape == (2, 3, 32, 32)
    assert dm.val_names == ["video", "flying"]


def test_flying_cache_file_round_trip(tmp_path):
    path = tmp_path / "fly.safetensors"
    a = FlyingTriplets(2, (24, 24), seed=4, augment=False, cache_file=path)
    assert path.exists()
    b = FlyingTriplets(2, (24, 24), seed=4, augment=False, cache_file=path)
    for i in range(2):
        for k in ("image0", "flow01", "invdepth1", "t"):
            assert torch.equal(a[i][k], b[i][k])
    with pytest.raises(VividError):
        FlyingTriplets(3, (24, 24), seed=4, cache_file=path)  # built with other settings


def test_flying_textures_from_images(tmp_path):
    from vivid.core.fileio import write_image

    (tmp_path / "tex").mkdir()
    red = np.zeros((40, 60, 3), np.uint8)
    red[..., 0] = 230
    write_image(tmp_path / "tex" / "red.png", red)
    ds = FlyingTriplets(2, (32, 32), seed=5, augment=False, random_t=False, texture_images=[str(tmp_path / "tex")], image_prob=1.0)
    assert ds.texture_files == [str(tmp_path / "tex" / "red.png")]
    for i in range(2):
        image = ds[i]["image0"]  # every layer is cut from the red image
        assert image[0].mean() > 0.85 and image[1:].max() < 0.05
    plain = FlyingTriplets(1, (32, 32), seed=5, augment=False, random_t=False)[0]["image0"]
    assert plain[1:].max() > 0.2  # procedural textures without them
    path = tmp_path / "fly.safetensors"
    FlyingTriplets(1, (32, 32), seed=5, cache_file=path, texture_images=str(tmp_path / "tex"))
    with pytest.raises(VividError, match="built with"):
        FlyingTriplets(1, (32, 32), seed=5, cache_file=path)  # a cache made with textures is not reused without them
    (tmp_path / "empty").mkdir()
    with pytest.raises(VividError, match="no images"):
        FlyingTriplets(1, (32, 32), texture_images=str(tmp_path / "empty"))
    with pytest.raises(VividError, match="does not exist"):
        FlyingTriplets(1, (32, 32), texture_images=str(tmp_path / "missing"))


def _shifted_clip(n=5, h=96, w=128, shift=3):
    """Frame i is one random texture moved right by ``shift * i`` pixels (wrapping)."""
    base = torch.from_numpy(np.random.default_rng(0).integers(0, 255, (3, h, w + shift * n), dtype=np.uint8))
    base = torch.nn.functional.avg_pool2d(base[None].float(), 5, 1, 2)[0].to(torch.uint8)  # some smoothness for DIS
    return [base[:, :, shift * (n - i) : shift * (n - i) + w].contiguous() for i in range(n)]


def test_dis_teacher_gives_consistent_flow_labels():
    pytest.importorskip("cv2")
    from vivid.interp.data import DISTeacher

    clip = _shifted_clip()
    teacher = DISTeacher()
    f01, f10, v0, v1 = teacher.labels("k", clip[0], clip[2])
    assert f01.shape == (2, 96, 128) and v0.shape == (1, 96, 128)
    inner = (slice(None), slice(16, -16), slice(16, -16))
    assert torch.allclose(f01[inner][0].median(), torch.tensor(6.0), atol=0.5)  # moved right by 2 * 3 px
    assert torch.allclose(f10[inner][0].median(), torch.tensor(-6.0), atol=0.5)
    assert v0[inner].mean() > 0.8 and v1[inner].mean() > 0.8
    # pixels of frame 0 that leave the frame (its right edge) are not valid labels
    assert v0[0, :, -3:].mean() < 0.2
    assert teacher.labels("k", clip[0], clip[2])[0] is not f01 and torch.equal(teacher.labels("k", clip[0], clip[2])[0], f01)


def test_video_triplets_with_teacher_carry_cropped_labels():
    pytest.importorskip("cv2")
    from vivid.interp.data import DISTeacher

    ds = VideoTriplets([_shifted_clip(6)], gaps=(2,), crop=(32, 32), length=20, augment=False, teacher=DISTeacher())
    item = ds[0]
    assert item["flow01"].shape == (2, 32, 32) and item["flow_valid0"].shape == (1, 32, 32)
    assert item["flow_valid0"].mean() > 0.5 and item["flow01"][0][item["flow_valid0"][0] > 0].median() > 5
    assert item["has_labels"].item() == 0.0  # no depth labels for real footage
    plain = VideoTriplets([_shifted_clip(6)], gaps=(2,), crop=(32, 32), length=5)[0]
    assert plain["flow_valid0"].sum() == 0 and plain["flow01"].abs().sum() == 0


def test_video_triplets_refuse_a_crop_larger_than_the_frames():
    with pytest.raises(VividError, match="larger than frames"):
        VideoTriplets([_ramp_clip(h=20, w=24)], gaps=(2,), crop=(32, 32))
