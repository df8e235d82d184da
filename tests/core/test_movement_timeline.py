"""Poses and movements on one timeline (issue 14): what is reported while a dancer turns or
jumps. Synthetic skeletons at 30 fps."""

from __future__ import annotations

import numpy as np

from posecore.dancers import analyse_dancer
from posecore.pose_library import PoseLibrary
from posecore.result import PoseSegment
from tests.skeleton import FPS, HEIGHT, WIDTH, skeleton, track_of

LIBRARY = PoseLibrary.default()
ARMS_UP = dict(left_arm_elevation=170, right_arm_elevation=170)


def seconds(s: float) -> int:
    return round(s * FPS)


def segments(poses: list) -> list[PoseSegment]:
    track = track_of(poses)
    found = analyse_dancer(
        track, frames_analyzed=len(track), frame_duration_s=1 / FPS, width=WIDTH, height=HEIGHT, library=LIBRARY,
        min_confidence=0.5,
    )  # fmt: skip
    return found.segments


def overlap_s(a: PoseSegment, b: PoseSegment) -> float:
    return max(0.0, min(a.end_s, b.end_s) - max(a.start_s, b.start_s))


def spin(**pose: float) -> list:
    """0.5 s still, one full turn in 1 s, 0.5 s still."""
    yaws = np.r_[np.zeros(seconds(0.5)), np.linspace(0, 360, seconds(1.0)), np.full(seconds(0.5), 360.0)]
    return [skeleton(yaw=y, **pose) for y in yaws]


def test_standing_is_not_reported_during_a_turn() -> None:
    found = segments(spin())
    [turn] = [s for s in found if s.name == "turn"]
    standing = [s for s in found if s.name == "standing"]
    assert standing, "the still moments before and after the turn are standing"
    assert all(overlap_s(s, turn) == 0 for s in standing)
    assert standing[0].end_s <= turn.start_s and standing[-1].start_s >= turn.end_s


def test_a_shape_held_through_a_turn_is_reported_with_it() -> None:
    found = segments(spin(**ARMS_UP))
    [turn] = [s for s in found if s.name == "turn"]
    assert [s.name for s in found if overlap_s(s, turn) > 0] == ["arms_up", "turn"]


def test_standing_is_not_reported_during_a_hop() -> None:
    hop = [skeleton(rise=0.15 * np.sin(np.pi * i / 9)) for i in range(1, 9)]
    found = segments([skeleton()] * seconds(1.0) + hop + [skeleton()] * seconds(1.0))
    [jump] = [s for s in found if s.name == "jump"]
    assert jump.duration_s >= 0.2  # a movement shorter than min_pose_duration_s is absorbed like a flicker
    assert [s.name for s in found] == ["standing", "jump", "standing"]
    assert all(overlap_s(s, jump) == 0 for s in found if s.name == "standing")


def test_standing_is_not_reported_during_a_hop_shorter_than_a_held_pose() -> None:
    """A 0.1 s flight is shorter than min_pose_duration_s, so on the timeline "standing" would
    join across it: its time is cut out of the standing segment instead."""
    hop = [skeleton(rise=0.12 * np.sin(np.pi * i / 6)) for i in range(1, 6)]
    found = segments([skeleton()] * seconds(1.0) + hop + [skeleton()] * seconds(1.0))
    [jump] = [s for s in found if s.name == "jump"]
    assert jump.duration_s < 0.2
    assert [s.name for s in found] == ["standing", "jump", "standing"]
    assert all(overlap_s(s, jump) == 0 for s in found if s.name == "standing")
    assert sum(s.frames for s in found if s.name == "standing") == 2 * seconds(1.0) + 5 - jump.frames
