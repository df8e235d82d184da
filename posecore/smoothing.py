"""One-Euro jitter filter for landmark tracks.

The Tasks API dropped the old ``smooth_landmarks`` option. The One-Euro filter
(Casiez et al., CHI 2012) is a low-pass filter whose cutoff rises with speed: it
removes jitter while a dancer holds a pose and lags little while they move fast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from posecore.tracks import Track


@dataclass(frozen=True)
class Smoothing:
    """One-Euro parameters. Units: cutoffs in Hz, beta per (unit of the signal / s)."""

    enabled: bool = True
    min_cutoff: float = 1.5  # Hz: how much a still landmark is smoothed
    beta: float = 10.0  # how fast the cutoff rises with speed (normalised image units)
    d_cutoff: float = 1.0  # Hz: smoothing of the speed estimate itself
    max_gap_s: float = 0.25  # a longer gap restarts the filter instead of bridging it


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


def one_euro(values: np.ndarray, times_s: np.ndarray, params: Smoothing) -> np.ndarray:
    """Filter ``values`` (n, ...) sampled at ``times_s`` (n,) along the first axis."""
    out = np.array(values, dtype=np.float64, copy=True)
    if len(out) < 2:
        return out.astype(values.dtype)
    speed = np.zeros_like(out[0])
    for i in range(1, len(out)):
        dt = float(times_s[i] - times_s[i - 1])
        if dt <= 0 or dt > params.max_gap_s:
            speed[...] = 0.0
            continue  # restart from the raw value after a gap
        raw_speed = (values[i] - out[i - 1]) / dt
        speed = speed + _alpha(params.d_cutoff, dt) * (raw_speed - speed)
        cutoff = params.min_cutoff + params.beta * np.abs(speed)
        out[i] = out[i - 1] + _alpha(cutoff, dt) * (values[i] - out[i - 1])
    return out.astype(values.dtype)


def smooth_track(track: Track, params: Smoothing) -> Track:
    """A copy of ``track`` with x, y, z of image and world landmarks filtered.

    Visibility is left as MediaPipe gave it: it is a confidence, not a position.
    """
    if not params.enabled or len(track) < 2:
        return track
    landmarks = track.landmarks.copy()
    landmarks[..., :3] = one_euro(track.landmarks[..., :3], track.times_s, params)
    world = one_euro(track.world, track.times_s, params)
    return replace(track, landmarks=landmarks, world=world)
