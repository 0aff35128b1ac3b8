"""The motion and spatial enhancement layers and their fusion: the method's example shapes, each
sub-layer's weights and products, and the variant switches."""

from __future__ import annotations

import pytest
import torch

from vivid.bodyvid.enhancement import (
    EnhancementBlock,
    Fusion,
    MotionEnhancement,
    SpatialEnhancement,
    channel_elements,
    second_tensor,
    sequence_elements,
)
from vivid.bodyvid.model import first_tensor


def test_example_tensors_give_the_elements_of_the_method():
    x = torch.zeros(20, 50, 8, 56, 56)
    assert sequence_elements(x).shape == (1000, 8, 56, 56)
    assert second_tensor(x, 10).shape == (20, 8, 5, 10, 56, 56)
    assert channel_elements(x, 10).shape == (800, 10, 56, 56)


def test_elements_are_the_blocks_of_one_sequence_channel_and_group():
    x = torch.randn(2, 6, 3, 4, 5)
    seq = sequence_elements(x)
    assert torch.equal(seq[1 * 6 + 4], x[1, 4])  # sequence 1, channel 4: its [S, H, W] block
    ch = channel_elements(x, 3)  # G = 2 groups of c = 3
    b, s, g = 1, 2, 1
    assert torch.equal(ch[(b * 3 + s) * 2 + g], x[b, g * 3 : (g + 1) * 3, s])


def test_backbone_layout_is_permuted_to_the_first_tensor():
    f = torch.randn(2, 8, 5, 3, 3)  # [B, S, C, H, W]
    x = first_tensor(f, "BSCHW")
    assert x.shape == (2, 5, 8, 3, 3) and torch.equal(x[1, 2, 3], f[1, 3, 2])


@torch.no_grad()
def test_layers_keep_the_shape_of_the_example():
    torch.manual_seed(0)
    x = torch.randn(20, 50, 8, 56, 56)
    assert MotionEnhancement(8, 56, 56)(x).shape == x.shape
    assert SpatialEnhancement(50, 56, 56, sub_channels=10)(x).shape == x.shape
    assert SpatialEnhancement(50, 56, 56, groups=5).sub_channels == 10


def test_sub_layer_weights_are_in_range_and_multiply_the_element():
    torch.manual_seed(0)
    block = EnhancementBlock(8, 7, 9)
    e = torch.randn(4, 8, 7, 9)
    w1, e1 = block.first(e)
    assert w1.shape == e.shape and bool(((w1 > 0) & (w1 < 1)).all())
    assert torch.allclose(e1, e * w1)
    w, out = block.second(e, e1)
    assert w.shape == (4, 1, 7, 9) and bool(((w > 0) & (w < 1)).all())
    assert torch.allclose(out, e * w)
    assert torch.allclose(block(e), out)


def test_first_weight_is_the_product_of_horizontal_and_vertical_weights():
    torch.manual_seed(0)
    block = EnhancementBlock(3, 4, 5)
    e = torch.randn(2, 3, 4, 5)
    w, _ = block.first(e)
    # A product of a per-row and a per-column factor has rank one per (element, channel).
    for n in range(2):
        for k in range(3):
            assert torch.linalg.matrix_rank(w[n, k]) == 1


def test_average_weights_are_a_softmax_over_frames():
    from vivid.bodyvid.enhancement import average_weights

    a = average_weights(torch.randn(3, 8, 4, 4))
    assert a.shape == (3, 1, 8) and torch.allclose(a.sum(-1), torch.ones(3, 1))


@pytest.mark.parametrize("variant", [
    {"split_convs": True}, {"pool": "conv"}, {"local_weight": "norm"}, {"double_weighting": True},
    {"second_on_raw": True}, {"first_kernel": 3, "second_kernel": 5},
])  # fmt: skip
def test_each_variant_switch_changes_the_output(variant):
    e = torch.randn(2, 8, 6, 6, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(0)
    base = EnhancementBlock(8, 6, 6)
    torch.manual_seed(0)
    other = EnhancementBlock(8, 6, 6, **variant)
    # Same weights where the two share them, so only the switch differs.
    other.load_state_dict({k: v for k, v in base.state_dict().items() if k in other.state_dict()
                           and other.state_dict()[k].shape == v.shape}, strict=False)  # fmt: skip
    with torch.no_grad():
        if variant.get("pool") == "conv":  # starts as the average pooling; a trained one differs
            other.pool_h.weight.add_(0.1 * torch.randn_like(other.pool_h.weight))
        assert not torch.allclose(base(e), other(e), atol=1e-5)


def test_block_rejects_equal_kernels_and_bad_input():
    with pytest.raises(ValueError, match="differ"):
        EnhancementBlock(4, 3, 3, first_kernel=3, second_kernel=3)
    with pytest.raises(ValueError):
        MotionEnhancement(8, 4, 4)(torch.zeros(1, 2, 4, 4, 4))


def test_fusion_weights_are_a_pair_over_the_branches_and_variants_differ():
    torch.manual_seed(0)
    m, s = torch.randn(2, 6, 4, 3, 3), torch.randn(2, 6, 4, 3, 3)
    fusion = Fusion(6)
    torch.nn.init.normal_(fusion.select.weight)
    w = fusion.branch_weights(m + s)
    assert w.shape == (2, 2, 6, 4) and torch.allclose(w.sum(1), torch.ones(2, 6, 4))
    assert not torch.allclose(w[:, 0], torch.full_like(w[:, 0], 0.5))
    outs = {}
    for mode in ("select", "preliminary", "first", "second"):
        fusion.mode = mode
        outs[mode] = fusion(m, s)
    assert torch.allclose(outs["preliminary"], m + s)
    assert torch.allclose(outs["select"], outs["first"] + outs["second"])
    assert not torch.allclose(outs["select"], outs["preliminary"])
