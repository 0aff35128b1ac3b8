"""Which flow settings the ``quality`` preset keeps, decided on validation data over two seeds.

The flow settings (:class:`vivid.interp.flow_settings.FlowSettings`) have no weights: a model
trains with one set (the ``fast`` preset) and its checkpoint carries another for inference (the
``quality`` preset). Each setting of ``quality`` is tried off (back at its training value) one
at a time, on

- the held-out tails of the two training clips (the frames training keeps for validation; gap 2
  and gap 4 triplets, at most 640 px), and
- synthetic flying-layer triplets from the seeds the training recipe validates on (256x256,
  t = 0.5; items beyond the recipe's own 8),

for two trainings of the final stage that differ only in their seed. A setting stays when it
pays on both seeds: switching it off lowers the mean PSNR over the validation sets on each seed
by more than ``--margin`` dB. No benchmark test set is read here; ``benchmarks/interp.py``
measures the chosen preset on the test sets once, afterwards. The candidates come from the
checkpoints' sidecars as they are when it runs; every row of the JSON records the settings it
was measured with (the committed results: the earlier ``quality``, before this choice).

Usage::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/interp_flow_settings.py \\
        --models vivid/weights/interp-default.safetensors runs/interp_seed1_export.safetensors
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.common import RESULTS, file_sha256, log, now  # noqa: E402
from benchmarks.interp import evaluate, tail_sets  # noqa: E402

FLYING_SEED = 10_000  # the seeds of the training recipe's flying-layer validation set
FLYING_ITEMS = 24


def flying_set(n: int = FLYING_ITEMS) -> list[tuple]:
    """``n`` flying-layer validation triplets (uint8 HWC), the final stage's layer settings."""
    from vivid.core.train_config import load_config, parse_task_config
    from vivid.interp.data import FlyingTriplets

    cfg = parse_task_config("interp", load_config("interp", "default-finetune")).data.flying
    data = FlyingTriplets(n, tuple(cfg.size), seed=FLYING_SEED, random_t=False, augment=False, **cfg.layer_settings())
    out = []
    for i in range(n):
        item = data[i]
        out.append(tuple((item[k].permute(1, 2, 0) * 255).round().byte().numpy() for k in ("image0", "image_t", "image1")))
    return out


def candidates(meta: dict) -> dict[str, dict]:
    """``quality``, ``fast`` and ``quality`` with each differing setting back at its training value."""
    from vivid.interp.flow_settings import flow_preset

    quality, fast = flow_preset("quality", meta), flow_preset("fast", meta)
    rows = {"quality": quality.as_config(), "fast": fast.as_config()}
    for name in quality.names():
        if getattr(quality, name) != getattr(fast, name):
            rows[f"without {name}"] = quality.replace(**{name: getattr(fast, name)}).as_config()
    return rows


def last_command(meta: dict) -> str:
    """The last ``vivid train`` command of a checkpoint's recorded history (its final stage)."""
    return str(meta.get("command") or "").split("&&")[-1].strip()


def measure(model: str, settings: dict, sets: dict[str, list[tuple]]) -> dict:
    from vivid.interp.apply import load_interpolator
    from vivid.interp.flow_settings import FlowSettings

    fn = load_interpolator(model, device="cpu", flow_settings=FlowSettings.from_config(settings), scale=1.0)
    per = {name: evaluate(fn, tri) for name, tri in sets.items()}
    return {"sets": per, "psnr": statistics.mean(v["psnr"] for v in per.values()),
            "ssim": statistics.mean(v["ssim"] for v in per.values())}  # fmt: skip


def decide(rows: dict, seeds: list[str], margin: float) -> dict[str, dict]:
    """Per setting: its gain (quality minus 'without it', mean PSNR) on each seed and whether it stays."""
    out = {}
    for label in rows[seeds[0]]:
        if not label.startswith("without "):
            continue
        gains = [rows[s]["quality"]["psnr"] - rows[s][label]["psnr"] for s in seeds]
        out[label.removeprefix("without ")] = {"gain_db": gains, "keep": all(g > margin for g in gains)}
    return out


def write(results: dict, out_dir: Path) -> None:
    seeds = list(results["models"])
    labels = list(results["rows"][seeds[0]])
    sets = list(results["rows"][seeds[0]]["quality"]["sets"])
    lines = ["# Flow settings of the `quality` preset, chosen on validation data over two seeds", "",
             "| settings | " + " | ".join(f"{s} mean PSNR / SSIM" for s in seeds) + " | " + " | ".join(f"{s}: {n}" for s in seeds[:1] for n in sets) + " |",
             "|---" * (1 + len(seeds) + len(sets)) + "|"]  # fmt: skip
    for label in labels:
        cells = [f"{results['rows'][s][label]['psnr']:.2f} / {results['rows'][s][label]['ssim']:.4f}" for s in seeds]
        cells += [f"{results['rows'][seeds[0]][label]['sets'][n]['psnr']:.2f}" for n in sets]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "| setting | quality value | training value | gain " + " / ".join(seeds) + " (dB) | kept |", "|---|---|---|---|---|"]
    q, f = results["rows"][seeds[0]]["quality"]["settings"], results["rows"][seeds[0]]["fast"]["settings"]
    for name, d in results["decision"].items():
        lines.append(f"| {name} | {q[name]} | {f[name]} | " + " / ".join(f"{g:+.3f}" for g in d["gain_db"]) + f" | {'yes' if d['keep'] else 'no'} |")
    chosen = results["chosen"]
    lines += ["",
              f"- Validation data (no test set): {', '.join(f'{n} ({k} triplets)' for n, k in results['n_triplets'].items())}.",
              "- Models (two trainings of the final 400-step stage that differ in their seed): "
              + "; ".join(f"{s}: `{m['path']}` (seed {m['seed']}, sha256 {m['sha256'][:12]}; trained by `{m.get('command', '?')}`)"
                          for s, m in results["models"].items()) + ".",  # fmt: skip
              *([f"- {results['note']}"] if results.get("note") else []),
              f"- Rule: a setting stays when switching it off (back at its training value) lowers the mean PSNR over the validation sets by more than {results['margin_db']} dB on every seed.",
              f"- Chosen `quality` settings: {json.dumps(chosen)}.",
              f"- Measured {results['measured']}; `{results['command']}`."]  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "interp_flow_settings.md").write_text("\n".join(lines) + "\n")
    (out_dir / "interp_flow_settings.json").write_text(json.dumps(results, indent=1) + "\n")


def main() -> None:
    from vivid.core.checkpoints import read_meta

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs=2, required=True, help="two checkpoints of the same recipe, different seeds")
    ap.add_argument("--seeds", nargs=2, type=int, default=[0, 1], help="their training seeds (for the report)")
    ap.add_argument("--margin", type=float, default=0.02, help="dB a setting must pay on every seed")
    ap.add_argument("--flying", type=int, default=FLYING_ITEMS)
    ap.add_argument("--note", default="", help="a line for the report on how the models differ")
    ap.add_argument("--limit", type=int, default=0, help="at most this many triplets per set (a quick check; 0: all)")
    ap.add_argument("--out-dir", type=Path, default=RESULTS)
    args = ap.parse_args()

    sets = {**tail_sets(), "flying layers": flying_set(args.flying)}
    if args.limit:
        sets = {k: v[: args.limit] for k, v in sets.items()}
    models = {f"seed {s}": {"path": str(m), "seed": s, "sha256": file_sha256(m), "command": last_command(read_meta(m))}
              for s, m in zip(args.seeds, args.models)}  # fmt: skip
    rows: dict[str, dict] = {}
    for (key, info), model in zip(models.items(), args.models):
        rows[key] = {}
        for label, settings in candidates(read_meta(model)).items():
            t0 = time.perf_counter()
            rows[key][label] = {"settings": settings, **measure(model, settings, sets)}
            log(f"{key} {label}: mean PSNR {rows[key][label]['psnr']:.3f} ({time.perf_counter() - t0:.0f} s)")
    seeds = list(models)
    decision = decide(rows, seeds, args.margin)
    chosen = dict(rows[seeds[0]]["quality"]["settings"])
    fast = rows[seeds[0]]["fast"]["settings"]
    for name, d in decision.items():
        if not d["keep"]:
            chosen[name] = fast[name]
    results = {"measured": now(), "models": models, "margin_db": args.margin, "note": args.note, "n_triplets": {k: len(v) for k, v in sets.items()},
               "rows": rows, "decision": decision, "chosen": chosen, "command": " ".join(["benchmarks/interp_flow_settings.py", *sys.argv[1:]])}  # fmt: skip
    write(results, args.out_dir)
    print((args.out_dir / "interp_flow_settings.md").read_text())


if __name__ == "__main__":
    main()
