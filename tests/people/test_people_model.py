import numpy as np
import pytest
import torch

from vivid.core.registry import create_model, list_models
from vivid.people.detector import decode
from vivid.people.losses import DetectionLoss, FocalLoss, MaskedL1, detection_loss, encode_targets, focal_loss, masked_l1
from vivid.people.model import STRIDE, PeopleOutput


@pytest.mark.parametrize("name", list_models("people"))
def test_every_variant_gives_quarter_resolution_outputs_and_trains(name):
    torch.manual_seed(0)
    model = create_model(name)
    out = model(torch.rand(2, 3, 64, 96))
    assert out.heatmap.shape == (2, 1, 16, 24) and out.size.shape == (2, 2, 16, 24) and out.offset.shape == (2, 2, 16, 24)
    assert all(torch.isfinite(t).all() for t in (out.heatmap, out.size, out.offset))
    boxes = torch.tensor([[[8.0, 4.0, 40.0, 60.0]], [[50.0, 10.0, 90.0, 62.0]]])
    targets = encode_targets(boxes, torch.tensor([1, 1]), torch.zeros(2, 1, dtype=torch.bool), (16, 24))
    detection_loss(out, targets)["loss"].backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters() if p.requires_grad)
    with pytest.raises(ValueError):
        model(torch.rand(1, 3, 60, 64))
    assert create_model(name, **model.config).config == model.config


def test_targets_put_the_centre_where_the_box_is():
    boxes = torch.tensor([[[10.0, 20.0, 30.0, 60.0], [0, 0, 0, 0]]])
    t = encode_targets(boxes, torch.tensor([1]), torch.zeros(1, 2, dtype=torch.bool), (20, 20))
    assert t.heatmap[0, 0, 10, 5] == 1 and t.centres.sum() == 1 and t.centres[0, 10, 5] == 1  # centre (20, 40) / 4
    np.testing.assert_allclose(t.size[0, :, 10, 5].exp().numpy() * STRIDE, [20, 40], rtol=1e-5)  # log(side / 4)
    np.testing.assert_allclose(t.offset[0, :, 10, 5].numpy(), [0.0, 0.0], atol=1e-6)
    ignored = encode_targets(boxes, torch.tensor([1]), torch.ones(1, 2, dtype=torch.bool), (20, 20))
    assert ignored.heatmap.sum() == 0 and ignored.weight[0, 0, 10, 5] == 0 and ignored.weight[0, 0, 0, 19] == 1


def test_decoding_perfect_outputs_gives_the_boxes_back():
    boxes = torch.tensor([[[10.0, 20.0, 31.0, 61.0], [40.0, 8.0, 70.0, 50.0]]])
    t = encode_targets(boxes, torch.tensor([2]), torch.zeros(1, 2, dtype=torch.bool), (20, 24))
    logits = torch.where(t.heatmap > 0.99, 10.0, -10.0)
    (found, scores), = decode(PeopleOutput(logits, t.size, t.offset), threshold=0.5)
    order = np.argsort(found[:, 0])
    np.testing.assert_allclose(found[order], boxes[0].numpy(), atol=1e-4)
    assert len(scores) == 2 and (scores > 0.99).all()


def test_focal_loss_by_hand_and_the_modules_agree():
    logits = torch.tensor([0.0, 0.0]).view(1, 1, 1, 2)
    target = torch.tensor([1.0, 0.5]).view(1, 1, 1, 2)
    # positive: -log(.5) * .5^2; negative: -log(.5) * .5^2 * (1 - .5)^4; one centre
    expected = np.log(2) * 0.25 * (1 + 0.5**4)
    assert focal_loss(logits, target).item() == pytest.approx(expected, rel=1e-4)
    assert FocalLoss()(logits, target).item() == focal_loss(logits, target).item()
    pred, tgt, mask = torch.rand(2, 2, 3, 3), torch.rand(2, 2, 3, 3), (torch.rand(2, 3, 3) > 0.5).float()
    assert MaskedL1()(pred, tgt, mask).item() == masked_l1(pred, tgt, mask).item()
    m = mask.clone()
    m.zero_()
    m[0, 1, 1] = 1
    assert masked_l1(pred, tgt, m).item() == pytest.approx((pred[0, :, 1, 1] - tgt[0, :, 1, 1]).abs().mean().item())
    out = PeopleOutput(torch.zeros(1, 1, 4, 4), torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4))
    t = encode_targets(torch.tensor([[[0.0, 0.0, 8.0, 8.0]]]), torch.tensor([1]), torch.zeros(1, 1, dtype=torch.bool), (4, 4))
    assert DetectionLoss()(out, t)["loss"].item() == detection_loss(out, t)["loss"].item()
    assert STRIDE == 4
