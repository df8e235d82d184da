"""Autoscaling trace: PoseWorker replicas and queue length over time, load step to idle.

    python benchmarks/autoscale_trace.py [--load-seconds 40] [--idle-seconds 60] [--clients 4]

A local cluster with serve_config.yaml, except min_replicas=1 and a 20 s downscale
delay (so the whole cycle fits in a couple of minutes): idle, then a step of
``--clients`` back-to-back uploads, then idle again. Every second it records the
RUNNING replicas (serve status), the requests in flight (client side) and the
segments in flight (the ingress's ``ray_dance_segments_in_flight`` gauge).
Writes benchmarks/results/autoscale_trace.{json,md,png}.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from benchmarks.clips import person_clip  # noqa: E402
from benchmarks.load import run_level  # noqa: E402
from benchmarks.report import RESULTS, header, new_report, write  # noqa: E402
from testbed.cluster import ServeCluster, local_cluster  # noqa: E402

AUTOSCALING = {"min_replicas": 1, "downscale_delay_s": 20}
GAUGE = re.compile(r"^ray_dance_segments_in_flight\{[^}]*\} ([0-9.e+-]+)$", re.M)


def sample(cluster: ServeCluster, started: float, in_flight: list[int], stop: threading.Event, out: list[dict]) -> None:
    while not stop.wait(1.0):
        try:
            replicas = cluster.running()
            gauge = GAUGE.findall(httpx.get(cluster.metrics_url, timeout=5).text)
        except Exception:  # a slow status call under load: skip this tick
            continue
        out.append({"t_s": round(time.monotonic() - started, 1), "replicas": replicas,
                    "requests_in_flight": in_flight[0], "segments_in_flight": sum(float(g) for g in gauge)})


async def step(url: str, video: bytes, clients: int, seconds: float, in_flight: list[int]) -> list[dict]:
    in_flight[0] = clients
    try:
        return await run_level(url, video, clients, seconds)
    finally:
        in_flight[0] = 0


def plot(report: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trace = report["trace"]
    t = [p["t_s"] for p in trace]
    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.step(t, [p["replicas"] for p in trace], where="post", label="PoseWorker replicas (RUNNING)")
    ax.plot(t, [p["segments_in_flight"] for p in trace], label="segments in flight (ingress gauge)")
    ax.plot(t, [p["requests_in_flight"] for p in trace], ls=":", label="client uploads in flight")
    ax.axvspan(report["load_from_s"], report["load_to_s"], color="orange", alpha=0.15, label="load step")
    ax.set(xlabel="time (s)", title="Autoscaling: load step, then idle")
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(RESULTS / "autoscale_trace.png", dpi=100)


def markdown(report: dict) -> str:
    trace = report["trace"]
    up = next((p["t_s"] for p in trace if p["t_s"] >= report["load_from_s"] and p["replicas"] >= 2), None)
    down = next((p["t_s"] for p in trace if p["t_s"] >= report["load_to_s"] and p["replicas"] <= 1), None)
    return "\n".join(header("Autoscaling trace", report) + [
        f"- config: serve_config.yaml with autoscaling overrides {report['autoscaling']}",
        f"- load step: {report['clients']} clients from {report['load_from_s']} s to {report['load_to_s']} s "
        f"({report['requests']} requests, {report['errors']} errors)",
        f"- scaled up to 2 replicas at: {up} s ({None if up is None else round(up - report['load_from_s'], 1)} s "
        f"after the step); back to 1 at: {down} s "
        f"({None if down is None else round(down - report['load_to_s'], 1)} s after the load ended)",
        "",
        "![autoscaling trace](autoscale_trace.png)",
        "",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--load-seconds", type=float, default=40)
    parser.add_argument("--idle-seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    video = person_clip(5, 1280, 720).read_bytes()
    report = new_report("autoscale_trace.py", autoscaling=AUTOSCALING, clients=args.clients)

    with local_cluster(autoscaling=AUTOSCALING) as cluster:
        time.sleep(5)
        trace: list[dict] = []
        in_flight, stop, started = [0], threading.Event(), time.monotonic()
        sampler = threading.Thread(target=sample, args=(cluster, started, in_flight, stop, trace))
        sampler.start()
        try:
            time.sleep(5)  # idle before the step
            report["load_from_s"] = round(time.monotonic() - started, 1)
            records = asyncio.run(step(cluster.url, video, args.clients, args.load_seconds, in_flight))
            report["load_to_s"] = round(time.monotonic() - started, 1)
            time.sleep(args.idle_seconds)
        finally:
            stop.set()
            sampler.join()
    report.update(trace=trace, requests=len(records), errors=sum(not r["ok"] for r in records))
    write("autoscale_trace", report, markdown(report))
    plot(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
