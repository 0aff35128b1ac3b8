"""The multi-scale patch dual-stream attention: patch partition, attention across frames, regions."""

from __future__ import annotations

import math

import pytest
import torch

from vivid.tryon.attention import MultiScalePatchAttention, from_patches, patch_attention, patch_region, patch_sizes, to_patches


def test_patch_sizes_scale_with_the_feature_map():
    assert patch_sizes(64, 48, (1, 2, 4, 8)) == [(64, 48), (32, 24), (16, 12), (8, 6)]
    assert patch_sizes(32, 24, (1, 2, 4, 8)) == [(32, 24), (16, 12), (8, 6), (4, 3)]
    with pytest.raises(ValueError):
        patch_sizes(16, 12, (1, 2, 4, 8))


@pytest.mark.parametrize("r", [(64, 48), (32, 24), (16, 12), (8, 6)])
def test_patch_partition_and_its_inverse(r):
    x = torch.randn(2, 3, 5, 64, 48)
    p = to_patches(x, *r)
    n = (64 // r[0]) * (48 // r[1])
    assert p.shape == (2, 3 * n, 5 * r[0] * r[1])
    torch.testing.assert_close(from_patches(p, 3, 64, 48, *r), x, rtol=0, atol=0)
    # row t * n + i * (48 / r2) + j holds frame t's patch (i, j), channels first
    t, i, j = 2, (64 // r[0]) - 1, 0
    row = p[1, t * n + i * (48 // r[1]) + j]
    torch.testing.assert_close(row, x[1, t, :, i * r[0] : (i + 1) * r[0], j * r[1] : (j + 1) * r[1]].reshape(-1))


def test_a_query_patch_finds_its_key_in_another_frame():
    T, C, h, w, r1, r2 = 3, 2, 4, 4, 2, 2
    keys = torch.randn(1, T, C, h, w) * 0.1
    target = torch.randn(C, r1, r2)
    keys[0, 2, :, 2:4, 0:2] = target  # the pattern sits in frame 2, patch (1, 0)
    q = torch.zeros(1, 1, C, h, w)
    q[0, 0, :, 0:2, 0:2] = target * 40  # sharp query for patch (0, 0) of frame 0
    values = torch.arange(T * h * w * C, dtype=torch.float32).view(1, T, C, h, w)
    out = patch_attention(to_patches(q, r1, r2), to_patches(keys, r1, r2), to_patches(values, r1, r2), C, r1, r2)
    expected = to_patches(values, r1, r2)[0, 2 * 4 + 2]
    torch.testing.assert_close(out[0, 0], expected, atol=1e-3, rtol=0)


def test_scores_are_scaled_by_the_patch_size_and_channels():
    g = torch.Generator().manual_seed(0)
    q, k, v = torch.randn(1, 2, 12, generator=g), torch.randn(1, 5, 12, generator=g), torch.randn(1, 5, 12, generator=g)
    weights = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(2 * 3 * 2), -1)
    torch.testing.assert_close(patch_attention(q, k, v, 2, 2, 3), weights @ v)


def test_keys_outside_the_region_get_zero_weight():
    g = torch.Generator().manual_seed(1)
    q, k, v = torch.randn(1, 3, 8, generator=g), torch.randn(1, 6, 8, generator=g), torch.randn(1, 6, 8, generator=g)
    mask = torch.tensor([[True, False, True, False, False, True]])
    out = patch_attention(q, k, v, 2, 2, 2, mask)
    v2 = v.clone()
    v2[:, ~mask[0]] = 1e3  # values outside the region do not matter
    torch.testing.assert_close(patch_attention(q, k, v2, 2, 2, 2, mask), out)
    keep = mask[0]
    torch.testing.assert_close(out, patch_attention(q, k[:, keep], v[:, keep], 2, 2, 2))
    # no key in the region: zeros, not NaN
    assert torch.equal(patch_attention(q, k, v, 2, 2, 2, torch.zeros(1, 6, dtype=torch.bool)), torch.zeros(1, 3, 8))


def test_patch_region_marks_patches_holding_any_of_the_region():
    m = torch.zeros(1, 2, 4, 4)
    m[0, 1, 3, 3] = 1
    assert patch_region(m, 2, 2).tolist() == [[False] * 4 + [False, False, False, True]]


def test_per_frame_attention_ignores_other_frames():
    torch.manual_seed(0)
    att = MultiScalePatchAttention(8, (1, 2, 4, 8), temporal=False)
    q, kv = torch.randn(1, 3, 8, 8, 8), torch.randn(1, 3, 8, 8, 8)
    out = att(q, kv)
    kv2 = kv.clone()
    kv2[:, 1:] = torch.randn(1, 2, 8, 8, 8)
    torch.testing.assert_close(att(q, kv2)[:, 0], out[:, 0])
    temporal = MultiScalePatchAttention(8, (1, 2, 4, 8))
    temporal.load_state_dict(att.state_dict())
    assert not torch.allclose(temporal(q, kv2)[:, 0], temporal(q, kv)[:, 0])
