"""Joint angles from synthetic skeletons: values, conventions, space choices, visibility."""

from __future__ import annotations

import numpy as np
import pytest

from posecore.angles import ANGLES, L_WRIST, R_HIP, joint_angles, joint_confidences
from tests.skeleton import HEIGHT, WIDTH, frames, skeleton


def measures(width: int = WIDTH, height: int = HEIGHT, **pose: float) -> dict[str, float]:
    """All measures of one skeleton frame as plain floats."""
    landmarks, world = frames([skeleton(width=width, height=height, **pose)])
    return {name: float(v[0]) for name, v in joint_angles(landmarks, world, width, height).items()}


def test_standing_is_straight_and_level() -> None:
    m = measures()
    for name in ("elbow_left", "elbow_right", "knee_left", "knee_right"):
        assert m[name] == pytest.approx(180, abs=0.5)
    for name in ("arm_elevation_left", "arm_elevation_right", "torso_lean", "ankle_lift_left", "leg_spread"):
        assert m[name] == pytest.approx(0, abs=0.5)
    assert m["hip_left"] > 165


def test_t_pose_arms_are_horizontal_and_sideways() -> None:
    m = measures(left_arm_elevation=90, right_arm_elevation=90)
    assert m["arm_elevation_left"] == pytest.approx(90, abs=0.5)
    assert m["arm_elevation_right"] == pytest.approx(90, abs=0.5)
    assert m["arm_forward_left"] == pytest.approx(0, abs=0.5)
    assert 85 < m["shoulder_left"] < 105  # vs the torso line, which slants in to the hips


@pytest.mark.parametrize("elevation", [30, 60, 120, 150])
def test_arm_elevation_is_aspect_corrected(elevation: float) -> None:
    wide = dict(width=1280, height=720)
    m = measures(**wide, left_arm_elevation=elevation)
    assert m["arm_elevation_left"] == pytest.approx(elevation, abs=0.5)
    # Ignoring the frame's aspect ratio would distort the angle.
    landmarks, world = frames([skeleton(**wide, left_arm_elevation=elevation)])
    square = joint_angles(landmarks, world, 720, 720)["arm_elevation_left"][0]
    assert abs(square - elevation) > 5


def test_elbow_flexion_from_world_is_not_foreshortened() -> None:
    # Upper arm pointing almost at the camera: its image is short and the 2D angle lies.
    pose = dict(left_arm_elevation=90, left_arm_forward=70, left_elbow=90)
    assert measures(**pose)["elbow_left"] == pytest.approx(90, abs=0.5)
    image = skeleton(**pose)[0][:, :2] * [WIDTH, HEIGHT]
    upper, fore = image[11] - image[13], image[15] - image[13]
    flat = np.degrees(np.arccos(upper @ fore / np.linalg.norm(upper) / np.linalg.norm(fore)))
    assert abs(flat - 90) > 20


def test_squat_bends_knees_and_hips() -> None:
    m = measures(left_hip_flex=90, right_hip_flex=90, left_knee=80, right_knee=80)
    assert m["knee_left"] == pytest.approx(80, abs=0.5)
    assert m["hip_right"] == pytest.approx(90, abs=0.5)


@pytest.mark.parametrize("yaw", [0, 180])
def test_torso_lean_sign_is_the_dancers_side_whichever_way_they_face(yaw: float) -> None:
    assert measures(torso_lean=25, yaw=yaw)["torso_lean"] == pytest.approx(25, abs=0.5)
    assert measures(torso_lean=-25, yaw=yaw)["torso_lean"] == pytest.approx(-25, abs=0.5)


@pytest.mark.parametrize("yaw", [0, 90, 200])
def test_forward_is_the_dancers_forward_not_the_cameras(yaw: float) -> None:
    m = measures(left_arm_elevation=90, left_arm_forward=90, left_hip_flex=-60, yaw=yaw)
    assert m["arm_forward_left"] == pytest.approx(90, abs=0.5)
    assert m["arm_forward_right"] == pytest.approx(0, abs=0.5)
    assert m["leg_forward_left"] == pytest.approx(-60, abs=0.5)


def test_hands_on_hips_brings_wrists_near_hips() -> None:
    on_hips = measures(left_arm_elevation=40, left_arm_forward=-20, left_elbow=80)
    t_pose = measures(left_arm_elevation=90)
    assert on_hips["wrist_hip_left"] < 35
    assert t_pose["wrist_hip_left"] > 100


def test_ankle_lift_is_signed_in_leg_lengths() -> None:
    m = measures(right_hip_flex=90, right_knee=90)  # right thigh level, shin hanging
    leg = 0.45 + 0.43
    assert m["ankle_lift_right"] == pytest.approx(100 * 0.45 / leg, abs=0.5)
    assert m["ankle_lift_left"] == pytest.approx(-m["ankle_lift_right"])


def test_leg_spread_is_the_angle_between_thighs() -> None:
    assert measures(left_hip_flex=50, right_hip_flex=-30)["leg_spread"] == pytest.approx(80, abs=0.5)


def test_confidence_is_the_least_visible_landmark_of_each_measure() -> None:
    landmarks, _ = frames([skeleton(hidden=(L_WRIST, R_HIP))])
    conf = {name: float(v[0]) for name, v in joint_confidences(landmarks).items()}
    assert conf["elbow_left"] < 0.1
    assert conf["wrist_hip_left"] < 0.1
    assert conf["elbow_right"] > 0.9
    assert conf["torso_lean"] < 0.1  # uses both hips
    assert conf["arm_elevation_right"] > 0.9


def test_every_measure_is_vectorised_over_frames() -> None:
    poses = [skeleton(left_arm_elevation=e) for e in (0, 45, 90, 135, 180)]
    landmarks, world = frames(poses)
    angles = joint_angles(landmarks, world, WIDTH, HEIGHT)
    assert set(angles) == set(ANGLES) == set(joint_confidences(landmarks))
    assert all(v.shape == (5,) for v in angles.values())
    np.testing.assert_allclose(angles["arm_elevation_left"], [0, 45, 90, 135, 180], atol=0.5)


def test_degenerate_geometry_gives_nan_not_an_error() -> None:
    landmarks, world = np.zeros((2, 33, 4)), np.zeros((2, 33, 3))
    with np.errstate(all="raise"):
        angles = joint_angles(landmarks, world, WIDTH, HEIGHT)
    assert np.isnan(angles["elbow_left"]).all()
    assert joint_angles(np.zeros((0, 33, 4)), np.zeros((0, 33, 3)), WIDTH, HEIGHT)["knee_left"].shape == (0,)


def test_wrist_above_head_is_measured_from_the_nose_in_torso_lengths() -> None:
    hanging = measures()
    raised = measures(left_arm_elevation=175)
    at_head = measures(left_arm_elevation=160, left_elbow=40)
    at_chest = measures(left_arm_elevation=60, left_arm_forward=80, left_elbow=60)
    assert hanging["wrist_above_head_left"] < -100  # a hanging hand is far below the nose
    assert raised["wrist_above_head_left"] > 50  # a raised straight arm: well above the top of the head
    assert -30 < at_head["wrist_above_head_left"] < 40  # a hand at the head: near nose height
    assert at_chest["wrist_above_head_left"] < at_head["wrist_above_head_left"] - 20
    assert raised["wrist_above_head_right"] == pytest.approx(hanging["wrist_above_head_right"])


def test_elbow_height_is_shoulder_level_at_100() -> None:
    assert measures(left_arm_elevation=90)["elbow_height_left"] == pytest.approx(100, abs=5)
    assert measures()["elbow_height_left"] < 60
    assert measures(left_arm_elevation=180)["elbow_height_left"] > 120
