"""Benchmark of the synthetic data engine: frames per second with all labels, peak memory, and
where the time goes.

For each scene kind (body, video, face) at 256x256 (``--size``), and for ``body-realism`` (the body
kind with the training recipes' realism: the shared data's HDR panoramas, photos and garment photos
when ``../shared/data`` exists, camera effects and occluders on; see
:func:`vivid.synth.assets.realistic_config`):

- *one process*: a fresh process with one torch thread generates ``--frames`` frames in batches
  (the appearance banks and the first batch are warmed up first and not timed); every stage of
  the generator is timed (body model, motion, appearance, camera and light, rendering, labels,
  optical flow) to show where the time goes; peak memory is the process's maximum RSS.
- *2 processes*: two such processes at once (the sum of their rates: what two cores give);
- *2 workers + storage*: what ``vivid synth KIND --workers 2`` does end to end (two worker
  processes, one torch thread each, shards written), over the whole run (worker start-up and
  model loading included) and after start-up (from the moment every worker has delivered its
  first shard); peak memory is the largest worker RSS.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/synth.py

Writes ``benchmarks/results/synth.md`` and ``synth.json``. The machine is shared: the load
average before and after each run is recorded next to the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / "benchmarks" / "results"

STAGES = {
    # stage name -> (the generator ("self"), one of its attributes, or the modules whose name
    # the generators call, comma-separated; function or method names)
    "body model": ("kit", ["pose"]),
    "motion": ("motions", ["pose", "sequence"]),
    "appearance": ("self", ["_look", "_background", "_garment"]),
    "render": ("vivid.synth.body_scenes,vivid.synth.face_scenes", ["render"]),
    "labels": ("vivid.synth.body_scenes,vivid.synth.video_scenes", ["frame_labels"]),
    "optical flow": ("self", ["_flows"]),
    "occluders and camera effects": ("self", ["_realism", "_clip_effects"]),
}


def scene_config(kind: str, size: int, seed: int):
    """The config of a benchmark row: ``KIND`` or ``KIND-realism``."""
    from vivid.synth.assets import realistic_config, shared_render_assets
    from vivid.synth.scenes import SceneConfig

    base, _, variant = kind.partition("-")
    cfg = SceneConfig(kind=base, height=size, width=size, seed=seed)
    return realistic_config(cfg, shared_render_assets("train")) if variant == "realism" else cfg


def _timed(obj, name: str, bucket: dict, stage: str) -> None:
    fn = getattr(obj, name)

    def wrapper(*a, **k):
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            bucket[stage] = bucket.get(stage, 0.0) + time.perf_counter() - t

    setattr(obj, name, wrapper)


def child_generate(kind: str, size: int, frames: int) -> dict:
    """One process, one thread: frames/s, stage times, peak RSS."""
    import torch

    import importlib

    from vivid.synth import scenes

    torch.set_num_threads(1)
    torch.set_grad_enabled(False)
    t0 = time.perf_counter()
    cfg = scene_config(kind, size, 123)
    name, kind = kind, cfg.kind
    gen = scenes.make_generator(cfg)
    build = time.perf_counter() - t0
    gen.warm_up()
    per_sample = cfg.frames if kind == "video" else 1
    batch = 1 if kind == "video" else 16
    gen.generate_batch(list(range(10_000, 10_000 + batch)))
    warm = time.perf_counter() - t0
    bucket: dict[str, float] = {}
    for stage, (owner, names) in STAGES.items():
        if owner.startswith("vivid."):
            targets = [importlib.import_module(m) for m in owner.split(",")]
        else:
            targets = [gen if owner == "self" else getattr(gen, owner, None)]
        for target in targets:
            for n in names:
                if target is not None and hasattr(target, n):
                    _timed(target, n, bucket, stage)
    if kind == "face":  # the head model is called inside generate_batch: time it there
        _timed(gen.head.model, "forward", bucket, "body model")
    if kind == "video":  # camera and lighting are drawn inside _clip; time the clip minus its parts
        _timed(gen, "_clip", bucket, "clip setup")
    n_samples = max(1, frames // per_sample)
    start = time.perf_counter()
    for s in range(0, n_samples, batch):
        gen.generate_batch(list(range(s, min(s + batch, n_samples))))
    seconds = time.perf_counter() - start
    if "clip setup" in bucket:  # _clip contains the body model, motion and appearance calls
        inner = sum(bucket.get(k, 0.0) for k in ("body model", "motion", "appearance"))
        bucket["camera, light, background pan"] = bucket.pop("clip setup") - inner
    made = n_samples * per_sample
    bucket["other (camera, light, sampling, glue)" if kind != "video" else "other"] = seconds - sum(bucket.values())
    return {
        "kind": name,
        "size": size,
        "frames": made,
        "seconds": seconds,
        "fps": made / seconds,
        "model_build_s": build,
        "warmup_s": warm,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "stages_s": bucket,
    }


def child_shards(kind: str, size: int, frames: int, workers: int) -> dict:
    """``vivid synth`` end to end with worker processes and shard writing."""
    from vivid.synth.scenes import GeneratorFactory
    from vivid.synth.storage import write_shards

    cfg = scene_config(kind, size, 321)
    kind = cfg.kind
    per_sample = cfg.frames if kind == "video" else 1
    n = max(workers, frames // per_sample)
    shard = max(1, n // (4 * workers))
    stamps: list[tuple[float, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        write_shards(
            Path(tmp) / "out",
            GeneratorFactory(cfg),
            kind=kind,
            size=(size, size),
            seed=cfg.seed,
            n=n,
            config=cfg.to_dict(),
            shard_size=shard,
            workers=workers,
            on_progress=lambda c: stamps.append((time.perf_counter(), c)),
        )
        seconds = time.perf_counter() - start
        disk = sum(p.stat().st_size for p in (Path(tmp) / "out").iterdir())
    made = n * per_sample
    # steady rate: once every worker has delivered its first shard (start-up behind it)
    k = min(workers, len(stamps)) - 1
    after = sum(c for _, c in stamps[k + 1 :]) * per_sample
    steady = after / (stamps[-1][0] - stamps[k][0]) if after and stamps[-1][0] > stamps[k][0] else float("nan")
    return {
        "kind": kind,
        "size": size,
        "frames": made,
        "seconds": seconds,
        "fps": made / seconds,
        "steady_fps": steady,
        "workers": workers,
        "worker_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "main_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "disk_mb_per_frame": disk / made / 2**20,
    }


def run_child(args: list[str], copies: int = 1) -> dict:
    """Run ``copies`` benchmark children at once; one result, or the list of them."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    load0 = os.getloadavg()[0]
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
        )
        for _ in range(copies)
    ]
    outs = []
    for proc in procs:
        stdout, stderr = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"benchmark child {args} failed:\n{stderr[-3000:]}")
        out = json.loads(stdout.strip().splitlines()[-1])
        out["load_before"], out["load_after"] = round(load0, 2), round(os.getloadavg()[0], 2)
        outs.append(out)
    return outs[0] if copies == 1 else outs


def render_markdown(results: dict) -> str:
    """The results table and the time split as markdown."""
    size, workers = results["size"], results["workers"]
    lines = [
        f"# vivid.synth benchmark ({size}x{size}, all labels)",
        "",
        f"Machine: {results['cpu_count']} CPU cores, shared with other jobs (load average recorded per run); "
        "one torch thread per process; the benchmark itself runs under `nice -n 10`.",
        "Body: one image per sample. Video: 8-frame clips with forward and backward flow. Face: head images.",
        "Two processes only gain over one when two cores are free: at a load average near 10 on two cores they",
        "compete with the other jobs, so that column (and the `vivid synth` one) shows what they got, not the",
        "machine's capacity. 'After start-up' counts from the moment every worker has delivered its first shard",
        "(worker start-up: importing torch and vivid, building the body model, the appearance banks).",
        "",
        f"| scene | frames/s, 1 process | frames/s, {workers} processes "
        f"| frames/s, `vivid synth --workers {workers}`: whole run (start-up included) / after start-up "
        "| peak RSS per process (MB) | disk per frame (MB) | load avg before/after |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results["runs"]:
        o, b, p = r["one_process"], r["processes"], r["workers"]
        lines.append(
            f"| {r['kind']} | {o['fps']:.1f} | {b['fps']:.1f} "
            f"| {p['fps']:.1f} / {p['steady_fps']:.1f} ({p['frames']} frames) | "
            f"{max(o['peak_rss_mb'], p['worker_peak_rss_mb']):.0f} | {p['disk_mb_per_frame']:.3f} | "
            f"{o['load_before']:.1f}/{p['load_after']:.1f} |"
        )
    lines += [
        "",
        "## Where the time goes (one process, share of the timed generation)",
        "",
        "Stages: *render* = `vivid.core.render` (Warp z-buffer rasteriser, then SH shading, texture lookup and",
        "labels on the covered pixels); *body model* = posing Anny (blend shapes for the phenotype, kinematics,",
        "Warp skinning) and its joints; *optical flow* = forward and backward surface flow per frame pair;",
        "*labels* = joint projection and visibility, masks, array conversions; *appearance* = garment and",
        "background crops from the banks; *other* = camera and light draws, batching, Python glue.",
        "",
    ]
    for r in results["runs"]:
        o = r["one_process"]
        total = o["seconds"]
        parts = sorted(o["stages_s"].items(), key=lambda kv: -kv[1])
        split = ", ".join(f"{k} {100 * v / total:.0f}% ({1000 * v / o['frames']:.1f} ms/frame)" for k, v in parts)
        lines.append(
            f"- **{r['kind']}** ({1000 * total / o['frames']:.1f} ms/frame): {split}. "
            f"Model build {o['model_build_s']:.1f} s, warm-up (appearance banks, first batch) {o['warmup_s']:.1f} s."
        )
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--frames", type=int, default=192, help="frames per measurement")
    ap.add_argument("--kinds", default="body,video,face,body-realism")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--child", choices=["generate", "shards"], help=argparse.SUPPRESS)
    ap.add_argument("--kind", help=argparse.SUPPRESS)
    ap.add_argument("--from-json", type=Path, help="only re-render synth.md from a saved synth.json")
    args = ap.parse_args()
    if args.from_json is not None:
        (RESULTS / "synth.md").write_text(render_markdown(json.loads(args.from_json.read_text())))
        return
    if args.child == "generate":
        print(json.dumps(child_generate(args.kind, args.size, args.frames)))
        return
    if args.child == "shards":
        print(json.dumps(child_shards(args.kind, args.size, args.frames, args.workers)))
        return

    results = {
        "size": args.size,
        "cpu_count": os.cpu_count(),
        "torch_threads_per_process": 1,
        "runs": [],
        "workers": args.workers,
    }
    for kind in args.kinds.split(","):
        gen_args = ["--child", "generate", "--kind", kind, "--size", str(args.size), "--frames", str(args.frames)]
        one = run_child(gen_args)
        two = run_child(gen_args, copies=args.workers)
        par = run_child(
            [
                "--child",
                "shards",
                "--kind",
                kind,
                "--size",
                str(args.size),
                "--frames",
                str(args.frames),
                "--workers",
                str(args.workers),
            ]
        )
        both = {"fps": sum(t["fps"] for t in two), "per_process": two}
        results["runs"].append({"kind": kind, "one_process": one, "processes": both, "workers": par})
        print(
            f"{kind}: {one['fps']:.1f} frames/s (1 process), {both['fps']:.1f} ({args.workers} processes), "
            f"{par['fps']:.1f} ({args.workers} workers + storage)",
            file=sys.stderr,
        )

    text = render_markdown(results)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "synth.md").write_text(text)
    (RESULTS / "synth.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
