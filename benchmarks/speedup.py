"""Single-video speedup and per-request overhead of the Serve app on this machine.

    python benchmarks/speedup.py [--pairs 5] [--no-long]

Starts a local Ray cluster with the app deployed from serve_config.yaml (as
`serve deploy` would), then, alternating A, B, A, B... so both see the same machine:

- speedup: A = POST /analyze end to end (client wall time, upload included);
  B = the sequential single-process pass: one process decodes every frame and runs one
  PoseLandmarker in VIDEO mode over them, same model. Videos: the real group_dance.mp4
  (skipped if ../shared is absent) and a generated 60 s 1080p clip of a real person.
- overhead: a 1 s clip through /analyze against the same clip analysed in-process
  (analyze_video, i.e. the same work including model load and aggregation).

Reported: medians and the median of the per-pair ratios, in benchmarks/results/speedup.{json,md}.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from benchmarks.clips import person_clip  # noqa: E402
from benchmarks.report import header, new_report, write  # noqa: E402
from posecore import AnalysisOptions, analyze_video, probe  # noqa: E402
from posecore.landmarker import PoseModel, native_stderr_discarded  # noqa: E402
from posecore.model_path import model_path as locate_model  # noqa: E402
from posecore.video import iter_frames  # noqa: E402
from testbed.cluster import local_cluster  # noqa: E402

SHARED_VIDEO = ROOT.parent / "shared" / "data" / "group_dance.mp4"


def service(client: httpx.Client, video: Path, **params: object) -> float:
    """Seconds for one POST /analyze, upload included."""
    started = time.perf_counter()
    response = client.post("/analyze", files={"video": (video.name, video.read_bytes())}, params=params)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed


def sequential(video: Path, model_path: Path) -> float:
    """Seconds for one process to decode every frame and run one VIDEO-mode landmarker."""
    started = time.perf_counter()
    info = probe(video)
    with PoseModel(model_path) as model:
        for frame in iter_frames(video, info):
            model.detect(frame.image, frame.index, frame.t_s)
    return time.perf_counter() - started


def in_process(video: Path, model_path: Path) -> float:
    started = time.perf_counter()
    analyze_video(video, AnalysisOptions(), model_path=model_path)
    return time.perf_counter() - started


def alternate(a, b, pairs: int) -> dict:
    """Run a, b, a, b... ``pairs`` times; medians and the median per-pair ratio b/a."""
    runs = [(a(), b()) for _ in range(pairs)]
    return {
        "a_s": [round(x, 3) for x, _ in runs],
        "b_s": [round(y, 3) for _, y in runs],
        "a_median_s": round(statistics.median(x for x, _ in runs), 3),
        "b_median_s": round(statistics.median(y for _, y in runs), 3),
        "ratio_b_over_a": round(statistics.median(y / x for x, y in runs), 3),
        "difference_a_minus_b_ms": round(statistics.median((x - y) * 1000 for x, y in runs), 1),
    }


def markdown(report: dict) -> str:
    lines = header("Single-video speedup and overhead", report) + [
        "| video | frames | /analyze median s | sequential median s | speedup (median of pairs) |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in report["speedup"]:
        lines.append(f"| {row['video']} | {row['frames']} | {row['a_median_s']} | {row['b_median_s']} | "
                     f"**{row['ratio_b_over_a']}x** |")
    o = report["overhead"]
    lines += [
        "",
        f"Overhead, 1 s clip ({o['frames']} frames): /analyze {o['a_median_s']} s, in-process "
        f"{o['b_median_s']} s, **{o['difference_a_minus_b_ms']} ms** more through the service (median of pairs).",
        "",
        f"Pairs per row: {report['pairs']}, run alternately (A, B, A, B...). Targets: speedup >= 1.7x "
        "(2 cores, the physical limit is ~2x); overhead <= 150 ms.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--no-long", action="store_true", help="skip the 60 s 1080p clip")
    args = parser.parse_args()
    report = new_report("speedup.py", pairs=args.pairs, speedup=[])
    model_path = locate_model()
    videos = [SHARED_VIDEO] if SHARED_VIDEO.is_file() else []
    if not args.no_long:
        videos.append(person_clip(60, 1920, 1080))
    one_second = person_clip(1, 1280, 720)

    with local_cluster() as cluster, httpx.Client(base_url=cluster.url, timeout=900) as client:
        with native_stderr_discarded():
            service(client, videos[0] if videos else one_second)  # warm up: replicas scale to max
            for video in videos:
                row = alternate(lambda: service(client, video), lambda: sequential(video, model_path), args.pairs)  # noqa: B023
                report["speedup"].append({"video": video.name, "frames": probe(video).frame_count, **row})
                print(f"{video.name}: {row['ratio_b_over_a']}x", file=sys.stderr)
            overhead = alternate(lambda: service(client, one_second), lambda: in_process(one_second, model_path),
                                 max(args.pairs, 5))
            report["overhead"] = {"video": one_second.name, "frames": probe(one_second).frame_count, **overhead}
    write("speedup", report, markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
