"""Per-frame labels -> segments and summary: hysteresis, minimum duration, gaps, shares."""

from __future__ import annotations

import numpy as np
import pytest

from posecore.angles import ANGLES, R_HIP
from posecore.dancers import analyse_dancer
from posecore.pose_library import PoseLibrary
from posecore.result import PoseSegment
from posecore.timeline import hysteresis, label_segments, summarise
from tests.skeleton import FPS, HEIGHT, WIDTH, skeleton, track_of

DT = 1 / FPS


def segments(
    labels: list, scores: list | None = None, times: np.ndarray | None = None, **kw: float
) -> list[dict]:
    times = np.arange(len(labels)) * DT if times is None else times
    scores = [1.0] * len(labels) if scores is None else scores
    return [seg.model_dump() for seg in label_segments(times, labels, scores, frame_duration_s=DT, **kw)]


def names(segs: list[dict]) -> list[str]:
    return [s["name"] for s in segs]


def test_a_held_pose_is_one_segment_with_frame_accurate_times() -> None:
    [seg] = segments(["t_pose"] * 30, [0.8] * 30)
    assert seg == {
        "name": "t_pose", "start_s": 0.0, "end_s": 1.0, "duration_s": 1.0, "frames": 30, "confidence": 0.8,
        "facing": None,
    }  # fmt: skip


@pytest.mark.parametrize("flicker", [1, 2])
def test_a_brief_flicker_does_not_split_a_segment(flicker: int) -> None:
    labels = ["arms_up"] * 20 + ["left_arm_up"] * flicker + ["arms_up"] * 20
    [seg] = segments(labels)
    assert seg["name"] == "arms_up" and seg["frames"] == 40 + flicker
    assert seg["confidence"] == pytest.approx(40 / (40 + flicker), abs=1e-3)  # flicker frames score 0


def test_a_lasting_change_splits_at_the_change() -> None:
    segs = segments(["standing"] * 30 + ["squat"] * 30 + ["standing"] * 30)
    assert names(segs) == ["standing", "squat", "standing"]
    assert [s["start_s"] for s in segs] == [0.0, 1.0, 2.0]
    assert segs[1]["end_s"] == 2.0


def test_hysteresis_absorbs_a_short_first_run_into_the_first_stable_label() -> None:
    assert hysteresis(["a", "b", "b", "b", "c", "b"], 3) == ["b"] * 6


def test_poses_shorter_than_the_minimum_are_dropped_and_neighbours_rejoin() -> None:
    # 5 frames (0.167 s) outlast the hysteresis but not the 0.2 s minimum.
    segs = segments(["arms_up"] * 30 + ["t_pose"] * 5 + ["arms_up"] * 30)
    assert names(segs) == ["arms_up"]
    assert segs[0]["end_s"] == pytest.approx(65 * DT, abs=1e-3) and segs[0]["frames"] == 60


def test_a_dropped_transition_between_different_poses_leaves_a_hole() -> None:
    segs = segments(["standing"] * 30 + ["lean_left"] * 5 + ["squat"] * 30)
    assert names(segs) == ["standing", "squat"]
    assert segs[0]["end_s"] == 1.0 and segs[1]["start_s"] == pytest.approx(35 * DT, abs=1e-3)


def test_minimum_duration_is_configurable() -> None:
    labels = ["standing"] * 30 + ["squat"] * 5
    assert names(segments(labels)) == ["standing"]
    assert names(segments(labels, min_pose_duration_s=0.1)) == ["standing", "squat"]
    assert names(segments(labels, min_pose_duration_s=0.5)) == ["standing"]
    assert segments(["squat"] * 5, min_pose_duration_s=0.5) == []


def test_a_long_unseen_stretch_splits_a_segment_and_a_short_one_is_bridged() -> None:
    seen = np.r_[np.arange(30), np.arange(60, 90)]  # unseen for 1 s
    segs = segments(["t_pose"] * 60, times=seen * DT)
    assert [(s["start_s"], s["end_s"], s["frames"]) for s in segs] == [(0.0, 1.0, 30), (2.0, 3.0, 30)]
    seen = np.r_[np.arange(30), np.arange(34, 64)]  # unseen for 0.133 s
    [seg] = segments(["t_pose"] * 60, times=seen * DT)
    assert (seg["start_s"], seg["end_s"], seg["frames"]) == (0.0, 2.133, 60)


def test_unlabelled_frames_count_as_unseen() -> None:
    segs = segments(["squat"] * 30 + [None] * 30 + ["squat"] * 30)
    assert [(s["start_s"], s["end_s"]) for s in segs] == [(0.0, 1.0), (2.0, 3.0)]
    assert segments([None] * 10) == []
    assert segments([]) == []


def test_summary_counts_totals_and_shares_of_the_analysed_time() -> None:
    segs = segments(["squat"] * 30 + ["standing"] * 15 + ["squat"] * 30 + ["t_pose"] * 90)
    summary = {name: total.model_dump() for name, total in summarise(map(PoseSegment.model_validate, segs), 10.0).items()}
    assert summary == {
        "t_pose": {"count": 1, "total_s": 3.0, "share": 0.3},
        "squat": {"count": 2, "total_s": 2.0, "share": 0.2},
        "standing": {"count": 1, "total_s": 0.5, "share": 0.05},
    }
    assert list(summary) == ["t_pose", "squat", "standing"]  # longest first
    assert summarise([], analysed_s=0.0) == {}


def test_analyse_dancer_reports_segments_movements_and_per_frame_labels() -> None:
    poses = [skeleton()] * 30 + [skeleton(left_arm_elevation=90, right_arm_elevation=90)] * 30
    poses += [skeleton(hidden=(R_HIP,))] * 15  # torso not visible: no label
    poses += [skeleton(rise=0.2 * np.sin(np.pi * i / 12)) for i in range(13)] + [skeleton()] * 32
    track = track_of(poses, frame_indices=np.arange(10, 10 + len(poses)), track_id=3)
    analysis = analyse_dancer(
        track, frames_analyzed=300, frame_duration_s=DT, width=WIDTH, height=HEIGHT,
        library=PoseLibrary.default(),
    )  # fmt: skip
    dancer, labels = analysis.to_dancer().model_dump(), analysis.labels
    assert set(analysis.angles) == set(ANGLES) and all(len(v) == len(track) for v in analysis.angles.values())
    assert len(labels) == len(track)
    assert labels[0] == "standing" and labels[45] == "t_pose" and labels[70] is None
    assert dancer["id"] == 3 and dancer["frames_detected"] == 120 and dancer["coverage"] == 0.4
    # The hop comes straight after the unseen stretch; "standing" resumes after it, not under it.
    assert names(dancer["poses"]) == ["standing", "t_pose", "jump", "standing"]
    starts = [s["start_s"] for s in dancer["poses"]]
    assert starts == sorted(starts)
    assert dancer["summary"]["t_pose"] == {"count": 1, "total_s": 1.0, "share": 0.1}
    assert dancer["summary"]["jump"]["count"] == 1
    assert dancer["summary"]["standing"]["count"] == 2
