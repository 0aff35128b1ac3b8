"""Stable joints on video: a 1-euro filter (:mod:`vivid.core.filters`) along each person's track.

What is filtered keeps 2D and 3D consistent: the 2D joints (in units of the track's median crop
side, so the settings do not depend on the image size), the pelvis-relative depths and the pelvis
depth (metres). The 3D joints are then back-projected from the filtered 2D joints and depths
through the frame's intrinsics, as for a single frame (:mod:`vivid.pose3d.coords`).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from vivid.core.filters import OneEuroFilter
from vivid.pose3d.bones import ROOT
from vivid.pose3d.coords import back_project

# 1-euro settings in the units above (crop sides or metres per second): at rest a 1 Hz cutoff;
# at 1 unit/s (a limb crossing its crop in a second) the cutoff doubles.
SMOOTHING = {"min_cutoff": 1.0, "beta": 1.0, "d_cutoff": 1.0}


def smooth_track(preds: list, times: list[float], **settings) -> list:
    """Filter one person's predictions over time.

    Args:
        preds: :class:`vivid.pose3d.apply.PosePrediction` of one track, in time order.
        times: (T,) seconds of each prediction, increasing.
        settings: 1-euro settings replacing :data:`SMOOTHING`.
    Returns:
        new predictions (same order) with filtered ``joints2d``, ``joints3d`` and ``joints3d_rel``.
    """
    if len(preds) != len(times):
        raise ValueError(f"{len(preds)} predictions but {len(times)} times")
    if not preds:
        return []
    cfg = {**SMOOTHING, **settings}
    scale = float(np.median([p.box[2] for p in preds]))
    f2d, fdepth = OneEuroFilter(**cfg), OneEuroFilter(**cfg)
    out = []
    for pred, t in zip(preds, times):
        z = pred.joints3d[:, 2].astype(np.float64)
        depths = np.concatenate([[z[ROOT]], z - z[ROOT]])  # pelvis depth, then relative depths
        uv = f2d(pred.joints2d / scale, t) * scale
        d = fdepth(depths, t)
        joints3d = back_project(
            torch.from_numpy(uv)[None], torch.from_numpy(d[0] + d[1:])[None], torch.from_numpy(np.asarray(pred.K, dtype=np.float64))[None]
        )[0].numpy()
        out.append(dataclasses.replace(
            pred, joints2d=uv.astype(np.float32), joints3d=joints3d.astype(np.float32),
            joints3d_rel=(joints3d - joints3d[ROOT]).astype(np.float32),
        ))  # fmt: skip
    return out
