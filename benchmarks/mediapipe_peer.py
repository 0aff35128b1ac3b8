"""MediaPipe Pose as a peer row in vivid's benchmarks, run from its own virtual environment.

MediaPipe (``mediapipe==0.10.21``) needs numpy < 2, so it is never a vivid dependency: this module
makes ``.cache/mediapipe-venv`` on first use (pip, from the package registry) and runs MediaPipe
there in a child process that reads image files and writes JSON. The wheel bundles BlazePose's
"full" landmark model only (``model_complexity=1``), which is what runs here.

    from benchmarks.mediapipe_peer import run_mediapipe
    results = run_mediapipe(["a.jpg", "b.jpg"], video_mode=False)
    # one dict per image: {"found": bool, "keypoints": [[x, y, visibility] x 17] (COCO-17, pixels),
    #                      "world": [[x, y, z] x 17] (metres, hip-centred) or None}

``python benchmarks/mediapipe_peer.py --setup`` only makes the environment.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".cache" / "mediapipe-venv"
REQUIREMENTS = ["mediapipe==0.10.21", "numpy<2"]
# BlazePose's 33 landmarks -> COCO-17 order (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles).
BLAZEPOSE_TO_COCO = [0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]

CHILD = r'''
import json, sys
import cv2
import mediapipe as mp

COCO = %(coco)s
args = json.loads(sys.stdin.read())
pose = mp.solutions.pose.Pose(static_image_mode=not args["video_mode"], model_complexity=1,
                              enable_segmentation=False, min_detection_confidence=0.5, smooth_landmarks=True)
out = []
for path in args["images"]:
    bgr = cv2.imread(path)
    h, w = bgr.shape[:2]
    res = pose.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    if res.pose_landmarks is None:
        out.append({"found": False, "keypoints": None, "world": None})
        continue
    lm = res.pose_landmarks.landmark
    kp = [[lm[i].x * w, lm[i].y * h, lm[i].visibility] for i in COCO]
    world = None
    if res.pose_world_landmarks is not None:
        wl = res.pose_world_landmarks.landmark
        world = [[wl[i].x, wl[i].y, wl[i].z] for i in COCO]
    out.append({"found": True, "keypoints": kp, "world": world})
json.dump(out, sys.stdout)
'''


def venv_python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv() -> Path:
    """Make the MediaPipe environment once (a few minutes: downloads ~100 MB); return its python."""
    py = venv_python()
    stamp = VENV / ".installed"
    if stamp.exists():
        return py
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", *REQUIREMENTS], check=True)
    stamp.write_text(" ".join(REQUIREMENTS) + "\n")
    return py


def run_mediapipe(images: list[str | os.PathLike], *, video_mode: bool = False) -> list[dict]:
    """MediaPipe Pose on image files, in order (``video_mode``: its tracking and smoothing across them)."""
    py = ensure_venv()
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(CHILD % {"coco": BLAZEPOSE_TO_COCO})
        child = f.name
    try:
        payload = json.dumps({"images": [str(p) for p in images], "video_mode": video_mode})
        done = subprocess.run(
            [str(py), child], input=payload, capture_output=True, text=True, check=False,
            env={**os.environ, "GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "2"},
        )  # fmt: skip
    finally:
        os.unlink(child)
    if done.returncode != 0:
        raise RuntimeError(f"MediaPipe failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--setup", action="store_true", help="only make the environment")
    ap.add_argument("images", nargs="*")
    a = ap.parse_args()
    ensure_venv()
    if a.images:
        print(json.dumps(run_mediapipe(a.images), indent=1))
