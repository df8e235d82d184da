"""Segment planning (pure): coverage, sizes, keyframe snapping."""

from __future__ import annotations

import numpy as np
import pytest

from serve_app.segment_plan import PlanConfig, plan_segments


@pytest.mark.parametrize("frames", [1, 47, 48, 100, 514, 1800, 18000])
@pytest.mark.parametrize("replicas", [1, 2, 8])
def test_segments_cover_every_frame_once(frames: int, replicas: int) -> None:
    segments = plan_segments(frames, replicas)
    assert segments[0].start == 0 and segments[-1].end == frames
    assert all(a.end == b.start for a, b in zip(segments, segments[1:]))
    assert all(s.end > s.start and 0 <= s.warmup_start <= s.start for s in segments)


def test_segment_count_follows_replicas_and_length() -> None:
    config = PlanConfig()
    assert len(plan_segments(514, 1)) == 1
    assert len(plan_segments(514, 2)) == 2
    assert len(plan_segments(514, 4, PlanConfig(segments_per_replica=2))) == 8
    assert len(plan_segments(100, 8)) == 100 // config.min_segment_frames  # never tiny
    long = plan_segments(18000, 2)
    assert len(long) == 30 and max(s.end - s.start for s in long) <= config.max_segment_frames
    # 3 segments would leave one replica of 2 with twice the work: whole rounds instead.
    assert len(plan_segments(1800, 2)) == 4
    assert len(plan_segments(1800, 4)) == 4


def test_warmup_precedes_each_segment_but_the_first() -> None:
    segments = plan_segments(514, 4, PlanConfig(warmup_frames=6))
    assert segments[0].warmup_start == 0
    assert all(s.start - s.warmup_start == 6 for s in segments[1:])


def test_boundaries_move_so_warmup_starts_on_a_nearby_keyframe() -> None:
    keyframes = np.arange(0, 1800, 60)  # a phone's 2 s GOP at 30 fps
    segments = plan_segments(1800, 4, PlanConfig(warmup_frames=6), keyframes)
    assert [s.warmup_start for s in segments] == [0, 420, 900, 1320]  # even split: 450, 900, 1350
    # Keyframes far from every even split (group_dance.mp4's) leave the split even.
    even = plan_segments(514, 4, PlanConfig(warmup_frames=6), np.array([0, 150, 300, 450]))
    assert [s.start for s in even] == [0, 128, 257, 386]
    # A keyframe too far from every even split is ignored.
    far = plan_segments(514, 2, PlanConfig(warmup_frames=6), np.array([0, 40]))
    assert [s.start for s in far] == [0, 257]
