"""Checks and counts of an up-conversion request (factor or frame rate), free of model code so that
the command line answers a bad request before loading anything heavy."""

from __future__ import annotations

import math

from vivid.core.errors import VividError

MAX_FACTOR = 16


def check_request(*, factor: int | None = None, fps: float | None = None) -> None:
    """VividError unless exactly one of ``factor`` (a whole number from 2 to
    :data:`MAX_FACTOR`) and ``fps`` is given; what needs no input clip to check."""
    if (factor is None) == (fps is None):
        raise VividError("give exactly one of --factor N or --fps F")
    if factor is not None and (int(factor) != factor or not 2 <= factor <= MAX_FACTOR):
        raise VividError(f"--factor must be a whole number from 2 to {MAX_FACTOR}, got {factor}")


def check_rate(in_fps: float, *, factor: int | None = None, fps: float | None = None) -> float:
    """Validate an up-conversion request for an input at ``in_fps``; return the output frame rate."""
    check_request(factor=factor, fps=fps)
    if factor is not None:
        return in_fps * int(factor)
    if not fps > in_fps:
        raise VividError(f"--fps {fps:g} is not above the input frame rate ({in_fps:g} fps); pick a higher rate")
    if fps > in_fps * MAX_FACTOR:
        raise VividError(f"--fps {fps:g} is more than {MAX_FACTOR}x the input frame rate ({in_fps:g} fps)")
    return float(fps)


def expected_output_count(n_frames: int, in_fps: float, *, factor: int | None = None, fps: float | None = None) -> int:
    """Number of frames :func:`upconvert` produces for ``n_frames`` evenly spaced inputs."""
    if factor is not None:
        return (n_frames - 1) * int(factor) + 1
    duration = (n_frames - 1) / in_fps
    return int(math.floor(duration * fps + 1e-6)) + 1
