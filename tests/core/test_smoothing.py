"""The One-Euro filter removes jitter on still landmarks and follows real motion."""

from __future__ import annotations

import numpy as np

from posecore.smoothing import Smoothing, one_euro

TIMES = np.arange(90) / 30.0


def test_still_landmark_jitter_is_reduced() -> None:
    rng = np.random.default_rng(0)
    noisy = 0.5 + rng.normal(0, 0.005, size=(90, 2))
    smoothed = one_euro(noisy, TIMES, Smoothing())
    assert smoothed[10:].std() < 0.5 * noisy[10:].std()


def test_fast_motion_is_followed_with_little_lag() -> None:
    moving = np.stack([np.linspace(0.1, 0.9, 90), np.full(90, 0.5)], axis=1)
    smoothed = one_euro(moving, TIMES, Smoothing())
    assert np.abs(smoothed - moving).max() < 0.02


def test_a_gap_restarts_the_filter_from_the_raw_value() -> None:
    times = np.array([0.0, 1 / 30, 2 / 30, 2.0])
    values = np.array([[0.1], [0.1], [0.1], [0.9]])
    assert one_euro(values, times, Smoothing())[-1, 0] == 0.9
