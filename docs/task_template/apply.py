"""Applying a checkpoint: what the command-line tool calls."""

from __future__ import annotations

import numpy as np
import torch

from vivid.core.checkpoints import load_checkpoint
from vivid.core.fileio import read_image, to_tensor


@torch.no_grad()
def mean_colour(weights: str, image: np.ndarray) -> list[float]:
    """The model's colour for one uint8 (H, W, 3) image."""
    model, _ = load_checkpoint(weights, task="mytask")
    return [round(float(v), 4) for v in model(to_tensor(image)[None])[0]]


def mean_colour_of_file(weights: str, path: str) -> list[float]:
    return mean_colour(weights, read_image(path))
