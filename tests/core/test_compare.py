"""Scoring a performance against a reference dance: synthetic dances, optional real videos.

The synthetic dancer (``tests.skeleton``) moves every joint with its own rhythm
(incommensurate frequencies), so no two moments of the routine look alike and the
alignment has one right answer. Copies of it are cut, mirrored, slowed, shifted and
scaled exactly as a camera would see them.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from posecore.compare import LIMBS, Comparison, NotComparable, compare_tracks, mirror_landmarks
from posecore.tracks import Track
from tests.skeleton import HEIGHT, WIDTH, skeleton, track_of

SIZE = (WIDTH, HEIGHT)
FPS = 20.0
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

Pose = Callable[[float], tuple[np.ndarray, np.ndarray]]


def routine(t: float) -> tuple[np.ndarray, np.ndarray]:
    """The reference choreography at time t (s): arms, legs, torso and turn on different rhythms."""

    def wave(freq: float, phase: float) -> float:
        return float(np.sin(2 * np.pi * freq * t + phase))

    return skeleton(
        left_arm_elevation=90 + 70 * wave(0.53, 0.3),
        right_arm_elevation=80 + 60 * wave(0.31, 1.9),
        left_arm_forward=30 * wave(0.27, 4.0),
        left_elbow=130 + 45 * wave(0.71, 2.2),
        right_elbow=140 + 35 * wave(0.43, 5.1),
        left_hip_flex=25 + 25 * wave(0.37, 0.8),
        right_hip_flex=20 + 20 * wave(0.61, 3.3),
        left_knee=150 + 25 * wave(0.83, 1.1),
        right_knee=155 + 20 * wave(0.29, 4.4),
        torso_lean=15 * wave(0.23, 2.7),
        torso_pitch=10 + 10 * wave(0.47, 0.5),
        yaw=25 * wave(0.13, 5.9),
    )


def other_dance(t: float) -> tuple[np.ndarray, np.ndarray]:
    """An unrelated dance: arms low and swinging, deep squats and kicks, bowing."""

    def wave(freq: float, phase: float) -> float:
        return float(np.sin(2 * np.pi * freq * t + phase))

    return skeleton(
        left_arm_elevation=25 + 20 * wave(0.9, 0.0),
        right_arm_elevation=25 + 20 * wave(0.9, np.pi),
        left_arm_forward=40 * wave(0.9, 0.5),
        right_arm_forward=40 * wave(0.9, 3.6),
        left_elbow=100 + 30 * wave(1.1, 1.0),
        right_elbow=100 + 30 * wave(1.1, 2.0),
        left_hip_flex=60 + 40 * wave(0.4, 0.0),
        right_hip_flex=60 + 40 * wave(0.4, 0.2),
        left_knee=110 + 40 * wave(0.4, 0.0),
        right_knee=110 + 40 * wave(0.4, 0.2),
        torso_pitch=30 + 20 * wave(0.25, 1.0),
        yaw=60 * wave(0.08, 0.0),
    )


def dance(duration_s: float, *, start_s: float = 0.0, speed: float = 1.0, pose: Pose = routine) -> Track:
    """``pose`` filmed at FPS for ``duration_s`` from ``start_s`` of the routine, danced at ``speed``."""
    times = np.arange(round(duration_s * FPS)) / FPS
    return track_of([pose(start_s + speed * t) for t in times], fps=FPS)


def score(performance: Track, reference: Track, **kwargs: object) -> Comparison:
    return compare_tracks(performance, reference, performance_size=SIZE, reference_size=SIZE, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def reference() -> Track:
    return dance(20.0)


def test_a_dance_against_itself_is_perfect(reference: Track) -> None:
    result = score(reference, reference)
    assert result.score >= 98
    assert result.timing >= 95
    assert abs(result.offset_s) <= 0.02
    assert result.tempo_ratio == pytest.approx(1.0, abs=0.01)
    assert not result.mirrored
    assert all(v is not None and v >= 98 for v in result.limbs.values())


def test_a_performance_starting_into_the_routine_gives_a_positive_offset(reference: Track) -> None:
    # Performance t=0 shows the reference at 1.5 s.
    result = score(dance(18.5, start_s=1.5), reference)
    assert result.offset_s == pytest.approx(1.5, abs=0.05)
    assert result.tempo_ratio == pytest.approx(1.0, abs=0.02)
    assert result.score >= 95


def test_a_performance_with_a_lead_in_gives_a_negative_offset(reference: Track) -> None:
    # The performance starts 1.5 s before the routine (the reference's t=0): those
    # frames have nothing to match, are left out of the alignment and cost score.
    lead_in = dance(1.5, start_s=-1.5, pose=other_dance)
    routine_part = dance(18.5)
    performance = track_of(
        [(lead_in.landmarks[i], lead_in.world[i]) for i in range(len(lead_in))]
        + [(routine_part.landmarks[i], routine_part.world[i]) for i in range(len(routine_part))],
        fps=FPS,
    )
    result = score(performance, reference)
    assert result.offset_s == pytest.approx(-1.5, abs=0.05)
    assert result.timeline[0].reference_t_s is None
    assert result.timeline[-1].reference_t_s == pytest.approx(result.timeline[-1].t_s - 1.5, abs=0.1)
    assert 80 <= result.score < 98


def test_a_mirrored_copy_is_found_with_mirror_auto(reference: Track) -> None:
    mirrored = dance(20.0)
    mirrored.landmarks = mirror_landmarks(mirrored.landmarks)
    auto = score(mirrored, reference)
    assert auto.mirrored
    assert auto.score >= 95
    assert abs(auto.offset_s) <= 0.05
    forced_off = score(mirrored, reference, mirror=False)
    assert not forced_off.mirrored
    assert forced_off.score < auto.score - 15
    assert score(reference, reference, mirror=True).score < 90  # forcing a mirror on an unmirrored copy hurts


@pytest.mark.parametrize("speed", [0.8, 1.25])
def test_tempo_ratio_of_a_slowed_or_hurried_copy(reference: Track, speed: float) -> None:
    result = score(dance(20.0 / speed, speed=speed), reference)
    assert result.tempo_ratio == pytest.approx(speed, rel=0.05)
    assert result.score >= 95
    assert result.timing >= 90  # a steady tempo change is not a timing fault


def test_position_scale_and_frame_size_do_not_matter(reference: Track) -> None:
    moved = dance(20.0)
    moved.landmarks = moved.landmarks.copy()
    moved.landmarks[..., :2] = moved.landmarks[..., :2] * 0.5 + np.array([0.05, 0.3], dtype=np.float32)
    assert score(moved, reference).score >= 98
    # The same dance filmed in a 1280x720 frame (normalised coordinates change, pixel directions do not).
    wide = track_of([skeleton_in_frame(t / FPS, 1280, 720) for t in range(int(20 * FPS))], fps=FPS)
    result = compare_tracks(wide, reference, performance_size=(1280, 720), reference_size=SIZE)
    assert result.score >= 98


def skeleton_in_frame(t: float, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """``routine(t)`` rendered into a frame of another size (same pixels per metre)."""
    image, world = routine(t)
    pixels = (image[:, :2] - 0.5) * np.array(SIZE) + np.array([width, height]) / 2
    out = image.copy()
    out[:, :2] = pixels / np.array([width, height])
    return out, world


def test_an_unrelated_dance_scores_clearly_lower(reference: Track) -> None:
    result = score(dance(20.0, pose=other_dance), reference)
    assert result.score < 60
    assert result.score < score(dance(18.5, start_s=1.5), reference).score - 35


def test_the_worst_moment_names_the_limb_that_was_off(reference: Track) -> None:
    # The right arm hangs down from 9 s to 11 s instead of following the routine.
    def arm_down(t: float) -> tuple[np.ndarray, np.ndarray]:
        image, world = routine(t)
        if 9.0 <= t < 11.0:
            hanging, hanging_world = skeleton()
            for name in (12, 14, 16, 18, 20, 22):  # right shoulder .. right thumb
                image[name, :2] = image[12, :2] + (hanging[name, :2] - hanging[12, :2])
                world[name] = hanging_world[name]
        return image, world

    result = score(dance(20.0, pose=arm_down), reference)
    lowest = min(result.worst_moments, key=lambda m: m.score)
    assert 8.5 <= lowest.t_s <= 11.5
    assert lowest.limb == "right_arm"
    assert lowest.reference_t_s == pytest.approx(lowest.t_s, abs=0.2)
    assert result.limbs["right_arm"] is not None and result.limbs["left_arm"] is not None
    assert result.limbs["right_arm"] < result.limbs["left_arm"] - 5
    bad = [p.score for p in result.timeline if 9.0 <= p.t_s < 11.0 and p.score is not None]
    good = [p.score for p in result.timeline if not 8.5 <= p.t_s < 11.5 and p.score is not None]
    assert max(bad) < min(good)


def test_response_contract(reference: Track) -> None:
    result = score(dance(18.5, start_s=1.5), reference).to_dict()
    assert set(result) == {
        "score",
        "timing",
        "offset_s",
        "tempo_ratio",
        "limbs",
        "timeline",
        "worst_moments",
        "mirrored",
    }
    assert set(result["limbs"]) == set(LIMBS) == {"left_arm", "right_arm", "left_leg", "right_leg", "torso", "head"}
    assert all(0 <= v <= 100 for v in result["limbs"].values())
    assert 0 <= result["score"] <= 100 and 0 <= result["timing"] <= 100
    timeline = result["timeline"]
    assert [set(p) for p in timeline] == [{"t_s", "reference_t_s", "score"}] * len(timeline)
    assert np.allclose(np.diff([p["t_s"] for p in timeline]), 0.5, atol=0.07)
    assert timeline[-1]["t_s"] >= 17.5
    worst = result["worst_moments"]
    assert 1 <= len(worst) <= 5
    assert all(set(m) == {"t_s", "reference_t_s", "score", "limb"} and m["limb"] in LIMBS for m in worst)
    times = sorted(m["t_s"] for m in worst)
    assert all(b - a >= 2.0 for a, b in itertools.pairwise(times))
    json.dumps(result)  # plain JSON types only


def test_a_gap_in_the_performance_is_bridged_and_left_unscored(reference: Track) -> None:
    full = dance(20.0)
    seen = (full.times_s < 8.0) | (full.times_s >= 10.0)  # the dancer is lost for 2 s
    gappy = Track(0, full.frame_indices[seen], full.times_s[seen], full.landmarks[seen], full.world[seen])
    result = score(gappy, reference)
    assert result.score >= 98
    assert abs(result.offset_s) <= 0.05
    assert [p.score for p in result.timeline if 8.0 <= p.t_s < 9.5] == [None] * 3


def test_mirror_landmarks_swaps_sides_and_flips_x() -> None:
    image, _ = skeleton(left_arm_elevation=170)
    flipped = mirror_landmarks(image[None])[0]
    assert flipped[16, 0] == pytest.approx(1.0 - image[15, 0])  # right wrist <- left wrist
    assert flipped[9, 1] == pytest.approx(image[10, 1])  # mouth_left <- mouth_right
    assert flipped[0, 0] == pytest.approx(1.0 - image[0, 0])  # the nose stays the nose
    assert np.allclose(mirror_landmarks(mirror_landmarks(image[None])), image[None])


def test_too_short_or_bad_options_are_rejected(reference: Track) -> None:
    with pytest.raises(NotComparable):
        score(dance(0.05), reference)
    with pytest.raises(NotComparable):
        score(reference, reference, mirror="sometimes")


# --- optional: real videos of one routine by three dancers, and an unrelated dance ---

ROUTINES = ("same_routine_a", "same_routine_b", "same_routine_c")
UNRELATED = "solo_contemporary"


@pytest.fixture(scope="module")
def real_tracks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Track, tuple[int, int]]]:
    """The main dancer of each real video, from the CLI's landmark output (15 frames/s)."""
    videos = [SHARED_DATA / f"{name}.mp4" for name in (*ROUTINES, UNRELATED)]
    missing = [str(v) for v in videos if not v.is_file()]
    if missing:
        pytest.skip(f"optional real videos not present: {', '.join(missing)}")
    out = tmp_path_factory.mktemp("compare")
    tracks = {}
    for video in videos:
        result_path = out / f"{video.stem}.json"
        subprocess.run(
            [sys.executable, "-m", "posecore", "analyze", str(video), "--landmarks", "--sample-fps", "15",
             "--no-table", "--json", str(result_path)],
            check=True, capture_output=True,
        )  # fmt: skip
        tracks[video.stem] = _main_track(json.loads(result_path.read_text()))
    return tracks


def _main_track(result: dict) -> tuple[Track, tuple[int, int]]:
    """The person seen in the most frames, and the video's (width, height)."""
    rows: dict[int, list[tuple[int, float, list]]] = {}
    for frame in result["frames"]:
        for person in frame["people"]:
            rows.setdefault(person["id"], []).append((frame["index"], frame["t_s"], person["landmarks"]))
    indices, times, landmarks = zip(*max(rows.values(), key=len))
    n = len(indices)
    track = Track(
        0,
        np.array(indices, np.int64),
        np.array(times),
        np.array(landmarks, np.float32),
        np.zeros((n, 33, 3), np.float32),
    )
    return track, (result["video"]["width"], result["video"]["height"])


def _real_score(real: dict, performance: str, reference: str) -> Comparison:
    (p, p_size), (r, r_size) = real[performance], real[reference]
    return compare_tracks(p, r, performance_size=p_size, reference_size=r_size)


def test_real_same_routine_pairs_score_above_an_unrelated_dance(real_tracks: dict) -> None:
    same = {(p, r): _real_score(real_tracks, p, r) for p in ROUTINES for r in ROUTINES if p != r}
    unrelated = [_real_score(real_tracks, p, UNRELATED) for p in ROUTINES]
    unrelated += [_real_score(real_tracks, UNRELATED, r) for r in ROUTINES]
    assert min(c.score for c in same.values()) >= max(c.score for c in unrelated) + 20
    # The three recordings are in step with the music (within ~0.1 s) and at the same tempo.
    assert all(abs(c.offset_s) <= 0.25 and c.tempo_ratio == pytest.approx(1.0, abs=0.05) for c in same.values())
    # b is filmed mirrored relative to a and c: auto finds it both ways round.
    assert [same[(p, r)].mirrored for p, r in same] == [("same_routine_b" in (p, r)) for p, r in same]


def test_real_cut_mirrored_and_slowed_copies(real_tracks: dict) -> None:
    track, size = real_tracks["same_routine_a"]

    def variant(t: np.ndarray, landmarks: np.ndarray, keep: np.ndarray | None = None) -> Comparison:
        keep = np.ones(len(track), bool) if keep is None else keep
        copy = Track(0, track.frame_indices[keep], t[keep], landmarks[keep], track.world[keep])
        return compare_tracks(copy, track, performance_size=size, reference_size=size)

    itself = variant(track.times_s, track.landmarks)
    assert itself.score >= 98 and abs(itself.offset_s) <= 0.02 and itself.tempo_ratio == pytest.approx(1.0, abs=0.01)
    cut = variant(track.times_s - 1.5, track.landmarks, keep=track.times_s >= 1.5)
    assert cut.offset_s == pytest.approx(1.5, abs=0.05) and cut.score >= 95
    mirrored = variant(track.times_s, mirror_landmarks(track.landmarks))
    assert mirrored.mirrored and mirrored.score >= 95
    slowed = variant(track.times_s / 0.8, track.landmarks)
    assert slowed.tempo_ratio == pytest.approx(0.8, rel=0.05) and slowed.score >= 95
