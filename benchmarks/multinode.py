"""Throughput of a 2-node cluster against 1 node with the same cores per node.

    python benchmarks/multinode.py [--seconds 40] [--clients 4]

Both clusters run on this machine with `ray start` (head + worker node, each its own
raylet): 1 node with 1 CPU and 1 PoseWorker replica, then 2 nodes with 1 CPU each and
a replica on each. The same load (``--clients`` back-to-back uploads of a 5 s 720p
clip) is sent to each; analysed frames/s are compared. Target: 2 nodes >= 1.8x.
Writes benchmarks/results/multinode.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from benchmarks.clips import person_clip  # noqa: E402
from benchmarks.load import run_level, summarise  # noqa: E402
from benchmarks.report import header, new_report, write  # noqa: E402
from testbed.cluster import local_cluster  # noqa: E402


def measure(video: bytes, nodes: int, clients: int, seconds: float) -> dict:
    """Load figures for ``nodes`` nodes of 1 CPU, one PoseWorker replica each."""
    scaling = {"min_replicas": nodes, "max_replicas": nodes}
    with local_cluster(num_cpus=1, worker_nodes=[1] * (nodes - 1), args={"worker_replicas": nodes},
                       autoscaling=scaling) as cluster:
        asyncio.run(run_level(cluster.url, video, clients, 5))  # warm-up, not reported
        placed = len(set(cluster.replica_nodes("PoseWorker").values()))
        level = summarise(asyncio.run(run_level(cluster.url, video, clients, seconds)), clients, [nodes])
    level.pop("latencies_s")
    return {"nodes": nodes, "nodes_with_a_replica": placed, **level}


def markdown(report: dict) -> str:
    one, two = report["one_node"], report["two_nodes"]
    return "\n".join(header("Two nodes against one", report) + [
        f"- load: {report['clients']} clients, {report['seconds']} s, 5 s 720p clip; 1 CPU per node, "
        "one PoseWorker replica per node; nodes are processes on this one 2-core machine",
        "",
        "| nodes | requests | errors | frames/s (steady) | frames/s (whole level) | p50 s | p95 s |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        *(f"| {r['nodes']} | {r['requests']} | {r['errors']} | {r['frames_per_s']} | "
          f"{r['whole_level_frames_per_s']} | {r['p50_s']} | {r['p95_s']} |" for r in (one, two)),
        "",
        f"2 nodes / 1 node: **{report['ratio']}x** (target 1.8x).",
        "",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    video = person_clip(5, 1280, 720).read_bytes()
    report = new_report("multinode.py", clients=args.clients, seconds=args.seconds)
    report["one_node"] = measure(video, 1, args.clients, args.seconds)
    report["two_nodes"] = measure(video, 2, args.clients, args.seconds)
    report["ratio"] = round(report["two_nodes"]["frames_per_s"] / report["one_node"]["frames_per_s"], 2)
    write("multinode", report, markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
