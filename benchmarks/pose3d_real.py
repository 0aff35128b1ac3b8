"""3D pose on real footage: agreement with reference keypoints, people presence, smoothness on video,
and MediaPipe Pose as a peer on synthetic images where the truth is known.

Test material only (read their SOURCES.md; nothing here is trained or tuned on): the 68 frames of
``../shared/data/pose2d_real`` (juggle and bedroom, reference COCO-17 keypoints), the 70 frames of
``../shared/data/people_presence`` (16 without a person), and the juggle clip of
``../shared/data/interp/sam2_videos``.

- real frames, 12 limb joints (shoulders, elbows, wrists, hips, knees, ankles) with reference
  visibility > 0: PCK@0.1 and PCK@0.2 of the reference keypoint box's larger side, (a) from the full
  frame as ``vivid pose`` runs (detector, then pose; the detected person nearest the reference box
  is scored, a frame with none scores 0), (b) from the given box (the reference keypoint box
  enlarged by 20 %); detector recall with the rule: a frame counts when a detected box holds at
  least 90 % of the reference person's visible keypoints and is at most 3x the area of their
  keypoint box;
- people presence: frames where ``vivid pose`` reports a person, among the empty ones (false
  positives) and the others (recall);
- smoothness on the juggle clip (``vivid pose`` on the video, as shipped: tracking and the 1-euro
  filter): mean |x[t+1] - 2x[t] + x[t-1]| of the pelvis-relative 3D limb joints (mm/frame^2) and of
  the 2D limb joints (px/frame^2), beside MediaPipe Pose in video mode on the same frames;
- baseline detector (section ``hog``): OpenCV's HOG people detector in place of people-default,
  in-process with the same rules as ``vivid pose --detect`` on images (each box estimated with
  ``PoseEstimator.predict_box`` and its detector score, people under the estimator's person
  threshold dropped): full-frame PCK, detector recall (on HOG's raw boxes) and presence;
- MediaPipe peer on held-out synthetic renders (realistic, test split): PA-MPJPE of the 12 limb
  joints (MediaPipe's world landmarks and vivid's camera-frame joints, each Procrustes-aligned to
  the truth) and 2D PCK@0.1 of the joints' box, for both.

    .venv/bin/python benchmarks/pose3d_real.py [--model pose3d-default] [--sections real,presence,hog,smooth,peer]

Writes ``benchmarks/results/pose3d_real.md`` + ``.json`` (keeping the keys of sections not run
this time from the previous ``.json`` of the same model, with their measurement date) and copies
the headline keys into ``benchmarks/results/pose3d.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
# The full-frame rows run `vivid pose --detect` (detector + pose), as the method is meant to run;
# `--no-detect` on this script measures the whole-frame fallback instead.
DETECT = ["--detect"]
RESULTS = REPO / "benchmarks" / "results"

from vivid.pose3d.bones import JOINT_INDEX  # noqa: E402

# COCO-17 limb joints (indices 5..16) and the same joints in vivid's H36M-17 order.
COCO_LIMBS = list(range(5, 17))
H36M_FOR_COCO = [JOINT_INDEX[n] for n in ("l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist",
                                          "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle")]  # fmt: skip


def shared() -> Path:
    from vivid.synth.mocap_library import shared_data_dir

    path = shared_data_dir()
    if path is None:
        raise SystemExit("the shared data folder (../shared/data or $VIVID_SHARED_DATA) is missing; this benchmark needs it")
    return path


def run_pose(inp: Path, model: str, out: Path, *extra: str) -> dict:
    cmd = [sys.executable, "-m", "vivid.cli", "pose", str(inp), "-o", str(out), "--model", model, "-q", "--overwrite", *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"vivid pose failed on {inp}: {done.stderr.strip()[-300:]}")
    return json.loads(out.read_text())


def pose_images(paths: list[Path], model: str) -> list[list[dict]]:
    """``vivid pose`` over images of one size (one run on a folder of links); people per image, in order."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "frames"
        folder.mkdir()
        for i, p in enumerate(paths):
            (folder / f"{i:05d}{p.suffix.lower()}").symlink_to(p.resolve())
        report = run_pose(folder, model, Path(tmp) / "p.json", *DETECT)
    frames = report["frames"]
    if len(frames) != len(paths):
        raise SystemExit(f"vivid pose gave {len(frames)} frames for {len(paths)} images")
    return [f["people"] for f in frames]


def limbs_2d(person: dict) -> np.ndarray:
    return np.asarray(person["joints2d"], dtype=np.float64)[H36M_FOR_COCO]


def pck(pred: np.ndarray, ref: np.ndarray, valid: np.ndarray, size: float, alpha: float) -> tuple[int, int]:
    d = np.linalg.norm(pred - ref, axis=-1)
    return int(((d < alpha * size) & valid).sum()), int(valid.sum())


def box_iou(a, b) -> float:
    from vivid.people.boxes import iou_matrix

    return float(iou_matrix(np.asarray([a], np.float64), np.asarray([b], np.float64))[0, 0])


def section_real(model: str, data: Path) -> dict:
    from vivid.core.fileio import read_image
    from vivid.people.boxes import holds_points
    from vivid.pose3d.apply import PoseEstimator

    labels = json.loads((data / "pose2d_real" / "keypoints.json").read_text())["frames"]
    est = PoseEstimator(model)
    totals = {k: [0, 0] for k in ("full01", "full02", "box01", "box02")}
    recall = 0
    found = {}
    for video in sorted({r["video"] for r in labels}):
        recs = [r for r in labels if r["video"] == video]
        for r, people in zip(recs, pose_images([data / "pose2d_real" / r["file"] for r in recs], model)):
            found[r["file"]] = people
    for rec in labels:
        path = data / "pose2d_real" / rec["file"]
        kp = np.asarray(rec["keypoints"], dtype=np.float64)
        ref, valid = kp[COCO_LIMBS, :2], kp[COCO_LIMBS, 2] > 0
        x0, y0, x1, y1 = rec["box"]
        size = max(x1 - x0, y1 - y0)
        people = found[rec["file"]]
        boxes = [p["box"] for p in people]
        visible = kp[kp[:, 2] > 0, :2]
        held = [b for b in boxes if holds_points(b, visible) and (b[2] - b[0]) * (b[3] - b[1]) <= 3 * (x1 - x0) * (y1 - y0)]
        recall += bool(held)
        if people:
            best = max(people, key=lambda p: box_iou(p["box"], rec["box"]))
            for key, alpha in (("full01", 0.1), ("full02", 0.2)):
                hit, n = pck(limbs_2d(best), ref, valid, size, alpha)
                totals[key][0] += hit
                totals[key][1] += n
        else:
            totals["full01"][1] += int(valid.sum())
            totals["full02"][1] += int(valid.sum())
        pad = 0.2 * size / 2
        image = read_image(path)
        pred = est.predict_box(image, (x0 - pad, y0 - pad, x1 + pad, y1 + pad))
        for key, alpha in (("box01", 0.1), ("box02", 0.2)):
            hit, n = pck(np.asarray(pred.joints2d, dtype=np.float64)[H36M_FOR_COCO], ref, valid, size, alpha)
            totals[key][0] += hit
            totals[key][1] += n
    out = {f"real_pck{k[-2:]}_{k[:-2]}": round(h / max(n, 1), 4) for k, (h, n) in totals.items()}
    out["detector_recall"] = round(recall / len(labels), 4)
    out["real_frames"] = len(labels)
    return out


def section_presence(model: str, data: Path) -> dict:
    labels = json.loads((data / "people_presence" / "labels.json").read_text())
    fp = hits = 0
    for rec, people in zip(labels, pose_images([data / "people_presence" / r["file"] for r in labels], model)):
        if rec["persons"] == 0:
            fp += bool(people)
        else:
            hits += bool(people)
    empty = sum(r["persons"] == 0 for r in labels)
    return {
        "empty_frame_false_positives": fp, "empty_frames": empty,
        "presence_recall": round(hits / (len(labels) - empty), 4), "person_frames": len(labels) - empty,
    }  # fmt: skip


def section_hog(model: str, data: Path) -> dict:
    """The real and presence measures with OpenCV's HOG people detector as the person detector."""
    from vivid.core.fileio import read_image
    from vivid.people.boxes import holds_points
    from vivid.people.detector import hog_detector
    from vivid.pose3d.apply import PoseEstimator
    from vivid.pose3d.people import detect

    try:
        hog = hog_detector()
    except Exception as err:  # OpenCV missing or without HOGDescriptor: the row says why
        return {"hog_unavailable": str(err)}
    est = PoseEstimator(model)

    def people(image):
        pairs = [(pb, est.predict_box(image, pb.box, pb.score)) for pb in detect(hog, image)]
        return [(pb, pred) for pb, pred in pairs if est.is_person(pred)], pairs

    labels = json.loads((data / "pose2d_real" / "keypoints.json").read_text())["frames"]
    totals = {"full01": [0, 0], "full02": [0, 0]}
    recall = 0
    for rec in labels:
        image = read_image(data / "pose2d_real" / rec["file"])
        kp = np.asarray(rec["keypoints"], dtype=np.float64)
        ref, valid = kp[COCO_LIMBS, :2], kp[COCO_LIMBS, 2] > 0
        x0, y0, x1, y1 = rec["box"]
        size = max(x1 - x0, y1 - y0)
        kept, raw = people(image)
        visible = kp[kp[:, 2] > 0, :2]
        recall += any(holds_points(pb.box, visible) and box_area_xyxy(pb.box) <= 3 * (x1 - x0) * (y1 - y0) for pb, _ in raw)
        for key, alpha in (("full01", 0.1), ("full02", 0.2)):
            if kept:
                best = max(kept, key=lambda pair: box_iou(pair[0].box, rec["box"]))[1]
                hit, n = pck(np.asarray(best.joints2d, dtype=np.float64)[H36M_FOR_COCO], ref, valid, size, alpha)
            else:
                hit, n = 0, int(valid.sum())
            totals[key][0] += hit
            totals[key][1] += n
    plabels = json.loads((data / "people_presence" / "labels.json").read_text())
    fp = hits = 0
    for rec in plabels:
        kept, _ = people(read_image(data / "people_presence" / rec["file"]))
        if rec["persons"] == 0:
            fp += bool(kept)
        else:
            hits += bool(kept)
    empty = sum(r["persons"] == 0 for r in plabels)
    return {"hog_real_pck01_full": round(totals["full01"][0] / max(totals["full01"][1], 1), 4),
            "hog_real_pck02_full": round(totals["full02"][0] / max(totals["full02"][1], 1), 4),
            "hog_detector_recall": round(recall / len(labels), 4), "hog_empty_frame_false_positives": fp,
            "hog_presence_recall": round(hits / (len(plabels) - empty), 4)}  # fmt: skip


def box_area_xyxy(box) -> float:
    x0, y0, x1, y1 = box
    return max(0.0, x1 - x0) * max(0.0, y1 - y0)


def accel(x: np.ndarray) -> float:
    """Mean |x[t+1] - 2 x[t] + x[t-1]| over frames and joints; x (T, J, D)."""
    a = x[2:] - 2 * x[1:-1] + x[:-2]
    return float(np.linalg.norm(a, axis=-1).mean())


def section_smooth(model: str, data: Path) -> dict:
    from benchmarks.mediapipe_peer import run_mediapipe
    from vivid.core.video import iter_frames
    from vivid.core.fileio import write_image

    clip = data / "interp" / "sam2_videos" / "05_default_juggle.mp4"
    with tempfile.TemporaryDirectory() as tmp:
        report = run_pose(clip, model, Path(tmp) / "p.json", *DETECT)
        frames = report["frames"]
        keep = [i for i, f in enumerate(frames) if f["people"]]
        j3 = np.array([np.asarray(frames[i]["people"][0]["joints3d"]) for i in keep]) * 1000
        j3 = j3[:, H36M_FOR_COCO] - j3[:, [JOINT_INDEX["pelvis"]]]
        j2 = np.array([limbs_2d(frames[i]["people"][0]) for i in keep])
        files = []
        for f in iter_frames(clip):
            p = Path(tmp) / f"{f.index:05d}.png"
            write_image(p, f.image)
            files.append(p)
        mp = run_mediapipe(files, video_mode=True)
    mp_ok = [m for m in mp if m["found"] and m["world"] is not None]
    w = np.array([np.asarray(m["world"])[COCO_LIMBS] for m in mp_ok]) * 1000
    w = w - w[:, 6:8].mean(1, keepdims=True)  # hip-centred, like pelvis-relative
    k = np.array([np.asarray(m["keypoints"])[COCO_LIMBS, :2] for m in mp_ok])
    return {
        "juggle_frames": len(frames), "vivid_frames_with_person": len(keep), "mediapipe_frames_with_person": len(mp_ok),
        "accel3d_vivid": round(accel(j3), 2), "accel2d_vivid": round(accel(j2), 2),
        "accel3d_mediapipe": round(accel(w), 2), "accel2d_mediapipe": round(accel(k), 2),
    }  # fmt: skip


def procrustes_error(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean joint error (same units) after the best similarity transform of ``pred`` onto ``gt``."""
    import torch

    from vivid.core import metrics

    return float(metrics.pa_mpjpe(torch.from_numpy(pred[None]), torch.from_numpy(gt[None])))


def section_peer(model: str, n: int = 60) -> dict:
    from benchmarks.mediapipe_peer import run_mediapipe
    from vivid.core.fileio import write_image
    from vivid.pose3d.apply import PoseEstimator
    from vivid.pose3d.data import synth_scene_config
    from vivid.synth.assets import realistic_config, resolve_render_assets
    from vivid.synth.mocap_library import resolve_mocap
    from vivid.synth.scenes import BodyScenes

    cfg = realistic_config(synth_scene_config("test", 256, resolve_mocap("auto")), resolve_render_assets("auto", "test"))
    gen = BodyScenes(cfg)
    est = PoseEstimator(model)
    rows = {"vivid": {"pa": [], "pck": [0, 0]}, "mediapipe": {"pa": [], "pck": [0, 0], "missed": 0}}
    with tempfile.TemporaryDirectory() as tmp:
        samples, files = [], []
        for i in range(n):
            s = gen.generate(10_000 + i)
            samples.append(s)
            files.append(Path(tmp) / f"{i:04d}.png")
            write_image(files[-1], s.image)
        mp = run_mediapipe(files, video_mode=False)
    for s, m in zip(samples, mp):
        gt3 = np.asarray(s.joints3d, dtype=np.float64)[H36M_FOR_COCO] * 1000
        gt2 = np.asarray(s.joints2d, dtype=np.float64)[H36M_FOR_COCO]
        size = float(np.ptp(gt2, axis=0).max())
        valid = np.ones(len(gt2), bool)
        est.focal = float(s.K[0, 0])
        pred = est.predict(s.image)
        rows["vivid"]["pa"].append(procrustes_error(np.asarray(pred.joints3d, dtype=np.float64)[H36M_FOR_COCO] * 1000, gt3))
        h, c = pck(np.asarray(pred.joints2d, dtype=np.float64)[H36M_FOR_COCO], gt2, valid, size, 0.1)
        rows["vivid"]["pck"][0] += h
        rows["vivid"]["pck"][1] += c
        if not m["found"] or m["world"] is None:
            rows["mediapipe"]["missed"] += 1
            rows["mediapipe"]["pck"][1] += len(gt2)
            continue
        rows["mediapipe"]["pa"].append(procrustes_error(np.asarray(m["world"])[COCO_LIMBS] * 1000, gt3))
        h, c = pck(np.asarray(m["keypoints"])[COCO_LIMBS, :2], gt2, valid, size, 0.1)
        rows["mediapipe"]["pck"][0] += h
        rows["mediapipe"]["pck"][1] += c
    return {
        "peer_images": n,
        "pa_mpjpe_limbs_vivid": round(float(np.mean(rows["vivid"]["pa"])), 1),
        "pck01_synth_vivid": round(rows["vivid"]["pck"][0] / rows["vivid"]["pck"][1], 4),
        "pa_mpjpe_limbs_mediapipe": round(float(np.mean(rows["mediapipe"]["pa"])), 1) if rows["mediapipe"]["pa"] else None,
        "pck01_synth_mediapipe": round(rows["mediapipe"]["pck"][0] / rows["mediapipe"]["pck"][1], 4),
        "mediapipe_missed": rows["mediapipe"]["missed"],
    }


def markdown(res: dict) -> str:
    r = res
    lines = [f"# 3D pose on real footage (model `{r['model']}`, measured {r['measured']})", ""]
    if "real_pck01_full" in r:
        lines += [
            f"Real frames ({r['real_frames']}, ../shared/data/pose2d_real; 12 limb joints; reference: checked MediaPipe heavy):",
            "",
            "| input | PCK@0.1 | PCK@0.2 |",
            "|---|---|---|",
            f"| full frame ({'detector + pose, `vivid pose --detect`' if r.get('detector') else 'whole-frame crop, `vivid pose`'}) | {r['real_pck01_full']} | {r['real_pck02_full']} |",
            f"| given box (reference box + 20 %) | {r['real_pck01_box']} | {r['real_pck02_box']} |",
            "",
            f"Detector recall (box holds >= 90 % of the visible keypoints, area <= 3x theirs): {r['detector_recall']}.",
            "",
        ]
    if "presence_recall" in r:
        lines += [
            f"People presence (../shared/data/people_presence): a person reported on {r['empty_frame_false_positives']} of "
            f"{r['empty_frames']} empty frames; recall {r['presence_recall']} on the {r['person_frames']} frames with a person.",
            "",
        ]
    if "hog_detector_recall" in r or "hog_unavailable" in r:
        lines += ["Person detector, vivid's against OpenCV's HOG people detector (the same pose model on each box; "
                  "PCK from the full frame; presence on ../shared/data/people_presence):", "",
                  "| detector | PCK@0.1 | PCK@0.2 | detector recall | empty frames with a person | presence recall |",
                  "|---|---|---|---|---|---|"]
        if "real_pck01_full" in r and "presence_recall" in r and r.get("detector"):
            lines.append(f"| {r['detector']} | {r['real_pck01_full']} | {r['real_pck02_full']} | {r['detector_recall']} | "
                         f"{r['empty_frame_false_positives']} of {r['empty_frames']} | {r['presence_recall']} |")
        if "hog_unavailable" in r:
            lines.append(f"| OpenCV HOG | not measured: {r['hog_unavailable']} | | | | |")
        else:
            lines.append(f"| OpenCV HOG | {r['hog_real_pck01_full']} | {r['hog_real_pck02_full']} | {r['hog_detector_recall']} | "
                         f"{r['hog_empty_frame_false_positives']} of {r.get('empty_frames', 16)} | {r['hog_presence_recall']} |")
        lines.append("")
    if "accel3d_vivid" in r:
        lines += [
            f"Smoothness on the juggle clip ({r['juggle_frames']} frames; vivid found the person in {r['vivid_frames_with_person']}, "
            f"MediaPipe in {r['mediapipe_frames_with_person']}):",
            "",
            "| method | 3D accel (mm/frame^2, pelvis-relative limbs) | 2D accel (px/frame^2) |",
            "|---|---|---|",
            f"| vivid pose (tracking + 1-euro filter) | {r['accel3d_vivid']} | {r['accel2d_vivid']} |",
            f"| MediaPipe Pose, video mode (full model) | {r['accel3d_mediapipe']} | {r['accel2d_mediapipe']} |",
            "",
        ]
    if "pa_mpjpe_limbs_vivid" in r:
        lines += [
            f"Peer on {r['peer_images']} held-out realistic synthetic renders (test split), 12 limb joints:",
            "",
            "| method | PA-MPJPE (mm) | 2D PCK@0.1 | missed |",
            "|---|---|---|---|",
            f"| vivid {r['model']} | {r['pa_mpjpe_limbs_vivid']} | {r['pck01_synth_vivid']} | 0 |",
            f"| MediaPipe Pose (full model, image mode) | {r['pa_mpjpe_limbs_mediapipe']} | {r['pck01_synth_mediapipe']} | {r['mediapipe_missed']} |",
            "",
        ]
    if r.get("section_measured"):
        lines.append("Sections measured: " + "; ".join(f"{k} {v}" for k, v in r["section_measured"].items()) + ".")
        lines.append("")
    lines.append(f"Command: `.venv/bin/python benchmarks/pose3d_real.py --model {r['model']} --sections {r['sections']}`")
    return "\n".join(lines)


HEADLINE = ("real_pck01_full", "real_pck02_full", "real_pck01_box", "real_pck02_box", "detector_recall",
            "empty_frame_false_positives", "presence_recall", "accel3d_vivid", "accel2d_vivid")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="pose3d-default")
    ap.add_argument("--sections", default="real,presence,hog,smooth,peer")
    ap.add_argument("--no-detect", action="store_true", help="full-frame rows without the person detector")
    args = ap.parse_args()
    if args.no_detect:
        DETECT.clear()
    data = shared()
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    res = {"model": args.model, "detector": "people-default" if DETECT else None, "sections": args.sections, "measured": stamp}
    previous = RESULTS / "pose3d_real.json"
    if previous.exists():  # sections not run now keep their last measurement of this model
        old = json.loads(previous.read_text())
        if old.get("model") == args.model and old.get("detector") == res["detector"]:
            kept = {k: v for k, v in old.items() if k not in res and k != "section_measured"}
            dates = old.get("section_measured") or {sec: old.get("measured") for sec in old.get("sections", "").split(",") if sec}
            res = {**kept, **res, "section_measured": dates}
    res.setdefault("section_measured", {})
    for name in args.sections.split(","):
        fn = {"real": section_real, "presence": section_presence, "hog": section_hog, "smooth": section_smooth}.get(name)
        res.update(section_peer(args.model) if name == "peer" else fn(args.model, data))
        res["section_measured"][name] = stamp
        print(f"{name}: done", file=sys.stderr, flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pose3d_real.json").write_text(json.dumps(res, indent=2) + "\n")
    (RESULTS / "pose3d_real.md").write_text(markdown(res) + "\n")
    main_json = RESULTS / "pose3d.json"
    if main_json.exists():
        merged = json.loads(main_json.read_text())
        merged.update({k: res[k] for k in HEADLINE if k in res})
        merged["real_model"] = args.model
        main_json.write_text(json.dumps(merged, indent=2) + "\n")
    print(markdown(res))


if __name__ == "__main__":
    main()
