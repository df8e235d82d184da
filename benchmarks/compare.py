"""What a comparison costs: POST /compare against the two /analyze calls it replaces.

    python benchmarks/compare.py [--pairs 3] [--sample-fps F]

Starts a local Ray cluster with the app deployed from serve_config.yaml, then,
alternating A, B, C, A, B, C... so all see the same machine:

- A: POST /compare of a reference and a performance video (both analysed at once);
- B: POST /analyze of the reference, then of the performance (one after the other);
- C: the same two /analyze calls at once, from two client threads.

Videos: the real same_routine_a.mp4 (reference) and same_routine_c.mp4 (performance),
or, without ../shared, two generated 15 s 720p clips of a real person. Client wall
times, uploads included. Results in benchmarks/results/compare.{json,md}.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from benchmarks.clips import person_clip  # noqa: E402
from benchmarks.report import header, new_report, write  # noqa: E402
from posecore import probe  # noqa: E402
from testbed.cluster import local_cluster  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
SHARED_PAIR = (SHARED / "same_routine_a.mp4", SHARED / "same_routine_c.mp4")


def timed(call) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def post_compare(client: httpx.Client, reference: Path, performance: Path, params: dict) -> None:
    files = {"reference": (reference.name, reference.read_bytes()), "performance": (performance.name,
                                                                                    performance.read_bytes())}
    client.post("/compare", files=files, params=params).raise_for_status()


def post_analyze(client: httpx.Client, video: Path, params: dict) -> None:
    client.post("/analyze", files={"video": (video.name, video.read_bytes())}, params=params).raise_for_status()


def summary(times: list[float]) -> dict:
    return {"runs_s": [round(t, 3) for t in times], "median_s": round(statistics.median(times), 3)}


def markdown(report: dict) -> str:
    a, b, c = report["compare"], report["analyze_sequential"], report["analyze_concurrent"]
    return "\n".join(header("Cost of a comparison", report) + [
        f"Reference {report['reference']['video']} ({report['reference']['frames']} frames), performance "
        f"{report['performance']['video']} ({report['performance']['frames']} frames), sample_fps "
        f"{report['sample_fps'] or 'all'}; client wall time, uploads included.",
        "",
        "| request | median s | runs s |",
        "|---|---:|---|",
        f"| POST /compare (both analysed at once) | **{a['median_s']}** | {a['runs_s']} |",
        f"| two POST /analyze, one after the other | {b['median_s']} | {b['runs_s']} |",
        f"| two POST /analyze at once | {c['median_s']} | {c['runs_s']} |",
        "",
        f"/compare over two sequential /analyze: **{report['ratio_compare_over_sequential']}x** "
        f"(median of pairs); over two concurrent /analyze: {report['ratio_compare_over_concurrent']}x.",
        f"Runs: {report['pairs']} each, alternating.",
        "",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--sample-fps", type=float, default=None, help="default: every frame")
    args = parser.parse_args()
    if all(path.is_file() for path in SHARED_PAIR):
        reference, performance = SHARED_PAIR
    else:
        reference, performance = person_clip(15, 1280, 720), person_clip(14, 1280, 720)
    params = {"sample_fps": args.sample_fps} if args.sample_fps else {}
    report = new_report("compare.py", pairs=args.pairs, sample_fps=args.sample_fps,
                        reference={"video": reference.name, "frames": probe(reference).frame_count},
                        performance={"video": performance.name, "frames": probe(performance).frame_count})

    with local_cluster() as cluster, httpx.Client(base_url=cluster.url, timeout=900) as client, \
            ThreadPoolExecutor(2) as pool:
        post_analyze(client, reference, params)  # warm up: replicas scale to max

        def concurrent() -> None:
            for future in [pool.submit(post_analyze, client, v, params) for v in (reference, performance)]:
                future.result()

        runs = [
            (timed(lambda: post_compare(client, reference, performance, params)),
             timed(lambda: (post_analyze(client, reference, params), post_analyze(client, performance, params))),
             timed(concurrent))
            for _ in range(args.pairs)
        ]
    report["compare"] = summary([a for a, _, _ in runs])
    report["analyze_sequential"] = summary([b for _, b, _ in runs])
    report["analyze_concurrent"] = summary([c for _, _, c in runs])
    report["ratio_compare_over_sequential"] = round(statistics.median(a / b for a, b, _ in runs), 3)
    report["ratio_compare_over_concurrent"] = round(statistics.median(a / c for a, _, c in runs), 3)
    write("compare", report, markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
