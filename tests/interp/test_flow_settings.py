"""Flow settings: checked in one place, parsed from --flow-setting, presets, carried by checkpoints."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from vivid.core.checkpoints import load_checkpoint, read_meta, save_checkpoint
from vivid.core.errors import VividError
from vivid.core.registry import create_model
from vivid.interp.flow_settings import FLOW_PRESETS, FLOW_SETTINGS, FlowSettings, check_flow_settings, flow_preset


def test_values_are_converted_and_the_object_is_frozen():
    s = FlowSettings(flow_scales=[1, "2"], flow_window="33", flow_refine=1.0, flow_contrast=3, flow_median="5")
    assert s == FlowSettings(flow_scales=(1, 2), flow_window=33, flow_refine=1, flow_contrast=3.0, flow_median=5)
    assert type(s.flow_contrast) is float and all(type(x) is int for x in s.flow_scales)
    assert s.as_config() == {
        "flow_scales": [1, 2],
        "flow_window": 33,
        "flow_refine": 1,
        "flow_contrast": 3.0,
        "flow_median": 5,
        "flow_still": 0,
    }
    assert FlowSettings.from_config({**s.as_config(), "use_depth": True}) == s  # other config keys ignored
    assert FlowSettings.names() == FLOW_SETTINGS and FLOW_SETTINGS == tuple(s.as_config())
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.flow_window = 9
    assert hash(s) == hash(FlowSettings.from_config(s.as_config()))


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(flow_scales=(2, 4)), "flow_scales must start with 1"),
        (dict(flow_scales=()), "flow_scales must start with 1"),
        (dict(flow_scales=(1, 0)), "flow_scales must start with 1"),
        (dict(flow_scales=1), "flow_scales must be a sequence"),
        (dict(flow_window=4), "flow_window must be an odd"),
        (dict(flow_window=0), "flow_window must be an odd"),
        (dict(flow_window="x"), "flow_window must be an integer"),
        (dict(flow_refine=-1), "flow_refine must be a number of passes"),
        (dict(flow_contrast=-0.5), "flow_contrast must be a gain"),
        (dict(flow_contrast="x"), "flow_contrast must be a number"),
        (dict(flow_median=4), "flow_median must be 0"),
        (dict(flow_still=-1), "flow_still must be 0"),
        (dict(use_depth=False), "use_depth is not a flow setting"),
    ],
)
def test_bad_values_raise_one_error_naming_the_setting(changes, message):
    with pytest.raises(ValueError, match=message):
        FlowSettings().replace(**changes)
    with pytest.raises(ValueError, match=message):
        check_flow_settings(**changes)
    if "use_depth" not in changes:
        with pytest.raises(ValueError, match=message):
            FlowSettings(**changes)
        with pytest.raises(VividError, match=message):  # the registry's error names the same
            create_model("interp_tiny", **changes)


def test_parse_applies_items_in_order_on_top():
    base = FlowSettings(flow_scales=(1, 2, 4, 8), flow_window=33, flow_refine=1)
    assert base.parse([]) is base
    assert base.parse(["flow_refine=0", "flow_scales=1, 2", "flow_refine=2"]) == dataclasses.replace(
        base, flow_scales=(1, 2), flow_refine=2
    )
    for bad, needles in (
        ("flow_refine", ("NAME=VALUE", "flow_refine")),
        ("depth=1", ("NAME=VALUE", "flow_scales, flow_window")),
        ("flow_window=8", ("--flow-setting flow_window=8", "odd")),
        ("flow_contrast=x", ("--flow-setting flow_contrast=x", "a number")),
    ):
        with pytest.raises(VividError) as err:
            base.parse([bad])
        assert all(n in str(err.value) for n in needles), str(err.value)


def test_bundled_checkpoint_carries_its_settings_and_the_presets():
    meta = read_meta("interp-default")
    model, _ = load_checkpoint("interp-default", task="interp")
    carried = FlowSettings.from_config(meta["model_config"])
    assert model.flow_settings == carried == flow_preset("quality", meta)
    assert carried == FlowSettings(flow_scales=(1, 2, 4), flow_window=33, flow_refine=1, flow_median=5, flow_still=9)
    # ... the settings the validation split chose (benchmarks/interp_flow_settings.py)
    chosen = json.loads((Path(__file__).parents[2] / "benchmarks/results/interp_flow_settings.json").read_text())["chosen"]
    assert carried == FlowSettings.from_config(chosen)
    # "fast": what the model trained with, i.e. the training config over the constructor defaults.
    assert meta["extra"]["config"]["model_config"] == {"flow_scales": [1, 2, 4]}
    assert flow_preset("fast", meta) == FlowSettings(flow_scales=(1, 2, 4))
    assert set(FLOW_PRESETS) == {"fast", "quality"}
    with pytest.raises(VividError, match="--flow-preset must be one of fast, quality"):
        flow_preset("best", meta)


def test_checkpoint_round_trip_and_fast_without_a_training_config(tmp_path):
    model = create_model("interp_tiny", flow_refine=1, flow_window=5)
    assert model.flow_settings == FlowSettings(flow_refine=1, flow_window=5)
    path = save_checkpoint(tmp_path / "m", model, task="interp", model_name="interp_tiny", model_config={"flow_still": 3})
    loaded, meta = load_checkpoint(path, task="interp")
    assert loaded.flow_settings == FlowSettings(flow_refine=1, flow_window=5, flow_still=3) == flow_preset("quality", meta)
    assert flow_preset("fast", meta) == FlowSettings()  # no training config recorded: the constructor defaults
