import json

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from vivid.core import hub
from vivid.core.checkpoints import load_checkpoint, read_meta, save_checkpoint
from vivid.core.errors import VividError
from vivid.core.registry import create_model, list_models, model_task, register_model


class _Net(nn.Module):
    def __init__(self, *, width: int = 4) -> None:
        super().__init__()
        self.config = {"width": width}
        self.fc = nn.Linear(3, width)
        self.register_buffer("scale", torch.full((width,), 2.0))

    def forward(self, x):
        return self.fc(x) * self.scale


# Registered under a task of its own so that the task packages' registry loops do not see it.
@register_model("_test")
def _ckpt_test_net(**overrides) -> nn.Module:
    return _Net(**{"width": 4, **overrides})


def test_registry_builds_and_lists():
    assert "_ckpt_test_net" in list_models("_test")
    assert "_ckpt_test_net" not in list_models("interp")
    assert model_task("_ckpt_test_net") == "_test"
    assert create_model("_ckpt_test_net", width=7).fc.out_features == 7
    with pytest.raises(VividError, match="unknown model"):
        create_model("no_such_model")
    with pytest.raises(VividError, match="unknown key model_config.no_such_setting .*valid keys of model_config: width"):
        create_model("_ckpt_test_net", no_such_setting=1)


def test_round_trip_restores_weights_and_meta(tmp_path):
    torch.manual_seed(0)
    model = create_model("_ckpt_test_net", width=5)
    path = save_checkpoint(tmp_path / "m", model, task="interp", model_name="_ckpt_test_net",
                           command="vivid train interp", metrics={"val/psnr": 30.5})
    assert path == tmp_path / "m.safetensors" and (tmp_path / "m.json").exists()
    loaded, meta = load_checkpoint(path, task="interp")
    assert meta["model_config"] == {"width": 5} and meta["metrics"]["val/psnr"] == 30.5
    assert meta["command"] == "vivid train interp" and meta["num_parameters"] == 3 * 5 + 5
    x = torch.randn(2, 3)
    assert torch.equal(loaded(x), model.eval()(x))
    # The stem or the sidecar name the same checkpoint.
    assert read_meta(tmp_path / "m") == read_meta(tmp_path / "m.json") == meta


def test_wrong_task_is_refused(tmp_path):
    save_checkpoint(tmp_path / "m", create_model("_ckpt_test_net"), task="interp", model_name="_ckpt_test_net")
    with pytest.raises(VividError, match="is a 'interp' model, not a 'pose3d' model"):
        load_checkpoint(tmp_path / "m.safetensors", task="pose3d")


def test_shape_mismatch_says_what_differs(tmp_path):
    path = save_checkpoint(tmp_path / "m", create_model("_ckpt_test_net", width=4), task="interp",
                           model_name="_ckpt_test_net")
    meta = json.loads((tmp_path / "m.json").read_text())
    meta["model_config"]["width"] = 6
    (tmp_path / "m.json").write_text(json.dumps(meta))
    with pytest.raises(VividError, match=r"fc.weight: checkpoint \(4, 3\) vs model \(6, 3\)"):
        load_checkpoint(path)


def test_missing_and_extra_tensors_are_named(tmp_path):
    path = save_checkpoint(tmp_path / "m", create_model("_ckpt_test_net"), task="interp", model_name="_ckpt_test_net")
    state = load_file(str(path))
    state["extra.weight"] = torch.zeros(1)
    del state["fc.bias"]
    save_file(state, str(path))
    with pytest.raises(VividError, match="missing fc.bias; unexpected extra.weight"):
        load_checkpoint(path)


def test_missing_files_and_bad_sidecar(tmp_path):
    with pytest.raises(VividError, match="not found"):
        load_checkpoint(tmp_path / "nothing.safetensors")
    path = save_checkpoint(tmp_path / "m", create_model("_ckpt_test_net"), task="interp", model_name="_ckpt_test_net")
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(VividError, match="not valid JSON"):
        load_checkpoint(path)
    (tmp_path / "m.json").unlink()
    with pytest.raises(VividError, match="sidecar .* is missing"):
        load_checkpoint(path)


def test_pickle_file_is_not_loaded(tmp_path):
    """A pickle renamed to .safetensors is rejected by the parser, never unpickled."""
    path = save_checkpoint(tmp_path / "m", create_model("_ckpt_test_net"), task="interp", model_name="_ckpt_test_net")
    torch.save({"fc.weight": torch.zeros(4, 3)}, path)
    with pytest.raises(VividError, match="cannot read weights"):
        load_checkpoint(path)


def test_hub_finds_bundled_weights_by_name(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "toy-default", create_model("_ckpt_test_net"), task="interp",
                           model_name="_ckpt_test_net", metrics={"val/psnr": 1.0})
    monkeypatch.setattr(hub, "_weights_dir", lambda: tmp_path)
    assert hub.bundled_names() == ["toy-default"]
    assert hub.bundled_path("toy-default") == path
    rows = hub.list_bundled()
    assert rows[0]["task"] == "interp" and rows[0]["metrics"] == {"val/psnr": 1.0}
    model, meta = load_checkpoint("toy-default")
    assert meta["model_name"] == "_ckpt_test_net"
    with pytest.raises(VividError, match="no bundled checkpoint"):
        hub.bundled_path("other")
