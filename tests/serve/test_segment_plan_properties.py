"""Segment planning (pure): properties that hold for any video length, replica count,
configuration and keyframe layout, checked with Hypothesis.

What ``plan_segments`` promises (its docstrings and README's "Segments"): contiguous
segments that cover every analysed frame exactly once, in order; near-equal sizes,
never under ``min_segment_frames`` nor over ``max_segment_frames``; one segment per
replica for a lone video, whole rounds of segments for a long one; a warm-up of
``warmup_frames`` before each segment but never before frame 0; and a boundary moved
to a nearby keyframe only within ``keyframe_snap`` of a segment's length.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from serve_app.segment_plan import PlanConfig, Segment, plan_segments
from tests.fuzzing import fuzz_examples

PROPERTY_SETTINGS = settings(max_examples=fuzz_examples(300), deadline=None)


@st.composite
def configs(draw: st.DrawFn) -> PlanConfig:
    """Sensible configurations: the maximum at least twice the minimum (else they conflict)."""
    low = draw(st.integers(1, 200))
    return PlanConfig(
        min_segment_frames=low,
        max_segment_frames=draw(st.integers(2 * low, 2 * low + 2000)),
        segments_per_replica=draw(st.integers(1, 4)),
        warmup_frames=draw(st.integers(0, 30)),
        keyframe_snap=draw(st.sampled_from([0.0, 0.05, 0.1, 0.25])),
    )


frame_counts = st.integers(1, 50_000)
replica_counts = st.integers(-1, 24)  # 0 and below: "no replica idle" still gets one segment


@st.composite
def keyframe_positions(draw: st.DrawFn, frame_count: int) -> np.ndarray:
    """Sorted positions in 0..frame_count, as the ingress makes them (searchsorted: repeats allowed)."""
    if draw(st.booleans()):  # a regular GOP, like most encoders
        gop = draw(st.integers(1, 400))
        return np.arange(0, frame_count + 1, gop)
    positions = draw(st.lists(st.integers(0, frame_count), max_size=60))
    return np.sort(np.asarray(positions, dtype=np.int64))


def assert_tiles(segments: list[Segment], frame_count: int) -> None:
    assert segments[0].start == 0 and segments[-1].end == frame_count
    assert all(a.end == b.start for a, b in zip(segments, segments[1:]))  # no gap, no overlap
    assert all(s.end > s.start for s in segments)  # no empty segment
    assert all(type(v) is int for s in segments for v in (s.warmup_start, s.start, s.end))  # slicing and pickling


@PROPERTY_SETTINGS
@given(frame_counts, replica_counts, configs())
def test_segments_tile_the_frames_once_in_order(frame_count: int, replicas: int, config: PlanConfig) -> None:
    assert_tiles(plan_segments(frame_count, replicas, config), frame_count)


@PROPERTY_SETTINGS
@given(st.integers(-100, 0), replica_counts, configs())
def test_no_frames_no_segments(frame_count: int, replicas: int, config: PlanConfig) -> None:
    assert plan_segments(frame_count, replicas, config) == []


@PROPERTY_SETTINGS
@given(frame_counts, replica_counts, configs())
def test_sizes_are_near_equal_and_within_the_bounds(frame_count: int, replicas: int, config: PlanConfig) -> None:
    sizes = [s.end - s.start for s in plan_segments(frame_count, replicas, config)]
    assert max(sizes) - min(sizes) <= 1
    assert max(sizes) <= config.max_segment_frames
    if frame_count >= config.min_segment_frames:
        assert min(sizes) >= config.min_segment_frames
    else:  # too short to split: one segment, under the minimum
        assert sizes == [frame_count]


@PROPERTY_SETTINGS
@given(frame_counts, replica_counts, configs())
def test_segment_count_is_whole_rounds_or_as_many_as_the_minimum_allows(
    frame_count: int, replicas: int, config: PlanConfig
) -> None:
    per_round = max(1, replicas) * config.segments_per_replica
    count = len(plan_segments(frame_count, replicas, config))
    needed = math.ceil(frame_count / config.max_segment_frames)  # fewest that respect the maximum
    allowed = max(1, frame_count // config.min_segment_frames)  # most that respect the minimum
    rounds = math.ceil(needed / per_round)
    assert needed <= count <= rounds * per_round  # never a round more than needed
    # Whole rounds, so no replica gets an extra segment, unless the minimum caps the count.
    assert count % per_round == 0 or count == allowed
    if frame_count <= per_round * config.max_segment_frames:
        # A lone video that fits one round: one segment per replica slot, if long enough.
        assert count == min(per_round, allowed)


@PROPERTY_SETTINGS
@given(frame_counts, replica_counts, configs())
def test_fewer_than_one_replica_plans_like_one(frame_count: int, replicas: int, config: PlanConfig) -> None:
    if replicas <= 1:
        assert plan_segments(frame_count, replicas, config) == plan_segments(frame_count, 1, config)


@PROPERTY_SETTINGS
@given(frame_counts, replica_counts, configs(), st.data())
def test_warmup_precedes_each_segment_and_never_before_frame_zero(
    frame_count: int, replicas: int, config: PlanConfig, data: st.DataObject
) -> None:
    keyframes = data.draw(st.none() | keyframe_positions(frame_count))
    segments = plan_segments(frame_count, replicas, config, keyframes)
    assert segments[0].warmup_start == 0
    for segment in segments:
        assert segment.warmup_start == max(0, segment.start - config.warmup_frames)


@PROPERTY_SETTINGS
@given(frame_counts, replica_counts, configs(), st.data())
def test_keyframe_snapping_stays_within_its_reach(
    frame_count: int, replicas: int, config: PlanConfig, data: st.DataObject
) -> None:
    keyframes = data.draw(keyframe_positions(frame_count))
    even = plan_segments(frame_count, replicas, config)
    snapped = plan_segments(frame_count, replicas, config, keyframes)
    assert_tiles(snapped, frame_count)
    assert len(snapped) == len(even)  # snapping moves boundaries, it never merges or adds segments
    reach = config.keyframe_snap * frame_count / len(even)
    # Where a warm-up that starts on a keyframe puts a boundary (inside the video).
    targets = np.unique(keyframes + config.warmup_frames)
    targets = targets[(targets > 0) & (targets < frame_count)]
    for before, after in zip(even[1:], snapped[1:]):
        moved = after.start - before.start
        assert abs(moved) <= reach
        in_reach = targets[np.abs(targets - before.start) <= reach]
        if in_reach.size:  # moved to the nearest such keyframe (ties: either)
            assert abs(moved) == np.abs(in_reach - before.start).min()
            assert after.start in targets
        else:
            assert moved == 0


@PROPERTY_SETTINGS
@given(frame_counts, replica_counts, configs(), st.data())
def test_snapped_sizes_stay_close_to_even(
    frame_count: int, replicas: int, config: PlanConfig, data: st.DataObject
) -> None:
    """Each boundary moves by at most ``reach``, so a size by at most twice that."""
    keyframes = data.draw(keyframe_positions(frame_count))
    snapped = plan_segments(frame_count, replicas, config, keyframes)
    even = frame_count / len(snapped)
    reach = config.keyframe_snap * even
    assert all(abs((s.end - s.start) - even) <= 2 * reach + 1 for s in snapped)


def test_property_bounds_match_the_documented_defaults() -> None:
    """The README's numbers: never under 48 frames, never over 600, 6 warm-up frames."""
    config = PlanConfig()
    assert (config.min_segment_frames, config.max_segment_frames, config.warmup_frames) == (48, 600, 6)
