"""BodyVidNet: every registered variant's output shapes, no NaN, backward; the baseline shares nothing across frames."""

from __future__ import annotations

import pytest
import torch

from vivid.core.registry import create_model, list_models


def test_registry_lists_the_three_variants():
    assert {"bodyvid_tiny", "bodyvid_default", "bodyvid_large"} <= set(list_models("bodyvid"))


@pytest.mark.parametrize("overrides", [
    {}, {"motion": False, "spatial": False}, {"regressor": "graph"}, {"regressor": "encoder_decoder"},
    {"camera": "weak"}, {"fusion": "preliminary"}, {"spatial": False},
    {"motion_block": {"split_convs": True, "pool": "conv"}, "spatial_block": {"local_weight": "norm"}},
])  # fmt: skip
def test_tiny_variants_give_per_frame_bodies(overrides):
    torch.manual_seed(0)
    model = create_model("bodyvid_tiny", **overrides)
    frames = torch.rand(2, model.seq_len, 3, model.input_size, model.input_size)
    out = model(frames)
    S = model.seq_len
    assert out.rotations.shape == (2, S, 24, 3, 3) and out.phenotype.shape == (2, S, 6)
    assert out.camera.shape == (2, S, 3) and out.joints3d.shape == (2, S, 17, 3)
    assert torch.isfinite(out.joints3d).all() and bool((out.camera[..., 0] > 0).all())
    assert torch.allclose(out.joints3d[..., 0, :], torch.zeros(2, S, 3))
    (out.joints3d.square().mean() + out.camera.square().mean()).backward()
    assert all(p.grad is not None for n, p in model.named_parameters() if p.requires_grad and "fusion" not in n)


def test_the_per_frame_baseline_sees_one_frame_at_a_time():
    torch.manual_seed(0)
    model = create_model("bodyvid_tiny", motion=False, spatial=False).eval()
    assert not model.temporal
    frames = torch.rand(1, model.seq_len, 3, model.input_size, model.input_size)
    changed = frames.clone()
    changed[0, 0] = torch.rand_like(changed[0, 0])
    with torch.no_grad():
        a, b = model(frames).joints3d, model(changed).joints3d
    assert torch.allclose(a[0, 1:], b[0, 1:], atol=1e-6) and not torch.allclose(a[0, 0], b[0, 0])
    full = create_model("bodyvid_tiny").eval()
    torch.nn.init.normal_(full.fusion.select.weight)
    with torch.no_grad():
        a, b = full.enhance(full.features(frames)), full.enhance(full.features(changed))
    assert not torch.allclose(a[:, :, 1:], b[:, :, 1:], atol=1e-6)  # the enhancement shares frames


def test_wrong_sequence_length_is_refused():
    model = create_model("bodyvid_tiny")
    with pytest.raises(ValueError, match="sequences of 4"):
        model(torch.rand(1, 3, 3, 32, 32))


POSE3D_TINY = {"input_size": 32, "widths": [8, 12, 16, 24], "blocks": [1, 1, 1], "head_width": 8}


def test_pose3d_backbone_gives_the_first_tensor_and_takes_a_pose3d_checkpoint(tmp_path):
    from vivid.bodyvid.model import Pose3DBackbone, init_backbone_from_pose3d
    from vivid.core.checkpoints import save_checkpoint
    from vivid.pose3d.model import Pose3DNet

    torch.manual_seed(0)
    model = create_model("bodyvid_tiny", backbone="pose3d", pose3d=POSE3D_TINY)
    assert isinstance(model.backbone, Pose3DBackbone) and model.config["backbone"] == "pose3d"
    x = model.features(torch.rand(2, model.seq_len, 3, 32, 32))
    assert x.shape == (2, 16, model.seq_len, 4, 4)  # [B, C, S, H / 8, W / 8]
    pose = Pose3DNet(**POSE3D_TINY)
    for p in pose.parameters():
        torch.nn.init.normal_(p)
    path = save_checkpoint(tmp_path / "pose.safetensors", pose, task="pose3d", model_name="pose3d_tiny",
                           model_config=POSE3D_TINY)  # fmt: skip
    assert not torch.equal(model.backbone.net.stem[0].weight, pose.stem[0].weight)
    init_backbone_from_pose3d(model, str(path))
    theirs = pose.state_dict()
    assert all(torch.equal(v, theirs[k]) for k, v in model.backbone.net.state_dict().items())
    # the heads are part of the feature: changing them changes the first tensor
    fresh = create_model("bodyvid_tiny", backbone="pose3d", pose3d=POSE3D_TINY).eval()
    with torch.no_grad():
        frames = torch.rand(1, fresh.seq_len, 3, 32, 32)
        before = fresh.features(frames)
        fresh.backbone.net.heatmap_head[-1].weight.mul_(10.0)
        assert (before - fresh.features(frames)).abs().max() > 1e-3


def test_plain_backbone_refuses_a_pose3d_init():
    from vivid.bodyvid.model import init_backbone_from_pose3d
    from vivid.core.errors import VividError

    with pytest.raises(VividError, match="backbone: pose3d"):
        init_backbone_from_pose3d(create_model("bodyvid_tiny"), "pose3d-default")
