"""End-to-end analysis with real MediaPipe inference (no mocks) on short videos made from
real photos (tests/photos.py), plus the optional real dance clip.

Each video is analysed once per module; the whole file takes a few seconds of CPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from posecore import AnalysisOptions, PoseLibrary, analyze_video, probe
from posecore.angles import ANGLES
from posecore.pose_library import FALLBACK
from testbed.media import write_video
from testbed.photos import real_photo

N_FRAMES = 16
FPS = 30
# Odd frames are shown 10 ms late: a variable frame rate, so times computed as
# index / fps instead of read from the container would not match.
TIMES = [i / FPS + (0.01 if i % 2 else 0.0) for i in range(N_FRAMES)]
SAMPLE_FPS = 15  # half the nominal rate: every other frame

# bus.jpg rows from above the head to below the shoes of the man on the left, the one
# MediaPipe finds at default settings.
ROWS = slice(330, 930)
SHIFT_PX = 2  # the crop slides right per frame, so the man drifts left: simulated motion

NOSE, LEFT_HIP, RIGHT_HIP = 0, 23, 24
CORE = [0, 11, 12, 23, 24]  # nose, shoulders, hips: the most stable landmarks

# Field -> type of each contract object (floats may be whole numbers, never bools).
VIDEO_FIELDS = {"frame_count": int, "fps": float, "duration_s": float, "width": int, "height": int,
                "rotation": int, "codec": str}
ANALYSIS_FIELDS = {"frames_analyzed": int, "sample_fps": (int, float, type(None)), "max_people": int,
                   "model": str, "elapsed_s": float, "undecodable_frames": int}
DANCER_FIELDS = {"id": int, "frames_detected": int, "coverage": float, "poses": list, "summary": dict}
SEGMENT_FIELDS = {"name": str, "start_s": float, "end_s": float, "duration_s": float, "frames": int,
                  "confidence": float}
SUMMARY_FIELDS = {"count": int, "total_s": float, "share": float}
FRAME_FIELDS = {"index": int, "t_s": float, "people": list}
PERSON_FIELDS = {"id": int, "landmarks": list, "pose": (str, type(None)), "angles": dict}


@pytest.fixture(scope="module")
def bus() -> np.ndarray:
    return real_photo("bus.jpg")


@pytest.fixture(scope="module")
def video_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("analysis_videos")


def person_frames(bus: np.ndarray) -> list[np.ndarray]:
    """One man, whole body, 280x600."""
    return [bus[ROWS, 10 + SHIFT_PX * i : 290 + SHIFT_PX * i] for i in range(N_FRAMES)]


@pytest.fixture(scope="module")
def person_video(bus: np.ndarray, video_dir: Path) -> Path:
    return write_video(video_dir / "person.mp4", person_frames(bus), fps=FPS, times_s=TIMES)


@pytest.fixture(scope="module")
def rotated_video(bus: np.ndarray, video_dir: Path) -> Path:
    """The same pictures stored sideways, with metadata saying to turn them 90 degrees clockwise."""
    return write_video(video_dir / "rotated.mp4", person_frames(bus), fps=FPS, times_s=TIMES, rotation=90)


@pytest.fixture(scope="module")
def pair_video(bus: np.ndarray, video_dir: Path) -> Path:
    """Two people, 480x600: the man and his mirror image side by side, drifting apart.

    (The other people in bus.jpg are not found at MediaPipe's default confidence.)
    """
    frames = []
    for i in range(N_FRAMES):
        man = bus[ROWS, 10 + SHIFT_PX * i : 250 + SHIFT_PX * i]
        frames.append(np.hstack([man, man[:, ::-1]]))
    return write_video(video_dir / "pair.mp4", frames, fps=FPS)


@pytest.fixture(scope="module")
def person(person_video: Path, model_path: Path) -> dict:
    return analyze_video(person_video, AnalysisOptions(include_landmarks=True), model_path=model_path).result.to_dict()


@pytest.fixture(scope="module")
def person_sampled(person_video: Path, model_path: Path) -> dict:
    return analyze_video(person_video, AnalysisOptions(sample_fps=SAMPLE_FPS), model_path=model_path).result.to_dict()


@pytest.fixture(scope="module")
def rotated(rotated_video: Path, model_path: Path) -> dict:
    return analyze_video(rotated_video, AnalysisOptions(include_landmarks=True), model_path=model_path).result.to_dict()


@pytest.fixture(scope="module")
def pair(pair_video: Path, model_path: Path) -> dict:
    options = AnalysisOptions(max_people=2, include_landmarks=True)
    return analyze_video(pair_video, options, model_path=model_path).result.to_dict()


def check_fields(obj: dict, fields: dict) -> None:
    """``obj`` has at least these fields (siblings may be added), each of its type."""
    assert isinstance(obj, dict)
    missing = set(fields) - set(obj)
    assert not missing, f"missing fields {missing} in {sorted(obj)}"
    for name, kind in fields.items():
        value = obj[name]
        assert isinstance(value, kind) and not isinstance(value, bool), f"{name}={value!r} is not {kind}"


def assert_contract(result: dict, *, landmarks: bool) -> None:
    """``result`` has every field of the result contract, with the right types, and is plain JSON."""
    assert json.loads(json.dumps(result)) == result  # no numpy scalars, tuples or NaN
    assert result["schema_version"] == "1"
    check_fields(result["video"], VIDEO_FIELDS)
    check_fields(result["analysis"], ANALYSIS_FIELDS)
    analysed = result["analysis"]["frames_analyzed"]
    assert isinstance(result["dancers"], list)
    for dancer in result["dancers"]:
        check_fields(dancer, DANCER_FIELDS)
        assert dancer["coverage"] == pytest.approx(dancer["frames_detected"] / analysed, abs=1e-3)
        for segment in dancer["poses"]:
            check_fields(segment, SEGMENT_FIELDS)
            assert segment["start_s"] <= segment["end_s"]
            assert segment["duration_s"] == pytest.approx(segment["end_s"] - segment["start_s"], abs=2e-3)
        for name, entry in dancer["summary"].items():
            check_fields(entry, SUMMARY_FIELDS)
            assert entry["count"] == sum(seg["name"] == name for seg in dancer["poses"])
            assert 0 <= entry["share"] <= 1
    assert ("frames" in result) == landmarks
    if not landmarks:
        return
    assert [f["index"] for f in result["frames"]] == sorted(f["index"] for f in result["frames"])
    assert len(result["frames"]) == analysed
    seen: dict[int, int] = {}
    for frame in result["frames"]:
        check_fields(frame, FRAME_FIELDS)
        for person in frame["people"]:
            check_fields(person, PERSON_FIELDS)
            assert np.asarray(person["landmarks"], dtype=float).shape == (33, 4)
            seen[person["id"]] = seen.get(person["id"], 0) + 1
    # Per-frame people and the dancer blocks tell the same story.
    assert seen == {d["id"]: d["frames_detected"] for d in result["dancers"]}


def people_by_id(result: dict) -> dict[int, np.ndarray]:
    """id -> (frames, 33, 4) landmarks, for ids seen in every analysed frame."""
    rows: dict[int, list] = {}
    for frame in result["frames"]:
        for person in frame["people"]:
            rows.setdefault(person["id"], []).append(person["landmarks"])
    return {i: np.asarray(r) for i, r in rows.items() if len(r) == len(result["frames"])}


def hip_x(landmarks: np.ndarray) -> np.ndarray:
    return (landmarks[..., LEFT_HIP, 0] + landmarks[..., RIGHT_HIP, 0]) / 2


def test_result_matches_the_contract(person: dict, person_sampled: dict) -> None:
    assert_contract(person, landmarks=True)
    assert_contract(person_sampled, landmarks=False)  # no `frames` without include_landmarks
    video = person["video"]
    assert (video["frame_count"], video["width"], video["height"]) == (N_FRAMES, 280, 600)
    assert (video["rotation"], video["codec"]) == (0, "h264")
    assert video["fps"] == pytest.approx((N_FRAMES - 1) / TIMES[-1], abs=1e-3)  # rounded to 3 decimals
    assert TIMES[-1] < video["duration_s"] < TIMES[-1] + 2 / FPS
    analysis = person["analysis"]
    assert analysis["frames_analyzed"] == N_FRAMES
    assert analysis["sample_fps"] is None and analysis["max_people"] == 1
    assert analysis["undecodable_frames"] == 0
    assert analysis["model"].endswith(".task") and analysis["elapsed_s"] > 0


def test_one_dancer_seen_in_every_frame(person: dict) -> None:
    (dancer,) = person["dancers"]
    assert dancer["coverage"] == 1.0
    assert all([p["id"] for p in f["people"]] == [dancer["id"]] for f in person["frames"])
    assert dancer["poses"], "a dancer seen throughout has pose segments"


def test_landmarks_are_in_the_frame_and_upright(person: dict) -> None:
    (landmarks,) = people_by_id(person).values()
    xy, visible = landmarks[..., :2], landmarks[..., 3] > 0.5
    assert visible[:, CORE].all()
    assert ((xy >= 0) & (xy <= 1)).all(axis=-1)[visible].all(), "visible landmarks inside the frame"
    assert ((xy > -0.1) & (xy < 1.1)).all(), "normalised coordinates, not pixels"
    hips_y = (landmarks[:, LEFT_HIP, 1] + landmarks[:, RIGHT_HIP, 1]) / 2
    assert (landmarks[:, NOSE, 1] < hips_y - 0.2).all(), "nose well above the hips: upright"
    # The crop slides 30 px right over the clip, so the man moves ~30/280 of the width left.
    moved = hip_x(landmarks[0]) - hip_x(landmarks[-1])
    assert 0.05 < moved < 0.16


def test_pose_labels_come_from_the_library(person: dict) -> None:
    allowed = set(PoseLibrary.default().names) | {FALLBACK, None}
    labels = [p["pose"] for f in person["frames"] for p in f["people"]]
    assert set(labels) <= allowed
    assert any(label is not None for label in labels)  # a clearly visible man gets labels


def test_frames_carry_every_joint_angle(person: dict) -> None:
    """Each person-frame has every measure of ``ANGLES``, as the pose library saw it."""
    people = [p for frame in person["frames"] for p in frame["people"]]
    assert people and all(list(p["angles"]) == list(ANGLES) for p in people)
    values = [v for p in people for v in p["angles"].values()]
    assert all(v is None or isinstance(v, float) for v in values)
    # The man in bus.jpg stands on straight legs with his torso upright.
    knees = [p["angles"][f"knee_{side}"] for p in people for side in ("left", "right")]
    assert min(knees) > 150
    assert all(abs(p["angles"]["torso_lean"]) < 15 for p in people)


def test_times_are_the_containers(person: dict, person_video: Path) -> None:
    container_times = probe(person_video).frame_times.tolist()
    assert container_times == pytest.approx(TIMES, abs=1e-4)  # what we wrote survived muxing
    frames = person["frames"]
    assert [f["index"] for f in frames] == list(range(N_FRAMES))
    assert [f["t_s"] for f in frames] == pytest.approx(container_times, abs=1e-4)


def test_sample_fps_halves_the_frames(person: dict, person_sampled: dict) -> None:
    analysis = person_sampled["analysis"]
    assert analysis["sample_fps"] == SAMPLE_FPS
    assert analysis["frames_analyzed"] == N_FRAMES // 2
    assert person_sampled["video"] == person["video"]
    (dancer,) = person_sampled["dancers"]
    assert dancer["frames_detected"] >= N_FRAMES // 2 - 1


def test_rotated_video_is_analysed_upright(rotated: dict, person: dict, rotated_video: Path) -> None:
    with av.open(str(rotated_video)) as container:  # the file really stores sideways pictures
        stored = next(container.decode(video=0))
        assert (stored.width, stored.height) == (600, 280)
    assert_contract(rotated, landmarks=True)
    assert rotated["video"]["rotation"] == 90
    assert (rotated["video"]["width"], rotated["video"]["height"]) == (280, 600)
    (turned,), (upright,) = people_by_id(rotated).values(), people_by_id(person).values()
    # Lossy encoding of the turned pictures differs a little; extremities (feet, fingers)
    # move most, the torso and head stay within 0.02.
    diff = np.abs(turned[..., :2] - upright[..., :2])
    assert diff[:, CORE].max() < 0.02
    assert diff.mean() < 0.01


def test_two_people_keep_distinct_stable_ids(pair: dict) -> None:
    assert_contract(pair, landmarks=True)
    assert len(pair["dancers"]) == 2
    assert all(d["coverage"] >= 0.9 for d in pair["dancers"])
    people = people_by_id(pair)
    assert len(people) == 2, "both ids are present in every frame"
    (a, first), (b, second) = sorted(people.items(), key=lambda item: hip_x(item[1][0]))
    assert a != b
    # Ids never swap: the left one stays on the left half, the right one on the right.
    assert (hip_x(first) < 0.45).all() and (hip_x(second) > 0.55).all()


def test_real_dance_video(shared_video: Path, model_path: Path) -> None:
    result = analyze_video(shared_video, AnalysisOptions(sample_fps=5, max_people=1), model_path=model_path).result.to_dict()
    assert_contract(result, landmarks=False)
    video = result["video"]
    assert (video["width"], video["height"], video["frame_count"], video["rotation"]) == (720, 1280, 514, 0)
    assert abs(result["analysis"]["frames_analyzed"] - 86) <= 1  # 17.1 s at 5 frames/s
    assert result["analysis"]["undecodable_frames"] == 0
    coverages = [d["coverage"] for d in result["dancers"]]
    # One person followed among four dancers: MediaPipe loses them now and then (they
    # cross and hide each other); the tracker keeps one id across those short gaps.
    assert max(coverages) > 0.8
    assert sum(coverages) <= 1.001  # max_people=1: never two people in a frame
