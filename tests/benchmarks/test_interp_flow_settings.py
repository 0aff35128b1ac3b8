"""The rule that picks the ``quality`` preset's flow settings on validation data
(``benchmarks/interp_flow_settings.py``). Hand-made scores and sidecars; nothing is measured."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import interp_flow_settings as fs  # noqa: E402

QUALITY = {"flow_scales": [1, 2, 4, 8], "flow_window": 33, "flow_refine": 1, "flow_contrast": 3.0, "flow_median": 5, "flow_still": 9}
TRAINING = {"flow_scales": [1, 2, 4]}


def test_candidates_switch_off_one_differing_setting_at_a_time():
    rows = fs.candidates({"model_config": QUALITY, "extra": {"config": {"model_config": TRAINING}}})
    assert rows["quality"] == QUALITY
    assert rows["fast"]["flow_scales"] == [1, 2, 4] and rows["fast"]["flow_window"] == 9
    assert set(rows) == {"quality", "fast", *(f"without {k}" for k in QUALITY)}
    without = rows["without flow_median"]
    assert without["flow_median"] == 0 and {k: v for k, v in without.items() if k != "flow_median"} == {
        k: v for k, v in QUALITY.items() if k != "flow_median"
    }


def test_a_setting_stays_only_when_it_pays_more_than_the_margin_on_every_seed():
    def seed(quality, **without):
        return {"quality": {"psnr": quality}, **{f"without {k}": {"psnr": v} for k, v in without.items()}}

    rows = {
        "seed 0": seed(30.0, flow_refine=29.9, flow_median=29.95, flow_still=30.01),
        "seed 1": seed(31.0, flow_refine=30.8, flow_median=31.01, flow_still=30.99),
    }
    decision = fs.decide(rows, ["seed 0", "seed 1"], margin=0.02)
    assert decision["flow_refine"]["keep"]  # +0.10 and +0.20 dB
    assert not decision["flow_median"]["keep"]  # pays on one seed only
    assert not decision["flow_still"]["keep"]  # within the margin on both
    assert decision["flow_refine"]["gain_db"] == [30.0 - 29.9, 31.0 - 30.8]
