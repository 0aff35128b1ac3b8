"""Benchmark of the person detector on real frames (test only; nothing here is tuned on them).

- ``../shared/data/people_presence``: 70 real frames of one fixed camera, 16 of them empty, one
  person in each of the others, labelled by eye with a box per person. Reported: recall of the
  people (a detection with IoU >= 0.5 to the reference box; and the looser rule "a detected box
  holds the person": it covers at least 90 % of the reference box and is at most 3 times its
  area), the share of person frames where anybody is reported, and the empty frames where a
  person is reported (with the number of boxes on them).
- ``../shared/data/pose2d_real``: 68 frames of two real videos with one reference person each
  (keypoints, not boxes). Detector recall: a frame counts when a detected box holds at least 90 %
  of the person's visible keypoints (v > 0) and is at most 3 times the area of their keypoint box.
- Speed: images per second on one CPU thread over the presence frames (decoding excluded).

Rows: vivid's detector (the bundled ``people-default``, at the score threshold it was exported
with, chosen on synthetic validation composites) and OpenCV's HOG people detector, when the
installed OpenCV has it (OpenCV 5 moved ``HOGDescriptor`` out of the main package).

    OMP_NUM_THREADS=1 nice .venv/bin/python benchmarks/people.py

Writes ``benchmarks/results/people.md`` and ``people.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks.common import RESULTS, file_sha256, log, markdown_table, now  # noqa: E402
from vivid.core.errors import VividError  # noqa: E402
from vivid.core.fileio import read_image  # noqa: E402
from vivid.people.boxes import box_area, holds_box, holds_points, iou_matrix  # noqa: E402

AREA_LIMIT = 3.0


def shared_dir(arg: str | None) -> Path:
    for p in [arg, os.environ.get("VIVID_SHARED_DATA"), REPO.parent / "shared" / "data"]:
        if p and Path(p).is_dir():
            return Path(p)
    raise SystemExit("shared data (../shared/data) not found; give --shared")


def holds_person(box, ref) -> bool:
    return holds_box(box, ref, 0.9) and box_area(np.asarray(box))[0] <= AREA_LIMIT * box_area(np.asarray(ref))[0]


def presence(detector, folder: Path) -> dict:
    labels = json.loads((folder / "labels.json").read_text())
    people = hits_iou = hits_hold = frames_with = found_frames = 0
    empty = empty_fp = empty_boxes = 0
    seconds, per_frame = 0.0, []
    for entry in labels:
        image = read_image(folder / entry["file"])
        start = time.perf_counter()
        dets = detector(image)
        seconds += time.perf_counter() - start
        boxes = np.array([d.box for d in dets]).reshape(-1, 4)
        refs = np.asarray(entry.get("boxes", []), np.float64).reshape(-1, 4)
        if entry["persons"] == 0:
            empty += 1
            empty_fp += int(len(boxes) > 0)
            empty_boxes += len(boxes)
        else:
            frames_with += 1
            found_frames += int(len(boxes) > 0)
            for ref in refs:
                people += 1
                hits_iou += int(len(boxes) > 0 and iou_matrix(boxes, ref[None]).max() >= 0.5)
                hits_hold += int(any(holds_person(b, ref) for b in boxes))
        per_frame.append({"file": entry["file"], "persons": entry["persons"], "boxes": [[round(float(v), 1) for v in b] for b in boxes],
                          "scores": [round(d.score, 3) for d in dets]})  # fmt: skip
    return {
        "presence_recall_iou50": hits_iou / people, "presence_recall_holds": hits_hold / people,
        "presence_recall": found_frames / frames_with, "person_frames": frames_with, "people": people,
        "empty_frames": empty, "empty_frame_false_positives": empty_fp, "boxes_on_empty_frames": empty_boxes,
        "images_per_s": len(labels) / seconds, "frames": per_frame,
    }  # fmt: skip


def pose2d_recall(detector, folder: Path) -> dict:
    data = json.loads((folder / "keypoints.json").read_text())
    hits, by_video = 0, {}
    for entry in data["frames"]:
        image = read_image(folder / entry["file"])  # "file" holds the frames/ folder
        kps = np.asarray(entry["keypoints"], np.float64)
        pts = kps[kps[:, 2] > 0, :2]
        kbox = np.asarray(entry["box"], np.float64)
        ok = any(holds_points(d.box, pts, 0.9) and d.area <= AREA_LIMIT * box_area(kbox)[0] for d in detector(image))
        hits += int(ok)
        v = by_video.setdefault(entry["video"], [0, 0])
        v[0], v[1] = v[0] + int(ok), v[1] + 1
    return {"detector_recall": hits / len(data["frames"]), "frames": len(data["frames"]),
            "by_video": {k: v[0] / v[1] for k, v in by_video.items()}}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="people-default")
    ap.add_argument("--shared", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = shared_dir(args.shared)
    from vivid.core.checkpoints import _resolve, read_meta
    from vivid.people.detector import PersonDetector, hog_detector

    weights = _resolve(args.model)
    meta = read_meta(weights)
    rows = {}
    detectors = {"vivid people-default": lambda: PersonDetector(args.model), "OpenCV HOG": hog_detector}
    for name, make in detectors.items():
        try:
            det = make()
        except VividError as err:
            rows[name] = {"unavailable": str(err)}
            log(f"{name}: {err}")
            continue
        log(f"{name}: people_presence")
        row = presence(det, data / "people_presence")
        log(f"{name}: pose2d_real")
        row.update(pose2d_recall(det, data / "pose2d_real"))
        rows[name] = row
    vivid_row = rows["vivid people-default"]
    result = {
        "measured": now(), "model": args.model, "model_sha256": file_sha256(weights),
        "score_threshold": meta["model_config"]["score_threshold"], "training": meta.get("command"),
        "training_data": meta.get("data"), "training_metrics": meta.get("metrics"),
        **{k: vivid_row[k] for k in ("presence_recall", "presence_recall_iou50", "presence_recall_holds", "empty_frame_false_positives",
                                     "detector_recall", "images_per_s")},
        "rows": rows, "load_average": round(os.getloadavg()[0], 1),
    }  # fmt: skip
    header = ["detector", "people recall IoU>=0.5", "people recall (box holds person)", "person frames with a detection",
              "empty frames with a detection (of 16)", "boxes on empty frames", "pose2d_real detector recall", "images/s (1 thread)"]  # fmt: skip
    table = []
    for name, r in rows.items():
        if "unavailable" in r:
            table.append([name, *["n/a"] * 7])
            continue
        table.append([name, f"{r['presence_recall_iou50']:.3f}", f"{r['presence_recall_holds']:.3f}", f"{r['presence_recall']:.3f}",
                      f"{r['empty_frame_false_positives']} / {r['empty_frames']}", str(r["boxes_on_empty_frames"]),
                      f"{r['detector_recall']:.3f} ({', '.join(f'{k} {v:.2f}' for k, v in r['by_video'].items())})", f"{r['images_per_s']:.1f}"])  # fmt: skip
    lines = [
        "# People detection on real frames", "",
        f"Measured {result['measured']} with `{args.model}` (sha256 {result['model_sha256'][:12]}), score threshold "
        f"{result['score_threshold']} (chosen on synthetic validation composites; nothing is tuned on these frames).", "",
        *markdown_table(header, table), "",
        "people_presence: 70 real frames (16 empty, 54 with one person), boxes labelled by eye. pose2d_real: 68 frames of two "
        "real videos; a frame counts when a detected box holds >= 90 % of the reference person's visible keypoints and is at "
        "most 3x the area of their keypoint box. Both are test-only sets.", "",
        f"Speed: one thread on a shared 2-core machine (load average {result['load_average']} when the run ended).", "",
        f"Training: `{result['training']}`", "", f"Training data: {result['training_data']}", "",
    ]  # fmt: skip
    for name, r in rows.items():
        if "unavailable" in r:
            lines.append(f"{name}: not measured: {r['unavailable']}.")
    lines.append("")
    lines.append("Command: `OMP_NUM_THREADS=1 nice .venv/bin/python benchmarks/people.py`")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "people.json").write_text(json.dumps(result, indent=1) + "\n")
    (RESULTS / "people.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
