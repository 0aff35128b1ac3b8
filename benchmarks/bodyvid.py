"""bodyvid benchmark: accuracy and smoothness of 3D bodies from video.

Held-out synthetic clips (the test split of vivid.bodyvid.data: unseen mocap takes, heavier
bodies, other garments, moving and static cameras, partial framing): MPJPE, PA-MPJPE, PVE and
acceleration error (mm/frame^2), also on occluded frames, for each trained variant given with
``--run NAME=CHECKPOINT[@BUDGET]``; the per-frame baseline (``perframe``) smoothed by a one-euro
filter and by a Savitzky-Golay filter, each at the parameters that minimise its acceleration error
at no more than +5 % MPJPE, chosen on the validation clips; frames/s of ``vivid body``'s predictor
on the bundled real clip (two threads, export excluded); and on real video (../shared/data, test
only, measured once): acceleration of the predicted root-relative limb joints, and 2D agreement
with ../shared/data/pose2d_real (PCK@0.1 / 0.2 of the reference box size).

    python benchmarks/bodyvid.py --run perframe=runs/perframe/model.safetensors --run full=vivid/weights/bodyvid-default.safetensors

Writes benchmarks/results/bodyvid.md and .json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import RESULTS, file_sha256, log, markdown_table, now  # noqa: E402

# The rows the method's ablation asks for besides perframe and full (give them with --run NAME=...).
ABLATION_ROWS = ["+motion", "+motion+spatial", "+fusion", "variant:split_convs", "variant:pool_conv",
                 "variant:local_weight_norm", "variant:double_weighting", "variant:second_on_raw"]
LIMBS = ["l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist", "l_hip", "l_knee", "l_ankle", "r_hip",
         "r_knee", "r_ankle"]  # fmt: skip
# H36M limb joints -> the COCO keypoints of pose2d_real.
H36M_TO_COCO = {"l_shoulder": "left_shoulder", "r_shoulder": "right_shoulder", "l_elbow": "left_elbow",
                "r_elbow": "right_elbow", "l_wrist": "left_wrist", "r_wrist": "right_wrist", "l_hip": "left_hip",
                "r_hip": "right_hip", "l_knee": "left_knee", "r_knee": "right_knee", "l_ankle": "left_ankle",
                "r_ankle": "right_ankle"}  # fmt: skip


# ----------------------------------------------------------------------------- smoothing baselines


def one_euro(x: np.ndarray, fps: float, min_cutoff: float, beta: float, d_cutoff: float = 1.0) -> np.ndarray:
    """One-euro filter (Casiez et al. 2012) along axis 0 of (T, ...) signals. (vivid/core/filters.py,
    where the shared one will live, is not in this checkout; this is the benchmark's own.)"""

    def alpha(cutoff):
        tau = 1.0 / (2 * np.pi * cutoff)
        return 1.0 / (1.0 + tau * fps)

    out = np.empty_like(x)
    out[0], dx = x[0], np.zeros_like(x[0])
    for t in range(1, len(x)):
        d = (x[t] - out[t - 1]) * fps
        dx = dx + alpha(d_cutoff) * (d - dx)
        a = alpha(min_cutoff + beta * np.abs(dx))
        out[t] = out[t - 1] + a * (x[t] - out[t - 1])
    return out


def savgol(x: np.ndarray, window: int, order: int) -> np.ndarray:
    from scipy.signal import savgol_filter

    w = min(window, len(x) - (1 - len(x) % 2))
    return savgol_filter(x, w, min(order, w - 1), axis=0) if w > order else x


# ----------------------------------------------------------------------------- synthetic clips


def predict_clips(weights: str, arrays: dict) -> np.ndarray:
    """Predicted root-relative joints (N, T, 17, 3) mm, with rotations and phenotypes, for cached clips
    (crops around the labelled person; non-overlapping sequences, the last one padded)."""
    from vivid.bodyvid.sequences import cut_sequences, merge_sequences
    from vivid.core.checkpoints import load_checkpoint

    model, _ = load_checkpoint(weights, task="bodyvid")
    out_j, out_r, out_p = [], [], []
    with torch.no_grad():
        for c in range(arrays["frames"].shape[0]):
            frames = torch.from_numpy(arrays["frames"][c]).permute(0, 3, 1, 2).float() / 255
            seqs, valid, starts = cut_sequences(frames, model.seq_len)
            o = model(seqs)
            T = frames.shape[0]
            out_j.append(merge_sequences(o.joints3d, starts, T, valid).numpy() * 1000)
            out_r.append(merge_sequences(o.rotations, starts, T, valid).numpy())
            out_p.append(merge_sequences(o.phenotype, starts, T, valid).numpy())
    return np.stack(out_j), np.stack(out_r), np.stack(out_p)


def vertices_of(rotations: np.ndarray, phenotype: np.ndarray) -> np.ndarray:
    from vivid.bodyvid.skeleton import body_vertices

    out = []
    with torch.no_grad():
        for r, p in zip(torch.from_numpy(rotations).float().split(64), torch.from_numpy(phenotype).float().split(64)):
            out.append(body_vertices(r, p).numpy())
    return np.concatenate(out) * 1000


def scores(pred: np.ndarray, gt: np.ndarray, occluded: np.ndarray, pve: np.ndarray | None = None) -> dict:
    """pred, gt: (N, T, 17, 3) mm, root-relative; occluded: (N, T) bool; pve: (N, T) mm or None."""
    from vivid.core import metrics

    p, g = torch.from_numpy(pred).double(), torch.from_numpy(gt).double()
    mp = metrics.mpjpe(p, g, root=0)  # (N, T)
    pa = metrics.pa_mpjpe(p.flatten(0, 1), g.flatten(0, 1)).view(mp.shape)
    acc = metrics.acceleration_error(p, g)  # (N, T - 2)
    occ = torch.from_numpy(occluded)
    occ_inner = occ[:, 1:-1]
    row = {"mpjpe": float(mp.mean()), "pa_mpjpe": float(pa.mean()), "accel": float(acc.mean()),
           "occluded_frames": int(occ.sum())}  # fmt: skip
    if bool(occ.any()):
        row.update(mpjpe_occluded=float(mp[occ].mean()), pa_mpjpe_occluded=float(pa[occ].mean()))
    if bool(occ_inner.any()):
        row["accel_occluded"] = float(acc[occ_inner].mean())
    if pve is not None:
        row["pve"] = float(pve.mean())
        if bool(occ.any()):
            row["pve_occluded"] = float(pve[occluded].mean())
    return row


def tune(filter_fn, grid, pred_val, gt_val, fps):
    """The grid point with the lowest acceleration error at <= +5 % MPJPE of the unfiltered prediction (validation)."""
    occ = np.zeros(pred_val.shape[:2], bool)
    base = scores(pred_val, gt_val, occ)["mpjpe"]
    best = None
    for params in grid:
        sm = np.stack([filter_fn(clip, fps, *params) for clip in pred_val])
        s = scores(sm, gt_val, occ)
        if s["mpjpe"] <= 1.05 * base and (best is None or s["accel"] < best[1]["accel"]):
            best = (params, s)
    return best[0] if best else grid[0]


# ----------------------------------------------------------------------------- real video


def real_clip(weights: str, video: Path, reference: list[dict], frames: int | None = None) -> dict:
    """Acceleration of the predicted root-relative limb joints and PCK against the reference keypoints."""
    from vivid.bodyvid.apply import BodyVideoPredictor
    from vivid.core.body import H36M_JOINTS
    from vivid.core.video import iter_frames

    pred = BodyVideoPredictor(weights, detector=None)
    limbs = [H36M_JOINTS.index(n) for n in LIMBS]
    j3, j2 = {}, {}

    def stream():
        for f in iter_frames(video):
            if frames is not None and f.index >= frames:
                return
            yield f

    for p in pred.predict(stream()):
        j3[p.index] = (p.joints3d - p.root) * 1000
        j2[p.index] = p.joints2d
    traj = np.stack([j3[k] for k in sorted(j3)])[:, limbs]
    acc = np.linalg.norm(traj[:-2] - 2 * traj[1:-1] + traj[2:], axis=-1).mean()
    from vivid.core.body import COCO_JOINTS

    hits = {0.1: [], 0.2: []}
    for ref in reference:
        k = ref["frame_index"]
        if k not in j2:
            continue
        kp = np.asarray(ref["keypoints"], dtype=np.float64)
        x0, y0, x1, y1 = ref["box"]
        size = max(x1 - x0, y1 - y0)
        for h36, coco in H36M_TO_COCO.items():
            ci = COCO_JOINTS.index(coco)
            if kp[ci, 2] <= 0:
                continue
            d = np.linalg.norm(j2[k][H36M_JOINTS.index(h36)] - kp[ci, :2])
            for thr in hits:
                hits[thr].append(d <= thr * size)
    return {"frames": len(j3), "accel_limbs": float(acc), "pck_0.1": float(np.mean(hits[0.1])) if hits[0.1] else None,
            "pck_0.2": float(np.mean(hits[0.2])) if hits[0.2] else None, "labelled_frames": len(reference)}  # fmt: skip


def speed(weights: str, threads: int = 2, frames: int = 80) -> float:
    """Frames/s of the predictor (default settings: two passes for the first sequence, one for each
    later one) on the bundled real clip, export excluded."""
    from vivid.bodyvid.apply import BodyVideoPredictor
    from vivid.core.assets import demo_input
    from vivid.core.video import iter_frames

    torch.set_num_threads(threads)
    clip = [f for f in iter_frames(demo_input("vtest_clip.mp4").path)][:frames]
    pred = BodyVideoPredictor(weights, detector=None)
    list(pred.predict(clip[:16]))  # warm-up
    t = time.perf_counter()
    n = sum(1 for _ in pred.predict(clip))
    return n / (time.perf_counter() - t)


def model_speed(weights: str, threads: int, sequences: int = 4, repeats: int = 5) -> float:
    """Frames/s of the network alone on a batch of sequences of crops (one pass)."""
    from vivid.core.checkpoints import load_checkpoint

    torch.set_num_threads(threads)
    model, _ = load_checkpoint(weights, task="bodyvid")
    x = torch.rand(sequences, model.seq_len, 3, model.input_size, model.input_size)
    with torch.no_grad():
        model(x)
        t = time.perf_counter()
        for _ in range(repeats):
            model(x)
    return repeats * sequences * model.seq_len / (time.perf_counter() - t)


def speeds(weights: str) -> dict:
    import os

    out = {"load_average_1min": os.getloadavg()[0], "cpu_count": os.cpu_count()}
    for threads in (1, 2):
        out[f"network_batch_of_4_sequences_{threads}_threads"] = model_speed(weights, threads)
    out["predictor_2_threads"] = speed(weights, 2)
    torch.set_num_threads(2)
    return out


# ----------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", action="append", default=[], help="NAME=CHECKPOINT[@BUDGET]; names perframe and full are required")
    ap.add_argument("--cache", type=Path, default=Path(".cache/bodyvid"))
    ap.add_argument("--n-test", type=int, default=24)
    ap.add_argument("--test-frames", type=int, default=32)
    ap.add_argument("--real-frames", type=int, default=None, help="frames of each real clip (default: all)")
    ap.add_argument("--no-real", action="store_true")
    ap.add_argument("--speed-only", action="store_true", help="measure the speeds again into the existing results")
    args = ap.parse_args()
    if args.speed_only:
        out = json.loads((RESULTS / "bodyvid.json").read_text())
        full = dict(item.split("=", 1) for item in args.run)["full"].partition("@")[0]
        out["speed"] = speeds(full)
        out["fps_cpu_2_threads"] = out["speed"]["predictor_2_threads"]
        (RESULTS / "bodyvid.json").write_text(json.dumps(out, indent=1) + "\n")
        (RESULTS / "bodyvid.md").write_text(markdown(out))
        print(markdown(out))
        return
    torch.set_num_threads(2)
    from vivid.bodyvid.data import build_clip_cache, cache_path, load_clip_cache
    from vivid.synth.mocap_library import resolve_mocap

    runs = {}
    for item in args.run:
        name, rest = item.split("=", 1)
        path, _, budget = rest.partition("@")
        runs[name] = (path, budget or "")
    if not {"perframe", "full"} <= set(runs):
        raise SystemExit("give --run perframe=... and --run full=...")
    mocap = resolve_mocap("auto")
    test_path = cache_path(args.cache, "test", args.n_test, args.test_frames, 128, 96, mocap)
    if not test_path.exists():
        log(f"rendering {args.n_test} test clips")
        build_clip_cache(test_path, "test", args.n_test, frames=args.test_frames, render_size=128, size=96, mocap=mocap)
    test, meta = load_clip_cache(test_path)
    val_path = next(args.cache.glob("clips_val_*.npz"))
    val, _ = load_clip_cache(val_path)
    gt = test["joints3d"] * 1000
    gt = gt - gt[..., :1, :]
    gt_val = val["joints3d"] * 1000
    gt_val = gt_val - gt_val[..., :1, :]
    occluded = (test["visibility"] < 0.5).sum(-1) >= 3
    N, T = gt.shape[:2]
    gt_v = vertices_of(test["rotations"].reshape(N * T, 24, 3, 3), test["phenotype"].reshape(N * T, 6)).reshape(N, T, -1, 3)
    fps = 1.0 / float(test["times"][0, 1] - test["times"][0, 0])

    rows, preds = {}, {}
    for name, (path, budget) in runs.items():
        log(f"evaluating {name}")
        pj, pr, pp = predict_clips(path, test)
        pv = vertices_of(pr.reshape(N * T, 24, 3, 3), pp.reshape(N * T, 6)).reshape(N, T, -1, 3)
        pve = np.linalg.norm(pv - gt_v, axis=-1).mean(-1)
        rows[name] = {**scores(pj, gt, occluded, pve), "budget": budget, "checkpoint": path, "sha256": file_sha256(path)}
        preds[name] = pj
    # Filtered per-frame baselines, tuned on the validation clips.
    pv_val, _, _ = predict_clips(runs["perframe"][0], val)
    euro_grid = [(mc, b) for mc in (0.3, 0.5, 1.0, 2.0, 4.0) for b in (0.0, 0.001, 0.01, 0.05)]
    euro = tune(lambda x, f, mc, b: one_euro(x, f, mc, b), euro_grid, pv_val, gt_val, fps)
    sg_grid = [(w, o) for w in (5, 7, 9, 11, 15) for o in (1, 2, 3)]
    sg = tune(lambda x, f, w, o: savgol(x, w, o), sg_grid, pv_val, gt_val, fps)
    for name, fn, params in (("perframe+one_euro", lambda x: one_euro(x, fps, *euro), {"min_cutoff": euro[0], "beta": euro[1]}),
                             ("perframe+savgol", lambda x: savgol(x, *sg), {"window": sg[0], "order": sg[1]})):  # fmt: skip
        sm = np.stack([fn(c) for c in preds["perframe"]])
        rows[name] = {**scores(sm, gt, occluded), "params": params, "budget": runs["perframe"][1]}

    out = {
        "date": now(),
        "test": {"clips": N, "frames": T, "fps": fps, "occluded_rule": ">= 3 of 17 joints hidden", "motion": meta["motion"],
                 "moving_camera_clips": int(test["moving_camera"].sum()), "cache": test_path.name},
        "rows": rows,
        "accel_ratio_full_vs_perframe": rows["full"]["accel"] / rows["perframe"]["accel"],
        "mpjpe_full": rows["full"]["mpjpe"],
        "mpjpe_perframe": rows["perframe"]["mpjpe"],
        "not_run": [r for r in ABLATION_ROWS if r not in rows],
    }  # fmt: skip
    log("speed")
    out["speed"] = speeds(runs["full"][0])
    out["fps_cpu_2_threads"] = out["speed"]["predictor_2_threads"]
    if not args.no_real:
        from vivid.synth.mocap_library import shared_data_dir

        shared = shared_data_dir()
        if shared is not None:
            ref = json.loads((shared / "pose2d_real" / "keypoints.json").read_text())["frames"]
            real = {}
            for clip, video in (("juggle", "05_default_juggle.mp4"), ("bedroom", "bedroom.mp4")):
                frames_ref = [r for r in ref if r["video"] == video.split(".")[0]]
                for name in ("perframe", "full"):
                    log(f"real clip {clip}: {name}")
                    real[f"{clip}/{name}"] = real_clip(runs[name][0], shared / "interp" / "sam2_videos" / video, frames_ref,
                                                       args.real_frames)  # fmt: skip
            out["real"] = real
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bodyvid.json").write_text(json.dumps(out, indent=1) + "\n")
    text = markdown(out)
    (RESULTS / "bodyvid.md").write_text(text)
    print(text)


def _f(v, n=1):
    return "-" if v is None else f"{v:.{n}f}"


def markdown(out: dict) -> str:
    t = out["test"]
    lines = [f"# bodyvid benchmark ({out['date']})", "",
             f"Held-out synthetic clips: {t['clips']} clips of {t['frames']} frames at {t['fps']:.0f} fps (test split: unseen "
             f"mocap takes, heavier bodies, other garments; {t['moving_camera_clips']} with a moving camera; partial framing), "
             f"motion: {t['motion']}. Errors in mm (root-relative), acceleration error in mm/frame^2; 'occ.' = frames with "
             f"{t['occluded_rule']}. Budget = training steps (batch 4 sequences of 8 frames).", ""]  # fmt: skip
    header = ["method", "budget", "MPJPE", "PA-MPJPE", "PVE", "accel", "MPJPE occ.", "PVE occ.", "accel occ."]
    rows = []
    for name, r in out["rows"].items():
        rows.append([name, str(r.get("budget", "")), _f(r["mpjpe"]), _f(r["pa_mpjpe"]), _f(r.get("pve")), _f(r["accel"], 2),
                     _f(r.get("mpjpe_occluded")), _f(r.get("pve_occluded")), _f(r.get("accel_occluded"), 2)])  # fmt: skip
    lines += markdown_table(header, rows)
    if out.get("not_run"):
        lines += ["", "Not run this round (no CPU time left; each needs its own training run at the same budget): "
                  + ", ".join(out["not_run"]) + "."]
    lines += ["", f"Acceleration error of the full method / the per-frame baseline: {out['accel_ratio_full_vs_perframe']:.2f} "
              f"(goal <= 0.33); MPJPE full {out['mpjpe_full']:.1f} mm vs per-frame {out['mpjpe_perframe']:.1f} mm.",
              f"Filter parameters (tuned on the validation clips): one-euro {out['rows']['perframe+one_euro']['params']}, "
              f"Savitzky-Golay {out['rows']['perframe+savgol']['params']}.",
              f"Speed of `vivid body`'s predictor (sequences of 8, 96 px crops, one pass per sequence after the first, decoding and cropping 768x576 "
              f"frames) on this CPU with 2 threads: {out['fps_cpu_2_threads']:.1f} frames/s (goal >= 15), export excluded."]
    if "speed" in out:
        sp = out["speed"]
        lines += [f"The network alone on a batch of 4 sequences: {sp['network_batch_of_4_sequences_1_threads']:.1f} frames/s "
                  f"with 1 thread, {sp['network_batch_of_4_sequences_2_threads']:.1f} with 2 (one pass). Measured on a shared machine: 1-minute load average {sp['load_average_1min']:.1f} on "
                  f"{sp['cpu_count']} cores during the measurement, so these are lower bounds."]
    lines.append("")  # fmt: skip
    if "real" in out:
        lines += ["Real clips of ../shared/data (test only, measured once; boxes: whole frame, then the previous "
                  "prediction's joints; no person detector): acceleration of the predicted root-relative limb joints "
                  "(mm/frame^2; MediaPipe Pose video mode: 32.6 on juggle) and PCK of the 12 limb joints against "
                  "pose2d_real (of the reference box size).", ""]  # fmt: skip
        rows = [[k, str(v["frames"]), _f(v["accel_limbs"]), _f(v["pck_0.1"], 3), _f(v["pck_0.2"], 3)] for k, v in out["real"].items()]
        lines += markdown_table(["clip / method", "frames", "limb accel", "PCK@0.1", "PCK@0.2"], rows)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
