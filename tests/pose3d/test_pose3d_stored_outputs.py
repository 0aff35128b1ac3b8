"""Stored outputs of the tiny pose3d variants: a fixed seed and input give the committed outputs.

A change to the architecture, its initialisation or the forward pass shows up here. When such a
change is meant, write the outputs again with ``VIVID_REGEN_STORED=1 pytest tests/pose3d`` and
commit ``tests/pose3d/data/*.safetensors`` with it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from vivid.core.registry import create_model, list_models

DATA = Path(__file__).parent / "data"
TINY = sorted(name for name in list_models("pose3d") if "tiny" in name)
REGENERATE = os.environ.get("VIVID_REGEN_STORED") == "1"


def outputs(name: str) -> dict[str, torch.Tensor]:
    """Heatmaps and depth maps (1, 17, h, w) of variant ``name`` built under seed 0, in eval
    mode, on a seeded random input (1, 3, S, S)."""
    torch.manual_seed(0)
    model = create_model(name).eval()
    s = model.input_size
    x = torch.rand(1, 3, s, s, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = model(x)
    return {"heatmaps": out.heatmaps.contiguous(), "depthmaps": out.depthmaps.contiguous()}


def test_there_is_a_tiny_variant():
    assert TINY, "no pose3d variant with 'tiny' in its name is registered"


@pytest.mark.parametrize("name", TINY)
def test_outputs_match_the_stored_ones(name):
    path = DATA / f"{name}_outputs.safetensors"
    got = outputs(name)
    if REGENERATE:
        DATA.mkdir(exist_ok=True)
        save_file(got, str(path))
        pytest.skip(f"stored outputs written to {path}")
    assert path.exists(), f"{path} is missing; write it with VIVID_REGEN_STORED=1"
    stored = load_file(str(path))
    assert stored.keys() == got.keys()
    for key, value in got.items():
        assert value.shape == stored[key].shape, key
        assert torch.allclose(value, stored[key], rtol=1e-4, atol=1e-5), f"{name} {key} differs from the stored outputs"
