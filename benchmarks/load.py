"""Load test: 1, 2, 4, 8 and 16 concurrent clients against /analyze on this machine.

    python benchmarks/load.py [--seconds 40] [--clients 1,2,4,8,16]

An asyncio client (httpx) keeps N uploads in flight for a fixed time per level, all to
loopback, bounded in time. Each level reports requests/s, analysed frames/s,
p50/p95/p99 latency, errors and the PoseWorker replica counts seen; a plot of
throughput against clients and a latency CDF are written beside the JSON and Markdown
in benchmarks/results/. The single-process pass over the same clip is measured in
the same run, before and after the cluster, for the target: steady analysed
frames/s >= 85% of cores x that.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from benchmarks.clips import person_clip  # noqa: E402
from benchmarks.report import RESULTS, header, new_report, write  # noqa: E402
from benchmarks.speedup import sequential  # noqa: E402
from posecore import probe  # noqa: E402
from posecore.landmarker import native_stderr_discarded  # noqa: E402
from posecore.model_path import model_path as locate_model  # noqa: E402
from testbed.cluster import ServeCluster, local_cluster  # noqa: E402


async def client_loop(http: httpx.AsyncClient, video: bytes, until: float, out: list[dict], client: int) -> None:
    """Send uploads back to back until ``until``; record each one's outcome."""
    while time.monotonic() < until:
        started = time.monotonic()
        try:
            response = await http.post("/analyze", files={"video": ("clip.mp4", video)})
            ok = response.status_code == 200
            frames = response.json()["analysis"]["frames_analyzed"] if ok else 0
            status = response.status_code
        except httpx.HTTPError as exc:
            ok, frames, status = False, 0, type(exc).__name__
        out.append({"client": client, "start": started, "end": time.monotonic(), "ok": ok, "frames": frames,
                    "status": status})


async def run_level(url: str, video: bytes, clients: int, seconds: float) -> list[dict]:
    until = time.monotonic() + seconds
    records: list[dict] = []
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as http:
        await asyncio.gather(*(client_loop(http, video, until, records, client) for client in range(clients)))
    return records


def watch_replicas(cluster: ServeCluster, stop: threading.Event, seen: list[tuple[float, int]]) -> None:
    while not stop.wait(2.0):
        try:
            seen.append((time.monotonic(), cluster.running()))
        except Exception:  # a status call may time out under load; the next one counts
            pass


def summarise(records: list[dict], clients: int, replicas: list[int]) -> dict:
    """Figures for one level.

    Steady throughput comes from the interactive response time law of a closed system,
    X = clients / (R + Z): R the mean latency of the requests sent once the first one
    had completed (ramp-up over), Z the mean time a client takes between a response and
    its next request. Unlike counting completions in a window, it has no edge effects:
    the first requests (no queue yet) and the drain at the end (replicas idling) do not
    enter. A failed request counts as a cycle without frames. The whole level (first
    start to last end, both included) is reported too.
    """
    good = [r for r in records if r["ok"]]
    window = max(r["end"] for r in records) - min(r["start"] for r in records)
    first_done = min(r["end"] for r in records)
    steady = [r for r in records if r["start"] >= first_done]
    by_client = sorted(records, key=lambda r: (r["client"], r["start"]))
    thinks = [b["start"] - a["end"] for a, b in zip(by_client, by_client[1:]) if a["client"] == b["client"]]
    cycle_s = np.mean([r["end"] - r["start"] for r in steady]) + np.mean(thinks) if steady and thinks else np.nan
    requests_per_s = clients / cycle_s
    latencies = np.array([r["end"] - r["start"] for r in good]) if good else np.array([np.nan])
    return {
        "clients": clients,
        "requests": len(records),
        "errors": len(records) - len(good),
        "window_s": round(window, 2),
        "steady_requests": len(steady),
        "think_s": round(float(np.mean(thinks)), 4) if thinks else None,
        "requests_per_s": round(float(requests_per_s), 3),
        "frames_per_s": round(float(requests_per_s * np.mean([r["frames"] for r in steady] or [np.nan])), 1),
        "whole_level_frames_per_s": round(sum(r["frames"] for r in good) / window, 1),
        "p50_s": round(float(np.percentile(latencies, 50)), 3),
        "p95_s": round(float(np.percentile(latencies, 95)), 3),
        "p99_s": round(float(np.percentile(latencies, 99)), 3),
        "replicas_seen": sorted(set(replicas)),
        "latencies_s": [round(float(x), 3) for x in latencies],
    }


def single_process_frames_per_s(clip: Path, frames: int) -> float:
    """The sequential pass over ``clip`` (median of 3)."""
    with native_stderr_discarded():
        seconds = statistics.median(sequential(clip, locate_model()) for _ in range(3))
    return round(frames / seconds, 1)


def plot(report: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = report["levels"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot([lv["clients"] for lv in levels], [lv["frames_per_s"] for lv in levels], "o-", label="/analyze")
    left.axhline(report["target_frames_per_s"], color="grey", ls="--", label="85% of cores x single process")
    left.set(xscale="log", xlabel="concurrent clients", ylabel="analysed frames/s", title="Throughput")
    left.set_xticks([lv["clients"] for lv in levels], [str(lv["clients"]) for lv in levels])
    left.legend()
    for lv in levels:
        lat = np.sort(lv["latencies_s"])
        right.plot(lat, np.arange(1, len(lat) + 1) / len(lat), label=f"{lv['clients']} clients")
    right.set(xlabel="latency (s)", ylabel="share of requests", title="Latency CDF")
    right.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "load.png", dpi=100)


def markdown(report: dict) -> str:
    lines = header("Load test", report) + [
        f"- clip: {report['video']} ({report['frames']} frames); {report['seconds']} s per level, "
        f"asyncio client on loopback",
        f"- single process on the same clip: {report['single_process_frames_per_s']} frames/s (mean of "
        f"{' before and '.join(map(str, report['single_process_before_after']))} after the cluster ran); "
        f"target (85% of {report['machine']['cores']} cores x that): {report['target_frames_per_s']} frames/s",
        "- steady: clients / (mean latency of the requests sent after the first completion + the clients' "
        "mean time between a response and the next request); whole level: first start to last end, "
        "ramp-up and drain included",
        "",
        "| clients | requests | errors | req/s | frames/s (steady) | of cores x single | frames/s (whole level) "
        "| p50 s | p95 s | p99 s | replicas seen |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    ideal = report["ideal_frames_per_s"]
    for lv in report["levels"]:
        lines.append(
            f"| {lv['clients']} | {lv['requests']} | {lv['errors']} | {lv['requests_per_s']} | "
            f"{lv['frames_per_s']} | {lv['frames_per_s'] / ideal:.0%} | {lv['whole_level_frames_per_s']} | "
            f"{lv['p50_s']} | {lv['p95_s']} | {lv['p99_s']} | {lv['replicas_seen']} |"
        )
    best = max(lv["frames_per_s"] for lv in report["levels"])
    lines += [
        "",
        f"Best steady throughput {best} frames/s = **{best / ideal:.0%}** of cores x single-process "
        f"(target 85%).",
        "",
        "![throughput and latency](load.png)",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=40, help="time per level")
    parser.add_argument("--clients", default="1,2,4,8,16")
    args = parser.parse_args()
    levels = [int(c) for c in args.clients.split(",")]
    clip = person_clip(5, 1280, 720)
    video = clip.read_bytes()
    report = new_report("load.py", video=clip.name, frames=probe(clip).frame_count, seconds=args.seconds, levels=[])

    # The machine's speed drifts over minutes: the single-process pass runs before the
    # cluster starts and after it stops, and the target uses their mean.
    single_before = single_process_frames_per_s(clip, report["frames"])
    with local_cluster() as cluster:
        asyncio.run(run_level(cluster.url, video, 2, 5))  # warm-up, not reported
        for clients in levels:
            stop, seen = threading.Event(), []
            watcher = threading.Thread(target=watch_replicas, args=(cluster, stop, seen))
            watcher.start()
            try:
                records = asyncio.run(run_level(cluster.url, video, clients, args.seconds))
            finally:
                stop.set()
                watcher.join()
            level = summarise(records, clients, [n for _, n in seen])
            report["levels"].append(level)
            print(f"{clients} clients: {level['frames_per_s']} frames/s, p50 {level['p50_s']} s", file=sys.stderr)
    single_after = single_process_frames_per_s(clip, report["frames"])
    single = (single_before + single_after) / 2
    report["single_process_frames_per_s"] = round(single, 1)
    report["single_process_before_after"] = [single_before, single_after]
    report["ideal_frames_per_s"] = round(os.cpu_count() * single, 1)  # cores x single process
    report["target_frames_per_s"] = round(0.85 * report["ideal_frames_per_s"], 1)
    write("load", report, markdown(report))
    plot(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
