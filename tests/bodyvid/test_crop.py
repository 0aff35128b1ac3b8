"""Crops read only the window under the box: the same pixels as sampling the whole frame."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vivid.bodyvid.data import crop


def _whole_frame_crop(image, box, size):
    """The reference: the whole frame sampled (boxes up to twice the crop side are not low-passed)."""
    _, H, W = image.shape
    cx, cy, side = box
    i = torch.arange(size, dtype=torch.float32)
    xs = cx - side / 2 + (i + 0.5) * side / size - 0.5
    ys = cy - side / 2 + (i + 0.5) * side / size - 0.5
    grid = torch.stack(torch.meshgrid((ys + 0.5) / H * 2 - 1, (xs + 0.5) / W * 2 - 1, indexing="ij")[::-1], -1)[None]
    return F.grid_sample(image[None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0]


def test_window_crop_equals_whole_frame_sampling_inside_and_across_the_edge():
    g = torch.Generator().manual_seed(0)
    image = torch.rand(3, 60, 80, generator=g)
    for box in [(40.0, 30.0, 40.0), (3.5, 50.2, 30.0), (78.0, 2.0, 44.0), (40.0, 30.0, 62.0)]:
        assert torch.allclose(crop(image, box, 32), _whole_frame_crop(image, box, 32), atol=1e-5), box


def test_uint8_frames_read_as_value_over_255_and_boxes_off_the_frame_give_zeros():
    g = torch.Generator().manual_seed(1)
    image8 = torch.randint(0, 256, (3, 50, 70), generator=g, dtype=torch.uint8)
    box = (30.0, 20.0, 36.0)
    assert torch.allclose(crop(image8, box, 24), crop(image8.float() / 255, box, 24), atol=1e-6)
    assert crop(image8, (500.0, 500.0, 20.0), 24).abs().max() == 0


def test_large_boxes_are_low_passed():
    # A fine checkerboard averages to grey under a box far larger than the crop; sampling without
    # a low-pass would keep near-0 and near-1 pixels.
    yy, xx = torch.meshgrid(torch.arange(400), torch.arange(400), indexing="ij")
    image = ((yy + xx) % 2).float().expand(3, -1, -1)
    out = crop(image, (200.0, 200.0, 300.0), 24)
    assert (out - 0.5).abs().max() < 0.1


def test_uint8_and_float_frames_low_pass_alike():
    g = torch.Generator().manual_seed(2)
    # OpenCV's area resize (uint8) and torch's adaptive pooling (float) weigh fractional pixels
    # differently; on an image with detail at the scale of a few pixels they agree closely.
    smooth = F.interpolate(torch.rand(1, 3, 60, 80, generator=g), size=(300, 400), mode="bilinear")[0]
    image8 = (smooth * 255).round().to(torch.uint8)
    box = (210.0, 140.0, 250.0)  # more than twice the crop side: low-passed
    a, b = crop(image8, box, 48), crop(image8.float() / 255, box, 48)
    assert (a - b).abs().mean() < 0.02 and a.std() > 0.1
