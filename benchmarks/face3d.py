"""face3d benchmark: NoW-style mesh error, depth flatness, landmark error, SSIM, speed, pictures.

    python benchmarks/face3d.py [--runs runs/face3d] [--n-test 100] [--bundle stage123_dynamic]

Evaluates the checkpoints the training stages wrote (``<runs>/<row>/model.safetensors``, made by
the commands in each sidecar) on:

- held-out synthetic faces: the ``test`` pool (its own seed: identities, expressions, lighting
  and backgrounds not drawn for training), cropped by the box rule from the true landmarks;
- renders of the registered real head scan from views and lights outside the training ranges
  (:func:`vivid.face3d.scan.render_views` with ``held_out=True``); the "truth" there is the
  registered mesh (its residual to the scan is stated).

NoW-style error: the predicted mesh is aligned onto the true face region (every 4th vertex of it) (similarity from the 68
landmarks, then rigid ICP), then the distance from every true face-region vertex to the predicted
surface (median / mean / std over all those points, mm). Depth flatness: after that alignment,
``|range_pred - range_true| / range_true`` of the face region's depth (the head frame's front-back
axis), %. Landmark error: mean distance over the visible landmarks in % of the inter-ocular distance, of the landmark network
and of the reconstruction's projected landmarks. SSIM: render against crop on the face region.
Speed: reconstructions/s of crops (network + face model, no detection, no export) and images/s
with the landmark network's refinement (three landmark passes + reconstruction), 2 threads.

Writes ``benchmarks/results/face3d.md`` + ``.json`` and the picture sheet ``docs/face3d_sheet.jpg``
(the two bundled portraits only). ``--bundle ROW`` copies that row's checkpoint to
``vivid/weights/face3d-default.*``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, RESULTS, file_sha256, log, markdown_table, now  # noqa: E402

ROWS = {
    "stage1": "stage 1 only (self-supervised)",
    "stage2": "stage 2 only (supervised, from scratch)",
    "stage12": "1 -> 2",
    "stage123_r1": "1 -> 2 -> 3, ratio 1:1",
    "stage123_r2": "1 -> 2 -> 3, ratio 2:1",
    "stage123_r3": "1 -> 2 -> 3, ratio 3:1",
    "stage123_quality": "1 -> 2 -> 3, ratio from label quality",
    "stage123_dynamic": "1 -> 2 -> 3, quality ratio + dynamic adjustment",
    "bundled": "bundled face3d-default (as committed; replaced only by a row better on validation)",
}
NOW_ANCHORS = "Deep3DFaceRecon 1.11 / 1.41 mm, DECA 1.09 / 1.38 mm, MICA about 0.90 mm (NoW median / mean)"


@torch.no_grad()
def evaluate(weights: Path, data: dict, fm, batch: int = 25) -> dict:
    from vivid.core.geometry import apply_similarity, icp, point_to_mesh_distance, procrustes
    from vivid.core.checkpoints import load_checkpoint
    from vivid.face3d.module import interocular
    from vivid.face3d.reconstruct import decode, face_ssim, project_points, render_face

    model, meta = load_checkpoint(weights, task="face3d")
    S = model.input_size
    face_v, lm_v = fm.face_vertices, fm.landmark_vertices
    face_f = fm.faces[fm.face_faces]
    dists, flat, det_nme, rec_nme, ssim = [], [], [], [], []
    n = len(data["image"])
    for i in range(0, n, batch):
        img = torch.from_numpy(data["image"][i : i + batch]).permute(0, 3, 1, 2).float() / 255
        K = torch.from_numpy(data["K"][i : i + batch])
        lm2d = torch.from_numpy(data["landmarks"][i : i + batch])
        truth = torch.from_numpy(data["vertices"][i : i + batch]).double()
        params = model(img)
        dec = decode(fm, params, K, S)
        iod = interocular(lm2d)
        vis = torch.from_numpy(data["visibility"][i : i + batch])

        def nme(points):  # over the visible landmarks, % of the inter-ocular distance
            return (((points - lm2d).norm(dim=-1) * vis).sum(1) / vis.sum(1).clamp(min=1) / iod * 100).numpy()

        det_nme.append(nme(model.landmarks(img).landmarks))
        rec_nme.append(nme(project_points(fm.landmarks(dec.vertices), dec.R, dec.t, K)))
        rgb, mask = render_face(fm, dec.vertices, dec.R, dec.t, K, S, albedo=dec.albedo, sh=params.sh)
        ssim.append(face_ssim(rgb * mask[:, None] + img * (1 - mask[:, None]), img, mask).numpy())
        for b in range(img.shape[0]):
            pred, gt = dec.vertices[b].double(), truth[b]
            s, R, t = procrustes(pred[lm_v], gt[lm_v])
            moved = apply_similarity(pred, s, R, t)
            fit = icp(moved[face_v][::4], gt[face_v][::4], iters=10)
            moved = fit.apply(moved)
            d = point_to_mesh_distance(gt[face_v][::4].float(), moved.float(), face_f)  # every 4th face vertex
            dists.append(d.numpy() * 1000)
            rp = np.ptp(moved[face_v][:, 1].numpy())
            rt = np.ptp(gt[face_v][:, 1].numpy())
            flat.append(abs(rp - rt) / rt * 100)
    d = np.concatenate(dists)
    return {"median_mm": round(float(np.median(d)), 3), "mean_mm": round(float(d.mean()), 3), "std_mm": round(float(d.std()), 3),
            "flatness_pct": round(float(np.mean(flat)), 2), "detector_nme_pct": round(float(np.concatenate(det_nme).mean()), 2),
            "recon_nme_pct": round(float(np.concatenate(rec_nme).mean()), 2), "ssim": round(float(np.concatenate(ssim).mean()), 4),
            "steps": meta["metrics"].get("global_step"), "sha256": file_sha256(weights)[:16]}


def speed(weights: Path, threads: int = 2, batch: int = 32) -> dict:
    from vivid.face3d.apply import FaceReconstructor
    from vivid.face3d.crop import box_from_landmarks, crop_image
    from vivid.face3d.detect import landmarks_in_box

    torch.set_num_threads(threads)
    rec = FaceReconstructor(str(weights))
    S = rec.size
    crops, K = torch.rand(batch, 3, S, S), torch.tensor([[[2.0 * S, 0, S / 2 - 0.5], [0, 2.0 * S, S / 2 - 0.5], [0, 0, 1]]]).expand(batch, 3, 3)
    rec.reconstruct_crops(crops, K)
    t = time.perf_counter()
    reps = 5
    for _ in range(reps):
        rec.reconstruct_crops(crops, K)
    per_crop = (time.perf_counter() - t) / (reps * batch)
    from vivid.core.assets import demo_input
    from vivid.core.fileio import read_image

    image = read_image(demo_input("astronaut_portrait.jpg").path)
    faces = rec.find(image)
    box = faces[0].box if faces else np.array([60.0, 40.0, 140.0])
    t = time.perf_counter()
    for _ in range(10):
        f = landmarks_in_box(image, box, rec.model.landmarks)
        rec.reconstruct(image, faces=[f])
    per_image = (time.perf_counter() - t) / 10
    torch.set_num_threads(1)
    import os

    return {"recon_per_s": round(1 / per_crop, 1), "image_per_s": round(1 / per_image, 1), "threads": threads, "batch": batch,
            "load_average": round(os.getloadavg()[0], 1)}


def picture_sheet(weights: Path, path: Path) -> None:
    from vivid.core.assets import demo_input
    from vivid.core.fileio import read_image, write_image
    from vivid.face3d.apply import FaceReconstructor
    from vivid.face3d.demo import PORTRAITS, picture_row

    rec = FaceReconstructor(str(weights))
    rows = []
    for name in PORTRAITS:
        image = read_image(demo_input(name).path)
        rows.append(picture_row(rec, image, rec.reconstruct(image), size=200))
    w = max(r.shape[1] for r in rows)
    sheet = np.concatenate([np.pad(r, ((0, 0), (0, w - r.shape[1]), (0, 0)), constant_values=255) for r in rows])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, sheet)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=Path, default=REPO / "runs" / "face3d")
    ap.add_argument("--n-test", type=int, default=100)
    ap.add_argument("--n-scan-views", type=int, default=24)
    ap.add_argument("--cache-dir", default=str(REPO / ".cache" / "face3d"))
    ap.add_argument("--bundle", default=None, help="copy this row's checkpoint to vivid/weights/face3d-default")
    ap.add_argument("--chain", default="stage0,stage1,stage12,stage123_dynamic",
                    help="the runs whose commands the bundled sidecar lists, in order")
    ap.add_argument("--stage123", default="stage123_dynamic",
                    help="the 1 -> 2 -> 3 row of the headline keys (the one chosen on the validation split)")
    ap.add_argument("--validation", type=Path, default=RESULTS / "face3d_validation.json",
                    help="the validation results stage 3 was chosen on (quoted in the report)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from vivid.face3d.config import Face3DData
    from vivid.face3d.data import SCAN_PATH, _load, ensure_pool
    from vivid.face3d.facemodel import face_model
    from vivid.face3d.scan import registration_cached, render_views

    fm = face_model()
    cfg = Face3DData(cache_dir=args.cache_dir)
    synth = _load(ensure_pool(cfg, "test", args.n_test, 96))
    scan, residual = None, None
    if SCAN_PATH.exists():
        reg = registration_cached(SCAN_PATH, args.cache_dir)
        residual = reg.residual_mm
        scan = render_views(reg, args.n_scan_views, size=96, seed=1, held_out=True)
    rows, quality_note = {}, ""
    weights = {name: args.runs / name / "model.safetensors" for name in ROWS}
    meta_dyn = json.loads((args.runs / "stage123_dynamic" / "model.json").read_text()) if weights["stage123_dynamic"].exists() else {}
    q_ratio = meta_dyn.get("extra", {}).get("data_details", {}).get("quality_ratio")
    if not weights["stage123_quality"].exists() and q_ratio is not None and weights.get(f"stage123_r{q_ratio}", Path()).exists():
        weights["stage123_quality"] = weights[f"stage123_r{q_ratio}"]
        quality_note = f"the label-quality ratio is {q_ratio}:1, so that row is the {q_ratio}:1 run"
    if args.bundle:
        weights["bundled"] = bundle(args, weights[args.bundle])
    else:  # the committed checkpoint, as it is
        weights["bundled"] = REPO / "vivid" / "weights" / "face3d-default.safetensors"
    for name, path in weights.items():
        if not path.exists():
            log(f"skip {name}: {path} missing")
            continue
        log(f"evaluating {name}")
        meta = json.loads(path.with_suffix(".json").read_text())
        rows[name] = {"row": ROWS[name], "synthetic": evaluate(path, synth, fm),
                      "scan": evaluate(path, scan, fm) if scan is not None else None,
                      "steps": meta["metrics"].get("global_step"), "command": meta.get("command")}
    best = args.stage123 if args.stage123 in rows else next(iter(rows))
    shown = "bundled" if "bundled" in rows else best
    out = {"date": now(), "test_synthetic": args.n_test, "test_scan_views": args.n_scan_views if scan is not None else 0,
           "scan_registration_residual_mm": residual, "rows": rows, "quality_row_note": quality_note,
           "now_anchors": NOW_ANCHORS, "speed": speed(weights[shown]),
           "validation": _validation_summary(args.validation)}
    g = lambda n, k="median_mm", s="synthetic": rows[n][s][k] if n in rows and rows[n][s] else None  # noqa: E731
    out.update({"median_mm_stage1": g("stage1"), "median_mm_stage2": g("stage2"), "median_mm_stage12": g("stage12"),
                "median_mm_stage123": g(best), "flatness_stage1": g("stage1", "flatness_pct"),
                "flatness_stage123": g(best, "flatness_pct"), "real_scan_median_mm_stage123": g(best, "median_mm", "scan"),
                "stage123_row": best})
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "face3d.json").write_text(json.dumps(out, indent=1) + "\n")
    (RESULTS / "face3d.md").write_text(markdown(out) + "\n")
    picture_sheet(weights[shown], REPO / "docs" / "face3d_sheet.jpg")
    print((RESULTS / "face3d.md").read_text())


def _validation_summary(path: Path) -> dict | None:
    """The chosen stage-3 run and the validation medians of every run (from face3d_validate.py)."""
    if not path.exists():
        return None
    v = json.loads(path.read_text())
    return {"file": str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path), "date": v["date"],
            "chosen_stage3": v["chosen_stage3"], "beats_every_single_stage": v.get("chosen_beats_every_single_stage"),
            "val_synthetic": v["val_synthetic"], "val_scan_views": v["val_scan_views"],
            "medians_mm": {n: [r["synthetic"]["median_mm"], (r["scan"] or {}).get("median_mm")] for n, r in v["rows"].items()}}


def _stage_entries(runs: Path, stage: str) -> list[dict]:
    """Sidecar entries of one run of the chain; a stage-0 run copied from an earlier bundle brings
    that bundle's stage-0 entries (the commands that trained its landmark network)."""
    m = json.loads((runs / stage / "model.json").read_text())
    earlier = [e for e in (m.get("extra") or {}).get("stages", []) if e["run"].startswith("stage0")]
    if stage == "stage0" and earlier:
        return earlier
    return [{"run": stage, "command": m.get("command"), "data": m.get("data"),
             "steps": m["metrics"].get("global_step"), "data_details": m.get("extra", {}).get("data_details")}]


def bundle(args, src: Path) -> Path:
    """Copy a row's checkpoint to vivid/weights/face3d-default.*, its sidecar listing every stage's
    command and data. The landmark network is stage 0's (it is frozen in stages 1-3): the face search
    over real portraits at the data setup of stages 1 and 3 ran it in training mode and moved its
    batch-norm statistics (fixed since; the rows are evaluated as they were trained)."""
    from safetensors.torch import load_file, save_file

    dst = REPO / "vivid" / "weights" / "face3d-default"
    state = load_file(str(src))
    landmarks = load_file(str(args.runs / "stage0" / "model.safetensors"))
    state.update({k: v for k, v in landmarks.items() if k.startswith("landmarks.")})
    save_file(state, str(dst.with_suffix(".safetensors")))
    meta = json.loads(src.with_suffix(".json").read_text())
    chain = []
    for stage in args.chain.split(","):
        chain.extend(_stage_entries(args.runs, stage))
    meta.setdefault("extra", {})["stages"] = chain
    meta["extra"]["landmarks_from"] = "stage0"
    meta["extra"]["environment"] = "OMP_NUM_THREADS=1, ANNY_CACHE_DIR set; each command run from the repository root"
    meta["extra"]["stage3_chosen_on"] = "benchmarks/results/face3d_validation.md (validation split, not the test sets)"
    meta["command"] = " && ".join(c["command"] or "" for c in chain)
    dst.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    return dst.with_suffix(".safetensors")


def _lr(command: str | None) -> str:
    """The last stage's learning rate, from its command (the preset's 1e-3 when not overridden)."""
    last = (command or "").split("&&")[-1].split()
    lrs = [a.split("=", 1)[1] for a in last if a.startswith("optim.lr=")]
    return f"{float(lrs[-1]):.0e}" if lrs else "1e-03"


def markdown(out: dict) -> str:
    lines = [f"# face3d benchmark ({out['date']})", "",
             f"Held-out synthetic faces: {out['test_synthetic']} (unseen identities, expressions, lighting); real head scan: "
             f"{out['test_scan_views']} renders from views and lights outside training, against the registered mesh "
             f"(registration residual {out['scan_registration_residual_mm']:.2f} mm to the scan). Errors in mm after "
             "similarity alignment from landmarks and rigid ICP (scan-to-mesh, face region); flatness = depth-range error "
             "of the face region; NME over the visible landmarks in % of the inter-ocular distance; steps = the row's last stage's training steps.", "",
             "Budgets (CPU, batch 16, one thread per run): stage 0 (landmarks) 300 + 700 steps; stage 1 700; stage 2 300 "
             "(after stage 1, and from scratch with stage 0's landmark network); every stage-3 row starts from the same "
             "1 -> 2 checkpoint, with the learning rate and steps chosen on the validation split (below). Each row's "
             "command is in the .json.", ""]
    header = ["row", "steps", "lr", "synth median", "mean", "std", "flatness %", "detector NME", "recon NME", "SSIM",
              "scan median", "scan mean"]
    body = []
    for name, r in out["rows"].items():
        s, c = r["synthetic"], r["scan"] or {}
        body.append([r["row"], str(r["steps"]), _lr(r["command"]), f"{s['median_mm']:.2f}", f"{s['mean_mm']:.2f}", f"{s['std_mm']:.2f}",
                     f"{s['flatness_pct']:.1f}", f"{s['detector_nme_pct']:.1f}", f"{s['recon_nme_pct']:.1f}",
                     f"{s['ssim']:.3f}", f"{c.get('median_mm', float('nan')):.2f}", f"{c.get('mean_mm', float('nan')):.2f}"])
    lines += markdown_table(header, body)
    sp = out["speed"]
    lines += ["", f"Speed on this CPU ({sp['threads']} threads): {sp['recon_per_s']} reconstructions/s on batches of "
              f"{sp['batch']} crops (network + face model), {sp['image_per_s']} images/s with the landmark refinement "
              f"(export excluded); the machine's load average was {sp['load_average']} on its 2 cores, shared with other jobs.", "",
              f"Real scan, 1 -> 2 -> 3: median {out['real_scan_median_mm_stage123']} mm. For scale only (not the same data, "
              f"not the same protocol): {out['now_anchors']}."]
    if out["quality_row_note"]:
        lines += ["", f"Note: {out['quality_row_note']}."]
    v = out.get("validation")
    if v:
        meds = "; ".join(f"{n} {a:.2f} / {b:.2f}" if b is not None else f"{n} {a:.2f}" for n, (a, b) in v["medians_mm"].items())
        lines += ["", f"Stage 3's settings were chosen on a validation split ({v['file']}, {v['date']}): {v['val_synthetic']} "
                  f"synthetic faces of the `val` pool and {v['val_scan_views']} scan renders of other draws than the test "
                  f"views; chosen: {v['chosen_stage3']}. Validation medians, synthetic / scan (mm): {meds}."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
