"""The 1-euro filter: constants pass, noise shrinks, steps are followed, bad settings raise."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vivid.core.filters import OneEuroFilter, one_euro


def test_constant_signal_passes_unchanged():
    x = np.full((50, 17, 2), 3.25)
    assert np.array_equal(one_euro(x, fps=30, min_cutoff=0.5, beta=0.1), x)


def test_first_sample_and_hand_worked_second_sample():
    # Second sample: dt = 0.1, speed 10 -> dx_hat = a_d * 10 with a_d = 1 / (1 + 1 / (2 pi 0.1)).
    out = one_euro([0.0, 1.0], t=[0.0, 0.1], min_cutoff=1.0, beta=0.5, d_cutoff=1.0)
    a_d = 1 / (1 + 1 / (2 * math.pi * 0.1))
    cutoff = 1.0 + 0.5 * a_d * 10
    a = 1 / (1 + 1 / (2 * math.pi * cutoff * 0.1))
    assert out[0] == 0.0 and out[1] == pytest.approx(a)


def test_noise_is_reduced():
    rng = np.random.default_rng(0)
    t = np.arange(300) / 30.0
    clean = np.sin(2 * np.pi * 0.05 * t)  # slow motion: the filter should remove jitter, not motion
    noisy = clean + rng.normal(0, 0.1, t.shape)
    out = one_euro(noisy, fps=30, min_cutoff=1.0, beta=0.05)
    assert np.abs(out - clean)[30:].mean() < 0.5 * np.abs(noisy - clean)[30:].mean()
    accel = lambda s: np.abs(np.diff(s, 2)).mean()  # noqa: E731
    assert accel(out) < 0.2 * accel(noisy)


def test_step_is_followed_with_bounded_lag():
    x = np.concatenate([np.zeros(30), np.ones(60)])
    out = one_euro(x, fps=30, min_cutoff=1.0, beta=0.0)
    # A 1 Hz low-pass at 30 fps: time constant 1/(2 pi) s, about 5 frames; 90 % within 12 frames.
    reached = np.argmax(out[30:] >= 0.9)
    assert 0 < reached <= 12
    assert np.all(np.diff(out) >= -1e-12) and out[-1] == pytest.approx(1.0, abs=1e-3)
    # A speed term (beta) shortens the lag on the same step.
    fast = one_euro(x, fps=30, min_cutoff=1.0, beta=1.0)
    assert np.argmax(fast[30:] >= 0.9) < reached


def test_streaming_equals_sequence_and_uneven_times():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(20, 3))
    t = np.cumsum(rng.uniform(0.02, 0.05, 20))
    f = OneEuroFilter(min_cutoff=2.0, beta=0.3)
    streamed = np.stack([f(xi, ti) for xi, ti in zip(x, t)])
    assert np.allclose(streamed, one_euro(x, t, min_cutoff=2.0, beta=0.3))
    f.reset()
    assert np.array_equal(f(x[5], 0.0), x[5])


def test_nonfinite_entries_pass_and_keep_the_state():
    x = np.array([[0.0, 0.0], [np.nan, 1.0], [1.0, 1.0]])
    out = one_euro(x, fps=10, min_cutoff=1.0)
    assert np.isnan(out[1, 0]) and np.isfinite(out[2]).all()
    # The skipped entry holds its state: frame 2 continues from frame 0 as if one frame had passed.
    assert out[2, 0] == pytest.approx(one_euro([0.0, 1.0], t=[0.0, 0.1], min_cutoff=1.0)[1])


@pytest.mark.parametrize("kwargs", [{"min_cutoff": 0.0}, {"min_cutoff": -1.0}, {"beta": -0.1}, {"d_cutoff": 0.0},
                                    {"min_cutoff": float("nan")}, {"beta": float("inf")}])
def test_parameters_are_validated(kwargs):
    with pytest.raises(ValueError):
        OneEuroFilter(**kwargs)


def test_bad_times_raise():
    f = OneEuroFilter()
    f(np.zeros(2), 1.0)
    with pytest.raises(ValueError, match="increase"):
        f(np.zeros(2), 1.0)
    with pytest.raises(ValueError, match="shape"):
        f(np.zeros(3), 2.0)
    with pytest.raises(ValueError, match="either"):
        one_euro(np.zeros(4))
    with pytest.raises(ValueError, match="fps"):
        one_euro(np.zeros(4), fps=0)
