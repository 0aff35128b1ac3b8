"""Benchmark of the mixed 2D/3D pose method on held-out synthetic images.

Trains every variant with the committed recipe (``vivid.core.train`` on the default preset with
overrides), then evaluates all of them, and the bundled ``pose3d-default``, on one fixed synthetic
test set whose seeds, body weights (phenotype) and mocap clips differ from training (the shared
CMU clips split by whole takes, when ``../shared/data/mocap`` is there; else procedural motion):

- (a) ``3d_only_5pct``: 3D-only training on the 5 % of training images that are 3D-labelled;
- (b) ``mixed_5pct_*``: the method, the same 5 % 3D plus the other 95 % as 2D-only images. The
  method's settings (``mixed_5pct_strict``): alternating batches, strict reading, one mean
  bone-length ratio over the batch against Human3.6M's mean bone lengths. Variants: the
  depth-informed reading, 2D pre-training, no geometric loss (ablation), mixed batches instead
  of alternating ones, and the per-image bone-set geometric loss against the training data's
  means;
- (c) ``3d_full``: 3D labels on all training images (upper reference).

Every variant spells out its training order and geometric-loss settings, so that a row means
what its label says whatever the preset's defaults are; kept weights (``benchmarks/weights``)
count for a variant only when their recorded training command holds all of its settings.

Metrics (millimetres, pelvis-relative): MPJPE with the root depth estimated from the model's
reference bone lengths (what ``vivid pose`` outputs), MPJPE with the true root depth, PA-MPJPE,
PCK3D at 150 mm, and the 2D error in input pixels. Also inference images/s.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/pose3d.py --steps 1200 --pretrain 300 --jobs 4

Writes ``benchmarks/results/pose3d.md`` and ``pose3d.json``; ``--bundle VARIANT`` copies that
variant's weights to ``vivid/weights/pose3d-default``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from vivid.core import metrics  # noqa: E402
from vivid.core.checkpoints import load_checkpoint, read_meta, save_checkpoint  # noqa: E402
from vivid.pose3d.apply import PoseEstimator  # noqa: E402
from vivid.pose3d.bones import ROOT  # noqa: E402
from vivid.pose3d.coords import decode  # noqa: E402
from vivid.pose3d.data import CachedPoseDataset, build_synth_cache  # noqa: E402
from vivid.pose3d.presence import calibrate_person_threshold  # noqa: E402
from vivid.synth.mocap_library import describe_mocap, resolve_mocap  # noqa: E402

log = logging.getLogger("bench.pose3d")

DEFAULT_CACHE = REPO / ".cache" / "pose3d"
CACHE = DEFAULT_CACHE
RUNS = CACHE / "runs"
SIZES = {"train": 4000, "val": 300, "test": 600}
# Motions of the renders: the shared CMU clips split by whole takes when present (as the
# training recipe's data.mocap=auto does), else procedural.
MOCAP = resolve_mocap("auto")
BUNDLED = REPO / "vivid" / "weights" / "pose3d-default.safetensors"

# The settings every variant spells out (the method's), and each variant's own on top.
METHOD = ["data.mix=alternate", "loss.geo_mode=strict", "loss.geo_variant=batch", "loss.geo_reference=h36m", "data.batch_size=32"]
FIVE = ["data.three_d_fraction=0.05"]


def _with(*overrides: str) -> list[str]:
    """METHOD with ``overrides`` replacing its settings of the same keys."""
    keys = {o.split("=")[0] for o in overrides}
    return [o for o in METHOD if o.split("=")[0] not in keys] + list(overrides)


# name -> (description, overrides of the default preset)
VARIANTS = {
    "3d_only_5pct": ("(a) 3D-only, 5 % 3D-labelled", _with(*FIVE, "data.use_2d=false")),
    "mixed_5pct_strict": ("(b) the method: 5 % 3D + 95 % 2D, alternating batches, strict", _with(*FIVE)),
    "mixed_5pct_depth": ("(b) alternating batches, depth-informed", _with(*FIVE, "loss.geo_mode=depth")),
    "mixed_5pct_strict_pre": ("(b) alternating batches, strict, 2D pre-training", _with(*FIVE, "loss.pretrain_steps=PRE")),
    "mixed_5pct_depth_pre": ("(b) alternating batches, depth-informed, 2D pre-training", _with(*FIVE, "loss.geo_mode=depth", "loss.pretrain_steps=PRE")),
    "mixed_5pct_nogeo": ("(b) alternating batches, no geometric loss (ablation)", _with(*FIVE, "loss.lambda_geo=0")),
    "mixed_5pct_strict_sets": ("(b) alternating batches, strict, per-image bone sets vs training-set means", _with(*FIVE, "loss.geo_variant=per_image_sets", "loss.geo_reference=train")),
    "mixed_5pct_strict_mixbatch": ("(b) mixed batches, 8 3D + 24 2D, strict", _with(*FIVE, "data.mix=mix", "data.ratio_2d=0.75")),
    "mixed_5pct_depth_mixbatch": ("(b) mixed batches, 8 3D + 24 2D, depth-informed", _with(*FIVE, "data.mix=mix", "data.ratio_2d=0.75", "loss.geo_mode=depth")),
    "mixed_5pct_strict_b64": ("(b) mixed batches, 32 3D + 32 2D, strict", _with(*FIVE, "data.mix=mix", "data.batch_size=64", "data.ratio_2d=0.5")),
    "mixed_5pct_depth_b64": ("(b) mixed batches, 32 3D + 32 2D, depth-informed", _with(*FIVE, "data.mix=mix", "data.batch_size=64", "data.ratio_2d=0.5", "loss.geo_mode=depth")),
    "3d_full": ("(c) 3D-only, 100 % 3D-labelled", _with("data.three_d_fraction=1.0", "data.use_2d=false")),
}


def default_input_size() -> int:
    """The input size of the default preset's model (the crops the variants train on)."""
    from vivid.core.registry import create_model
    from vivid.core.train import load_config

    cfg = load_config("pose3d", "default")
    return create_model(cfg["model"], **cfg.get("model_config", {})).input_size


def set_cache(folder: Path, n_train: int) -> None:
    global CACHE, RUNS
    CACHE, RUNS = Path(folder).resolve(), Path(folder).resolve() / "runs"
    SIZES["train"] = n_train


def train_realism() -> str:
    """The default preset's ``data.realism``: the variants train on the renders the recipe makes."""
    from vivid.core.train import load_config

    return load_config("pose3d", "default")["data"].get("realism", "off")


def cache_file(split: str, size: int) -> Path:
    """The crop cache of ``split``, named as the training DataModule names it (motion tag and, for
    the training splits, the recipe's realism tag). The test renders are always clean ones
    (realism off), so that every round's test set is the same."""
    from vivid.pose3d.data import realism_tag

    tag = ("procedural" if MOCAP is None else MOCAP.tag()) + (realism_tag(train_realism()) if split != "test" else "")
    return CACHE / f"synth_{split}_{size}_{tag}.npz"


def ensure_caches(size: int, splits=tuple(SIZES)) -> None:
    for split in splits:
        n = SIZES[split]
        path = cache_file(split, size)
        if not path.exists():
            log.info("rendering %d %s images", n, split)
            realism = train_realism() if split != "test" else "off"
            build_synth_cache(path, split, n, size=size, mocap=MOCAP, realism=realism)


def variant_weights(name: str, size: int, pre: int) -> Path | None:
    """A variant's weights at input ``size``: this run's, else the copy kept in benchmarks/weights
    when its recorded command holds every setting of the variant (None if neither)."""
    settings = [o.replace("PRE", str(pre)) for o in VARIANTS[name][1]]
    for path in (RUNS / name / "model.safetensors", REPO / "benchmarks" / "weights" / f"pose3d-{name}.safetensors"):
        if not path.exists():
            continue
        meta = read_meta(path)
        if meta["model_config"].get("input_size") != size:
            log.info("%s: %s is for %s px crops, not %d px; skipped", name, path.name, meta["model_config"].get("input_size"), size)
        elif path.parent.name != "weights" or all(s in (meta.get("command") or "").split() for s in settings):
            return path
        else:
            log.info("%s: %s was trained with other settings than the variant's; skipped", name, path.name)
    return None


def train_cmd(name: str, steps: int, pre: int) -> list[str]:
    overrides = [o.replace("PRE", str(pre)) for o in VARIANTS[name][1]]
    overrides += [f"data.cache_dir={CACHE}", f"data.n_train={SIZES['train']}", f"data.n_val={SIZES['val']}"]
    return [
        sys.executable, "-m", "vivid.cli", "train", "pose3d", "--config", "default", "--out", str(RUNS / name),
        "--quiet", "--overwrite", "--seed", "0", f"trainer.max_steps={steps}", *overrides,
    ]  # fmt: skip


def run_training(names: list[str], steps: int, pre: int, jobs: int) -> dict[str, float]:
    """Train variants as subprocesses, ``jobs`` at a time (one thread each). Returns seconds per run."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    pending, running, took = list(names), {}, {}
    while pending or running:
        while pending and len(running) < jobs:
            name = pending.pop(0)
            (RUNS / name).mkdir(parents=True, exist_ok=True)
            logf = open(RUNS / name / "train.log", "w")
            log.info("training %s: %s", name, " ".join(train_cmd(name, steps, pre)))
            running[name] = (subprocess.Popen(train_cmd(name, steps, pre), env=env, stdout=logf, stderr=subprocess.STDOUT, cwd=REPO), time.time(), logf)
        time.sleep(2)
        for name, (proc, start, logf) in list(running.items()):
            if proc.poll() is not None:
                logf.close()
                took[name] = time.time() - start
                del running[name]
                if proc.returncode != 0:
                    raise SystemExit(f"training {name} failed (exit {proc.returncode}); see {RUNS / name / 'train.log'}")
                log.info("finished %s in %.0f s", name, took[name])
    return took


@torch.no_grad()
def evaluate(weights: Path, test: CachedPoseDataset, batch: int = 100) -> dict[str, float]:
    model, _ = load_checkpoint(weights, task="pose3d")
    rows = {k: [] for k in ("mpjpe", "mpjpe_gt_root", "pa_mpjpe", "pck3d", "err2d_px")}
    for start in range(0, len(test), batch):
        items = [test[i] for i in range(start, min(start + batch, len(test)))]
        b = {k: torch.stack([s[k] for s in items]) for k in items[0]}
        maps = model(b["image"])
        est = decode(maps.heatmaps, maps.depthmaps, b["K"], model.ref_bone_lengths, stride=model.stride)
        known = decode(maps.heatmaps, maps.depthmaps, b["K"], model.ref_bone_lengths, stride=model.stride, root_depth=b["root_depth"])
        gt = b["joints3d"] * 1000
        pred = est.joints3d * 1000
        rows["mpjpe"].append(metrics.mpjpe(pred, gt, root=ROOT))
        rows["mpjpe_gt_root"].append(metrics.mpjpe(known.joints3d * 1000, gt, root=ROOT))
        rows["pa_mpjpe"].append(metrics.pa_mpjpe(pred, gt))
        rows["pck3d"].append(metrics.pck3d(pred - pred[:, ROOT : ROOT + 1], gt - gt[:, ROOT : ROOT + 1]))
        w = b["weight2d"]
        rows["err2d_px"].append(((est.joints2d - b["joints2d"]).norm(dim=-1) * w).sum(-1) / w.sum(-1).clamp_min(1))
    return {k: round(float(torch.cat(v).mean()), 2) for k, v in rows.items()}


@torch.no_grad()
def inference_speed(weights: Path, threads: int, batch: int, repeats: int = 5) -> float:
    torch.set_num_threads(threads)
    model, _ = load_checkpoint(weights, task="pose3d")
    s = model.input_size
    x = torch.rand(batch, 3, s, s)
    K = torch.tensor([[100.0, 0, (s - 1) / 2], [0, 100.0, (s - 1) / 2], [0, 0, 1]]).expand(batch, 3, 3)

    def run():
        maps = model(x)
        decode(maps.heatmaps, maps.depthmaps, K, model.ref_bone_lengths, stride=model.stride)

    run()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t)
    return round(batch / best, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=1200, help="training steps per variant (batch 32)")
    ap.add_argument("--pretrain", type=int, default=300, help="2D pre-training steps (part of --steps)")
    ap.add_argument("--jobs", type=int, default=2, help="variants trained at the same time (one thread each)")
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), help="subset of variants to train")
    ap.add_argument("--skip-training", action="store_true", help="evaluate existing runs only")
    ap.add_argument("--bundle", default=None, help="copy this variant's weights (or 'auto': the bundled_variant rule) to vivid/weights/pose3d-default")
    ap.add_argument("--size", type=int, default=None, help="crop size (default: the default preset's model input size)")
    ap.add_argument("--cache", type=Path, default=CACHE, help="folder of the synthetic crop caches and runs")
    ap.add_argument("--n-train", type=int, default=SIZES["train"])
    args = ap.parse_args()
    set_cache(args.cache, args.n_train)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args.size = args.size or default_input_size()
    ensure_caches(args.size, ("test",) if args.skip_training else tuple(SIZES))
    took = {}
    if not args.skip_training:
        took = run_training(args.variants, args.steps, args.pretrain, args.jobs)
    test = CachedPoseDataset(cache_file("test", args.size), limit=SIZES["test"])
    results = {}
    for name in VARIANTS:
        weights = variant_weights(name, args.size, args.pretrain)
        if weights is None:
            continue
        meta = read_meta(weights)
        results[name] = {"description": VARIANTS[name][0], **evaluate(weights, test), "steps": meta["metrics"].get("global_step"),
                         "weights": os.path.relpath(weights, REPO)}
        if name in took:
            results[name]["train_seconds"] = round(took[name])
        log.info("%s: %s", name, results[name])
    out = {"test_images": len(test), "input_size": args.size, "motion": describe_mocap(MOCAP), "variants": results}
    # The bundled model on the same test renders cropped at its own input size.
    bundled_size = read_meta(BUNDLED)["model_config"].get("input_size")
    ensure_caches(bundled_size, ("test",))
    bundled_test = test if bundled_size == args.size else CachedPoseDataset(cache_file("test", bundled_size), limit=SIZES["test"])
    out["bundled"] = {"description": f"bundled pose3d-default ({bundled_size} px)", **evaluate(BUNDLED, bundled_test),
                      "steps": read_meta(BUNDLED)["metrics"].get("global_step")}
    out["mpjpe_bundled"] = out["bundled"]["mpjpe"]
    log.info("bundled: %s", out["bundled"])
    if "3d_only_5pct" in results:
        out["mpjpe_3d_only_5pct"] = results["3d_only_5pct"]["mpjpe"]
    mixed = {k: v for k, v in results.items() if k.startswith("mixed_5pct") and k != "mixed_5pct_nogeo"}
    if mixed:
        best = min(mixed, key=lambda k: mixed[k]["mpjpe"])
        out["best_mixed_variant"] = best
        out["mpjpe_mixed_5pct"] = mixed[best]["mpjpe"]
        if "3d_only_5pct" in results:
            base = results["3d_only_5pct"]["mpjpe"]
            out["margin_mm"] = round(base - mixed[best]["mpjpe"], 2)
            out["margin_pct"] = round(100 * (base - mixed[best]["mpjpe"]) / base, 1)
    if mixed:
        # The bundled model: the mixed variant with the lowest MPJPE at the true root depth, which
        # measures the network's own 2D + depth output without the bone-length root heuristic.
        out["bundled_variant"] = min(mixed, key=lambda k: mixed[k]["mpjpe_gt_root"])
    if "3d_full" in results:
        out["mpjpe_3d_full"] = results["3d_full"]["mpjpe"]
    best = out.get("best_mixed_variant")
    speed_ref = variant_weights(best, args.size, args.pretrain) if best else BUNDLED
    out["inference_images_per_s"] = {
        "batch1_1thread": inference_speed(speed_ref, 1, 1),
        "batch8_1thread": inference_speed(speed_ref, 1, 8),
        "batch32_1thread": inference_speed(speed_ref, 1, 32),
        "batch32_2threads": inference_speed(speed_ref, 2, 32),
    }
    out["inference_input_size"] = read_meta(speed_ref)["model_config"]["input_size"]
    out["cpu"] = f"{os.cpu_count()} cores shared with other jobs; load average at the end {os.getloadavg()[0]:.1f}"
    (REPO / "benchmarks" / "results").mkdir(parents=True, exist_ok=True)
    (REPO / "benchmarks" / "results" / "pose3d.json").write_text(json.dumps(out, indent=2) + "\n")
    (REPO / "benchmarks" / "results" / "pose3d.md").write_text(markdown(out, args) + "\n")
    print(markdown(out, args))
    if args.bundle:
        bundle(out.get("bundled_variant") if args.bundle == "auto" else args.bundle, results, args)


def markdown(out: dict, args) -> str:
    lines = [
        f"# 3D pose: mixed 2D/3D supervision ({out['test_images']} held-out synthetic test images, {out['input_size']}x{out['input_size']} crops)",
        "",
        "Errors in mm, pelvis-relative. MPJPE uses the root depth estimated from the reference bone lengths",
        "(as `vivid pose` does); `MPJPE (true root z)` uses the labelled root depth. PCK3D at 150 mm.",
        f"Motions: {_motion_line(out.get('motion', {}))}.",
        "",
        "| variant | MPJPE | MPJPE (true root z) | PA-MPJPE | PCK3D % | 2D err px | steps |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = list(out["variants"].items()) + ([("bundled", out["bundled"])] if "bundled" in out else [])
    for name, r in rows:
        lines.append(f"| {r['description']} (`{name}`) | {r['mpjpe']} | {r['mpjpe_gt_root']} | {r['pa_mpjpe']} | {r['pck3d']} | {r['err2d_px']} | {r.get('steps', '–')} |")
    lines.append("")
    if "margin_mm" in out:
        lines.append(
            f"Best mixed variant `{out['best_mixed_variant']}`: MPJPE {out['mpjpe_mixed_5pct']} mm vs {out['mpjpe_3d_only_5pct']} mm "
            f"for 3D-only training on the same 5 % (margin {out['margin_mm']} mm, {out['margin_pct']} %)."
        )
    if "bundled_variant" in out:
        b = out["variants"][out["bundled_variant"]]
        lines.append(
            f"Bundled as pose3d-default: `{out['bundled_variant']}` (lowest MPJPE at the true root depth among mixed variants): "
            f"MPJPE {b['mpjpe']} mm, true-root MPJPE {b['mpjpe_gt_root']} mm vs {out['variants']['3d_only_5pct']['mpjpe_gt_root']} mm for (a)."
            if "3d_only_5pct" in out["variants"] else f"Bundled as pose3d-default: `{out['bundled_variant']}`."
        )
    v = out["variants"]
    pairs = [(a, b) for a, b in (("mixed_5pct_depth", "mixed_5pct_strict"), ("mixed_5pct_depth_mixbatch", "mixed_5pct_strict_mixbatch"),
                                 ("mixed_5pct_depth_b64", "mixed_5pct_strict_b64"), ("mixed_5pct_depth_pre", "mixed_5pct_strict_pre"))
             if a in v and b in v]
    if pairs:
        text = "; ".join(f"`{a}` {v[a]['mpjpe']} mm (true root {v[a]['mpjpe_gt_root']}) vs `{b}` {v[b]['mpjpe']} mm (true root {v[b]['mpjpe_gt_root']})" for a, b in pairs)
        lines.append(f"Geometric-loss readings at equal settings: {text}.")
    if "mixed_5pct_nogeo" in v:
        lines.append(f"Without the geometric loss (lambda_geo 0): {v['mixed_5pct_nogeo']['mpjpe']} mm.")
    if "mixed_5pct_strict" in v and "mixed_5pct_strict_mixbatch" in v:
        lines.append(f"Training order: alternating batches {v['mixed_5pct_strict']['mpjpe']} mm vs mixed batches "
                     f"{v['mixed_5pct_strict_mixbatch']['mpjpe']} mm (strict reading).")
    if "mixed_5pct_strict" in v and "mixed_5pct_strict_sets" in v:
        lines.append(f"Geometric loss: batch-wide ratio vs Human3.6M means {v['mixed_5pct_strict']['mpjpe']} mm, per-image bone sets "
                     f"vs training-set means {v['mixed_5pct_strict_sets']['mpjpe']} mm.")
    sp = out["inference_images_per_s"]
    lines.append(
        f"Inference (network + decoding, {out['inference_input_size']} px): {sp['batch1_1thread']} images/s at batch 1 on one thread, {sp['batch8_1thread']} at batch 8, "
        f"{sp['batch32_1thread']} at batch 32 on one thread, {sp['batch32_2threads']} at batch 32 on two threads ({out['cpu']})."
    )
    lines.append("")
    cmd = "benchmarks/pose3d.py --skip-training" if args.skip_training else f"benchmarks/pose3d.py --steps {args.steps} --pretrain {args.pretrain} --jobs {args.jobs}"
    if Path(args.cache).resolve() != DEFAULT_CACHE.resolve():
        cmd += f" --cache {os.path.relpath(Path(args.cache).resolve(), REPO)}"
    if args.variants and not args.skip_training:
        cmd += " --variants " + " ".join(args.variants)
    lines.append(f"Command: `OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python {cmd}`")
    return "\n".join(lines)


def _motion_line(motion: dict) -> str:
    if motion.get("source") != "mocap":
        return "procedural and static poses only (no mocap folder found)"
    return (
        f"CMU mocap from {os.path.relpath(motion['folder'], REPO)} split by whole takes ({len(motion['train'])} train, {len(motion['val'])} "
        f"validation, {len(motion['test'])} test clips; the test images use only the test clips), plus procedural and static poses"
    )


def bundle(name: str, results: dict, args) -> None:
    src = RUNS / name / "model.safetensors"
    model, meta = load_checkpoint(src, task="pose3d")
    command = (
        f"vivid train pose3d --config default --seed 0 trainer.max_steps={args.steps} "
        + " ".join(o.replace("PRE", str(args.pretrain)) for o in VARIANTS[name][1])
    )
    # The person-confidence threshold of this model, set on synthetic validation renders against
    # empty images (vivid.pose3d.presence); vivid pose reads it from the sidecar.
    presence = calibrate_person_threshold(PoseEstimator(str(src)))
    log.info("%s: person threshold %.4f (recall %.2f, false positives %.2f)", name, presence["threshold"], presence["recall"],
             presence["false_positive_rate"])  # fmt: skip
    dst = REPO / "vivid" / "weights" / "pose3d-default"
    save_checkpoint(
        dst, model, task="pose3d", model_name=meta["model_name"], command=command, data=meta.get("data"),
        metrics={"test": results[name], **meta.get("metrics", {}), "person_presence": {k: presence[k] for k in ("recall", "false_positive_rate")}},
        extra={**meta.get("extra", {}), "benchmark_variant": name, "person_threshold": round(presence["threshold"], 4)},
    )  # fmt: skip
    log.info("bundled %s as %s", name, dst)


if __name__ == "__main__":
    main()
