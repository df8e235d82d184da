"""Movement-quality metrics on synthetic movements with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from posecore.angles import joint_angles
from posecore.hits import body_speed, find_moments
from posecore.movement_quality import movement_metrics, on_beat, sparc
from posecore.tracks import Track
from tests.choreography import swinging, with_jitter
from tests.skeleton import FPS, HEIGHT, WIDTH, skeleton, track_of


def metrics(track: Track, hits_s: list[float] | None = None, beats_s: list[float] | None = None) -> dict:
    speed = body_speed(track, WIDTH, HEIGHT, frame_duration_s=1 / FPS)
    angles = joint_angles(track.landmarks, track.world, WIDTH, HEIGHT)
    return movement_metrics(track, angles, speed, hits_s or [], beats_s, WIDTH, HEIGHT, frame_duration_s=1 / FPS)


def test_a_still_body_has_no_energy() -> None:
    still = with_jitter(track_of([skeleton()] * 150), 0.3, WIDTH, HEIGHT)
    assert metrics(still)["energy"] < 0.15


def test_faster_movement_has_more_energy() -> None:
    slow, fast = metrics(swinging(6, 0.5)), metrics(swinging(6, 1.0))
    assert fast["energy"] == pytest.approx(2 * slow["energy"], rel=0.1)  # same path in half the time


def test_a_sinusoid_is_smoother_than_the_same_with_jerky_steps() -> None:
    smooth = metrics(swinging(8, 0.5))["smoothness"]
    jerky = metrics(swinging(8, 0.5, stops_hz=3))["smoothness"]
    assert smooth < 0 and jerky < smooth - 1.0


def test_sparc_of_a_single_bell_is_near_the_published_value() -> None:
    # A minimum-jerk reach (Gaussian-like bell) is the smoothest movement: SPARC about -1.4
    # to -1.6 in Balasubramanian et al. 2015; two bells (a stop in between) are less smooth.
    fs = 100.0
    t = np.arange(0, 1, 1 / fs)
    bell = 30 * t**2 - 60 * t**3 + 30 * t**4  # minimum-jerk speed profile
    one = sparc(np.r_[np.zeros(50), bell, np.zeros(50)], fs)
    two = sparc(np.r_[np.zeros(50), bell, np.zeros(20), bell, np.zeros(50)], fs)
    assert -1.7 < one < -1.3
    assert two < one - 0.5


def test_one_sided_movement_is_asymmetric_and_mirrored_movement_symmetric() -> None:
    assert metrics(swinging(6, 0.5, right=0))["symmetry"] < 0.05
    assert metrics(swinging(6, 0.5))["symmetry"] > 0.98
    assert 0.4 < metrics(swinging(6, 0.5, right=20))["symmetry"] < 0.8  # half the swing: 1 - 1/3


def test_range_of_motion_is_the_angle_span() -> None:
    rom = metrics(swinging(6, 0.5, left=40, right=20))["range_of_motion"]
    # p5-p95 of a sinusoid of amplitude A spans 2A sin(0.45 pi) = 1.975 A.
    assert rom["shoulder_left"] == pytest.approx(79.0, abs=2)
    assert rom["shoulder_right"] == pytest.approx(39.5, abs=2)
    assert rom["elbow_left"] == pytest.approx(0, abs=1) and rom["knee_left"] == pytest.approx(0, abs=1)
    spans = [v for k, v in rom.items() if k != "mean"]
    assert rom["mean"] == pytest.approx(np.mean(spans), abs=0.1)


BEATS = list(np.arange(0, 10, 0.5))  # 120 bpm


@pytest.mark.parametrize(
    ("offset", "share"),
    [(0.0, 1.0), (0.08, 1.0), (-0.08, 1.0), (0.15, 0.0)],
)
def test_on_beat_share_and_offset(offset: float, share: float) -> None:
    hits = [b + offset for b in BEATS[2:12:2]]
    result = on_beat(hits, BEATS)
    assert result["share"] == share
    assert result["mean_offset_s"] == pytest.approx(offset, abs=1e-6)
    assert result["hits"] == 5 and result["tolerance_s"] == 0.1


def test_on_beat_tolerance_is_a_quarter_period_for_fast_beats() -> None:
    fast = list(np.arange(0, 5, 0.3))  # 200 bpm: a quarter period is 75 ms
    result = on_beat([fast[3] + 0.08, fast[5] + 0.05], fast)
    assert result["tolerance_s"] == 0.075 and result["share"] == 0.5


def test_on_beat_ignores_hits_outside_the_music_and_is_absent_without_beats() -> None:
    assert on_beat([30.0], BEATS)["hits"] == 0
    assert metrics(swinging(3, 0.5), [1.0], None)["on_beat"] is None
    assert metrics(swinging(3, 0.5), [1.0], BEATS)["on_beat"]["share"] == 1.0


def test_timeline_is_energy_per_second_with_gaps() -> None:
    track = swinging(5, 1.0)
    keep = np.r_[0:60, 90:150]  # unseen during the third second
    gapped = Track(0, track.frame_indices[keep], track.times_s[keep], track.landmarks[keep], track.world[keep])
    timeline = metrics(gapped)["timeline"]
    assert [p["t_s"] for p in timeline] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert timeline[2]["energy"] is None
    assert all(p["energy"] > 0.3 for p in timeline if p["t_s"] != 2.0)


@pytest.mark.parametrize("rows", [0, 1, 30])
def test_tiny_or_unseen_tracks_give_empty_metrics_not_errors(rows: int) -> None:
    poses = [skeleton(hidden=tuple(range(33)))] * rows  # the last case: 1 s, nothing visible
    track = (
        track_of(poses)
        if rows
        else Track(
            0, np.zeros(0, np.int64), np.zeros(0), np.zeros((0, 33, 4), np.float32), np.zeros((0, 33, 3), np.float32)
        )
    )
    result = metrics(track)
    assert result["energy"] is None and result["smoothness"] is None and result["symmetry"] is None
    assert result["range_of_motion"]["mean"] is None
    assert all(p["energy"] is None for p in result["timeline"])
    speed = body_speed(track, WIDTH, HEIGHT)
    assert find_moments(track, speed) == []
