"""The pose table: every named pose matches its pose and not its near misses; user files."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from posecore.angles import L_KNEE, L_WRIST, R_HIP, R_WRIST, joint_angles, joint_confidences
from posecore.errors import PoseFileTooLarge, PoseLibraryError
from posecore.pose_library import MAX_DEPTH, MAX_NODES, MAX_POSE_FILE_BYTES, PoseLibrary
from tests.skeleton import HEIGHT, WIDTH, frames, skeleton

LIBRARY = PoseLibrary.default()

T_POSE = dict(left_arm_elevation=90, right_arm_elevation=90)
ARMS_UP = dict(left_arm_elevation=175, right_arm_elevation=175)
ARMS_FORWARD = dict(left_arm_elevation=90, right_arm_elevation=90, left_arm_forward=90, right_arm_forward=90)
HANDS_ON_HIPS = dict(
    left_arm_elevation=40, right_arm_elevation=40, left_arm_forward=-20, right_arm_forward=-20,
    left_elbow=80, right_elbow=80,
)  # fmt: skip
SQUAT = dict(left_hip_flex=90, right_hip_flex=90, left_knee=90, right_knee=90)
LUNGE_LEFT = dict(left_hip_flex=70, left_knee=100, right_hip_flex=-10, right_knee=110)
LUNGE_RIGHT = dict(right_hip_flex=70, right_knee=100, left_hip_flex=-10, left_knee=110)
ON_LEFT_LEG = dict(right_hip_flex=30, right_knee=80)  # right foot off the floor, below the knee
ON_RIGHT_LEG = dict(left_hip_flex=30, left_knee=80)
PASSE = dict(right_hip_flex=60, right_knee=60)  # right foot drawn up to the left knee
CROSSED = dict(
    left_arm_elevation=55, left_arm_forward=85, left_elbow=65,
    right_arm_elevation=55, right_arm_forward=85, right_elbow=65,
)  # fmt: skip

POSITIVE = {
    "t_pose": T_POSE,
    "arms_up": ARMS_UP,
    "left_arm_up": dict(left_arm_elevation=170),
    "right_arm_up": dict(right_arm_elevation=170, right_elbow=140),
    "arms_forward": ARMS_FORWARD,
    "hands_on_hips": HANDS_ON_HIPS,
    "squat": SQUAT,
    "lunge_left": LUNGE_LEFT,
    "lunge_right": LUNGE_RIGHT,
    "one_leg_stand_left": ON_LEFT_LEG,
    "one_leg_stand_right": ON_RIGHT_LEG,
    "lean_left": dict(torso_lean=35),
    "lean_right": dict(torso_lean=-35),
    "leg_raise_front": dict(right_hip_flex=75),
    "arabesque": dict(left_hip_flex=-70, torso_pitch=20, left_arm_elevation=90, left_arm_forward=90),
    "attitude": dict(left_hip_flex=-60, left_knee=120, torso_pitch=20),
    "passe": PASSE,
    "kneel": dict(left_knee=90, right_knee=90, yaw=90),  # seen from the side: the shins show
    "floor_work": dict(torso_lean=80),
    "wide_stance": dict(stance=0.25),
    "plie": dict(stance=0.25, left_hip_flex=30, right_hip_flex=30, left_knee=110, right_knee=110),
    "releve": dict(heel_lift=0.2),
    "arms_crossed": CROSSED,
    "hands_framing_head": dict(left_arm_elevation=160, left_elbow=40),
}

NEAR_MISSES = [  # (pose that must not match, skeleton kwargs)
    ("t_pose", dict(left_arm_elevation=60, right_arm_elevation=60)),
    ("t_pose", dict(T_POSE, left_elbow=120, right_elbow=120)),
    ("t_pose", dict(T_POSE, left_arm_forward=50, right_arm_forward=50)),
    ("t_pose", dict(T_POSE, hidden=(L_WRIST,))),
    # A straight arm 20 degrees above the shoulder line holds the hand below the top of the head.
    ("arms_up", dict(left_arm_elevation=110, right_arm_elevation=110)),
    ("arms_up", dict(ARMS_UP, right_arm_elevation=110)),
    ("left_arm_up", dict(left_arm_elevation=110)),
    ("left_arm_up", dict(left_arm_elevation=170, hidden=(L_WRIST,))),
    ("right_arm_up", dict(right_arm_elevation=170, right_elbow=90)),
    ("arms_forward", dict(ARMS_FORWARD, left_arm_elevation=45, right_arm_elevation=45)),
    ("arms_forward", dict(ARMS_FORWARD, left_elbow=100, right_elbow=100)),
    ("hands_on_hips", {}),  # arms hanging: wrists near hips, but elbows straight
    ("hands_on_hips", dict(HANDS_ON_HIPS, left_elbow=160, right_elbow=160)),
    ("hands_on_hips", dict(HANDS_ON_HIPS, hidden=(R_WRIST,))),
    ("squat", dict(left_hip_flex=30, right_hip_flex=30, left_knee=150, right_knee=150)),
    ("squat", dict(SQUAT, hidden=(L_KNEE,))),
    ("lunge_left", dict(LUNGE_LEFT, left_knee=170)),
    ("lunge_left", dict(LUNGE_LEFT, right_hip_flex=0, right_knee=180)),
    ("lunge_left", LUNGE_RIGHT),
    ("one_leg_stand_left", dict(right_hip_flex=15, right_knee=160)),
    ("one_leg_stand_left", dict(ON_LEFT_LEG, left_knee=120)),
    ("one_leg_stand_left", ON_RIGHT_LEG),
    ("lean_left", dict(torso_lean=4)),
    ("lean_left", dict(torso_lean=12)),  # a slight tilt is no lean
    ("one_leg_stand_left", PASSE),  # a passe is named as a passe
    ("wide_stance", dict(stance=0.05)),
    ("arms_crossed", dict(CROSSED, left_elbow=170, right_elbow=170)),
    ("hands_framing_head", dict(left_arm_elevation=90)),
    # A hand in front of the chest is near the nose but well below it: not at the head.
    ("hands_framing_head", dict(left_arm_elevation=60, left_arm_forward=80, left_elbow=60)),
    ("plie", dict(stance=0.25, left_knee=145, right_knee=145)),  # a slight give in a wide stance
    ("right_arm_up", CROSSED),  # arms bent in front of the chest are not an arm up
    ("left_arm_up", CROSSED),
    ("kneel", {}),
    ("floor_work", dict(torso_lean=30)),
    ("lean_left", dict(torso_lean=-25)),
    ("lean_left", dict(torso_lean=25, hidden=(R_HIP,))),
    ("leg_raise_front", dict(right_hip_flex=25)),
    ("leg_raise_front", dict(right_hip_flex=75, right_knee=100)),
    ("arabesque", dict(left_hip_flex=-20)),
    ("arabesque", dict(left_hip_flex=-70, left_knee=90)),
]


def classify(library: PoseLibrary = LIBRARY, **pose: float) -> tuple[str | None, float]:
    landmarks, world = frames([skeleton(**pose)])
    angles = joint_angles(landmarks, world, WIDTH, HEIGHT)
    labels, scores = library.classify(angles, joint_confidences(landmarks))
    return labels[0], float(scores[0])


def test_every_named_pose_has_a_positive_case() -> None:
    assert set(POSITIVE) == set(LIBRARY.names)


@pytest.mark.parametrize("name", sorted(POSITIVE))
def test_named_pose_matches(name: str) -> None:
    assert classify(**POSITIVE[name]) == (name, 1.0)


@pytest.mark.parametrize("side", ["left", "right"])
def test_either_leg_poses_match_both_sides(side: str) -> None:
    assert classify(**{f"{side}_hip_flex": 75})[0] == "leg_raise_front"
    assert classify(**{f"{side}_hip_flex": -70})[0] == "arabesque"


@pytest.mark.parametrize(("name", "pose"), NEAR_MISSES)
def test_near_miss_is_not_the_pose(name: str, pose: dict) -> None:
    assert classify(**pose)[0] != name


def test_standing_is_the_fallback_for_a_seen_dancer() -> None:
    assert classify() == ("standing", 1.0)
    assert classify(left_arm_elevation=60, right_arm_elevation=60)[0] == "standing"


def test_unseen_torso_without_a_match_has_no_label() -> None:
    assert classify(torso_lean=3, hidden=(R_HIP,)) == (None, 0.0)


def test_score_falls_linearly_within_the_tolerance() -> None:
    assert classify(left_arm_elevation=80, right_arm_elevation=80) == ("t_pose", 1.0)
    label, score = classify(left_arm_elevation=65, right_arm_elevation=90)
    assert label == "t_pose" and score == pytest.approx(0.5, abs=0.01)  # 5 of 10 degrees out


def test_both_arms_up_beats_one_arm_up_and_leg_poses_beat_arm_poses() -> None:
    assert classify(**ARMS_UP)[0] == "arms_up"
    assert classify(**ARMS_UP, **ON_LEFT_LEG)[0] == "one_leg_stand_left"
    assert classify(**SQUAT, **T_POSE)[0] == "squat"


def test_equal_priority_ties_go_to_the_more_specific_pose() -> None:
    lib = PoseLibrary.load(
        {
            "arm_out": {"priority": 99, "rules": {"arm_elevation_left": [70, 110]}},
            "arms_out": {
                "priority": 99,
                "rules": {"arm_elevation_left": [70, 110], "arm_elevation_right": [70, 110]},
            },
        }
    )
    assert classify(lib, **T_POSE)[0] == "arms_out"
    assert classify(lib, left_arm_elevation=90)[0] == "arm_out"


def test_classify_is_per_frame() -> None:
    landmarks, world = frames([skeleton(), skeleton(**T_POSE), skeleton(**SQUAT)])
    angles = joint_angles(landmarks, world, WIDTH, HEIGHT)
    labels, scores = LIBRARY.classify(angles, joint_confidences(landmarks))
    assert list(labels) == ["standing", "t_pose", "squat"]
    assert scores.shape == (3,)


USER_POSES = {
    "star": {
        "description": "Arms and legs spread wide.",
        "priority": 60,
        "rules": {"arm_elevation_left": [110, 150], "arm_elevation_right": [110, 150]},
    },
    "t_pose": {  # stricter than the default: arms within 5 degrees of level
        "description": "Strict T.",
        "priority": 25,
        "tolerance": 0,
        "rules": {"arm_elevation_left": [85, 95], "arm_elevation_right": [85, 95]},
    },
}


@pytest.mark.parametrize("suffix", [".json", ".yaml", ".yml"])
def test_user_file_adds_and_overrides_poses(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"mine{suffix}"
    path.write_text(json.dumps(USER_POSES) if suffix == ".json" else yaml.safe_dump(USER_POSES))
    lib = PoseLibrary.load(path)
    assert classify(lib, left_arm_elevation=130, right_arm_elevation=130)[0] == "star"
    assert classify(lib, **T_POSE)[0] == "t_pose"
    assert classify(lib, left_arm_elevation=80, right_arm_elevation=80)[0] != "t_pose"
    assert classify(LIBRARY, left_arm_elevation=80, right_arm_elevation=80)[0] == "t_pose"
    assert classify(lib, **SQUAT)[0] == "squat"  # defaults kept
    assert lib.to_dict()["poses"]["t_pose"]["description"] == "Strict T."


def test_user_text_loads_on_a_given_base() -> None:
    base = PoseLibrary.load({"only": {"rules": {"torso_lean": [5, 10]}}})
    lib = PoseLibrary.loads(b"star:\n  rules:\n    - {torso_lean: [20, 30]}\n", base=base)
    assert {"only", "star", "t_pose"} <= set(lib.names)


BAD_POSES = [  # (pose table, words the one-line message must contain)
    ({"x": {"rules": {"elbow_middle": [0, 90]}}}, ["'x'", "rules.elbow_middle", "unknown measure"]),
    ({"x": {"rules": {"elbow_left": [120, 90]}}}, ["'x'", "rules.elbow_left", "low must not exceed high"]),
    ({"x": {"rules": {"elbow_left": [90]}}}, ["'x'", "rules.elbow_left", "[low, high]"]),
    ({"x": {"rules": {"elbow_left": ["90", 120]}}}, ["rules.elbow_left"]),
    ({"x": {"rules": {"elbow_left": [90, float("nan")]}}}, ["rules.elbow_left"]),
    ({"x": {"rules": [{"elbow_left": [0, 9]}, {"kne": [0, 9]}]}}, ["'x'", "rules[1].kne"]),
    ({"x": {"rules": {}}}, ["'x'", "rules"]),
    ({"x": {"rules": []}}, ["'x'", "rules"]),
    ({"x": {"description": "no rules"}}, ["'x'", "rules", "missing"]),
    ({"x": {"rules": {"elbow_left": [0, 9]}, "colour": "red"}}, ["'x'", "colour", "unknown field"]),
    ({"x": {"rules": {"elbow_left": [0, 9]}, "priority": True}}, ["'x'", "priority"]),
    ({"x": {"rules": {"elbow_left": [0, 9]}, "priority": 1.5}}, ["'x'", "priority"]),
    ({"x": {"rules": {"elbow_left": [0, 9]}, "tolerance": -1}}, ["'x'", "tolerance"]),
    ({"x": {"rules": {"elbow_left": [0, 9]}, "description": 7}}, ["'x'", "description"]),
    ({"x": ["elbow_left", 0, 9]}, ["'x'", "definition"]),
    ({"standing": {"rules": {"elbow_left": [0, 9]}}}, ["'standing'", "reserved"]),
    ({"Big Pose": {"rules": {"elbow_left": [0, 9]}}}, ["'Big Pose'", "name"]),
    ({}, ["non-empty mapping"]),
]


@pytest.mark.parametrize(("table", "words"), BAD_POSES)
def test_invalid_pose_tables_are_rejected_with_a_one_line_message(table: dict, words: list[str]) -> None:
    with pytest.raises(PoseLibraryError) as info:
        PoseLibrary.load(table)
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message
    assert info.value.code == "invalid_pose_library"


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("bad.yaml", "t_pose: [unclosed\n  rules: {", ["bad.yaml", "not valid"]),
        ("bad.json", '{"t_pose": {"rules": }', ["bad.json", "not valid JSON"]),
        ("list.yaml", "- t_pose\n- squat\n", ["list.yaml", "mapping"]),
        ("empty.yml", "", ["empty.yml", "mapping"]),
        ("poses.txt", "{}", ["poses.txt", ".json, .yaml or .yml"]),
        ("x.yaml", "x:\n  rules: {knee_left: [0, 500, 3]}\n", ["x.yaml", "pose 'x'", "rules.knee_left"]),
    ],
)
def test_invalid_pose_files_are_rejected(tmp_path: Path, name: str, text: str, words: list[str]) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(PoseLibraryError) as info:
        PoseLibrary.load(path)
    assert "\n" not in str(info.value)
    for word in words:
        assert word in str(info.value)


def test_missing_file_is_a_pose_library_error(tmp_path: Path) -> None:
    with pytest.raises(PoseLibraryError, match="cannot read"):
        PoseLibrary.load(tmp_path / "nope.yaml")


def test_to_dict_describes_poses_and_measures_and_loads_back() -> None:
    described = LIBRARY.to_dict()
    json.dumps(described)  # served as JSON
    assert described["fallback"] == "standing"
    assert described["poses"]["t_pose"]["rules"][0]["arm_elevation_left"] == [70, 110]
    assert described["poses"]["t_pose"]["tolerance"] == 10
    assert described["angles"]["elbow_left"] == {
        "space": "world",
        "landmarks": ["left_shoulder", "left_elbow", "left_wrist"],
        "unit": "deg",
        "description": described["angles"]["elbow_left"]["description"],
    }
    assert described["angles"]["arm_elevation_left"]["space"] == "image"
    reloaded = PoseLibrary.load(described["poses"], base=PoseLibrary({}))
    assert reloaded.to_dict() == described


def test_score_ignores_frames_where_the_measure_is_nan() -> None:
    angles = {"torso_lean": np.array([np.nan, 30.0])}
    confidences = {"torso_lean": np.array([1.0, 1.0])}
    assert LIBRARY.poses["lean_left"].score(angles, confidences).tolist() == [0.0, 1.0]  # in [25, 70]


# -- Untrusted pose files: bounded before and while parsing, short messages ----------------

VALID_RULE = "rules: {elbow_left: [0, 9]}"


def anchor_bomb(field: str, levels: int) -> str:
    """The "billion laughs": each level is a list of 9 aliases of the one before (~450 bytes for 8 levels)."""
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join(["x:", f"  {VALID_RULE}", f"  {field}:"] + [f"    {line}" for line in lines]) + "\n"


def rejected(text: str | bytes) -> PoseLibraryError:
    with pytest.raises(PoseLibraryError) as info:
        PoseLibrary.loads(text)
    return info.value


def test_a_pose_file_over_the_size_cap_is_refused_unread() -> None:
    text = "[" + ",".join(["1"] * (MAX_POSE_FILE_BYTES // 2 + 1)) + "]"  # the 4 MB, capped
    started = time.perf_counter()
    error = rejected(text)
    assert time.perf_counter() - started < 0.5
    assert isinstance(error, PoseFileTooLarge) and error.code == "poses_too_large"
    assert "256 KB" in error.message
    assert isinstance(rejected(text.encode()), PoseFileTooLarge)
    assert not isinstance(rejected("x: " + "é" * (MAX_POSE_FILE_BYTES // 2 - 2)), PoseFileTooLarge)  # 256 KB exactly
    assert isinstance(rejected("x: " + "é" * (MAX_POSE_FILE_BYTES // 2)), PoseFileTooLarge)  # counted in UTF-8 bytes


def test_reading_stops_at_the_node_limit() -> None:
    text = "[" + ",".join(["1"] * (MAX_NODES * 10)) + "]"  # under the size cap: 200 KB, 100k values
    assert len(text) < MAX_POSE_FILE_BYTES
    started = time.perf_counter()
    error = rejected(text)
    assert time.perf_counter() - started < 2.0  # stops after MAX_NODES values (~0.1 s), not 100k
    assert f"more than {MAX_NODES} values" in error.message


@pytest.mark.parametrize("field", ["priority", "tolerance"])
def test_an_anchor_bomb_is_refused_with_a_short_message(field: str) -> None:
    text = anchor_bomb(field, levels=8)  # 9**9 = 387 million values once expanded
    assert len(text) < 600
    started = time.perf_counter()
    error = rejected(text)
    assert time.perf_counter() - started < 1.0
    assert f"more than {MAX_NODES} values" in error.message and len(error.message) < 200


@pytest.mark.parametrize("field", ["priority", "tolerance"])
def test_a_big_value_is_described_by_its_type_not_echoed(field: str) -> None:
    error = rejected(anchor_bomb(field, levels=2))  # 9**3 = 729 values: under the limit, so validated
    assert f"{field}: must be" in error.message
    assert "got a mapping of 3 keys" in error.message and len(error.message) < 200
    error = rejected(f"x:\n  {VALID_RULE}\n  {field}: [{', '.join(['[1, 2, 3]'] * 2000)}]\n")
    assert "got a list of 2000 items [list, list, list, ...]" in error.message and len(error.message) < 200


def test_small_bad_values_are_still_shown() -> None:
    assert "got 'abc'" in rejected(f"x:\n  {VALID_RULE}\n  priority: abc\n").message
    assert "got 1.5" in rejected(f"x:\n  {VALID_RULE}\n  priority: 1.5\n").message
    assert "got a text of 1000 characters" in rejected(f"x:\n  {VALID_RULE}\n  priority: {'a' * 1000}\n").message


LONG = "z" * 100_000


@pytest.mark.parametrize("source", [
    {LONG: {"rules": {"elbow_left": [0, 9]}}},  # a long pose name (a mapping: YAML caps plain keys at 1024)
    {"x": {"rules": {"elbow_left": [0, 9]}, LONG: 1}},  # a long field name
    {"x": {"rules": {LONG: [0, 9]}}},  # a long measure name
    f"x:\n  rules: {{elbow_left: [0, {'9' * 100_000}]}}\n",  # a number beyond Python's int() digit limit
    f"x:\n  {VALID_RULE}\n  tolerance: {'9' * 4000}\n",  # a long integer within it
])
def test_long_names_and_numbers_are_not_echoed(source: str | dict) -> None:
    with pytest.raises(PoseLibraryError) as info:
        PoseLibrary.load(source) if isinstance(source, dict) else PoseLibrary.loads(source)
    assert len(info.value.message) < 1000  # e.g. the list of known measures (~750), never the value


@pytest.mark.parametrize("text", [
    "[" * 10_000 + "]" * 10_000,  # JSON, read as YAML by loads
    "{a: " * 10_000 + "1" + "}" * 10_000,
    "x:\n" + "".join(" " * i + "- \n" for i in range(1, 200)),  # block style
])
def test_deep_nesting_is_refused_not_a_recursion_error(text: str) -> None:
    assert f"nested deeper than {MAX_DEPTH} levels" in rejected(text).message


def test_deep_json_file_is_refused_not_a_recursion_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"x": ' + "[" * 10_000 + "]" * 10_000 + "}")
    with pytest.raises(PoseLibraryError, match=f"nested deeper than {MAX_DEPTH} levels"):
        PoseLibrary.load(path)
    # Brackets inside strings do not count.
    path.write_text(json.dumps({"x": {"description": "[" * 100, "rules": {"elbow_left": [0, 9]}}}))
    assert "x" in PoseLibrary.load(path).names


def test_json_integer_beyond_the_digit_limit_is_a_pose_library_error(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_text('{"x": {"priority": ' + "9" * 5000 + ', "rules": {"elbow_left": [0, 9]}}}')
    with pytest.raises(PoseLibraryError, match="not valid JSON"):
        PoseLibrary.load(path)


def test_anchors_and_aliases_within_the_limits_still_work() -> None:
    text = "x:\n  rules: {elbow_left: &bent [0, 90], elbow_right: *bent}\ny:\n  rules: {elbow_left: *bent}\n"
    library = PoseLibrary.loads(text)
    assert library.poses["x"].rules[0]["elbow_right"] == (0, 90) == library.poses["y"].rules[0]["elbow_left"]


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    assert "inside its own anchor" in rejected("x: &a\n  rules: [*a]\n").message


def test_a_range_bound_too_large_for_a_float_is_refused() -> None:
    # Valid YAML, but numpy could not compare frames with it: refused when read, not when scoring.
    assert "[low, high] numbers" in rejected(f"x:\n  rules: {{elbow_left: [0, 1{'0' * 400}]}}\n").message
