"""The interp benchmark's report (``benchmarks/interp_report.py``): JSON to markdown, one table per
checkpoint. Hand-made results; nothing is measured."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import interp_report as report  # noqa: E402

SHA_A, SHA_B = "a" * 64, "b" * 64
HYBRID = report.HYBRID


def quality(psnr: float, ssim: float, **stamp) -> dict:
    """A quality row with the same score on every set."""
    return {**{s: {"psnr": psnr, "ssim": ssim, "n": 10} for s in report.SETS}, "measured": "2026-01-01 10:00 UTC", **stamp}


def own(sha: str, step: str = "100+200") -> dict:
    return {"checkpoint": "/tmp/snap/interp-default.safetensors", "sha256": sha, "step": step}


def section(sha: str, step: str = "100+200", **data) -> dict:
    return {"measured": "2026-01-01 11:00 UTC", "model": "/tmp/snap2/interp-default.safetensors", "sha256": sha, "step": step, **data}


@pytest.fixture()
def results() -> dict:
    baselines = {"repeat": (24.0, 0.90), "blend": (26.0, 0.91), "dis": (30.0, 0.95), "minterpolate": (29.0, 0.94)}
    methods = {"vivid": quality(31.0, 0.96, **own(SHA_A)), HYBRID: quality(31.5, 0.955, **own(SHA_A))}
    methods |= {b: quality(p, s, checkpoint=None, step=None) for b, (p, s) in baselines.items()}
    speed = {m: {"fps": fps, "peak_rss_mb": 1000.0, "n_in": 9} for m, fps in [("vivid", 1.0), (HYBRID, 2.5), ("dis", 20.0)]}
    return {
        "quality": {
            "measured": "2026-01-01 10:00 UTC",
            "model": "/tmp/snap/interp-default.safetensors",
            "methods": methods,
            "missing_ablations": [],
            "sizes": {s: [360, 640] for s in report.SETS},
            "n_triplets": {s: 10 for s in report.SETS},
            "sam2_native_baselines": {},
        },
        "speed": section(SHA_A, methods=speed),
        "model_meta": {"model_name": "interp_default", "num_parameters": 1000, "command": "vivid train interp",
                       "metrics": {"global_step": 200}, "model_config": {"flow_scales": [1, 2], "flow_window": 33},
                       "checkpoint": "/tmp/snap/interp-default.safetensors", "sha256": SHA_A, "step": "100+200"},
    }



def table_lines(md: str) -> list[str]:
    return [line for line in md.splitlines() if line.startswith("| ")]


def test_table_rows_scores_means_speed_and_missing_cells(results):
    md = report.render(results)
    assert md.startswith(report.TITLE + "\n\n| method |")
    rows = table_lines(md)
    assert rows[0].startswith("| method | sam2_bedroom PSNR / SSIM | bikes PSNR / SSIM | carphone PSNR / SSIM | mean PSNR / SSIM")
    assert rows[1] == "| vivid interp-default (steps 100+200) | 31.00 / 0.960 | 31.00 / 0.960 | 31.00 / 0.960 | 31.00 / 0.960 | – | 1.00 | 1000 |"
    assert rows[2].startswith("| generator of interp-default with DIS flow (`--flow dis`) (steps 100+200) | 31.50 / 0.955 |")
    assert rows[2].endswith("| – | 2.50 | 1000 |")
    # baselines in their fixed order, no step; minterpolate was not timed
    assert [r.split(" | ")[0] for r in rows[3:]] == ["| frame repetition", "| linear blend", "| DIS-flow warp (OpenCV)", "| FFmpeg minterpolate"]
    assert rows[5].endswith("| 30.00 / 0.950 | – | 20.00 | 1000 |") and rows[6].endswith("| – | – | – |")
    assert "Margin of vivid over the best baseline: mean PSNR +1.00 dB (best: DIS-flow warp (OpenCV))" in md
    assert "Throughput relative to vivid: vivid with DIS flow 2.5x, DIS-flow warp (OpenCV) 20.0x." in md
    assert "scales 1, 1/2" in md
    assert f"{report.CHECKPOINT_NOTE} interp-default.safetensors, steps 100+200, sha256 {SHA_A[:12]}; nothing here" in md
    assert "another checkpoint:" not in md


def test_a_row_of_another_checkpoint_gets_its_own_table(results):
    results["quality"]["methods"][HYBRID].update(sha256=SHA_B)
    results["speed"].update(sha256=SHA_B)
    md = report.render(results)
    main, other = md.split("\n## Measured with another checkpoint: ")
    assert f"sha256 {SHA_A[:12]}; what was measured with another checkpoint follows below, apart." in main
    assert other.startswith(f"interp-default.safetensors, steps 100+200, sha256 {SHA_B[:12]}\n")
    assert f"Not the checkpoint of the table above (interp-default.safetensors, steps 100+200, sha256 {SHA_A[:12]})" in other
    assert "`benchmarks/interp.py --sections quality,speed --methods vivid:dis`" in other
    # the main table: no DIS-flow row, no speed measured with the other checkpoint
    main_rows = table_lines(main)
    assert not any("with DIS flow" in r for r in main_rows)
    assert main_rows[1].endswith("| 31.00 / 0.960 | – | – | – |") and "Throughput" not in main
    # the other table: the DIS-flow row and the speed section, baselines' speed included
    other_rows = table_lines(other)
    assert [r.split(" | ")[0] for r in other_rows[1:]] == ["| vivid interp-default", "| generator of interp-default with DIS flow (`--flow dis`) (steps 100+200)", "| DIS-flow warp (OpenCV)"]
    assert other_rows[2].startswith("| generator of interp-default with DIS flow (`--flow dis`) (steps 100+200) | 31.50 / 0.955 |")
    assert other_rows[2].endswith("| 2.50 | 1000 |") and other_rows[1].startswith("| vivid interp-default | – |")
    assert "Throughput relative to vivid: vivid with DIS flow 2.5x" in other


def test_the_description_of_another_checkpoint_leaves_the_main_table(results):
    results["model_meta"].update(sha256=SHA_B)
    main, other = report.render(results).split("\n## Measured with another checkpoint: ")
    assert "vivid checkpoint:" not in main and "scales 1, 1/2" not in main
    assert "vivid checkpoint: interp-default.safetensors (interp_default, 1,000 parameters" in other
    assert "measured nothing with it" in other and not table_lines(other)


def test_without_hashes_the_file_name_and_steps_tell_checkpoints_apart(results):
    legacy = copy.deepcopy(results)
    for entry in [*legacy["quality"]["methods"].values(), legacy["speed"], legacy["model_meta"]]:
        entry.pop("sha256", None)
    md = report.render(legacy)
    assert "another checkpoint:" not in md and "no SHA-256 recorded" in md
    legacy["speed"]["step"] = "100+300"
    main, other = report.render(legacy).split("\n## Measured with another checkpoint: ")
    assert other.startswith("interp-default.safetensors, steps 100+300\n") and "Throughput" not in main


def test_the_committed_results_render_to_the_committed_report():
    """Today's ``interp.json`` gives today's ``interp.md`` (the checkpoint line aside, which the
    report gained after those numbers were measured)."""
    path = REPO / "benchmarks" / "results" / "interp.json"
    if not path.exists():
        pytest.skip("no committed interp benchmark results")
    drop = f"- {report.CHECKPOINT_NOTE}"
    rendered = report.render(json.loads(path.read_text()))
    committed = path.with_name("interp.md").read_text()
    assert [x for x in rendered.splitlines() if not x.startswith(drop)] == [x for x in committed.splitlines() if not x.startswith(drop)]
    assert sum(x.startswith(drop) for x in rendered.splitlines()) == 1


def test_the_report_runs_alone_on_a_json(tmp_path, results):
    src = tmp_path / "interp.json"
    src.write_text(json.dumps(results))
    r = subprocess.run([sys.executable, str(REPO / "benchmarks" / "interp_report.py"), "--json", str(src)],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "interp.md").read_text() == report.render(results)
    r = subprocess.run([sys.executable, str(REPO / "benchmarks" / "interp_report.py"), "--json", str(tmp_path / "none.json")],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode != 0 and "measure first" in r.stderr
