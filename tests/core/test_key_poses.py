"""Hits, holds and key poses on synthetic choreographies with known stops and shapes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from posecore.angles import joint_angles
from posecore.hits import body_speed, find_moments, hit_times
from posecore.key_poses import cluster_shapes, find_key_poses, shape_distances
from posecore.pose_library import PoseLibrary
from posecore.tracks import Track
from tests.choreography import ARMS_DOWN, ARMS_UP, T_POSE, routine, with_jitter
from tests.skeleton import FPS, HEIGHT, WIDTH, skeleton, track_of

LIBRARY = PoseLibrary.default()
# A, B, A, C, A, B, A: A four times (the opening hold and three hits), B twice, C once.
SHAPES = [ARMS_DOWN, T_POSE, ARMS_DOWN, ARMS_UP, ARMS_DOWN, T_POSE, ARMS_DOWN]


def analyse(track: Track, min_occurrences: int = 2, step: float = 1 / FPS) -> tuple:
    speed = body_speed(track, WIDTH, HEIGHT, frame_duration_s=step)
    moments = find_moments(track, speed, frame_duration_s=step)
    angles = joint_angles(track.landmarks, track.world, WIDTH, HEIGHT)
    poses = find_key_poses(track, angles, moments, speed, LIBRARY, min_occurrences=min_occurrences)
    return speed, moments, poses


@pytest.fixture(scope="module")
def dance() -> tuple[Track, list[int]]:
    poses, arrivals = routine(SHAPES)
    return with_jitter(track_of(poses), 0.5, WIDTH, HEIGHT), arrivals


def test_hits_are_found_at_the_stops(dance: tuple[Track, list[int]]) -> None:
    track, arrivals = dance
    _, moments, _ = analyse(track)
    hits = hit_times(moments)
    assert len(hits) == len(arrivals)
    for hit, arrival in zip(hits, arrivals):
        assert abs(hit - track.times_s[arrival]) <= 1 / FPS + 1e-9
    # The opening stillness is a hold (no motion came before it); each hit lasts about
    # its 0.6 s hold (less the frames where the smoothed speed already rises).
    assert moments[0].kind == "hold" and moments[0].t_s == 0.0
    for m in moments[1:]:
        assert m.kind == "hit" and 0.4 <= m.end_s - m.t_s <= 0.65


def test_three_shapes_make_three_key_poses_with_their_counts(dance: tuple[Track, list[int]]) -> None:
    track, arrivals = dance
    _, _, poses = analyse(track, min_occurrences=1)
    assert [len(p.occurrences) for p in poses] == [4, 2, 1]  # numbered by first occurrence: A, B, C
    assert [p.name for p in poses] == [None, "t_pose", "arms_up"]  # arms down is only "standing"
    assert poses[1].angles["arm_elevation_left"] == pytest.approx(90, abs=3)
    assert poses[2].angles["arm_elevation_right"] == pytest.approx(175, abs=3)
    b_starts = [start for start, _ in poses[1].occurrences]
    assert b_starts == pytest.approx([track.times_s[arrivals[0]], track.times_s[arrivals[4]]], abs=1 / FPS)
    # The clearest frame of a pose is one where it is held.
    for pose in poses:
        assert any(start <= pose.best_t_s < end for start, end in pose.occurrences)
    dicts = [p.to_dict() for p in poses]
    assert dicts[0]["id"] == 1 and set(dicts[0]) >= {"id", "name", "occurrences", "angles"}
    assert all(v is None or isinstance(v, float) for v in dicts[0]["angles"].values())


def test_a_pose_must_recur_by_default(dance: tuple[Track, list[int]]) -> None:
    track, _ = dance
    _, _, poses = analyse(track)
    assert [len(p.occurrences) for p in poses] == [4, 2]


@pytest.mark.parametrize("jitter_px", [0.3, 1.0])
def test_a_still_body_has_no_hits_and_little_speed(jitter_px: float) -> None:
    # Torso 125 px: 0.3 px of jitter is a smoothed MediaPipe track's; 1 px a raw one's.
    still = with_jitter(track_of([skeleton()] * 90), jitter_px, WIDTH, HEIGHT)
    speed, moments, _ = analyse(still)
    assert np.nanmean(speed) < 0.5 * jitter_px
    assert hit_times(moments) == []
    if jitter_px < 0.5:
        assert [(m.kind, m.t_s, m.end_s) for m in moments] == [("hold", 0.0, 3.0)]


def test_speed_does_not_depend_on_the_distance_to_the_camera(dance: tuple[Track, list[int]]) -> None:
    track, _ = dance
    far = track.landmarks.copy()
    far[..., :2] = 0.5 + (far[..., :2] - 0.5) * 0.5  # the same dancer at twice the distance
    near_speed = body_speed(track, WIDTH, HEIGHT)
    far_speed = body_speed(replace(track, landmarks=far), WIDTH, HEIGHT)
    moving = near_speed > 1.0
    assert np.nanmedian(far_speed[moving] / near_speed[moving]) == pytest.approx(1.0, abs=0.05)


def test_no_speed_across_an_unseen_gap() -> None:
    poses, _ = routine([ARMS_DOWN, ARMS_UP], hold_s=1.0)
    track = track_of(poses)
    keep = np.r_[0:28, 45 : len(track)]  # unseen for 0.5 s while the arms rise (frames 30-38)
    gapped = Track(0, track.frame_indices[keep], track.times_s[keep], track.landmarks[keep], track.world[keep])
    speed = body_speed(gapped, WIDTH, HEIGHT)
    # The jump in position across the gap is not movement: no speed, no hit there.
    assert np.nanmax(speed) < 0.1
    assert hit_times(find_moments(gapped, speed)) == []


def test_hits_at_a_lower_sample_rate() -> None:
    poses, arrivals = routine(SHAPES, move_s=0.4)
    every = 3  # sample_fps = 10 on a 30 fps video
    indices = np.arange(0, len(poses), every)
    track = track_of([poses[i] for i in indices], frame_indices=indices.tolist())
    _, moments, poses_found = analyse(track, step=every / FPS)
    hits = hit_times(moments)
    assert len(hits) == len(arrivals)
    for hit, arrival in zip(hits, arrivals):
        assert abs(hit - arrival / FPS) <= every / FPS + 1e-9
    assert [len(p.occurrences) for p in poses_found] == [4, 2]


def test_shape_distance_ignores_unknown_measures_and_wraps_lean() -> None:
    shapes = np.full((3, 13), 90.0)
    shapes[:, -1] = [179.0, 179.0, -179.0]  # torso lean: rows 0 and 2 are 2 degrees apart across the wrap
    shapes[1, 0] = 150.0
    shapes[1, 1:7] = np.nan  # 6 of 13 unknown: compared on the 7 known
    d = shape_distances(shapes)
    assert d[0, 1] == pytest.approx(np.sqrt(60.0**2 / 7))
    assert d[0, 2] == pytest.approx(np.sqrt(2.0**2 / 13))
    shapes[1, 1:8] = np.nan  # too few in common: never merged
    assert np.isinf(shape_distances(shapes)[0, 1])
    assert sorted(map(sorted, cluster_shapes(shapes, 25.0))) == [[0, 2], [1]]
