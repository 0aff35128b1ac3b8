"""face3d validation: the split that stage 3's settings are chosen on (never the benchmark's test sets).

    python benchmarks/face3d_validate.py RUN [RUN ...] [--runs runs/face3d] [--out benchmarks/results/face3d_validation]

Evaluates each run's ``model.safetensors`` with the benchmark's measures
(:func:`face3d.evaluate`) on:

- the ``val`` pool: 64 synthetic faces of their own seed (400; training pools use 100-300, the
  benchmark's test pool 500), the pool training already validates on;
- 24 renders of the registered scan from the held-out range of views and lights (yaw 30-45, pitch
  12-20 degrees), drawn with seed 2: the benchmark's test renders are seed 1's draws, training's are
  the 25-degree range.

Prints a markdown table and writes ``--out`` ``.md`` + ``.json``. Stage 3 is chosen among the
runs named ``s3_*`` (their periodic snapshots ``s3_NAME/stepN`` included: the step count is chosen
as the issue says, where validation stops improving) as the one with the lowest mean of its two
medians relative to 1 -> 2's on this split, among those that beat every single stage (stage1,
stage2, stage12) on both medians here, else among all of them (and the report says so).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, RESULTS, log, markdown_table, now  # noqa: E402
from face3d import evaluate  # noqa: E402

SINGLE_STAGES = ("stage1", "stage2", "stage12")
VAL_SCAN_SEED = 2


def validation_sets(cache_dir: str, n_val: int = 64, n_scan: int = 24) -> tuple[dict, dict | None]:
    from vivid.face3d.config import Face3DData
    from vivid.face3d.data import SCAN_PATH, _load, ensure_pool
    from vivid.face3d.scan import registration_cached, render_views

    synth = _load(ensure_pool(Face3DData(cache_dir=cache_dir), "val", n_val, 96))
    scan = None
    if SCAN_PATH.exists():
        scan = render_views(registration_cached(SCAN_PATH, cache_dir), n_scan, size=96, seed=VAL_SCAN_SEED, held_out=True)
    return synth, scan


def choose(rows: dict, prefix: str = "s3_") -> tuple[str | None, bool]:
    """The stage-3 run chosen on this split (runs named ``prefix...``; see the module docstring)
    and whether it beats every single stage on both medians; when none does, the candidate with
    the lowest mean relative median is still returned, with False."""
    singles = [rows[s] for s in SINGLE_STAGES if s in rows]
    if "stage12" not in rows or not singles:
        return None, False
    ref = rows["stage12"]

    def beats(r):
        return all(r[k]["median_mm"] < s[k]["median_mm"] for s in singles for k in ("synthetic", "scan"))

    cands = {n: r for n, r in rows.items() if n.startswith(prefix) and r["scan"]}
    if not cands:
        return None, False
    score = {n: (r["synthetic"]["median_mm"] / ref["synthetic"]["median_mm"] + r["scan"]["median_mm"] / ref["scan"]["median_mm"]) / 2
             for n, r in cands.items()}
    winners = [n for n in cands if beats(cands[n])]
    pool = winners or list(cands)
    best = min(pool, key=score.get)
    return best, bool(winners)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs_to_check", nargs="+")
    ap.add_argument("--runs", type=Path, default=REPO / "runs" / "face3d")
    ap.add_argument("--cache-dir", default=str(REPO / ".cache" / "face3d"))
    ap.add_argument("--out", type=Path, default=RESULTS / "face3d_validation")
    ap.add_argument("--previous", type=Path, default=None, help="a validation .json whose rows are kept unless re-run")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from vivid.face3d.facemodel import face_model

    fm = face_model()
    synth, scan = validation_sets(args.cache_dir)
    rows = json.loads(args.previous.read_text())["rows"] if args.previous and args.previous.exists() else {}
    for name in args.runs_to_check:
        path = args.runs / name / "model.safetensors"
        if not path.exists():
            log(f"skip {name}: {path} missing")
            continue
        log(f"validating {name}")
        meta = json.loads(path.with_suffix(".json").read_text())
        rows[name] = {"synthetic": evaluate(path, synth, fm), "scan": evaluate(path, scan, fm) if scan is not None else None,
                      "command": meta.get("command")}
    chosen, beats_all = choose(rows)
    out = {"date": now(), "val_synthetic": len(synth["image"]), "val_scan_views": len(scan["image"]) if scan else 0,
           "val_scan_seed": VAL_SCAN_SEED, "rows": rows, "chosen_stage3": chosen, "chosen_beats_every_single_stage": beats_all}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(out, indent=1) + "\n")
    header = ["run", "val synth median", "mean", "flatness %", "val scan median", "scan mean", "last stage's settings"]
    body = [[n, f"{r['synthetic']['median_mm']:.3f}", f"{r['synthetic']['mean_mm']:.3f}", f"{r['synthetic']['flatness_pct']:.1f}",
             f"{r['scan']['median_mm']:.3f}" if r["scan"] else "-", f"{r['scan']['mean_mm']:.3f}" if r["scan"] else "-",
             "`" + " ".join((r["command"] or "").split("&&")[-1].split()[7:]) + "`"] for n, r in rows.items()]
    lines = [f"# face3d validation ({out['date']})", "",
             f"The split stage 3's settings were chosen on: {out['val_synthetic']} synthetic faces of the `val` pool "
             f"(seed 400) and {out['val_scan_views']} renders of the registered scan from the held-out range of views and "
             f"lights, seed {VAL_SCAN_SEED} (the benchmark's test renders are seed 1's). Medians in mm, as in the benchmark.", ""]
    lines += markdown_table(header, body)
    lines += ["", f"Chosen stage 3 (lowest mean of its medians relative to 1 -> 2's, among the stage-3 runs that beat every "
              f"single stage on both medians here, else among all stage-3 runs): {chosen}; "
              f"{'it beats' if beats_all else 'no stage-3 run beats'} every single stage on both validation medians."]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
