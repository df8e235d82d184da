"""Issue 14's rules on synthetic skeletons: the confidence floor, held poses, track
fragments, facing, and the dance vocabulary (crossed arms, hands at the head, stances)."""

from __future__ import annotations

import numpy as np
import pytest

from posecore.angles import joint_angles, joint_confidences
from posecore.dancers import analyse_dancer
from posecore.errors import PoseLibraryError
from posecore.facing import facing_per_frame
from posecore.options import AnalysisOptions
from posecore.pose_library import PoseLibrary, parse_poses
from posecore.track_cleanup import clean_tracks
from tests.skeleton import FPS, HEIGHT, PX_PER_M, WIDTH, frames, skeleton, track_of

LIBRARY = PoseLibrary.default()
CROSSED = dict(
    left_arm_elevation=55, left_arm_forward=85, left_elbow=65,
    right_arm_elevation=55, right_arm_forward=85, right_elbow=65,
)  # fmt: skip


def label(pose: tuple[np.ndarray, np.ndarray], min_score: float = 0.5) -> str | None:
    landmarks, world = frames([pose])
    angles = joint_angles(landmarks, world, WIDTH, HEIGHT)
    labels, _ = LIBRARY.classify(angles, joint_confidences(landmarks), min_score=min_score)
    return labels[0]


def wide(pose: tuple[np.ndarray, np.ndarray], metres: float) -> tuple[np.ndarray, np.ndarray]:
    """The skeleton with each leg moved ``metres`` out to its side (a wide stance, legs straight)."""
    image, world = pose[0].copy(), pose[1].copy()
    for points, side in (((25, 27, 29, 31), 1.0), ((26, 28, 30, 32), -1.0)):
        for i, k in enumerate(points):
            shift = side * metres * (0.5 if i == 0 else 1.0)  # the knee half as far as the foot
            world[k, 0] += shift
            image[k, 0] += shift * PX_PER_M / WIDTH
    return image, world


def test_confidence_floor_leaves_near_misses_unlabelled() -> None:
    library = PoseLibrary(parse_poses({"tilt": {"tolerance": 10, "rules": {"torso_lean": [20, 40]}}}))
    angles = {"torso_lean": np.array([30.0, 14.0, 12.0, 0.0])}  # scores 1, 0.4, 0.2, 0
    confidences = {"torso_lean": np.ones(4)}
    labels, scores = library.classify(angles, confidences, min_score=0.5)
    assert labels.tolist() == ["tilt", None, None, "standing"]
    guessed, _ = library.classify(angles, confidences)  # no floor: the old behaviour guesses
    assert guessed.tolist() == ["tilt", "tilt", "tilt", "standing"]


def test_still_parts_make_a_pose_a_hold() -> None:
    library = PoseLibrary(parse_poses(
        {"tilt": {"still": {"legs": 1.0}, "rules": {"torso_lean": [20, 40]}}}
    ))  # fmt: skip
    angles, confidences = {"torso_lean": np.full(3, 30.0)}, {"torso_lean": np.ones(3)}
    speeds = {"legs": np.array([0.5, 3.0, np.nan]), "arms": np.zeros(3), "body": np.zeros(3)}
    labels, _ = library.classify(angles, confidences, speeds=speeds)
    assert labels.tolist() == ["tilt", "standing", "standing"]
    assert library.to_dict()["poses"]["tilt"]["still"] == {"legs": 1.0}
    with pytest.raises(PoseLibraryError, match="unknown body part"):
        parse_poses({"p": {"still": {"tail": 1}, "rules": {"torso_lean": [0, 1]}}})


def balance(step_s: float | None, seconds: float = 1.5) -> list[tuple[np.ndarray, np.ndarray]]:
    """Standing on the left leg, the right foot lifted and held (``step_s`` None), or walking on
    the spot: each foot lifts in turn, a step every ``step_s``, the legs always moving."""
    poses = []
    for i in range(int(seconds * FPS)):
        if step_s is None:
            right, left = 1.0, 0.0
        else:
            phase = np.sin(np.pi * i / FPS / step_s)
            right, left = max(phase, 0.0), max(-phase, 0.0)
        poses.append(skeleton(
            right_hip_flex=60 * right, right_knee=180 - 90 * right, left_hip_flex=60 * left, left_knee=180 - 90 * left,
        ))  # fmt: skip
    return poses


def segment_names(poses: list[tuple[np.ndarray, np.ndarray]], **kw: float) -> list[str]:
    track = track_of(poses)
    found = analyse_dancer(
        track, frames_analyzed=len(track), frame_duration_s=1 / FPS, width=WIDTH, height=HEIGHT,
        library=LIBRARY, min_confidence=0.5, **kw,
    )  # fmt: skip
    return [s.name for s in found.segments]


def test_a_held_balance_is_a_one_leg_stand_but_walking_steps_are_not() -> None:
    assert "one_leg_stand_left" in segment_names(balance(None))
    stepping = segment_names(balance(0.25))
    assert not {"one_leg_stand_left", "one_leg_stand_right"} & set(stepping)


def test_crossed_arms_are_arms_crossed_not_a_lean_or_an_arm_up() -> None:
    assert label(skeleton(**CROSSED)) == "arms_crossed"


def test_hand_at_the_head_is_hands_framing_head_and_a_hand_high_above_is_arm_up() -> None:
    assert label(skeleton(left_arm_elevation=160, left_elbow=40)) == "hands_framing_head"
    assert label(skeleton(right_arm_elevation=160, right_elbow=40)) == "hands_framing_head"
    assert label(skeleton(left_arm_elevation=170)) == "left_arm_up"


def test_wide_stance_and_plie() -> None:
    assert label(skeleton()) == "standing"
    assert label(wide(skeleton(), 0.25)) == "wide_stance"
    bent = skeleton(left_hip_flex=40, right_hip_flex=40, left_knee=110, right_knee=110, yaw=0)
    assert label(wide(bent, 0.25)) in ("plie", "squat")


def test_softened_knees_in_a_wide_stance_are_a_wide_stance_not_a_plie_or_standing() -> None:
    assert label(wide(skeleton(left_knee=145, right_knee=145), 0.25)) == "wide_stance"


def test_floor_work_when_the_torso_lies_down() -> None:
    assert label(skeleton(torso_lean=80)) == "floor_work"


def test_facing_front_side_back_per_frame_and_per_segment() -> None:
    landmarks, world = frames([skeleton(yaw=0), skeleton(yaw=90), skeleton(yaw=180)])
    assert facing_per_frame(landmarks, world).tolist() == ["front", "side", "back"]
    track = track_of([skeleton(yaw=180, left_arm_elevation=170)] * 15)
    found = analyse_dancer(
        track, frames_analyzed=15, frame_duration_s=1 / FPS, width=WIDTH, height=HEIGHT, library=LIBRARY,
        min_confidence=0.5,
    )  # fmt: skip
    # Back to the camera, the arm MediaPipe's world calls left is still the dancer's own left.
    assert [(s.name, s.facing) for s in found.segments] == [("left_arm_up", "back")]


def piece(track_id: int, start: int, count: int, shift: float = 0.0):
    poses = [skeleton() for _ in range(count)]
    track = track_of(poses, frame_indices=range(start, start + count), track_id=track_id)
    track.landmarks[..., 0] += shift
    return track


def test_a_solo_is_one_dancer_however_the_tracker_split_it() -> None:
    tracks = [piece(1, 0, 4), piece(2, 10, 100, shift=0.3), piece(3, 120, 3)]
    cleaned = clean_tracks(tracks, min_dancer_s=1.0, max_people=1)
    assert [t.id for t in cleaned] == [1]
    assert len(cleaned[0]) == 107 and np.all(np.diff(cleaned[0].times_s) > 0)


def test_fragments_join_the_dancer_they_continue_or_are_dropped() -> None:
    left, right = piece(1, 0, 60, shift=-0.3), piece(2, 0, 60, shift=0.3)
    near_right = piece(3, 65, 5, shift=0.3)  # the right dancer found again after a short loss
    far = piece(4, 62, 5, shift=-0.9)  # 5 frames of someone 2 torso lengths beside the left dancer: dropped
    cleaned = clean_tracks([left, right, near_right, far], min_dancer_s=1.0, max_people=2)
    assert [(t.id, len(t)) for t in cleaned] == [(1, 60), (2, 65)]
    assert clean_tracks([left, right], min_dancer_s=3.0, max_people=2) == []
    # In a 2 s clip, dancers seen for its first 2 s are dancers, whatever min_dancer_s says.
    assert len(clean_tracks([left, right], min_dancer_s=3.0, max_people=2, analysed_s=2.0)) == 2


def test_new_options_have_their_defaults() -> None:
    options = AnalysisOptions()
    assert options.min_confidence == 0.5 and options.min_dancer_s == 1.0
    assert AnalysisOptions.parse({"min_confidence": 0.7}).min_confidence == 0.7
