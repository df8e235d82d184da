"""Synthetic choreographies: a skeleton that moves between shapes and stops dead.

Each step of a routine moves every joint angle linearly from the current shape to
the next over ``move_s`` and then holds it for ``hold_s``, so the body speed drops
from constant motion to zero at a known frame: the truth for hit detection.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from posecore.tracks import Track
from tests.skeleton import FPS, skeleton, track_of

Shape = Mapping[str, float]

ARMS_DOWN: Shape = {}
T_POSE: Shape = {"left_arm_elevation": 90, "right_arm_elevation": 90}
ARMS_UP: Shape = {"left_arm_elevation": 175, "right_arm_elevation": 175}


def _blend(a: Shape, b: Shape, w: float) -> dict[str, Any]:  # skeleton(**kwargs)
    defaults = {"left_elbow": 180.0, "right_elbow": 180.0, "left_knee": 180.0, "right_knee": 180.0}
    keys = set(a) | set(b)
    return {k: (1 - w) * a.get(k, defaults.get(k, 0.0)) + w * b.get(k, defaults.get(k, 0.0)) for k in keys}


def routine(shapes: Sequence[Shape], *, move_s: float = 0.3, hold_s: float = 0.6, fps: float = FPS) -> tuple:
    """(poses, arrival frame of each shape after the first): the first shape is held, then each next."""
    poses = []
    arrivals = []
    hold, move = round(hold_s * fps), round(move_s * fps)
    poses += [skeleton(**_blend(shapes[0], shapes[0], 0)) for _ in range(hold)]
    for a, b in itertools.pairwise(shapes):
        poses += [skeleton(**_blend(a, b, (k + 1) / move)) for k in range(move)]
        arrivals.append(len(poses) - 1)  # the first frame at the new shape
        poses += [skeleton(**_blend(b, b, 0)) for _ in range(hold - 1)]
    return poses, arrivals


def with_jitter(track: Track, pixels: float, width: int, height: int, seed: int = 0) -> Track:
    """A copy with Gaussian landmark noise of ``pixels`` (like a smoothed pose model's)."""
    rng = np.random.default_rng(seed)
    landmarks = track.landmarks.copy()
    landmarks[..., 0] += rng.normal(0, pixels / width, landmarks.shape[:2])
    landmarks[..., 1] += rng.normal(0, pixels / height, landmarks.shape[:2])
    return Track(track.id, track.frame_indices, track.times_s, landmarks, track.world)


def swinging(
    seconds: float, hz: float, *, left: float = 40.0, right: float = 40.0, stops_hz: float = 0.0, fps: float = FPS
) -> Track:
    """Arms swinging sinusoidally about 60 degrees elevation (amplitudes ``left``/``right``).

    ``stops_hz`` > 0 makes the same swing stop-and-go: that many times a second the arms
    dart along the sinusoid for 30% of the interval and stop for the rest (jerky).
    """
    t = np.arange(round(seconds * fps)) / fps
    if stops_hz > 0:
        k = np.floor(t * stops_hz)
        t = (k + np.clip((t * stops_hz - k) / 0.3, 0.0, 1.0)) / stops_hz
    wave = np.sin(2 * np.pi * hz * t)
    poses = [skeleton(left_arm_elevation=60 + left * w, right_arm_elevation=60 + right * w) for w in wave]
    return track_of(poses, fps=fps)
