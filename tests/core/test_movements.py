"""Jumps and turns over time, from synthetic skeleton sequences at 30 fps."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from posecore.movements import detect_jumps, detect_movements, detect_turns, facing_angle, nanpercentile_rows
from tests.skeleton import FPS, HEIGHT, WIDTH, skeleton, track_of

DT = 1 / FPS


def seconds(s: float) -> int:
    return round(s * FPS)


def still(s: float, **pose: float) -> list:
    return [skeleton(**pose)] * seconds(s)


def jumps(poses: list) -> list[dict]:
    return [s.model_dump() for s in detect_jumps(track_of(poses), frame_duration_s=DT, width=WIDTH, height=HEIGHT)]


def turns(yaws: np.ndarray, **pose: float) -> list[dict]:
    return [
        s.model_dump()
        for s in detect_turns(
            track_of([skeleton(yaw=y, **pose) for y in yaws]), frame_duration_s=DT, width=WIDTH, height=HEIGHT
        )
    ]


def test_a_jump_is_detected_once_with_plausible_times() -> None:
    # Off the ground from 1.0 s to 1.3 s, 15 cm at the top.
    flight = [skeleton(rise=0.15 * np.sin(np.pi * i / 9)) for i in range(1, 9)]
    [jump] = jumps(still(1.0) + flight + still(1.0))
    assert jump["name"] == "jump"
    assert jump["start_s"] == pytest.approx(1.0, abs=0.1)
    assert jump["end_s"] == pytest.approx(1.3, abs=0.1)
    assert 2 <= jump["frames"] <= 8 and jump["confidence"] > 0.9


def test_repeated_jumps_are_counted_separately() -> None:
    hop = [skeleton(rise=0.2 * np.sin(np.pi * i / 10)) for i in range(1, 10)]
    assert len(jumps(still(1.0) + (hop + still(0.4)) * 3 + still(0.6))) == 3


def test_a_one_leg_raise_is_not_a_jump() -> None:
    lift = [skeleton(right_hip_flex=f, right_knee=180 - f) for f in np.linspace(0, 90, 9)]
    held = still(0.7, right_hip_flex=90, right_knee=90)
    assert jumps(still(1.0) + lift + held + lift[::-1] + still(1.0)) == []


def test_rising_from_a_squat_is_not_a_jump() -> None:
    def crouch(depth: float) -> dict:  # 0 = standing, 1 = deep squat
        return dict(left_hip_flex=90 * depth, right_hip_flex=90 * depth, left_knee=180 - 90 * depth,
                    right_knee=180 - 90 * depth)  # fmt: skip

    # The hips rise fast in the image as the dancer stands up; the feet stay down.
    rising = [skeleton(**crouch(d)) for d in np.linspace(1, 0, 6)]
    assert jumps(still(1.0, **crouch(1)) + rising + still(1.0)) == []


def test_landmark_jitter_is_not_a_jump() -> None:
    rng = np.random.default_rng(1)
    poses = []
    for _ in range(seconds(4)):
        image, world = skeleton()
        image = image.copy()
        image[:, :2] += rng.normal(0, 0.004, size=(33, 2))
        poses.append((image, world))
    poses[60] = skeleton(rise=0.3)  # a one-frame glitch
    assert jumps(poses) == []


def test_moving_lower_in_the_image_is_not_a_jump() -> None:
    # The whole body steps 13 cm lower in the image (towards the camera, or a camera tilt) and
    # stays there: the running baseline takes the new level before the step, so the frames just
    # before it look risen, within the landing tolerance. The feet never rise above where they stood.
    assert jumps(still(1.0, rise=0.2) + still(1.0, rise=0.2 - 0.128)) == []


def test_feet_rising_while_the_hips_stay_put_is_not_a_jump() -> None:
    image, world = skeleton()
    tucked = image.copy()
    tucked[25:33, 1] -= 0.1  # knees and feet drawn up (or misdetected), hips unmoved
    assert jumps(still(1.0) + [(tucked, world)] * 8 + still(1.0)) == []


def test_hidden_feet_are_not_judged() -> None:
    flight = [skeleton(rise=0.15 * np.sin(np.pi * i / 9), hidden=(27, 28)) for i in range(1, 9)]
    assert jumps(still(1.0) + flight + still(1.0)) == []


def zoomed(pose: tuple[np.ndarray, np.ndarray], factor: float) -> tuple[np.ndarray, np.ndarray]:
    """The pose seen through a zoom about a point just above the frame (a zoom while the camera
    tilts): every point moves up, the feet most (image only: the body does not move)."""
    image, world = pose
    image = image.copy()
    image[:, 0] = 0.5 + (image[:, 0] - 0.5) * factor
    image[:, 1] = -0.3 + (image[:, 1] + 0.3) * factor
    return image, world


def test_a_quick_zoom_out_and_back_is_not_a_jump() -> None:
    # The feet rise a fifth of the frame height in 0.3 s and come back, the hips and the
    # shoulders rise with them (over 0.4 of the feet's rise), like a jump; but the whole
    # body shrank in the image.
    zoom = [zoomed(skeleton(), 1 - 0.2 * np.sin(np.pi * i / 9)) for i in range(1, 9)]
    image = zoomed(skeleton(), 0.8)[0]
    rise = skeleton()[0][:, 1] - image[:, 1]
    assert rise[[11, 12]].mean() > 0.4 * rise[[27, 28]].mean() > 0.04  # only the zoom check can reject it
    assert jumps(still(1.0) + zoom + still(1.0)) == []


def test_a_slow_lift_is_too_slow_for_a_flight() -> None:
    # 15 cm up and down over 0.7 s: free flight that long would go ~60 cm high (camera tilt).
    drift = [skeleton(rise=0.15 * np.sin(np.pi * i / 22)) for i in range(1, 22)]
    assert jumps(still(1.0) + drift + still(1.0)) == []


def test_a_rise_that_does_not_come_back_down_is_not_a_jump() -> None:
    # The body moves up in the image and stays (the camera tilted down): no landing.
    up = [skeleton(rise=0.2 * i / 4) for i in range(1, 5)]
    assert jumps(still(1.0) + up + still(1.0, rise=0.2)) == []


def test_legs_rising_without_the_shoulders_is_not_a_jump() -> None:
    # Knees and feet go up (another dancer's legs taken for this one's, or a leg misread);
    # the head, arms and torso stay where they were.
    poses = []
    for i in range(1, 9):
        image, world = skeleton(rise=0.2 * np.sin(np.pi * i / 9))
        image = image.copy()
        image[:25, 1] = skeleton()[0][:25, 1]  # head, arms, shoulders and hips stay where they were
        poses.append((image, world))
    assert jumps(still(1.0) + poses + still(1.0)) == []


def test_feet_cut_off_by_the_frame_are_not_judged() -> None:
    # The same jump filmed lower in the frame: the feet are below its bottom edge (MediaPipe guesses them).
    flight = [skeleton(rise=0.15 * np.sin(np.pi * i / 9)) for i in range(1, 9)]
    poses = still(1.0) + flight + still(1.0)
    assert len(jumps(poses)) == 1
    lowered = [(image + np.array([0, 0.06, 0, 0], dtype=np.float32), world) for image, world in poses]
    assert jumps(lowered) == []


def test_facing_angle_follows_the_yaw() -> None:
    world = np.stack([skeleton(yaw=y)[1] for y in (0, 30, 90, -60)])
    np.testing.assert_allclose(np.abs(facing_angle(world)), [0, 30, 90, 60], atol=1e-4)


def test_a_full_turn_is_a_turn() -> None:
    yaws = np.r_[np.zeros(seconds(0.5)), np.linspace(0, 360, seconds(1.5)), np.full(seconds(0.5), 360)]
    [turn] = turns(yaws)
    assert turn["name"] == "turn"
    assert turn["start_s"] == pytest.approx(0.5, abs=0.15)
    assert turn["end_s"] == pytest.approx(2.0, abs=0.15)
    assert turn["confidence"] > 0.9


def test_turns_either_way_and_back_again_are_separate() -> None:
    there = np.linspace(0, -360, seconds(1.0))
    yaws = np.r_[np.zeros(15), there, np.full(15, -360), there[::-1], np.zeros(15)]
    found = turns(yaws)
    assert len(found) == 2
    assert found[0]["end_s"] <= found[1]["start_s"]


def test_a_ninety_degree_wiggle_is_not_a_turn() -> None:
    t = np.arange(seconds(4)) * DT
    assert turns(45 * np.sin(2 * np.pi * t)) == []


def test_a_slow_drift_is_not_a_turn() -> None:
    assert turns(np.linspace(0, 200, seconds(6))) == []


def test_a_half_turn_to_face_the_back_is_not_a_turn() -> None:
    yaws = np.r_[np.zeros(seconds(0.5)), np.linspace(0, 180, seconds(0.6)), np.full(seconds(0.5), 180)]
    assert turns(yaws) == []


def test_a_turn_covers_only_the_fast_rotation() -> None:
    # A slow drift of 60 degrees over 1 s, then a quick full turn in 0.8 s.
    yaws = np.r_[np.linspace(0, 60, seconds(1.0)), np.linspace(60, 420, seconds(0.8)), np.full(seconds(0.5), 420)]
    [turn] = turns(yaws)
    assert turn["start_s"] == pytest.approx(1.0, abs=0.15)
    assert turn["end_s"] == pytest.approx(1.8, abs=0.15)


def test_a_pause_splits_a_sweep_into_no_turn() -> None:
    # Two half turns with a 0.5 s stop between: 360 degrees in all, never in one go.
    half = np.linspace(0, 180, seconds(0.5))
    yaws = np.r_[np.zeros(15), half, np.full(seconds(0.5), 180), 180 + half, np.full(15, 360)]
    assert turns(yaws) == []


def test_rolling_on_the_floor_is_not_a_turn() -> None:
    # Lying on the side (torso horizontal in the image) while the shoulder axis spins.
    yaws = np.r_[np.zeros(15), np.linspace(0, 360, seconds(1.0)), np.full(15, 360)]
    assert turns(yaws, torso_lean=80) == []


def test_turning_on_the_knees_is_not_a_turn() -> None:
    # Kneeling upright (shins flat on the floor behind) while the torso spins: not a dance turn.
    yaws = np.r_[np.zeros(15), np.linspace(0, 360, seconds(1.0)), np.full(15, 360)]
    assert len(turns(yaws)) == 1
    assert turns(yaws, left_knee=90, right_knee=90) == []


def test_a_one_frame_left_right_swap_is_not_a_turn() -> None:
    yaws = np.zeros(seconds(2))
    yaws[20] = 180  # MediaPipe briefly swaps the dancer's left and right
    yaws[40:42] = 180
    assert turns(yaws) == []


def test_movements_are_merged_in_time_order() -> None:
    flight = [skeleton(yaw=360, rise=0.15 * np.sin(np.pi * i / 9)) for i in range(1, 9)]
    spin = [skeleton(yaw=y) for y in np.linspace(0, 360, seconds(1.0))]
    track = track_of(still(0.5) + spin + still(0.5, yaw=360) + flight + still(1.0, yaw=360))
    found = detect_movements(track, frame_duration_s=DT, width=WIDTH, height=HEIGHT)
    assert [m.name for m in found] == ["turn", "jump"]


@given(
    rows=arrays(
        np.float64,
        st.tuples(st.integers(0, 20), st.integers(1, 31)),
        elements=st.one_of(st.just(np.nan), st.floats(-1e6, 1e6)),
    ),
    q=st.floats(0, 100),
)
def test_row_percentile_matches_numpy(rows: np.ndarray, q: float) -> None:
    """The vectorised baseline percentile agrees with NumPy's, NaN and all-NaN rows included."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows
        expected = np.nanpercentile(rows, q, axis=1)

    np.testing.assert_allclose(nanpercentile_rows(rows, q), expected, rtol=1e-9, atol=1e-6)
