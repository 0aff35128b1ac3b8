"""Is there a person? A person confidence from the pose network itself, and its threshold.

Without a person detector, :class:`vivid.pose3d.apply.PoseEstimator` looks at a crop twice: a
first pass on the whole frame (or the previous frame's box), a second on a crop around the first
pass's joints. On a person both passes find the same joints with peaked heatmaps; on an image
without one the heatmaps are flat and the second pass's joints wander away from the first's. The
person confidence combines the two (:func:`person_score`)::

    score = mean_j c_j * exp(-d / D),   d = mean_j |u_j(first) - u_j(second)| / side

with ``c_j`` the second pass's peak confidences (heatmap mass near each peak), ``side`` the
second crop's side and ``D`` = :data:`AGREEMENT_SCALE`. With a detector, its score is the person
confidence instead.

The threshold is set on synthetic validation data only (:func:`calibrate_person_threshold`):
renders of the validation split (a person in every image) against images without a person
(:mod:`vivid.synth` backgrounds of each kind, flat colours, gradients with a bright square). It
maximises recall on the renders plus rejection of the empty images.
:data:`DEFAULT_PERSON_THRESHOLD` is that value for the bundled ``pose3d-default``; a checkpoint
may carry its own as ``extra.person_threshold`` in its sidecar.
"""

from __future__ import annotations

import math

import numpy as np

# D of the score: a mean disagreement of 5 % of the crop side between the passes costs a factor e.
AGREEMENT_SCALE = 0.05
# Calibrated for the bundled pose3d-default (96 px) with calibrate_person_threshold(n=60): 0.0524,
# with every one of the 60 validation renders above it (scores 0.053 to 0.39, median 0.17) and 2
# of the 60 empty images (a bokeh background at 0.076, a gradient with a square at 0.086); the
# other empty images score 0.050 at most.
DEFAULT_PERSON_THRESHOLD = 0.052


def person_score(confidence: np.ndarray, first_joints2d: np.ndarray, second_joints2d: np.ndarray, side: float) -> float:
    """The person confidence of a two-pass prediction (module docstring).

    Args:
        confidence: (17,) second-pass peak confidences in [0, 1].
        first_joints2d, second_joints2d: (17, 2) the two passes' joints, image pixels.
        side: the second crop's side, pixels.
    Returns:
        a score in [0, 1].
    """
    d = float(np.linalg.norm(np.asarray(first_joints2d) - np.asarray(second_joints2d), axis=-1).mean()) / max(float(side), 1e-6)
    return float(np.mean(confidence)) * math.exp(-d / AGREEMENT_SCALE)


def pick_threshold(person: np.ndarray, empty: np.ndarray) -> dict:
    """The threshold that maximises recall on ``person`` scores plus rejection of ``empty`` ones
    (midway between neighbouring scores; the lowest such value on ties).

    Returns:
        {"threshold", "recall", "false_positive_rate"}.
    """
    person, empty = np.asarray(person, dtype=float), np.asarray(empty, dtype=float)
    if person.size == 0 or empty.size == 0:
        raise ValueError("need scores of images with and without a person")
    values = np.unique(np.concatenate([person, empty]))
    candidates = np.concatenate([[values[0] - 1e-6], (values[1:] + values[:-1]) / 2, [values[-1] + 1e-6]])
    gain = [(person >= t).mean() + (empty < t).mean() for t in candidates]
    t = float(candidates[int(np.argmax(gain))])
    return {"threshold": t, "recall": float((person >= t).mean()), "false_positive_rate": float((empty >= t).mean())}


def empty_images(n: int, size: int = 160, seed: int = 0) -> list[np.ndarray]:
    """``n`` uint8 (size, size, 3) images without a person: vivid.synth background kinds, flat
    colours, and horizontal gradients with a bright square, in turn."""
    from vivid.synth import appearance

    rng = np.random.default_rng(seed)
    kinds = tuple(appearance.BACKGROUND_KINDS)
    out = []
    for i in range(n):
        k = i % (len(kinds) + 2)
        if k < len(kinds):
            img = appearance.background(rng, size, size, kind=kinds[k])[0]
            out.append((img.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
        elif k == len(kinds):
            out.append(np.full((size, size, 3), rng.integers(20, 236, 3), dtype=np.uint8))
        else:
            img = np.repeat(np.linspace(0, 255, size)[None, :, None], size, 0).repeat(3, 2)
            s = int(rng.integers(size // 8, size // 3))
            y0, x0 = rng.integers(0, size - s, 2)
            img[y0 : y0 + s, x0 : x0 + s] = 255
            out.append(img.astype(np.uint8))
    return out


def calibrate_person_threshold(estimator, n: int = 60, size: int = 160) -> dict:
    """Person-confidence threshold for ``estimator`` (a :class:`PoseEstimator`) from ``n`` renders
    of the synthetic validation split and ``n`` empty images (:func:`empty_images`).

    Returns:
        :func:`pick_threshold`'s dict plus the score lists ("person_scores", "empty_scores").
    """
    from vivid.pose3d.data import synth_scene_config
    from vivid.synth.scenes import BodyScenes

    scenes = BodyScenes(synth_scene_config("val", size))
    person = [estimator.predict(scenes.generate(i).image).person_confidence for i in range(n)]
    empty = [estimator.predict(img).person_confidence for img in empty_images(n, size)]
    return {**pick_threshold(np.array(person), np.array(empty)), "person_scores": person, "empty_scores": empty}
