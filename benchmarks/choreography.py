"""What the choreography analysis (issue 16) adds to each video, in ms, next to the whole analysis.

    python benchmarks/choreography.py [--repeats 3] [VIDEO ...]

Per video (default: every video in ../shared/data), in one process:
- the whole in-process analysis (``analyze_video``, every frame, the main dancer), for scale;
- music: audio decode + beat tracking (``find_music``); it runs beside detection, so on an
  idle machine it adds nothing to the wall time, but it is CPU the machine spends;
- movement: body speed, hits, key poses and movement metrics over each dancer's track;
- thumbnails: decoding the key poses' frames and encoding their JPEGs (only with
  ``include_thumbnails``).
Medians of ``--repeats``; written to benchmarks/results/choreography.{json,md}.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere, without installing posecore

from benchmarks.report import header, new_report, write  # noqa: E402
from posecore import AnalysisOptions, analyze_video  # noqa: E402
from posecore.hits import body_speed, find_moments, hit_times  # noqa: E402
from posecore.key_poses import find_key_poses  # noqa: E402
from posecore.landmarker import native_stderr_discarded  # noqa: E402
from posecore.movement_quality import movement_metrics  # noqa: E402
from posecore.pipeline import Analysis, Plan, find_music, make_plan  # noqa: E402
from posecore.pose_library import PoseLibrary  # noqa: E402
from posecore.thumbnails import frame_thumbnails  # noqa: E402
from posecore.video import VideoLimits  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def median_ms(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return round(1000 * statistics.median(times), 1)


def movement(analysis: Analysis, plan: Plan) -> None:
    """The movement steps of assemble, for every dancer (angles were computed already)."""
    info, step = plan.info, plan.options.frame_step_s(plan.info.fps)
    for dancer in analysis.dancers:
        speed = body_speed(dancer.track, info.width, info.height, frame_duration_s=step)
        moments = find_moments(dancer.track, speed, frame_duration_s=step)
        find_key_poses(dancer.track, dancer.angles, moments, speed, plan.library)
        movement_metrics(dancer.track, dancer.angles, speed, hit_times(moments), None, info.width, info.height,
                         frame_duration_s=step)


def thumbnails(analysis: Analysis, plan: Plan) -> None:
    for dancer in analysis.dancers:
        frame_thumbnails(plan.source, plan.info, dancer.track, [p.best_row for p in dancer.key_poses])


def measure(video: Path, repeats: int) -> dict:
    plan = make_plan(video, AnalysisOptions(), PoseLibrary.default(), VideoLimits())
    started = time.perf_counter()
    analysis = analyze_video(video, AnalysisOptions())
    whole_ms = round(1000 * (time.perf_counter() - started), 1)
    return {
        "video": video.name,
        "frames": plan.info.frame_count,
        "analysis_ms": whole_ms,
        "music_ms": median_ms(lambda: find_music(plan), repeats),
        "movement_ms": median_ms(lambda: movement(analysis, plan), repeats),
        "thumbnails_ms": median_ms(lambda: thumbnails(analysis, plan), repeats),
        "key_poses": sum(len(d.key_poses) for d in analysis.dancers),
        "tempo_bpm": analysis.result.music.tempo_bpm if analysis.result.music else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", nargs="*", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    videos = args.videos or sorted(DATA.glob("*.mp4"))
    if not videos:
        sys.exit(f"no videos: pass some, or put them in {DATA}")
    report = new_report("choreography.py", rows=[])
    with native_stderr_discarded():
        for video in videos:
            row = measure(video, args.repeats)
            report["rows"].append(row)
            print(row, file=sys.stderr)
    lines = header("Choreography analysis: added cost per video", report)
    lines += ["| video | frames | whole analysis ms | music ms | movement ms | music + movement | thumbnails ms "
              "| key poses | tempo |", "|---|---|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        share = 100 * (r["music_ms"] + r["movement_ms"]) / r["analysis_ms"]
        lines.append(f"| {r['video']} | {r['frames']} | {r['analysis_ms']} | {r['music_ms']} | {r['movement_ms']} | "
                     f"{share:.1f}% | {r['thumbnails_ms']} | {r['key_poses']} | {r['tempo_bpm']} |")
    lines += ["", "Music runs in a thread beside detection: its ms are CPU spent, not wall time added on an idle "
              "machine. Movement runs in the assemble step (added wall time). Thumbnails only with "
              "include_thumbnails."]
    write("choreography", report, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
