"""Cutting a video into sequences: counts, padding of a short last sequence, overlap averaging."""

from __future__ import annotations

import pytest
import torch

from vivid.bodyvid.sequences import cut_sequences, merge_sequences, sequence_starts
from vivid.core.errors import VividError


def test_ten_seconds_at_24_fps_give_30_sequences_of_8():
    assert len(sequence_starts(240, 8)) == 30


def test_short_last_sequence_is_padded_with_its_last_frame_and_dropped():
    frames = torch.arange(10).float()
    seqs, valid, starts = cut_sequences(frames, 8)
    assert starts == [0, 8]
    assert seqs[1].tolist() == [8, 9, 9, 9, 9, 9, 9, 9]
    assert valid[1].tolist() == [True, True] + [False] * 6
    merged = merge_sequences(seqs * 2, starts, 10, valid)
    assert merged.tolist() == (frames * 2).tolist()


def test_overlapping_predictions_are_averaged():
    seqs, valid, starts = cut_sequences(torch.arange(6).float(), 4, stride=2)
    assert starts == [0, 2]
    preds = torch.stack([torch.zeros(4), torch.ones(4)])
    merged = merge_sequences(preds, starts, 6, valid)
    assert merged.tolist() == [0, 0, 0.5, 0.5, 1, 1]


@pytest.mark.parametrize("seq_len, stride", [(1, None), (8, 0), (8, 9)])
def test_bad_settings_are_refused(seq_len, stride):
    with pytest.raises(VividError):
        sequence_starts(20, seq_len, stride)
