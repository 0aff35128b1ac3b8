"""Each tiny interpolation variant, built with a fixed seed and run on a fixed pair, gives the
outputs committed in ``data/stored_outputs.safetensors`` (timm-style regression test).

A change that moves these numbers changes what the models compute. When that is the intent,
regenerate the file deliberately and commit it with the change:

    VIVID_REGEN_STORED=1 python -m pytest tests/interp/test_stored_outputs.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from vivid.core.registry import create_model, list_models

STORED = Path(__file__).parent / "data" / "stored_outputs.safetensors"
REGEN = os.environ.get("VIVID_REGEN_STORED") == "1"
TINY_VARIANTS = [name for name in list_models("interp") if "tiny" in name]
# Each tiny variant in the default (the method's) layout, and in the layout the bundled
# checkpoint selects (``nonlocal_layout="v1"``), whose outputs predate the default's change:
# they show the bundled model still computes what it was measured with.
CASES = {**{name: (name, {}) for name in TINY_VARIANTS}, **{f"{name}@v1": (name, {"nonlocal_layout": "v1"}) for name in TINY_VARIANTS}}
FIELDS = ("frame", "flow01", "flow_t1", "depth0", "blend_weight")


def _outputs(case: str) -> dict[str, torch.Tensor]:
    """The variant's outputs (``name.field``) for seed 0, weights moved off their start (zero
    output layers would make every variant the linear blend) and a 2-pair batch of 26x38 (a
    size the model pads)."""
    name, overrides = CASES[case]
    torch.manual_seed(0)
    model = create_model(name, **overrides).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
        base = torch.nn.functional.avg_pool2d(torch.rand(2, 3, 30, 44, generator=g), 3, 1, 1)
        image0, image1 = base[..., 4:30, 0:38].contiguous(), base[..., 0:26, 6:44].contiguous()
        out = model(image0, image1, torch.tensor([0.5, 0.25]))
    return {f"{case}.{f}": getattr(out, f).contiguous() for f in FIELDS if getattr(out, f) is not None}


@pytest.fixture(scope="module")
def stored() -> dict[str, torch.Tensor]:
    """The committed outputs; with VIVID_REGEN_STORED=1 first written anew from the current code."""
    if REGEN:
        outputs = {}
        for case in CASES:
            outputs.update(_outputs(case))
        STORED.parent.mkdir(parents=True, exist_ok=True)
        save_file(outputs, str(STORED))
    return load_file(str(STORED))


def test_every_tiny_variant_is_stored(stored):
    assert TINY_VARIANTS, "no tiny interpolation variant registered"
    assert {k.split(".")[0] for k in stored} == set(CASES)


@pytest.mark.parametrize("case", list(CASES))
def test_tiny_variant_matches_its_stored_outputs(case, stored):
    expected = {k: v for k, v in stored.items() if k.startswith(f"{case}.")}
    got = _outputs(case)
    assert set(got) == set(expected)
    for key, value in got.items():
        assert value.shape == expected[key].shape, key
        assert torch.allclose(value, expected[key], atol=1e-5, rtol=0), (key, float((value - expected[key]).abs().max()))
