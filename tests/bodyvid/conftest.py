"""A tiny untrained bodyvid checkpoint and a short video for the command-line and export tests."""

from __future__ import annotations

import numpy as np
import pytest
import torch


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    from vivid.core.checkpoints import save_checkpoint
    from vivid.core.registry import create_model

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny"
    return str(save_checkpoint(path, create_model("bodyvid_tiny"), task="bodyvid", model_name="bodyvid_tiny"))


def write_video(path, frames: int, size: int = 64):
    from vivid.core.video import VideoWriter

    rng = np.random.default_rng(0)
    with VideoWriter(path, fps=10) as writer:
        for _ in range(frames):
            writer.write(rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
    return path


@pytest.fixture(scope="session")
def short_video(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("video") / "clip.mp4", 6)
