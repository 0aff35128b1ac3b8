"""Scoring detections against reference boxes, and the choice of the score threshold.

Used on the synthetic validation composites during training (where the detector's default
threshold is chosen) and by ``benchmarks/people.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vivid.people.boxes import iou_matrix

THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.05, 0.96, 0.05))


@dataclass
class Matched:
    """One image's detections matched to its reference boxes.

    Attributes:
        scores: (N,) detection scores; hit: (N,) bool matched to a reference person (IoU >= the
        rule's); ignored: (N,) bool matched only to an ignore box (counted neither way);
        n_people: reference people (ignore boxes excluded).
    """

    scores: np.ndarray
    hit: np.ndarray
    ignored: np.ndarray
    n_people: int


def match(boxes: np.ndarray, scores: np.ndarray, ref: np.ndarray, ref_ignore: np.ndarray | None = None,
          iou: float = 0.5) -> Matched:  # fmt: skip
    """Greedy matching, best score first: each reference box takes at most one detection.

    boxes (N, 4), scores (N,), ref (M, 4), ref_ignore (M,) bool.
    """
    boxes, scores = np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(scores, np.float64).reshape(-1)
    ref = np.asarray(ref, np.float64).reshape(-1, 4)
    ref_ignore = np.zeros(len(ref), bool) if ref_ignore is None else np.asarray(ref_ignore, bool)
    hit, ignored = np.zeros(len(boxes), bool), np.zeros(len(boxes), bool)
    taken = np.zeros(len(ref), bool)
    overlaps = iou_matrix(boxes, ref) if len(ref) else np.zeros((len(boxes), 0))
    for i in np.argsort(-scores, kind="stable"):
        free = np.where(~taken & ~ref_ignore, overlaps[i], -1.0)
        j = int(np.argmax(free)) if len(ref) else -1
        if j >= 0 and free[j] >= iou:
            taken[j], hit[i] = True, True
        elif len(ref) and (np.where(ref_ignore, overlaps[i], 0) >= iou).any():
            ignored[i] = True
    return Matched(scores, hit, ignored, int((~ref_ignore).sum()))


def precision_recall(records: list[Matched], threshold: float) -> tuple[float, float, float]:
    """(precision, recall, F1) over images when detections below ``threshold`` are dropped."""
    tp = fp = n = 0
    for r in records:
        keep = (r.scores >= threshold) & ~r.ignored
        tp += int((keep & r.hit).sum())
        fp += int((keep & ~r.hit).sum())
        n += r.n_people
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / n if n else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def best_threshold(records: list[Matched], thresholds: tuple[float, ...] = THRESHOLDS) -> tuple[float, float, float, float]:
    """The threshold of highest F1 (ties: the higher threshold) and its (precision, recall, F1)."""
    rows = [(t, *precision_recall(records, t)) for t in thresholds]
    return max(rows, key=lambda r: (round(r[3], 6), r[0]))
