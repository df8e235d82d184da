"""Comparing two videos end to end (``posecore.comparison``) and ``python -m posecore compare``.

Synthetic dances (``tests.skeleton``) for the orchestration: dancer choice, tracks
rebuilt from a result's frames, options, errors naming their part, one failing
analysis cancelling the other. The CLI on a short real-person clip. Optional: the real
same-routine videos against an unrelated dance (skips without ../shared).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from posecore.comparison import (
    ComparedVideo,
    CompareOptions,
    ComparisonResult,
    InvalidReferenceResult,
    NoDancer,
    UnknownDancer,
    compare_sources,
    compare_videos,
    parse_result_json,
    split_options,
)
from posecore.errors import InvalidOptions, NotAVideo
from posecore.result import VideoSummary
from posecore.tracks import Track
from testbed.media import write_video
from testbed.photos import real_photo
from tests.core.test_compare import dance, other_dance
from tests.skeleton import HEIGHT, WIDTH

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = ROOT.parent / "shared" / "data"
VIDEO = VideoSummary(frame_count=400, fps=20.0, duration_s=20.0, width=WIDTH, height=HEIGHT, rotation=0, codec="h264")


def result_of(*tracks: Track) -> dict[str, Any]:
    """An analysis result dict with landmarks (``frames``) holding ``tracks``, as /analyze returns it."""
    frames: dict[int, dict[str, Any]] = {}
    for track in tracks:
        for row, index in enumerate(track.frame_indices.tolist()):
            frame = frames.setdefault(index, {"index": index, "t_s": float(track.times_s[row]), "people": []})
            frame["people"].append({"id": track.id, "landmarks": track.landmarks[row].tolist(), "pose": None,
                                    "angles": {}})
    return {
        "schema_version": "1",
        "video": VIDEO.model_dump(),
        "analysis": {"frames_analyzed": len(frames), "sample_fps": None, "max_people": 2, "model": "m",
                     "elapsed_s": 1.0, "undecodable_frames": 0},
        "dancers": [],
        "frames": [frames[i] for i in sorted(frames)],
    }


def with_id(track: Track, track_id: int) -> Track:
    return Track(track_id, track.frame_indices, track.times_s, track.landmarks, track.world)


def test_a_result_rebuilds_each_dancers_track_and_the_main_dancer_is_seen_most() -> None:
    teacher, brief = with_id(dance(10.0), 1), with_id(dance(3.0, start_s=4.0), 2)
    side = ComparedVideo.from_result(json.loads(json.dumps(result_of(teacher, brief))))
    assert sorted(len(t) for t in side.tracks) == [len(brief), len(teacher)]
    main = side.dancer(None, "reference")
    assert main.id == 1
    np.testing.assert_allclose(main.landmarks, teacher.landmarks, atol=1e-6)
    np.testing.assert_allclose(main.times_s, teacher.times_s)
    assert side.dancer(2, "reference").id == 2
    with pytest.raises(UnknownDancer, match=r"reference: no dancer 7 .*dancers: 1, 2"):
        side.dancer(7, "reference")
    with pytest.raises(NoDancer, match="performance: no dancer"):
        ComparedVideo(VIDEO, []).dancer(None, "performance")


def test_compare_videos_picks_the_dancers_and_answers_the_contract() -> None:
    reference = ComparedVideo.from_result(result_of(with_id(dance(12.0), 1)))
    # The performance video has a bystander seen briefly (id 1) and the dancer, 1.5 s into the routine.
    bystander_track = with_id(dance(3.0, pose=other_dance), 1)
    performance = ComparedVideo(VIDEO, [bystander_track, with_id(dance(9.0, start_s=1.5), 4)])
    result = compare_videos(reference, performance, CompareOptions())
    assert result.performance_dancer == 4 and result.reference_dancer == 1
    assert result.score >= 95 and result.offset_s == pytest.approx(1.5, abs=0.05)
    body = result.to_dict()
    assert list(body) == ["schema_version", "score", "timing", "offset_s", "tempo_ratio", "limbs", "timeline",
                          "worst_moments", "mirrored", "reference", "performance", "reference_dancer",
                          "performance_dancer"]
    assert body["reference"] == VIDEO.model_dump() and ComparisonResult.model_validate(body) == result
    bystander = compare_videos(reference, performance, CompareOptions(performance_dancer=1))
    assert bystander.performance_dancer == 1 and bystander.score < result.score - 20


@pytest.mark.parametrize(
    ("landmarks", "problem"),
    [([[0.5, 0.5, 0.0, 1.0]] * 5, "33 landmarks"), ([[0.5, 0.5]] * 33, "33 landmarks"), ("x", "is not the JSON")],
)
def test_malformed_reference_results_are_refused(landmarks: Any, problem: str) -> None:
    result = result_of(dance(1.0))
    result["frames"][0]["people"][0]["landmarks"] = landmarks
    with pytest.raises(InvalidReferenceResult, match=problem):
        ComparedVideo.from_result(result)


def test_a_result_without_frames_or_json_is_refused() -> None:
    result = result_of(dance(1.0))
    del result["frames"]
    with pytest.raises(InvalidReferenceResult, match="include_landmarks"):
        ComparedVideo.from_result(result)
    with pytest.raises(InvalidReferenceResult, match="is not the JSON"):
        ComparedVideo.from_result({"score": 3})
    for text in (b"\xff\xfe not utf-8", "{not json", "[1, 2]"):
        with pytest.raises(InvalidReferenceResult):
            parse_result_json(text)
    assert parse_result_json(json.dumps(result)) == result


def test_options_are_split_and_checked_strictly() -> None:
    compare, analysis = split_options({"mirror": False, "performance_dancer": 2, "sample_fps": 10.0,
                                       "include_landmarks": True, "include_thumbnails": True})
    assert compare == CompareOptions(mirror=False, performance_dancer=2)
    # The analyses never build landmark JSON or thumbnails: the tracks are what compare needs.
    assert analysis.sample_fps == 10.0 and not analysis.include_landmarks and not analysis.include_thumbnails
    for bad in ({"mirror": "sometimes"}, {"mirror": "true"}, {"reference_dancer": "1"}, {"sample_fps": -1.0},
                {"colour": "red"}):
        with pytest.raises(InvalidOptions):
            split_options(bad)


def test_a_failing_analysis_names_its_part_and_cancels_the_other() -> None:
    cancelled = []

    async def analyse(video: str, options: object) -> Any:
        if video == "bad":
            await asyncio.sleep(0.05)
            raise NotAVideo("the file is not a video")
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(video)
            raise

    async def run() -> None:
        with pytest.raises(NotAVideo, match="^performance: the file is not a video$") as caught:
            await asyncio.wait_for(compare_sources("good", "bad", {}, analyse), timeout=10)
        assert caught.value.code == "not_a_video"

    asyncio.run(run())
    assert cancelled == ["good"]


# --- the CLI, on a short clip of a real person ---------------------------------------------------


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "posecore", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=180)


@pytest.fixture(scope="module")
def person(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1 s of the man on the left of bus.jpg, drifting right."""
    bus = real_photo("bus.jpg")
    path = tmp_path_factory.mktemp("compare_cli") / "person.mp4"
    return write_video(path, [bus[330:930, 10 + 3 * i : 290 + 3 * i] for i in range(30)], fps=30)


def test_cli_compares_a_video_and_an_earlier_result_with_it(person: Path, tmp_path: Path) -> None:
    result_json = tmp_path / "teacher.json"
    assert run_cli("analyze", person, "--landmarks", "--no-table", "--json", result_json).returncode == 0
    done = run_cli("compare", result_json, person, "--table")
    assert done.returncode == 0, done.stderr
    comparison = json.loads(done.stdout)
    assert comparison["score"] >= 98 and abs(comparison["offset_s"]) <= 0.05 and not comparison["mirrored"]
    assert comparison["reference"] == comparison["performance"] == json.loads(result_json.read_text())["video"]
    assert done.stderr.startswith("Score ") and "reference  score" in done.stderr
    out = tmp_path / "comparison.json"
    quiet = run_cli("compare", person, person, "--mirror", "false", "--json", out)
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""  # no table off a terminal
    assert json.loads(out.read_text())["score"] >= 98


def test_cli_errors_are_one_line(person: Path, tmp_path: Path) -> None:
    no_frames = tmp_path / "plain.json"
    assert run_cli("analyze", person, "--no-table", "--json", no_frames).returncode == 0
    notes = tmp_path / "notes.txt"
    notes.write_text("not a video\n")
    cases = {
        (no_frames, person): "error: invalid_reference_result: reference_result has no frames",
        (person, notes): "error: not_a_video: performance: ",
        (tmp_path / "nowhere.mp4", person): "error: analysis_error: no such file",
        (person, person, "--performance-dancer", "9"): "error: unknown_dancer: performance: no dancer 9",
    }
    for args, message in cases.items():
        done = run_cli("compare", *args)
        assert done.returncode != 0 and done.stdout == ""
        assert done.stderr.startswith(message) and done.stderr.count("\n") == 1, done.stderr


# --- optional: real videos ---------------------------------------------------------------------------

ROUTINES = ("same_routine_a", "same_routine_b", "same_routine_c")
UNRELATED = "solo_contemporary"


def test_real_same_routine_pairs_score_clearly_above_an_unrelated_dance() -> None:
    from posecore.options import AnalysisOptions
    from posecore.pipeline import analyze_video

    videos = {name: SHARED_DATA / f"{name}.mp4" for name in (*ROUTINES, UNRELATED)}
    missing = [str(path) for path in videos.values() if not path.is_file()]
    if missing:
        pytest.skip(f"optional real videos not present: {', '.join(missing)}")
    options = AnalysisOptions(sample_fps=10.0)
    sides = {name: ComparedVideo.from_analysis(analyze_video(path, options)) for name, path in videos.items()}
    scores = {(p, r): compare_videos(sides[r], sides[p], CompareOptions()).score
              for p in sides for r in sides if p != r}
    print(json.dumps({f"{p} vs {r}": s for (p, r), s in scores.items()}, indent=1))
    same = [s for (p, r), s in scores.items() if UNRELATED not in (p, r)]
    unrelated = [s for (p, r), s in scores.items() if UNRELATED in (p, r)]
    assert min(same) >= max(unrelated) + 20
