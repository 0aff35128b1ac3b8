"""Fixtures shared by the whole test suite (among them a rendered clip of two people crossing)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

# Tests use small tensors, for which extra threads cost more than they save (far more on a
# busy machine); one thread per test process.
torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("ANNY_CACHE_DIR", str(REPO / ".cache" / "anny"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real sample data kept beside the repository (``../shared/data``); skips when absent."""
    candidates = [Path(os.environ["VIVID_SHARED_DATA"])] if "VIVID_SHARED_DATA" in os.environ else []
    candidates.append(REPO.parent / "shared" / "data")
    for path in candidates:
        if path.is_dir():
            return path
    pytest.skip("shared sample data (../shared/data) is not available")


@pytest.fixture(scope="session")
def cutouts(tmp_path_factory):
    """Two small rendered people (vivid.people's cut-outs), made once per session."""
    from vivid.people.data import load_cutouts

    return load_cutouts(tmp_path_factory.mktemp("people_cache"), "val", 2, 96, mocap="procedural")


CLIP_T, CLIP_H, CLIP_W = 24, 128, 192


def render_crossing_clip(cutouts) -> tuple[np.ndarray, np.ndarray]:
    """Two rendered people walking past each other: A left to right behind, B right to left in front.

    Returns frames (T, H, W, 3) uint8 and each person's box (x0, y0, x1, y1) per frame (T, 2, 4).
    """
    from vivid.people.data import Backgrounds, _paste, mask_box, scaled_person

    rng = np.random.default_rng(0)
    bg = Backgrounds("procedural", "val").draw(rng, CLIP_W)[:, :CLIP_H]
    people = [scaled_person(*cutouts.person(i), 90, np.random.default_rng(i)) for i in range(2)]
    frames, boxes = [], np.zeros((CLIP_T, 2, 4))
    for t in range(CLIP_T):
        canvas = bg.clone()
        for k, (rgb, alpha) in enumerate(people):
            x = 10 + 6 * t if k == 0 else CLIP_W - 50 - 6 * t
            mask = _paste(canvas, rgb, alpha, int(x), 20 + 8 * k)
            boxes[t, k] = mask_box(mask.numpy())
        frames.append((canvas.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy())
    return np.stack(frames), boxes


@pytest.fixture(scope="session")
def crossing_clip(cutouts):
    """:func:`render_crossing_clip`: frames (T, H, W, 3) uint8 and true boxes (T, 2, 4)."""
    return render_crossing_clip(cutouts)


def truth_detector(truth: np.ndarray, *, missing: dict[int, range] | None = None):
    """A detector ``image -> list[Detection]`` giving the renders' true boxes (T, P, 4), one call per
    frame in order; person k is not found on the frames of ``missing[k]`` (hidden as they cross)."""
    from vivid.people.detector import Detection

    missing = missing or {}
    calls = []

    def detector(image):
        t = len(calls)
        calls.append(t)
        return [Detection(tuple(float(v) for v in truth[t, k]), 0.9) for k in range(truth.shape[1]) if t not in missing.get(k, ())]

    return detector


@pytest.fixture
def make_truth_detector():
    """:func:`truth_detector` (fixtures hand it to tests in any folder)."""
    return truth_detector
