"""The arm measures (forearm_inward, head_distance, wrist_above_crown) and the arm-pose rules built on them.

Synthetic skeletons (tests/skeleton.py) shaped by the labelling rules in benchmarks/labels/README.md:
arms crossed or stacked in front of the chest; an arm up = upper arm above the shoulder line and
the hand above the top of the head; a hand on or within a hand's width of the head = framing.
"""

from __future__ import annotations

import numpy as np
import pytest

from posecore.angles import (
    HEAD,
    HEAD_TOP,
    L_ELBOW,
    L_SHOULDER,
    L_WRIST,
    R_ELBOW,
    R_SHOULDER,
    R_WRIST,
    joint_angles,
    joint_confidences,
)
from posecore.pose_library import PoseLibrary
from tests.skeleton import HEIGHT, PX_PER_M, WIDTH, frames, skeleton

LIBRARY = PoseLibrary.default()
Skeleton = tuple[np.ndarray, np.ndarray]


def moved(pose: Skeleton, moves: dict[int, np.ndarray]) -> Skeleton:
    """The skeleton with landmarks moved to new world positions (the image follows)."""
    image, world = pose[0].copy(), pose[1].copy()
    for index, target in moves.items():
        shift = np.asarray(target) - world[index]
        world[index] = target
        image[index, :2] += shift[:2] * PX_PER_M / np.array([WIDTH, HEIGHT])
    return image, world


def measures(pose: Skeleton) -> dict[str, float]:
    landmarks, world = frames([pose])
    return {name: float(v[0]) for name, v in joint_angles(landmarks, world, WIDTH, HEIGHT).items()}


def label(pose: Skeleton) -> str | None:
    landmarks, world = frames([pose])
    labels, _ = LIBRARY.classify(joint_angles(landmarks, world, WIDTH, HEIGHT), joint_confidences(landmarks))
    return labels[0]


def stacked_forearms(yaw: float = 0.0) -> Skeleton:
    """Forearms laid one above the other across the chest, each hand at the other elbow."""
    bent = dict(left_arm_elevation=50, left_arm_forward=80, left_elbow=90)
    bent |= dict(right_arm_elevation=50, right_arm_forward=80, right_elbow=90)
    pose = skeleton(**bent)
    world = pose[1]
    up = np.array([0.0, -0.03, 0.0])
    pose = moved(pose, {L_WRIST: world[R_ELBOW] + up, R_WRIST: world[L_ELBOW] - up})
    if yaw:  # the same body seen from another side: rotate the world about the vertical, reproject
        c, s = np.cos(np.radians(yaw)), np.sin(np.radians(yaw))
        turned = pose[1] @ np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]).T
        pose = moved(pose, dict(enumerate(turned)))
    return pose


def test_stacked_forearms_reach_across_the_body_with_the_wrists_far_apart() -> None:
    m = measures(stacked_forearms())
    assert m["forearm_inward_left"] > 80 and m["forearm_inward_right"] > 80  # a shoulder width across
    # Why the old rule (wrists within 45% of a torso length) missed this: the hands sit at the elbows.
    assert m["wrist_distance"] > 60


def test_stacked_forearms_are_arms_crossed() -> None:
    assert label(stacked_forearms()) == "arms_crossed"


@pytest.mark.parametrize("yaw", [180.0, 30.0])
def test_forearm_inward_does_not_depend_on_which_way_the_dancer_faces(yaw: float) -> None:
    front, turned = measures(stacked_forearms()), measures(stacked_forearms(yaw))
    for side in ("left", "right"):
        assert turned[f"forearm_inward_{side}"] == pytest.approx(front[f"forearm_inward_{side}"], abs=3)


def test_forearm_inward_is_about_zero_for_hanging_or_raised_arms() -> None:
    for pose in (skeleton(), skeleton(left_arm_elevation=175, right_arm_elevation=175)):
        m = measures(pose)
        assert abs(m["forearm_inward_left"]) < 10 and abs(m["forearm_inward_right"]) < 10


def test_forearm_inward_is_nan_with_the_shoulders_edge_on() -> None:
    m = measures(skeleton(yaw=90, left_arm_elevation=50, left_elbow=90))
    assert np.isnan(m["forearm_inward_left"]) and np.isnan(m["forearm_inward_right"])


def test_wrist_above_crown_is_zero_at_the_top_of_the_head() -> None:
    pose = skeleton()
    world = pose[1]
    head = world[list(HEAD)].mean(axis=0)
    torso = np.linalg.norm(world[[L_SHOULDER, R_SHOULDER]].mean(axis=0) - world[[23, 24]].mean(axis=0))
    crown = head - np.array([0.0, HEAD_TOP * torso, 0.0])
    m = measures(moved(pose, {L_WRIST: crown + [0.3, 0.0, 0.0]}))
    assert m["wrist_above_crown_left"] == pytest.approx(0.0, abs=0.5)
    assert m["head_distance_left"] == pytest.approx(100 * np.hypot(0.3, HEAD_TOP * torso) / torso, abs=0.5)


def bent_arm_up(hand_height: float, hand_out: float) -> Skeleton:
    """The left upper arm raised out to the side, the forearm bent up: the wrist ``hand_height``
    metres above and ``hand_out`` metres beside the centre of the head."""
    pose = skeleton(left_arm_elevation=140)
    world = pose[1]
    head = world[list(HEAD)].mean(axis=0)
    return moved(pose, {L_WRIST: head + np.array([hand_out, -hand_height, 0.0])})


def test_a_bent_arm_with_the_hand_clearly_above_and_away_from_the_head_is_an_arm_up() -> None:
    # Elbow bent ~95 degrees: the old rule wanted a near-straight elbow and called this framing.
    pose = bent_arm_up(hand_height=0.2, hand_out=0.2)
    assert measures(pose)["elbow_left"] < 110
    assert label(pose) == "left_arm_up"


def test_an_arm_up_is_found_in_profile_with_the_far_eye_and_ear_hidden() -> None:
    """Seen from the side, MediaPipe marks the far eye and ear barely visible (it still places
    them): the head measures go by the best seen head point, so the raised arm is still read."""
    landmarks, world = frames([bent_arm_up(hand_height=0.2, hand_out=0.2)])
    landmarks[:, [5, 8], 3] = 0.1  # right eye, right ear
    confidences = joint_confidences(landmarks)
    assert confidences["wrist_above_crown_left"][0] > 0.5 and confidences["head_distance_left"][0] > 0.5
    labels, _ = LIBRARY.classify(joint_angles(landmarks, world, WIDTH, HEIGHT), confidences)
    assert labels[0] == "left_arm_up"


def test_a_hand_resting_on_top_of_the_head_is_framing_not_an_arm_up() -> None:
    pose = bent_arm_up(hand_height=0.13, hand_out=0.03)  # wrist just over the crown, touching
    m = measures(pose)
    assert m["wrist_above_crown_left"] > -5 and m["head_distance_left"] < 42
    assert label(pose) == "hands_framing_head"


def test_a_forearm_raised_with_the_upper_arm_below_the_shoulder_line_is_no_arm_up() -> None:
    pose = skeleton(left_arm_elevation=70, left_elbow=60)
    world = pose[1]
    pose = moved(pose, {L_WRIST: world[L_ELBOW] + np.array([0.05, -0.27, 0.0])})  # forearm straight up
    assert measures(pose)["elbow_height_left"] < 100
    assert label(pose) not in ("left_arm_up", "arms_up")


def test_one_arm_up_and_one_hand_on_the_head_is_not_arms_up() -> None:
    right_up = skeleton(right_arm_elevation=170, left_arm_elevation=140)
    world = right_up[1]
    head = world[list(HEAD)].mean(axis=0)
    pose = moved(right_up, {L_WRIST: head + np.array([0.03, -0.13, 0.0])})
    assert label(pose) == "right_arm_up"


def test_arms_out_at_shoulder_height_with_the_elbows_read_soft_are_a_t_pose() -> None:
    # MediaPipe's world elbows read ~145 degrees on straight arms; the old rule wanted 150+.
    assert label(skeleton(left_arm_elevation=80, right_arm_elevation=95, left_elbow=145, right_elbow=145)) == "t_pose"
