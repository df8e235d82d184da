"""The cost of finding everyone: frames/s for 1 and for 5 people, in one process and through the service.

    python benchmarks/people_cost.py [--repeats 1] [--no-service]

Video: the real group_dance.mp4 (4 dancers, every frame analysed). For max_people 1 and 5:

- single process: ``analyze_video`` (probe, model load, decode, detection, tracking and
  aggregation), wall time;
- through the service: POST /analyze to the app deployed on a local Ray cluster from
  serve_config.yaml (as benchmarks/speedup.py starts it), client wall time, upload included.

frames/s = frames analysed / seconds (median of ``--repeats``), written to
benchmarks/results/people_cost.{json,md}.
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

from benchmarks.report import header, new_report, write  # noqa: E402
from posecore import AnalysisOptions, analyze_video, probe  # noqa: E402
from posecore.landmarker import native_stderr_discarded  # noqa: E402
from posecore.model_path import model_path as locate_model  # noqa: E402
from testbed.cluster import local_cluster  # noqa: E402

VIDEO = ROOT.parent / "shared" / "data" / "group_dance.mp4"
PEOPLE = (1, 5)


def in_process(video: Path, max_people: int, model_path: Path) -> tuple[int, float]:
    """Frames analysed and seconds for the whole in-process analysis."""
    started = time.perf_counter()
    analysis = analyze_video(video, AnalysisOptions(max_people=max_people), model_path=model_path)
    return analysis.result.to_dict()["analysis"]["frames_analyzed"], time.perf_counter() - started


def service(client: httpx.Client, video: Path, max_people: int) -> tuple[int, float]:
    """Frames analysed and seconds for one POST /analyze, upload included."""
    started = time.perf_counter()
    response = client.post(
        "/analyze", files={"video": (video.name, video.read_bytes())}, params={"max_people": max_people}
    )
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return response.json()["analysis"]["frames_analyzed"], elapsed


def measured(run, repeats: int) -> dict:  # type: ignore[no-untyped-def]
    runs = [run() for _ in range(repeats)]
    return {
        "frames": runs[0][0],
        "seconds": [round(s, 2) for _, s in runs],
        "frames_per_s": round(statistics.median(f / s for f, s in runs), 1),
    }


def markdown(report: dict) -> str:
    lines = header("The cost of finding everyone (1 vs 5 people)", report) + [
        f"Video: {report['video']} (4 dancers), every frame; median of {report['repeats']} run(s).",
        "",
        "| where | max_people | frames | frames/s | seconds |",
        "|---|---:|---:|---:|---|",
    ]
    for row in report["rows"]:
        lines.append(
            f"| {row['where']} | {row['max_people']} | {row['frames']} | **{row['frames_per_s']}** | "
            f"{', '.join(map(str, row['seconds']))} |"
        )
    lines += [
        "",
        "single process: analyze_video, wall time (model load included). service: POST /analyze on a "
        "local Ray cluster, client wall time (upload included).",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--no-service", action="store_true", help="single process only")
    args = parser.parse_args()
    if not VIDEO.is_file():
        sys.exit(f"error: benchmark video not found: {VIDEO}")
    report = new_report("people_cost.py", video=VIDEO.name, repeats=args.repeats, rows=[])
    report["video_info"] = probe(VIDEO).to_dict()
    model_path = locate_model()
    with native_stderr_discarded():
        for people in PEOPLE:
            row = measured(lambda: in_process(VIDEO, people, model_path), args.repeats)  # noqa: B023
            report["rows"].append({"where": "single process", "max_people": people, **row})
            print(f"single process, {people}: {row['frames_per_s']} frames/s", file=sys.stderr)
    if not args.no_service:
        with local_cluster() as cluster, httpx.Client(base_url=cluster.url, timeout=1800) as client:
            service(client, VIDEO, 1)  # warm up: replicas scale up, models load
            for people in PEOPLE:
                row = measured(lambda: service(client, VIDEO, people), args.repeats)  # noqa: B023
                report["rows"].append({"where": "service", "max_people": people, **row})
                print(f"service, {people}: {row['frames_per_s']} frames/s", file=sys.stderr)
    write("people_cost", report, markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
