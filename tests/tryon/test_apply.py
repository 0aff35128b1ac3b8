"""Inference: chunked try-on against whole-clip try-on, garment photos, user errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vivid.core.errors import VividError
from vivid.core.registry import create_model
from vivid.tryon.apply import PersonInputs, chunk_starts, garment_mask, parse_size, prepare_garment, to_frames, try_on_chunks
from vivid.tryon.inputs import POSE_CHANNELS, background_sequence, keypoint_maps


def _inputs(T: int, H: int = 64, W: int = 64) -> PersonInputs:
    """A smoothly moving clip: a blob walking right, its keypoints following."""
    t = torch.arange(T, dtype=torch.float32)
    xs = torch.arange(W, dtype=torch.float32)
    frames = (0.3 + 0.5 * torch.exp(-((xs[None] - 10 - 2 * t[:, None]) ** 2) / 50))[:, None, None, :].expand(T, 3, H, W).clone()
    joints = torch.stack([torch.stack([10 + 2 * t + k, torch.full_like(t, 10.0 + 2 * k)], -1) for k in range(17)], 1)
    pose = torch.cat([keypoint_maps(joints, torch.ones(T, 17), H, W), torch.zeros(T, POSE_CHANNELS - 17, H, W)], 1)
    region = torch.zeros(T, H, W, dtype=torch.bool)
    region[:, 16:48, 16:48] = True
    A, m_a = background_sequence(frames, region)
    return PersonInputs(frames, pose, A, m_a, torch.zeros(T, H, W, dtype=torch.long), region)


@pytest.fixture(scope="module")
def garment():
    g = torch.Generator().manual_seed(0)
    return torch.rand(1, 3, 64, 48, generator=g), torch.ones(1, 1, 64, 48)


def test_chunk_starts_cover_the_clip():
    assert chunk_starts(5, 8, 2) == [0]
    assert chunk_starts(10, 4, 2) == [0, 2, 4, 6]
    assert chunk_starts(11, 4, 1) == [0, 3, 6, 7]
    with pytest.raises(VividError):
        chunk_starts(10, 4, 4)


def test_chunks_equal_the_whole_clip_where_they_do_not_cut_attention(garment):
    torch.manual_seed(0)
    inputs = _inputs(10)
    per_frame = create_model("tryon_tiny", temporal=False).eval()
    whole = try_on_chunks(per_frame, inputs, *garment, chunk=10, overlap=0)
    torch.testing.assert_close(try_on_chunks(per_frame, inputs, *garment, chunk=4, overlap=2), whole, atol=1e-5, rtol=0)
    temporal = create_model("tryon_tiny").eval()
    torch.testing.assert_close(try_on_chunks(temporal, inputs, *garment, chunk=16, overlap=2),
                               try_on_chunks(temporal, inputs, *garment, chunk=10, overlap=0))


def test_blended_overlaps_show_no_seam_where_chunks_cut_attention(garment):
    torch.manual_seed(1)
    model = create_model("tryon_tiny").eval()
    with torch.no_grad():  # make attention matter
        for p in model.blocks.parameters():
            p.mul_(4.0)
    inputs = _inputs(12)
    whole = try_on_chunks(model, inputs, *garment, chunk=12, overlap=0)
    # how the difference from the whole-clip output changes from frame to frame
    steps = lambda out: ((out - whole)[1:] - (out - whole)[:-1]).abs().mean(dim=(1, 2, 3))  # noqa: E731
    hard = steps(try_on_chunks(model, inputs, *garment, chunk=4, overlap=0))
    soft = steps(try_on_chunks(model, inputs, *garment, chunk=6, overlap=4))
    # without overlap the difference jumps at the chunk boundaries (3 -> 4, 7 -> 8); blended, it does not
    inner = torch.tensor([i for i in range(11) if i not in (3, 7)])
    assert hard[[3, 7]].min() > 3 * hard[inner].max()
    assert soft.max() < 0.5 * hard[[3, 7]].min()


def test_frames_of_different_sizes_are_refused():
    with pytest.raises(VividError, match="differ in size"):
        to_frames([np.zeros((10, 8, 3), np.uint8), np.zeros((12, 8, 3), np.uint8)], 64, 64)
    with pytest.raises(VividError, match="HEIGHTxWIDTH"):
        parse_size("256")


def test_garment_photo_checks_and_grabcut_without_opencv(monkeypatch):
    model = create_model("tryon_tiny").eval()
    with pytest.raises(VividError, match="RGB"):
        prepare_garment(model, np.zeros((10, 10), np.uint8), 64, 64)
    import builtins

    real_import = builtins.__import__

    def no_cv2(name, *args, **kwargs):
        if name == "cv2":
            raise ImportError("no cv2")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_cv2)
    with pytest.raises(VividError, match="OpenCV"):
        garment_mask(model, np.zeros((40, 30, 3), np.uint8), method="grabcut")
    with pytest.raises(VividError, match="network or grabcut"):
        garment_mask(model, np.zeros((40, 30, 3), np.uint8), method="magic")


def test_skeleton_parts_label_the_bones():
    from vivid.tryon.apply import skeleton_parts

    j = torch.zeros(1, 17, 2)
    j[0, :, 0] = 24.0
    j[0, 0, 1], j[0, 8, 1], j[0, 10, 1] = 40.0, 20.0, 8.0  # pelvis, thorax, head on a vertical line
    j[0, [9], 1] = 14.0
    j[0, 11] = torch.tensor([34.0, 20.0])  # left shoulder
    j[0, 12] = torch.tensor([44.0, 20.0])  # left elbow, out to the side
    parts = skeleton_parts(j, 48, 48)[0]
    assert parts[30, 24] == 2  # torso between pelvis and thorax
    assert parts[20, 40] == 3  # left upper arm
    assert parts[10, 24] == 1 and parts[45, 5] == 0
