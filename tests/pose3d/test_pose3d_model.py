"""Pose3DNet variants from the registry."""

from __future__ import annotations

import pytest
import torch

from vivid.core.checkpoints import load_checkpoint
from vivid.core.errors import VividError
from vivid.core.hub import is_bundled
from vivid.core.registry import create_model, list_models, model_task
from vivid.pose3d.bones import DEFAULT_BONE_LENGTHS


def test_registry_lists_the_variants():
    assert {"pose3d_tiny", "pose3d_small96", "pose3d_default", "pose3d_large"} <= set(list_models("pose3d"))
    assert model_task("pose3d_default") == "pose3d"
    sizes = {name: create_model(name).input_size for name in ("pose3d_tiny", "pose3d_small96", "pose3d_default", "pose3d_large")}
    assert sizes == {"pose3d_tiny": 64, "pose3d_small96": 96, "pose3d_default": 192, "pose3d_large": 256}


def test_a_full_config_under_the_default_name_rebuilds_its_own_architecture():
    """Sidecars that name pose3d_default with the 96 px model's full config (the bundled one) load."""
    small = create_model("pose3d_small96")
    rebuilt = create_model("pose3d_default", **small.config)
    assert rebuilt.config == small.config
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in small.state_dict().items()}
    if is_bundled("pose3d-default"):
        model, meta = load_checkpoint("pose3d-default", task="pose3d")
        assert model.input_size == meta["model_config"]["input_size"]


@pytest.mark.parametrize("name", ["pose3d_tiny", "pose3d_small96", "pose3d_default", "pose3d_large"])
def test_registry_loop_shape_finite_backward(name):
    torch.manual_seed(0)
    model = create_model(name)
    s = model.input_size
    out = model(torch.rand(2, 3, s, s))
    hw = s // model.stride
    assert out.heatmaps.shape == (2, 17, hw, hw) and out.depthmaps.shape == (2, 17, hw, hw)
    assert torch.isfinite(out.heatmaps).all() and torch.isfinite(out.depthmaps).all()
    (out.heatmaps.square().mean() + out.depthmaps.square().mean()).backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    # The config rebuilds the same architecture: every saved tensor has its place, and the
    # rebuilt model (initialised differently until loaded) then gives the same outputs.
    model.eval()
    clone = create_model(name, **model.config).eval()
    x = torch.rand(1, 3, s, s)
    with torch.no_grad():
        assert not torch.allclose(clone(x).heatmaps, model(x).heatmaps)
        loaded = clone.load_state_dict(model.state_dict(), strict=False)
        assert loaded.missing_keys == [] and loaded.unexpected_keys == []
        a, b = model(x), clone(x)
    assert torch.equal(a.heatmaps, b.heatmaps) and torch.equal(a.depthmaps, b.depthmaps)


def test_depth_head_skipped_and_batch_equals_per_item():
    torch.manual_seed(0)
    model = create_model("pose3d_tiny").eval()
    x = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        full = model(x)
        part = model(x, with_depth=False)
        single = model(x[1:2])
    assert part.depthmaps is None
    assert torch.allclose(part.heatmaps, full.heatmaps)
    assert torch.allclose(single.heatmaps[0], full.heatmaps[1], atol=1e-5)
    assert torch.allclose(single.depthmaps[0], full.depthmaps[1], atol=1e-5)


def test_reference_bones_are_a_saved_buffer():
    model = create_model("pose3d_tiny")
    assert torch.allclose(model.ref_bone_lengths, torch.tensor(DEFAULT_BONE_LENGTHS))
    new = torch.linspace(0.1, 0.5, 16)
    model.set_reference_bones(new)
    assert torch.allclose(model.state_dict()["ref_bone_lengths"], new)
    with pytest.raises(ValueError):
        model.set_reference_bones(torch.zeros(16))


def test_bad_input_shape_raises():
    model = create_model("pose3d_tiny")
    with pytest.raises(ValueError):
        model(torch.rand(1, 1, 64, 64))
    with pytest.raises(VividError, match="divisible by 16"):  # settings usually come from a config
        create_model("pose3d_tiny", input_size=70)
