"""Step 1 of the method: a video's frames cut into image sequences of a unit frame count S.

Frames stay in time order. A last sequence shorter than S is padded by repeating its last frame
and the padded predictions are dropped; with a stride below S the sequences overlap, and the
predictions of a frame seen by several sequences are averaged (:func:`merge_sequences`). A 10 s,
24 fps video (240 frames) gives 30 sequences of 8 with the default stride S.
"""

from __future__ import annotations

import torch
from torch import Tensor

from vivid.core.errors import VividError


def check_sequence_settings(seq_len: int, stride: int | None = None) -> int:
    """Check S >= 2 and 1 <= stride <= S; return the stride (S when None)."""
    if not isinstance(seq_len, int) or seq_len < 2:
        raise VividError(f"the sequence length must be a whole number of at least 2 frames, got {seq_len!r}")
    stride = seq_len if stride is None else stride
    if not isinstance(stride, int) or not 1 <= stride <= seq_len:
        raise VividError(f"the sequence stride must be between 1 and the sequence length {seq_len}, got {stride!r}")
    return stride


def sequence_starts(n_frames: int, seq_len: int, stride: int | None = None) -> list[int]:
    """First frame of each sequence: 0, stride, 2 stride, ... until every frame is covered."""
    stride = check_sequence_settings(seq_len, stride)
    if n_frames < 1:
        raise VividError("a video needs at least one frame")
    starts = list(range(0, max(1, n_frames - seq_len + 1), stride))
    if starts[-1] + seq_len < n_frames:  # the tail: one more (possibly padded) sequence
        starts.append(starts[-1] + stride)
    return starts


def cut_sequences(frames: Tensor, seq_len: int, stride: int | None = None) -> tuple[Tensor, Tensor, list[int]]:
    """Cut (T, ...) frames into (N, S, ...) sequences.

    Returns:
        sequences (N, S, ...), valid (N, S) bool (False on padding), and the start of each.
    """
    T = frames.shape[0]
    starts = sequence_starts(T, seq_len, stride)
    idx = torch.tensor([[min(s + k, T - 1) for k in range(seq_len)] for s in starts])
    valid = torch.tensor([[s + k < T for k in range(seq_len)] for s in starts])
    return frames[idx], valid, starts


def merge_sequences(predictions: Tensor, starts: list[int], n_frames: int, valid: Tensor | None = None) -> Tensor:
    """(N, S, ...) per-sequence predictions -> (n_frames, ...): each frame the mean of the
    sequences that hold it, padding left out."""
    N, S = predictions.shape[:2]
    if len(starts) != N:
        raise ValueError(f"{len(starts)} starts for {N} sequences")
    out = predictions.new_zeros((n_frames, *predictions.shape[2:]))
    count = predictions.new_zeros(n_frames)
    for n, s in enumerate(starts):
        for k in range(S):
            t = s + k
            if t < n_frames and (valid is None or bool(valid[n, k])):
                out[t] += predictions[n, k]
                count[t] += 1
    if bool((count == 0).any()):
        raise ValueError("some frames are in no sequence")
    return out / count.view(-1, *([1] * (out.ndim - 1)))
