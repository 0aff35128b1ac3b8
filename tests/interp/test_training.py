"""Training: the loss falls on a fixed tiny batch; GAN updates run; the harness exports."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from vivid.core.checkpoints import load_checkpoint, read_meta
from vivid.core.registry import create_model
from vivid.core.train import build_recipe, load_config, train
from vivid.interp.config import GanLoss, InterpLoss, InterpOptim
from vivid.interp.data import FlyingTriplets
from vivid.interp.model import InterpNet
from vivid.interp.module import InterpModule


class _Fixed(Dataset):
    """The same few items over and over (a fixed batch)."""

    def __init__(self, items, length=64):
        self.items, self.length = items, length

    def __len__(self):
        return self.length

    def __getitem__(self, i):
        return self.items[i % len(self.items)]


def _items(n=4, size=32):
    ds = FlyingTriplets(n, (size, size), seed=3, random_t=False, augment=False, sprites=(2, 2))
    return [ds[i] for i in range(n)]


def _loss_on(module: InterpModule, batch) -> float:
    module.eval()
    with torch.no_grad():
        out = module.model(batch["image0"], batch["image1"], batch["t"])
        losses = module._generator_losses(batch, out)
        return float(module._total(losses))


def _trainer(steps):
    return pl.Trainer(
        max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0, accelerator="cpu",
    )


def test_tiny_training_lowers_the_loss_on_a_fixed_batch():
    pl.seed_everything(0, verbose=False)
    items = _items()
    batch = {k: torch.stack([it[k] for it in items]) for k in items[0]}
    module = InterpModule(create_model("interp_tiny"), optim=InterpOptim(lr=3e-3, warmup_steps=0, max_steps=30))
    before = _loss_on(module, batch)
    _trainer(30).fit(module, DataLoader(_Fixed(items), batch_size=4))
    after = _loss_on(module, batch)
    assert after < 0.8 * before


def test_gan_updates_discriminator_and_generator():
    pl.seed_everything(0, verbose=False)
    items = _items(2, 32)
    module = InterpModule(
        create_model("interp_tiny"),
        optim=InterpOptim(lr=1e-3, warmup_steps=0),
        loss=InterpLoss(gan=GanLoss(enabled=True, weight=0.01, start_step=1, widths=(4, 4, 8, 8, 8))),
    )
    d0 = [p.detach().clone() for p in module.discriminator.parameters()]
    g0 = module.model.synthesis.out.weight.detach().clone()
    _trainer(3).fit(module, DataLoader(_Fixed(items, 6), batch_size=2))
    assert any(not torch.equal(a, b) for a, b in zip(d0, module.discriminator.parameters()))
    assert not torch.equal(g0, module.model.synthesis.out.weight)
    assert module.global_step == 3  # one step per batch: critic updates do not count


def test_harness_tiny_preset_trains_exports_and_reloads(tmp_path):
    """Also: the exports carry export.model_config's inference settings, training does not use them."""
    inference = ["export.model_config.flow_refine=1", "export.model_config.flow_window=5"]
    cfg = load_config("interp", "tiny", ["trainer.max_steps=2", "trainer.val_check_interval=2", f"export.path={tmp_path / 'periodic'}", *inference])
    recipe = build_recipe("interp", cfg)
    assert isinstance(recipe.module.model, InterpNet) and recipe.model_name == "interp_tiny"
    path = train("interp", cfg, out_dir=tmp_path / "run", quiet=True, command="vivid train interp --config tiny")
    model, meta = load_checkpoint(path, task="interp")
    assert meta["model_name"] == "interp_tiny" and "val/flying_psnr" in meta["metrics"]
    assert isinstance(model, InterpNet)
    assert (model.config["flow_refine"], model.config["flow_window"]) == (1, 5)
    assert (recipe.module.model.config["flow_refine"], recipe.module.model.config["flow_window"]) == (0, 9)
    periodic = read_meta(tmp_path / "periodic")
    assert periodic["metrics"]["global_step"] == 2 and "flying layers" in periodic["data"]
    assert (periodic["model_config"]["flow_refine"], periodic["model_config"]["flow_window"]) == (1, 5)


def test_export_settings_are_checked_before_training():
    from vivid.core.errors import VividError

    with pytest.raises(VividError, match="export.model_config: synthesis_channels cannot differ"):
        build_recipe("interp", load_config("interp", "tiny", ["export.model_config.synthesis_channels=4"]))
    with pytest.raises(VividError, match="export.model_config: flow_window must be an odd"):
        build_recipe("interp", load_config("interp", "tiny", ["export.model_config.flow_window=4"]))


def test_flow_stage_trains_only_the_flow_network():
    pl.seed_everything(0, verbose=False)
    items = _items(4, 32)
    module = InterpModule(create_model("interp_tiny"), optim=InterpOptim(lr=3e-3, warmup_steps=0, max_steps=60), stage="flow")
    flow0 = [p.detach().clone() for p in module.model.flow.parameters()]
    rest0 = {n: p.detach().clone() for n, p in module.model.named_parameters() if not n.startswith("flow.")}
    batch = {k: torch.stack([it[k] for it in items]) for k in items[0]}

    def flow_loss():
        with torch.no_grad():
            _, _, pyramid = module.model.flow(batch["image0"], batch["image1"])
            return float(module._flow_loss(batch, pyramid, (0, 0, 0, 0)))

    before = flow_loss()
    _trainer(60).fit(module, DataLoader(_Fixed(items), batch_size=4))
    assert flow_loss() < 0.8 * before
    assert any(not torch.equal(a, b) for a, b in zip(flow0, module.model.flow.parameters()))
    assert all(torch.equal(rest0[n], p) for n, p in module.model.named_parameters() if not n.startswith("flow."))


def test_flow_loss_uses_only_valid_pixels():
    items = _items(2, 32)
    batch = {k: torch.stack([it[k] for it in items]) for k in items[0]}
    module = InterpModule(create_model("interp_tiny"))
    with torch.no_grad():
        _, _, pyramid = module.model.flow(batch["image0"], batch["image1"])
    base = module._flow_loss(batch, pyramid, (0, 0, 0, 0))
    spoiled = dict(batch, flow01=batch["flow01"].clone())
    spoiled["flow01"][:, :, :16] += 50.0  # wrong labels in the top half ...
    assert module._flow_loss(spoiled, pyramid, (0, 0, 0, 0)) > base + 1.0
    spoiled["flow_valid0"] = batch["flow_valid0"].clone()
    spoiled["flow_valid0"][:, :, :16] = 0.0  # ... masked out: they no longer count
    masked = module._flow_loss(spoiled, pyramid, (0, 0, 0, 0))
    assert abs(float(masked) - float(base)) < 0.5 * float(base)
    none = dict(batch, flow_valid0=torch.zeros_like(batch["flow_valid0"]), flow_valid1=torch.zeros_like(batch["flow_valid1"]))
    assert module._flow_loss(none, pyramid, (0, 0, 0, 0)) is None


def test_flow_level_weights_choose_which_pyramid_levels_count():
    items = _items(2, 32)
    batch = {k: torch.stack([it[k] for it in items]) for k in items[0]}
    with torch.no_grad():
        _, _, pyramid = create_model("interp_tiny").flow(batch["image0"], batch["image1"])
    exact = [torch.zeros_like(p) for p in pyramid]
    exact[0] = F.avg_pool2d(torch.cat((batch["flow01"], batch["flow10"])), 32 // pyramid[0].shape[-1])
    exact[0] = exact[0] / (32 // pyramid[0].shape[-1])  # the coarsest estimate right, the others zero

    def loss(weights):
        module = InterpModule(create_model("interp_tiny"), loss=InterpLoss(flow_level_weights=weights))
        return float(module._flow_loss(batch, exact, (0, 0, 0, 0)))

    only_coarse = [1.0] + [0.0] * (len(pyramid) - 1)
    only_fine = [0.0] * (len(pyramid) - 1) + [1.0]
    assert loss(only_coarse) < 0.5 and loss(only_fine) > 1.0
    with pytest.raises(ValueError, match="flow_level_weights"):
        loss([1.0])
    with pytest.raises(ValueError, match="flow_level_weights"):
        loss([0.0] * len(pyramid))


def test_recipe_init_starts_from_a_checkpoint(tmp_path):
    from vivid.core.checkpoints import save_checkpoint
    from vivid.core.errors import VividError

    source = create_model("interp_tiny")
    save_checkpoint(tmp_path / "start", source, task="interp", model_name="interp_tiny")
    cfg = load_config("interp", "tiny", [f"init={tmp_path / 'start.safetensors'}", "stage=flow"])
    recipe = build_recipe("interp", cfg)
    assert recipe.module.stage == "flow"
    for a, b in zip(source.state_dict().values(), recipe.module.model.state_dict().values()):
        assert torch.equal(a, b)
    # A configured module the checkpoint lacks starts fresh; every other weight is loaded.
    grown = build_recipe("interp", load_config("interp", "tiny", [f"init={tmp_path / 'start.safetensors'}", "model_config.flow_context=[8,8]"]))
    grown_state = grown.module.model.state_dict()
    assert any(k.startswith("flow.context.") for k in grown_state)
    for k, v in source.state_dict().items():
        assert torch.equal(v, grown_state[k])
    # init_modules: only the flow network comes from the checkpoint, even into another variant.
    ablated = build_recipe("interp", load_config("interp", "tiny", [f"init={tmp_path / 'start.safetensors'}", "init_modules=[flow]", "model_config.use_nonlocal=false"]))
    ablated_state = ablated.module.model.state_dict()
    assert all(torch.equal(v, ablated_state[k]) for k, v in source.state_dict().items() if k.startswith("flow."))
    assert not torch.equal(source.state_dict()["synthesis.head.0.weight"][:1], ablated_state["synthesis.head.0.weight"][:1])
    with pytest.raises(VividError, match="init_modules"):
        build_recipe("interp", load_config("interp", "tiny", [f"init={tmp_path / 'start.safetensors'}", "init_modules=[flows]"]))
    wide = load_config("interp", "tiny", [f"init={tmp_path / 'start.safetensors'}", "model_config.synthesis_channels=12"])
    with pytest.raises(VividError, match="does not have the weights"):
        build_recipe("interp", wide)
    with pytest.raises(VividError, match="stage: expected 'full' or 'flow'"):
        build_recipe("interp", load_config("interp", "tiny", ["stage=flows"]))


def test_bundled_recipe_stages_build():
    from vivid.core.train import presets

    assert {"default", "default-flow", "default-finetune"} <= set(presets("interp"))
    stages = {name: build_recipe("interp", load_config("interp", name)).module.stage for name in ("default-flow", "default-finetune")}
    assert stages == {"default-flow": "flow", "default-finetune": "full"}


def test_frozen_modules_keep_their_weights_while_the_rest_trains():
    from vivid.core.errors import VividError

    pl.seed_everything(0, verbose=False)
    recipe = build_recipe("interp", load_config("interp", "tiny", ["freeze_modules=[flow]"]))
    module = recipe.module
    flow0 = {n: p.detach().clone() for n, p in module.model.flow.named_parameters()}
    rest0 = {n: p.detach().clone() for n, p in module.model.named_parameters() if not n.startswith("flow.")}
    items = _items()
    _trainer(5).fit(module, DataLoader(_Fixed(items), batch_size=4))
    assert all(torch.equal(flow0[n], p) for n, p in module.model.flow.named_parameters())
    assert any(not torch.equal(rest0[n], p) for n, p in module.model.named_parameters() if not n.startswith("flow."))
    with pytest.raises(VividError, match="freeze_modules: flows"):
        build_recipe("interp", load_config("interp", "tiny", ["freeze_modules=[flows]"]))
    with pytest.raises(VividError, match="cannot be frozen"):
        build_recipe("interp", load_config("interp", "tiny", ["freeze_modules=[flow]", "stage=flow"]))
