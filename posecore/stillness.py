"""How still each body part is, per frame: the evidence that a pose is *held*.

A dancer teacher names a balance (one_leg_stand, arabesque) only when it is held;
the same shape passed through in a walking step or a groove is a transition. Poses
declare which parts must be still (``still`` in poses.yaml); this module measures
each part's speed with ``posecore.hits.body_speed`` (torso lengths per second, so
the distance to the camera does not matter).
"""

from __future__ import annotations

import numpy as np

from posecore.hits import MAIN_JOINTS, body_speed
from posecore.tracks import Track

PARTS: dict[str, tuple[int, ...]] = {
    "legs": (23, 24, 25, 26, 27, 28),  # hips, knees, ankles
    "arms": (11, 12, 13, 14, 15, 16),  # shoulders, elbows, wrists
    "body": MAIN_JOINTS,
}
# Smoothing over a step: a walking step's foot swing lasts ~0.3 s.
STILL_SMOOTH_S = 0.1


def part_speeds(track: Track, width: int, height: int, *, frame_duration_s: float) -> dict[str, np.ndarray]:
    """Per part of ``PARTS``: (n,) speed in torso lengths per second, NaN where unknown."""
    return {
        part: body_speed(
            track, width, height, frame_duration_s=frame_duration_s, smooth_s=STILL_SMOOTH_S, joints=joints
        )
        for part, joints in PARTS.items()
    }
