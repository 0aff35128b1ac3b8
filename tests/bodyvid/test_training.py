"""The training step: a few steps on one batch of the tiny model make the total loss fall."""

from __future__ import annotations

import pytest
import torch

from vivid.bodyvid.config import BodyVidLoss, BodyVidOptim
from vivid.bodyvid.module import BodyVidModule
from vivid.core.geometry import axis_angle_to_matrix
from vivid.core.registry import create_model


def _batch(model, B=2):
    g = torch.Generator().manual_seed(0)
    S, N = model.seq_len, model.input_size
    rot = axis_angle_to_matrix(torch.randn(B * S, 24, 3, generator=g) * 0.2)
    from vivid.bodyvid.regressors import FACING_CAMERA

    rot[:, 0] = FACING_CAMERA
    phen = torch.rand(B, 1, 6, generator=g).expand(B, S, 6).reshape(-1, 6)
    joints = model.skeleton(rot, phen).view(B, S, 17, 3) + torch.tensor([0.0, 0.0, 3.0])
    K = torch.tensor([[60.0, 0, N / 2 - 0.5], [0, 60.0, N / 2 - 0.5], [0, 0, 1]]).expand(B, S, 3, 3)
    from vivid.bodyvid.losses import project_labels

    return {
        "frames": torch.rand(B, S, 3, N, N, generator=g), "joints3d": joints, "joints2d": project_labels(joints, K),
        "weight2d": torch.ones(B, S, 17), "K": K, "rotations": rot.view(B, S, 24, 3, 3), "phenotype": phen.view(B, S, 6),
        "times": (torch.arange(S) / 30.0).expand(B, S), "occluded": torch.zeros(B, S, dtype=torch.bool),
    }  # fmt: skip


def test_tiny_training_steps_make_the_loss_fall():
    torch.manual_seed(0)
    model = create_model("bodyvid_tiny")
    module = BodyVidModule(model, loss=BodyVidLoss(), optim=BodyVidOptim(lr=3e-3, warmup_steps=1), total_steps=30)
    batch = _batch(model)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)

    def total():
        parts = module.losses(batch, model(batch["frames"]))
        return sum(getattr(module.loss_cfg, k) * v for k, v in parts.items()), parts

    first, parts = total()
    assert set(parts) == {"joint", "reprojection", "velocity", "parameter"}
    for _ in range(25):
        loss, _ = total()
        opt.zero_grad()
        loss.backward()
        opt.step()
    last, _ = total()
    assert float(last.detach()) < 0.7 * float(first.detach())


def test_backbone_learning_rate_scale_makes_its_own_parameter_group():
    model = create_model("bodyvid_tiny")
    module = BodyVidModule(model, loss=BodyVidLoss(), optim=BodyVidOptim(lr=1e-3, backbone_lr_scale=0.1), total_steps=10)
    opt = module.configure_optimizers()["optimizer"]
    n_backbone = sum(1 for _ in model.backbone.parameters())
    groups = {len(g["params"]): g["initial_lr"] for g in opt.param_groups}
    assert groups[n_backbone] == pytest.approx(1e-4)
    assert sum(len(g["params"]) for g in opt.param_groups) == sum(1 for _ in model.parameters())
