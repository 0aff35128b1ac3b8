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


# ----------------------------------------------------------------------------- typed configs

from dataclasses import dataclass, field  # noqa: E402
from typing import Literal  # noqa: E402

from vivid.core.config import config_to_dict, parse_config  # noqa: E402
from vivid.core.train import parse_task_config  # noqa: E402


@dataclass
class _Inner:
    widths: tuple[int, ...] = (4, 8)
    mode: Literal["a", "b"] = "a"


@dataclass
class _Outer:
    lr: float = 1e-3
    steps: int = 10
    name: str | None = None
    flag: bool = False
    inner: _Inner = field(default_factory=_Inner)


def test_parse_config_builds_typed_values_and_defaults():
    cfg = parse_config(_Outer, {"lr": 1, "inner": {"widths": [1, 2, 3], "mode": "b"}})
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float) and cfg.steps == 10 and cfg.inner == _Inner((1, 2, 3), "b")
    assert config_to_dict(cfg) == {"lr": 1.0, "steps": 10, "name": None, "flag": False, "inner": {"widths": [1, 2, 3], "mode": "b"}}
    assert parse_config(_Outer, config_to_dict(cfg)) == cfg  # round trip


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"lrr": 0.1}, "unknown key lrr; valid keys: flag, inner, lr, name, steps"),
        ({"inner": {"widht": [1]}}, "unknown key inner.widht; valid keys of inner: mode, widths"),
        ({"lr": "fast"}, "lr: expected a number, got 'fast'"),
        ({"steps": 2.5}, "steps: expected an integer, got 2.5"),
        ({"flag": "yes"}, "flag: expected true or false, got 'yes'"),
        ({"inner": {"mode": "c"}}, "inner.mode: expected 'a' or 'b', got 'c'"),
        ({"inner": {"widths": [1, "x"]}}, r"inner.widths\[1\]: expected an integer, got 'x'"),
        ({"inner": 3}, "inner: expected a mapping, got 3"),
    ],
)
def test_parse_config_refuses_with_one_line(raw, message):
    with pytest.raises(VividError, match=message):
        parse_config(_Outer, raw)


@pytest.mark.parametrize(
    "task, override, message",
    [
        ("interp", "optim.lrr=0.1", "unknown key optim.lrr; valid keys of optim: grad_clip, lr, lr_d,"),
        ("interp", "loss.flow_wieght=1", "unknown key loss.flow_wieght; valid keys of loss: depth_weight, flow_level_weights,"),
        ("interp", "data.flying.trian=3", "unknown key data.flying.trian"),
        ("interp", "optim.lr=fast", "optim.lr: expected a number, got 'fast'"),
        ("interp", "trainer.max_step=3", "unknown key trainer.max_step; valid keys of trainer:"),
        ("pose3d", "loss.geo_mode=loose", "loss.geo_mode: expected 'strict' or 'depth', got 'loose'"),
        ("pose3d", "data.n_trian=3", "unknown key data.n_trian"),
        ("pose3d", "model_confg={}", "unknown key model_confg; valid keys: data, export, freeze_modules, init,"),
        ("pose3d", "trainer.max_steps=0", "trainer.max_steps must be at least 1"),
    ],
)
def test_task_configs_refuse_typos(task, override, message):
    with pytest.raises(VividError, match=message):
        parse_task_config(task, load_config(task, "tiny", [override]))


def test_trainer_batch_size_reaches_the_data_unless_it_sets_its_own():
    assert parse_task_config("pose3d", load_config("pose3d", "tiny", ["trainer.batch_size=6"])).data.batch_size == 6
    own = load_config("pose3d", "tiny", ["trainer.batch_size=6", "data.batch_size=3"])
    assert parse_task_config("pose3d", own).data.batch_size == 3
