"""Memory: peak resident memory of the Ray worker processes, 1-minute vs 10-minute 1080p video.

    python benchmarks/memory.py [--minutes 1,10]

Starts a local Ray cluster with the app from serve_config.yaml, sends one warm-up
request, then one POST /analyze per video (generated 1080p clips of a real person,
shortest first) while a sampler reads every cluster process's resident set from
/proc every 0.2 s. "Ray worker processes" are the ``ray::`` processes: the Serve
controller, proxy, DanceAnalyzer and PoseWorker replicas. Reported per video: the
peak of their summed RSS, its growth over the idle level measured just before,
and the peak per role. Target: the 10-minute peak is at most 1.3x the 1-minute one.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from benchmarks.clips import person_clip  # noqa: E402
from benchmarks.report import header, new_report, write  # noqa: E402
from posecore import probe  # noqa: E402
from testbed.cluster import ServeCluster, command_line, local_cluster, rss_bytes  # noqa: E402

MB = 1024 * 1024
# The 10-minute clip sits at the default 600 s limit; a little headroom so a rounding
# of its duration cannot reject it.
ARGS = {"max_duration_s": 660}


def role(cmdline: str) -> str | None:
    """Which Ray worker process this is (``ray::`` processes only), else None."""
    if not cmdline.startswith("ray::"):
        return None
    name = cmdline.split()[0].removeprefix("ray::")
    for known in ("PoseWorker", "DanceAnalyzer", "ProxyActor", "ServeController"):
        if known in name:
            return known
    return "other ray:: worker"


def snapshot(cluster: ServeCluster) -> dict[str, int]:
    """RSS in bytes summed per role, over every live process of the cluster's nodes."""
    totals: dict[str, int] = defaultdict(int)
    for node in cluster.nodes:
        for pid in node.processes():
            try:
                name, rss = role(command_line(pid)), rss_bytes(pid)
            except OSError:  # gone meanwhile
                continue
            totals[name or "ray system (raylet, gcs, dashboard...)"] += rss
    return totals


def workers_total(totals: dict[str, int]) -> int:
    return sum(v for k, v in totals.items() if not k.startswith("ray system"))


class Sampler:
    """Samples ``snapshot`` in a thread; keeps the sample with the largest worker total."""

    def __init__(self, cluster: ServeCluster, interval_s: float = 0.2) -> None:
        self.cluster, self.interval_s = cluster, interval_s
        self.peak: dict[str, int] = {}
        self.role_peaks: dict[str, int] = defaultdict(int)
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            totals = snapshot(self.cluster)
            self.samples += 1
            if workers_total(totals) > workers_total(self.peak):
                self.peak = dict(totals)
            for name, value in totals.items():
                self.role_peaks[name] = max(self.role_peaks[name], value)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def measure(cluster: ServeCluster, client: httpx.Client, video: Path) -> dict:
    """One POST /analyze of ``video`` under the sampler, with the idle level just before."""
    time.sleep(3)  # let the previous request's garbage go
    idle = workers_total(snapshot(cluster))
    started = time.perf_counter()
    with Sampler(cluster) as sampler:
        response = client.post("/analyze", files={"video": (video.name, video.read_bytes())})
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    time.sleep(3)
    after = workers_total(snapshot(cluster))
    peak = workers_total(sampler.peak)
    return {
        "video": video.name,
        "bytes": video.stat().st_size,
        "frames": probe(video).frame_count,
        "frames_analyzed": response.json()["analysis"]["frames_analyzed"],
        "elapsed_s": round(elapsed, 1),
        "samples": sampler.samples,
        "idle_before_mb": round(idle / MB, 1),
        "peak_mb": round(peak / MB, 1),
        "growth_mb": round((peak - idle) / MB, 1),
        "idle_after_mb": round(after / MB, 1),
        "role_peaks_mb": {k: round(v / MB, 1) for k, v in sorted(sampler.role_peaks.items())},
    }


def markdown(report: dict) -> str:
    rows = report["videos"]
    lines = header("Memory: Ray worker processes' peak RSS against video length", report) + [
        "| video | frames | file MB | analysis s | idle before MB | peak MB | growth over idle MB | idle after MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['video']} | {r['frames']} | {r['bytes'] / MB:.1f} | {r['elapsed_s']} | "
                     f"{r['idle_before_mb']} | {r['peak_mb']} | {r['growth_mb']} | {r['idle_after_mb']} |")
    roles = sorted({k for r in rows for k in r["role_peaks_mb"]})
    lines += ["", "Peak RSS per role (MB, each role's own peak; PoseWorker summed over its replicas):", "",
              "| role | " + " | ".join(r["video"] for r in rows) + " |", "|---|" + "---:|" * len(rows)]
    for name in roles:
        lines.append(f"| {name} | " + " | ".join(str(r["role_peaks_mb"].get(name, "")) for r in rows) + " |")
    lines += [
        "",
        f"Peak ratio, longest / shortest: **{report['peak_ratio']}x** (target <= 1.3x). Growth over idle: "
        f"{rows[0]['growth_mb']} MB vs {rows[-1]['growth_mb']} MB.",
        "",
        "RSS counts object-store pages a process has touched, so the upload's shared copy shows in the "
        "ingress and in each PoseWorker that read it. Options: the defaults (no per-frame landmarks in the "
        "response, which would grow with the video by design).",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", default="1,10", help="video lengths, comma-separated")
    args = parser.parse_args()
    videos = [person_clip(60 * float(m), 1920, 1080) for m in args.minutes.split(",")]
    report = new_report("memory.py", args=ARGS, videos=[])
    with local_cluster(args=ARGS) as cluster, httpx.Client(base_url=cluster.url, timeout=1800) as client:
        client.post("/analyze", files={"video": ("warm.mp4", person_clip(1, 1280, 720).read_bytes())}).raise_for_status()
        for video in videos:
            report["videos"].append(measure(cluster, client, video))
            print(report["videos"][-1], file=sys.stderr)
    report["peak_ratio"] = round(report["videos"][-1]["peak_mb"] / report["videos"][0]["peak_mb"], 3)
    write("memory", report, markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
