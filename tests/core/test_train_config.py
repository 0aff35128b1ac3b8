import pytest
import torch

from vivid.core.errors import VividError
from vivid.core.train import SafetensorsCheckpointIO, load_config, parse_override


def test_parse_override_reads_yaml_values():
    assert parse_override("optim.lr=1e-4") == (["optim", "lr"], 1e-4)
    assert parse_override("data.flip=false") == (["data", "flip"], False)
    assert parse_override("model=interp_tiny") == (["model"], "interp_tiny")
    assert parse_override("data.size=[64, 96]") == (["data", "size"], [64, 96])
    with pytest.raises(VividError, match="key.sub=value"):
        parse_override("optim.lr")
    with pytest.raises(VividError, match="empty key"):
        parse_override("optim..lr=1")


def test_load_config_file_with_overrides(tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("model: m\noptim: {lr: 0.1}\ntrainer: {max_steps: 5}\n")
    cfg = load_config("interp", str(cfg_file), ["optim.lr=0.5", "trainer.batch_size=3", "new.deep.key=1"])
    assert cfg == {"model": "m", "optim": {"lr": 0.5}, "trainer": {"max_steps": 5, "batch_size": 3},
                   "new": {"deep": {"key": 1}}}
    with pytest.raises(VividError, match="not a mapping"):
        load_config("interp", str(cfg_file), ["model.x=1"])
    (tmp_path / "bad.yaml").write_text("a: [1,\n")
    with pytest.raises(VividError, match="not valid YAML"):
        load_config("interp", str(tmp_path / "bad.yaml"))


def test_training_state_round_trip_without_pickle(tmp_path):
    w = torch.randn(3, 2)
    state = {
        "epoch": 1, "global_step": 7, "state_dict": {"a.weight": w, "a.bias": torch.zeros(3)},
        "optimizer_states": [{"state": {0: {"step": torch.tensor(7.0), "exp_avg": torch.ones(3, 2)}},
                              "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1], "foreach": None}]}],
        "loops": {"fit_loop": {"epoch_progress": {"total": {"ready": 2}}}},
        "score": float("inf"),
    }
    io = SafetensorsCheckpointIO()
    io.save_checkpoint(state, tmp_path / "last.state.safetensors")
    back = io.load_checkpoint(tmp_path / "last.state.safetensors")
    assert back["global_step"] == 7 and back["score"] == float("inf")
    assert torch.equal(back["state_dict"]["a.weight"], w)
    group = back["optimizer_states"][0]["param_groups"][0]
    assert group["betas"] == (0.9, 0.999) and group["foreach"] is None
    assert set(back["optimizer_states"][0]["state"]) == {0}  # integer keys survive
    assert back["loops"] == state["loops"]


def test_training_state_rejects_foreign_files(tmp_path):
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(1)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(VividError, match="not a vivid training state"):
        SafetensorsCheckpointIO().load_checkpoint(tmp_path / "plain.safetensors")
    with pytest.raises(TypeError, match="cannot store"):
        SafetensorsCheckpointIO().save_checkpoint({"obj": object()}, tmp_path / "x.state.safetensors")
