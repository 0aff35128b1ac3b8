"""Training logic: partial-channel steps, geometric-loss readings, a tiny run whose loss falls."""

from __future__ import annotations

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from vivid.core.geometry import project
from vivid.core.registry import create_model
from vivid.pose3d.bones import DEFAULT_BONE_LENGTHS, mean_bone_lengths
from vivid.pose3d.config import Pose3DData, Pose3DLoss, Pose3DOptim
from vivid.pose3d.data import CachedPoseDataset, Pose3DDataModule, make_sample, save_crop_cache
from vivid.pose3d.module import Pose3DModule, alternate_pool, merge_batches


def fake_samples(n: int, size: int = 64, seed: int = 0) -> list[dict]:
    """Crops with a projected random skeleton drawn as bright dots (learnable from the image)."""
    g = torch.Generator().manual_seed(seed)
    K = torch.tensor([[80.0, 0.0, (size - 1) / 2], [0.0, 80.0, (size - 1) / 2], [0.0, 0.0, 1.0]])
    out = []
    for _ in range(n):
        j3 = torch.randn(17, 3, generator=g) * torch.tensor([0.2, 0.4, 0.15]) + torch.tensor([0.0, 0.0, 3.5])
        uv = project(j3, K)
        image = torch.zeros(3, size, size)
        for j, (u, v) in enumerate(uv.round().long().clamp(0, size - 1).tolist()):
            image[:, v, u] = torch.tensor([1.0, j / 16, 1 - j / 16])
        out.append(make_sample(image, uv, torch.ones(17), K, j3))
    return out


def batch_of(samples: list[dict], has3d: list[bool]) -> dict:
    batch = {k: torch.stack([s[k] for s in samples]) for k in samples[0]}
    batch["has3d"] = torch.tensor(has3d)
    return batch


def make_module(geo_mode: str, **kw) -> Pose3DModule:
    torch.manual_seed(0)
    optim = {k: kw.pop(k) for k in ("lr", "weight_decay") if k in kw}
    return Pose3DModule(create_model("pose3d_tiny"), loss=Pose3DLoss(geo_mode=geo_mode, **kw), optim=Pose3DOptim(warmup_steps=1, **optim))


def step(module: Pose3DModule, opt: torch.optim.Optimizer, batch: dict) -> float:
    opt.zero_grad(set_to_none=True)
    loss, _, _ = module.forward_losses(batch)
    loss.backward()
    opt.step()
    return float(loss)


def depth_head_state(module: Pose3DModule) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.model.depth_head.state_dict().items()}


def test_strict_2d_step_leaves_depth_channels_unchanged():
    module = make_module("strict")
    opt = torch.optim.AdamW(module.model.parameters(), lr=1e-2, weight_decay=1e-2)
    samples = fake_samples(8)
    step(module, opt, batch_of(samples[:4], [True] * 4))  # gives AdamW momentum for the depth head
    before = depth_head_state(module)
    heat_before = module.model.heatmap_head[-1].weight.clone()
    step(module, opt, batch_of(samples[4:], [False] * 4))
    after = depth_head_state(module)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not torch.equal(heat_before, module.model.heatmap_head[-1].weight)


def test_depth_informed_2d_step_trains_depth_channels():
    module = make_module("depth")
    opt = torch.optim.SGD(module.model.parameters(), lr=1e-2)
    before = depth_head_state(module)
    step(module, opt, batch_of(fake_samples(4), [False] * 4))
    after = depth_head_state(module)
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_strict_mixed_batch_depth_gradient_comes_from_3d_rows_only():
    # Per-image geometric loss: with the batch-wide mean ratio the 2D rows' ratios enter the mean
    # that the 3D rows are compared with (the module docstring says so), so rows are not separable.
    samples = fake_samples(4)
    grads = {}
    for name, flags in (("mixed", [True, True, False, False]), ("3d_only", [True, True])):
        module = make_module("strict", lambda_hm=0.0, lambda_geo=1.0, lambda_reg=0.0, geo_variant="per_image_sets")
        module.model.eval()  # batch norm in eval: rows do not influence each other
        batch = batch_of(samples[: len(flags)], flags)
        loss, _, _ = module.forward_losses(batch)
        # The geometric loss is a batch mean: scale the 3D-only run to the same per-row weight.
        (loss * len(flags) / 4).backward()
        grads[name] = module.model.depth_head[-1].weight.grad.clone()
    assert torch.allclose(grads["mixed"], grads["3d_only"], atol=1e-6)


def test_pretraining_uses_only_the_2d_loss():
    module = make_module("depth", pretrain_steps=5)
    batch = batch_of(fake_samples(4), [True, False, False, True])
    loss, parts, _ = module.forward_losses(batch, pretrain=True)
    assert set(parts) == {"loss_2d"}
    loss.backward()
    assert all(p.grad is None for p in module.model.depth_head.parameters())


def test_merge_batches_concatenates_pools():
    s = fake_samples(3)
    merged = merge_batches({"3d": batch_of(s[:1], [True]), "2d": batch_of(s[1:], [False, False])})
    assert merged["image"].shape[0] == 3 and merged["has3d"].tolist() == [True, False, False]


def test_tiny_training_loss_falls():
    module = make_module("depth", lr=3e-3)
    opt = torch.optim.AdamW(module.model.parameters(), lr=3e-3)
    batch = batch_of(fake_samples(8, seed=1), [True, True, False, False, False, False, True, False])
    losses = [step(module, opt, batch) for _ in range(30)]
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:3])


def test_datamodule_pools_and_reference_bones(tmp_path):
    train = fake_samples(40, seed=2)
    dm = Pose3DDataModule(Pose3DData(cache_dir=str(tmp_path), size=64, n_train=40, n_val=8, three_d_fraction=0.1,
                                     batch_size=8, ratio_2d=0.75, mix="mix", mocap="procedural"))  # fmt: skip
    assert dm.cache_path("train").name == "synth_train_64_procedural.npz"
    save_crop_cache(dm.cache_path("train"), train, {"split": "train"})
    save_crop_cache(dm.cache_path("val"), fake_samples(8, seed=3), {"split": "val"})
    dm.prepare_data()
    dm.setup("fit")
    assert len(dm.train_3d) == 4 and len(dm.train_2d) == 36
    loaders = dm.train_dataloader()
    b3, b2 = next(iter(loaders["3d"])), next(iter(loaders["2d"]))
    assert b3["has3d"].all() and not b2["has3d"].any() and b3["image"].shape[0] == 2 and b2["image"].shape[0] == 6
    labelled = CachedPoseDataset(dm.cache_path("train"), three_d_fraction=0.1, label_seed=0).joints3d_labelled()
    assert torch.allclose(dm.reference_bone_lengths(), mean_bone_lengths(labelled))
    baseline = Pose3DDataModule(Pose3DData(cache_dir=str(tmp_path), size=64, n_train=40, n_val=8, three_d_fraction=0.1,
                                           use_2d=False, mocap="procedural"))  # fmt: skip
    baseline.setup("fit")
    assert set(baseline.train_dataloader()) == {"3d"}


def test_harness_trains_tiny_preset_and_exports(tmp_path):
    from vivid.core.checkpoints import load_checkpoint
    from vivid.core.train import load_config, train

    save_crop_cache(tmp_path / "cache" / "synth_train_64_procedural.npz", fake_samples(64, seed=4), {"split": "train"})
    save_crop_cache(tmp_path / "cache" / "synth_val_64_procedural.npz", fake_samples(16, seed=5), {"split": "val"})
    cfg = load_config("pose3d", "tiny", [f"data.cache_dir={tmp_path / 'cache'}", "data.mocap=procedural"])
    weights = train("pose3d", cfg, out_dir=tmp_path / "run", max_steps=5, quiet=True, accelerator="cpu")
    model, meta = load_checkpoint(weights, task="pose3d")
    assert meta["model_name"] == "pose3d_tiny" and "val/mpjpe" in meta["metrics"]
    # The sidecar says which motions the renders used.
    assert meta["extra"]["data_details"]["motion"] == {"source": "procedural"}
    assert "motion: procedural" in meta["data"]
    # The reference bone lengths were computed from the 3D training labels and saved.
    assert not torch.allclose(model.ref_bone_lengths, torch.tensor(DEFAULT_BONE_LENGTHS))


def test_alternate_pool_pattern():
    assert [alternate_pool(t, 3) for t in range(8)] == ["2d", "2d", "2d", "3d"] * 2
    assert [alternate_pool(t, 1) for t in range(4)] == ["2d", "3d", "2d", "3d"]
    assert [alternate_pool(t, 0) for t in range(3)] == ["3d"] * 3
    with pytest.raises(ValueError):
        alternate_pool(0, -1)


def fake_datamodule(tmp_path, **data) -> Pose3DDataModule:
    """A DataModule over fake crop caches (64 px): 10 of 40 training samples 3D-labelled."""
    cfg = Pose3DData(cache_dir=str(tmp_path), size=64, n_train=40, n_val=8, three_d_fraction=0.25, batch_size=4,
                     mocap="procedural", flip=False, **data)  # fmt: skip
    dm = Pose3DDataModule(cfg)
    save_crop_cache(dm.cache_path("train"), fake_samples(40, seed=6), {"split": "train"})
    save_crop_cache(dm.cache_path("val"), fake_samples(8, seed=7), {"split": "val"})
    return dm


class StepRecorder(pl.Callback):
    """Per training step: which pool the module trained on, and whether the depth channels got a
    gradient (any nonzero entry) and the heatmap channels did."""

    def __init__(self) -> None:
        self.pools, self.depth_grad, self.heat_grad, self.losses = [], [], [], []

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        has3d = module._select(batch)["has3d"]
        assert bool(has3d.all()) or not bool(has3d.any()), "alternating batches come from one pool"
        self.pools.append("3d" if bool(has3d.all()) else "2d")

    def on_before_optimizer_step(self, trainer, module, optimizer) -> None:
        nonzero = lambda head: any(p.grad is not None and bool(p.grad.ne(0).any()) for p in head.parameters())  # noqa: E731
        self.depth_grad.append(nonzero(module.model.depth_head))
        self.heat_grad.append(nonzero(module.model.heatmap_head))

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.losses.append(float(outputs["loss"]))


def fit(module, dm, steps: int, recorder: StepRecorder) -> None:
    trainer = pl.Trainer(max_steps=steps, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, callbacks=[recorder])  # fmt: skip
    trainer.fit(module, datamodule=dm)


def test_alternate_steps_follow_the_ratio_and_2d_batches_leave_depth_gradients_zero(tmp_path):
    dm = fake_datamodule(tmp_path, mix="alternate")
    torch.manual_seed(0)
    module = Pose3DModule(create_model("pose3d_tiny"), loss=Pose3DLoss(alternate_2d_per_3d=3), optim=Pose3DOptim(warmup_steps=1), mix="alternate")
    assert module.hparams.geo_mode == "strict"  # the default reading
    rec = StepRecorder()
    fit(module, dm, 8, rec)
    assert rec.pools == ["2d", "2d", "2d", "3d"] * 2
    assert rec.depth_grad == [pool == "3d" for pool in rec.pools]  # zero on every 2D batch
    assert all(rec.heat_grad)


def test_mixed_batches_hold_both_pools(tmp_path):
    dm = fake_datamodule(tmp_path, mix="mix", ratio_2d=0.5)
    module = Pose3DModule(create_model("pose3d_tiny"), loss=Pose3DLoss(), optim=Pose3DOptim(warmup_steps=1), mix="mix")
    rec = StepRecorder()
    rec.on_train_batch_start = lambda trainer, m, batch, i: rec.pools.append(m._select(batch)["has3d"].tolist())
    fit(module, dm, 2, rec)
    assert all(flags == [True, True, False, False] for flags in rec.pools)
    assert all(rec.depth_grad)


def test_tiny_preset_trains_and_its_loss_falls(tmp_path):
    """The tiny preset's recipe (the method's defaults) on learnable fake crops: 40 steps lower the
    loss of the 3D-labelled batches and of the 2D-only ones."""
    from vivid.core.train import build_recipe, load_config

    save_crop_cache(tmp_path / "synth_train_64_procedural.npz", fake_samples(64, seed=4), {"split": "train"})
    save_crop_cache(tmp_path / "synth_val_64_procedural.npz", fake_samples(16, seed=5), {"split": "val"})
    cfg = load_config("pose3d", "tiny", [f"data.cache_dir={tmp_path}", "data.mocap=procedural", "data.flip=false", "trainer.max_steps=40"])
    recipe = build_recipe("pose3d", cfg)
    hp = recipe.module.hparams
    assert (hp.mix, hp.geo_mode, hp.geo_variant, hp.geo_reference) == ("alternate", "strict", "batch", "h36m")
    torch.manual_seed(0)
    rec = StepRecorder()
    fit(recipe.module, recipe.datamodule, 40, rec)
    for pool in ("2d", "3d"):
        losses = [loss for loss, p in zip(rec.losses, rec.pools) if p == pool]
        assert np.mean(losses[-3:]) < 0.7 * np.mean(losses[:3]), (pool, losses)


@pytest.mark.parametrize(
    "bad",
    [{"loss": Pose3DLoss(geo_mode="loose")}, {"loss": Pose3DLoss(geo_variant="sets")}, {"loss": Pose3DLoss(geo_reference="mean")},
     {"loss": Pose3DLoss(alternate_2d_per_3d=-1)}, {"mix": "shuffle"}],
)
def test_bad_module_options_raise(bad):
    with pytest.raises(ValueError):
        Pose3DModule(create_model("pose3d_tiny"), **bad)


def test_recipe_rejects_unknown_keys_and_size_mismatch():
    from vivid.core.errors import VividError
    from vivid.core.train import build_recipe as harness_recipe
    from vivid.core.train import load_config

    def build_recipe(cfg):
        return harness_recipe("pose3d", cfg)

    cfg = load_config("pose3d", "tiny", ["loss.lambda_geometry=1"])
    with pytest.raises(VividError, match="lambda_geometry"):
        build_recipe(cfg)
    with pytest.raises(VividError, match="input size"):
        build_recipe(load_config("pose3d", "tiny", ["data.size=96"]))
    recipe = build_recipe(load_config("pose3d", "tiny", ["loss.geo_mode=depth", "data.mix=mix"]))
    assert recipe.module.hparams.geo_mode == "depth" and recipe.module.hparams.mix == "mix" and recipe.task == "pose3d"


def test_recipe_records_the_mocap_split(shared_data, tmp_path):
    """With the shared CMU clips, the recipe's sidecar record lists every split's clips, disjoint."""
    from vivid.core.train import build_recipe, load_config

    cfg = load_config("pose3d", "tiny", [f"data.cache_dir={tmp_path}", f"data.mocap={shared_data / 'mocap'}"])
    motion = build_recipe("pose3d", cfg).data_details["motion"]
    assert motion["source"] == "mocap" and motion["train"] and motion["test"]
    assert not set(motion["train"]) & set(motion["test"])
