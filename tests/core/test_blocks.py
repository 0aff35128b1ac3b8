"""Shared network blocks: shapes, batch equals per item, hand-worked values, parameter names."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vivid.core.blocks import LEAKY_SLOPE, BasicBlock, ConvNormAct, ResidualBlock, SelfAttention2d


def _x(b=3, c=4, h=6, w=7, seed=0):
    return torch.randn(b, c, h, w, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(
    "block, out_shape",
    [
        (ConvNormAct(4, 8), (3, 8, 6, 7)),
        (ConvNormAct(4, 8, stride=2, norm="batch"), (3, 8, 3, 4)),
        (ConvNormAct(4, 5, 1, act="leaky_relu"), (3, 5, 6, 7)),
        (ConvNormAct(4, 5, dilation=4, act=None), (3, 5, 6, 7)),
        (ResidualBlock(4), (3, 4, 6, 7)),
        (ResidualBlock(4, 6), (3, 6, 6, 7)),
        (BasicBlock(4), (3, 4, 6, 7)),
        (SelfAttention2d(4), (3, 4, 6, 7)),
    ],
)
def test_shapes_batch_equals_per_item_and_gradients(block, out_shape):
    torch.manual_seed(0)
    block.eval()  # batch norm on running statistics: each item independent of the others
    x = _x().requires_grad_()
    y = block(x)
    assert y.shape == out_shape and torch.isfinite(y).all()
    for i in range(x.shape[0]):
        torch.testing.assert_close(block(x[i : i + 1]), y[i : i + 1], atol=1e-5, rtol=1e-5)
    y.square().sum().backward()
    assert x.grad.abs().sum() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in block.parameters())


def test_conv_norm_act_layers_and_hand_values():
    # Layer numbering is part of the checkpoints: conv 0, norm 1, act last.
    assert [type(m) for m in ConvNormAct(2, 3, norm="batch")] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU]
    assert [type(m) for m in ConvNormAct(2, 3, act="leaky_relu")] == [nn.Conv2d, nn.LeakyReLU]
    assert ConvNormAct(2, 3, norm="batch")[0].bias is None and ConvNormAct(2, 3)[0].bias is not None
    assert list(nn.Sequential(*ConvNormAct(2, 3), nn.Identity()).state_dict()) == ["0.weight", "0.bias"]
    # A 1x1 conv with weight 1 and bias -1 on x = [0, 2]: leaky_relu([-1, 1]) = [-slope, 1].
    block = ConvNormAct(1, 1, 1, act="leaky_relu")
    nn.init.ones_(block[0].weight)
    nn.init.constant_(block[0].bias, -1.0)
    out = block(torch.tensor([0.0, 2.0]).view(1, 1, 1, 2))
    assert out.flatten().tolist() == pytest.approx([-LEAKY_SLOPE, 1.0])
    # A 3x3 all-ones conv, zero bias, on a single 1: the 3x3 neighbourhood lights up ("same" padding).
    conv = ConvNormAct(1, 1, act=None)
    nn.init.ones_(conv[0].weight)
    nn.init.zeros_(conv[0].bias)
    x = torch.zeros(1, 1, 5, 5)
    x[..., 2, 2] = 1.0
    expected = torch.zeros(1, 1, 5, 5)
    expected[..., 1:4, 1:4] = 1.0
    assert torch.equal(conv(x), expected)
    with pytest.raises(ValueError, match="norm"):
        ConvNormAct(2, 3, norm="group")
    with pytest.raises(ValueError, match="activation"):
        ConvNormAct(2, 3, act="gelu")


def test_residual_blocks_hand_values():
    # Zero convolutions leave only the skip: the identity, or the 1x1 projection.
    block = ResidualBlock(3)
    for conv in (block.conv1, block.conv2):
        nn.init.zeros_(conv.weight)
        nn.init.zeros_(conv.bias)
    x = _x(2, 3, 4, 5)
    assert torch.equal(block(x), x)
    wide = ResidualBlock(3, 5)
    assert isinstance(wide.skip, nn.Conv2d) and list(wide.state_dict())[:2] == ["conv1.weight", "conv1.bias"]
    # BasicBlock: relu(x + body(x)); with the last batch norm's scale at 0 it is relu(x).
    basic = BasicBlock(3).eval()
    nn.init.zeros_(basic.body[4].weight)
    assert torch.equal(basic(x), torch.relu(x))
    assert list(basic.state_dict())[:2] == ["body.0.weight", "body.1.weight"]


def test_self_attention_hand_values():
    att = SelfAttention2d(4)
    # Zero output projection: the block is the identity.
    nn.init.zeros_(att.proj.weight)
    nn.init.zeros_(att.proj.bias)
    x = _x(2, 4, 3, 3)
    assert torch.equal(att(x), x)
    # Zero query and key: uniform attention, so every position gets the mean value over positions.
    for conv in (att.query, att.key):
        nn.init.zeros_(conv.weight)
        nn.init.zeros_(conv.bias)
    nn.init.eye_(att.proj.weight.view(4, 4))
    value = att.value(x).flatten(2).mean(-1)[..., None, None]
    torch.testing.assert_close(att(x), x + value.expand_as(x))
