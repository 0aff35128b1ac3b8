"""Sample dataclasses: stored form round trip, label access by name, frame stacking."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest
import torch

from vivid.synth.samples import SAMPLE_TYPES, BodySample, FaceSample, FrameLabels, TryonSample, VideoSample
from vivid.synth.storage import decode_sample, sample_arrays


def _frame(rng: np.random.Generator, H: int = 6, W: int = 5, vertices: bool = False) -> FrameLabels:
    return FrameLabels(
        image=rng.integers(0, 256, (H, W, 3), dtype=np.uint8),
        mask=rng.random((H, W)) > 0.5,
        parts=rng.integers(0, 15, (H, W)).astype(np.uint8),
        depth=rng.random((H, W)).astype(np.float32),
        garment_mask=rng.random((H, W)) > 0.5,
        joints2d=rng.random((17, 2)).astype(np.float32),
        visibility=(rng.random(17) > 0.5).astype(np.float32),
        joints3d=rng.random((17, 3)).astype(np.float32),
        coco2d=rng.random((17, 2)).astype(np.float32),
        coco_visibility=(rng.random(17) > 0.5).astype(np.float32),
        K=np.eye(3, dtype=np.float32),
        R=np.eye(3, dtype=np.float32),
        t=np.zeros(3, np.float32),
        vertices=rng.random((4, 3)).astype(np.float32) if vertices else None,
    )


def _body(rng: np.random.Generator, vertices: bool = False) -> BodySample:
    return BodySample(
        **_frame(rng, vertices=vertices).to_arrays(),
        phenotype=rng.random(6).astype(np.float32),
        pose=rng.random((104, 3)).astype(np.float32),
        joint_angles=rng.random((20, 3)).astype(np.float32),
        root=np.eye(3, dtype=np.float32),
        translation=np.zeros(3, np.float32),
        sh=rng.random((9, 3)).astype(np.float32),
        partial=np.array(False),
    )


def test_stored_form_round_trips_and_leaves_out_missing_labels():
    rng = np.random.default_rng(0)
    s = _body(rng)
    arrays = s.to_arrays()
    assert "vertices" not in arrays and s.vertices is None
    assert list(arrays) == [f.name for f in fields(BodySample) if f.name != "vertices"]
    back = BodySample.from_arrays(arrays)
    assert back.to_arrays().keys() == arrays.keys()
    for k, v in arrays.items():
        np.testing.assert_array_equal(back.to_arrays()[k], v, err_msg=k)
        assert back.to_arrays()[k].dtype == v.dtype
    with_vertices = _body(rng, vertices=True).to_arrays()
    assert with_vertices["vertices"].shape == (4, 3)
    with pytest.raises(ValueError, match="no labels flow_fw"):
        BodySample.from_arrays({**arrays, "flow_fw": np.zeros(1)})
    with pytest.raises(TypeError):
        BodySample.from_arrays({k: v for k, v in arrays.items() if k != "image"})


def test_storage_conversion():
    s = _body(np.random.default_rng(1))
    assert "vertices" not in s.to_arrays()  # not made
    assert s.to_arrays()["image"] is s.image
    assert sample_arrays(s).keys() == s.to_arrays().keys()
    assert sample_arrays({"image": s.image}) == {"image": s.image}
    item = decode_sample(sample_arrays(s))
    assert item["image"].shape == (3, 6, 5) and item["image"].dtype == torch.float32
    assert item["parts"].dtype == torch.int64 and item["partial"].shape == ()


def test_frames_stack_along_a_leading_axis():
    rng = np.random.default_rng(2)
    frames = [_frame(rng, vertices=True) for _ in range(3)]
    clip = FrameLabels.stack(frames)
    assert clip.image.shape == (3, 6, 5, 3) and clip.vertices.shape == (3, 4, 3)
    np.testing.assert_array_equal(clip.joints2d[1], frames[1].joints2d)
    assert FrameLabels.stack([_frame(rng)] * 2).vertices is None


def test_every_kind_has_its_sample_type():
    assert SAMPLE_TYPES == {"body": BodySample, "video": VideoSample, "tryon": TryonSample, "face": FaceSample}
    shared = {f.name for f in fields(FrameLabels)}
    for cls in (BodySample, VideoSample, TryonSample):
        names = [f.name for f in fields(cls)]
        assert shared <= set(names) and len(names) == len(set(names))
