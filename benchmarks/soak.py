"""Soak: mixed good and bad uploads at steady concurrency; correctness, errors and memory over time.

    python benchmarks/soak.py [--minutes 10] [--clients 6]

Starts a local Ray cluster with the app from serve_config.yaml (limits set to those the
bad-upload corpus assumes: 30 s, 1920x1080). N asyncio clients send, back to back, a
seeded random mix: half good uploads (generated clips of a real person, whose results
are compared with a reference taken from the idle service first), half bad ones (the
corpus of tests/bad_uploads.py, each with the status and code it must get). The RSS of
the Ray worker processes is sampled every 5 s. Reported: requests, good results that
were correct, bad ones rejected as specified, server errors (5xx or dropped
connections: must be 0), and memory at the start, peak and end.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from benchmarks.clips import person_clip  # noqa: E402
from benchmarks.memory import MB, snapshot, workers_total  # noqa: E402
from benchmarks.report import RESULTS, header, new_report, write  # noqa: E402
from testbed.bad_uploads import bad_uploads  # noqa: E402
from testbed.cluster import ServeCluster, local_cluster  # noqa: E402

ARGS = {"max_duration_s": 30, "max_pixels": 1920 * 1080}


def summary(result: dict) -> dict:
    """What must not change between two analyses of the same video."""
    analysis = result["analysis"]
    return {
        "frames_analyzed": analysis["frames_analyzed"],
        "undecodable_frames": analysis["undecodable_frames"],
        "dancers": len(result["dancers"]),
        "poses": sorted({p["name"] for d in result["dancers"] for p in d["poses"]}),
    }


async def client_loop(http: httpx.AsyncClient, cases: list[tuple[str, bytes, object]], rng: random.Random,
                      until: float, outcomes: Counter) -> None:
    """Send random cases until ``until``; count each outcome."""
    while time.monotonic() < until:
        name, data, expected = rng.choice(cases)
        try:
            response = await http.post("/analyze", files={"video": (f"{name}.mp4", data)})
        except httpx.HTTPError as exc:
            outcomes[f"server error: {type(exc).__name__}"] += 1
            continue
        if response.status_code >= 500:
            outcomes[f"server error: {response.status_code}"] += 1
        elif isinstance(expected, dict):  # a good upload and its reference summary
            ok = response.status_code == 200 and summary(response.json()) == expected
            outcomes["good, correct" if ok else f"good, WRONG ({name}: {response.status_code})"] += 1
        else:
            status, code = expected
            ok = response.status_code == status and response.json().get("error", {}).get("code") == code
            outcomes["bad, rejected as specified" if ok else f"bad, WRONG ({name}: {response.status_code})"] += 1


def sample_memory(cluster: ServeCluster, started: float, stop: threading.Event, out: list[tuple[float, float]],
                  roles: list[dict]) -> None:
    """Every 5 s: the workers' total RSS into ``out``, and the per-role split into ``roles``."""
    while True:
        totals = snapshot(cluster)
        out.append((round(time.monotonic() - started, 1), round(workers_total(totals) / MB, 1)))
        roles.append({name: round(value / MB, 1) for name, value in totals.items()})
        if stop.wait(5.0):
            return


def plot(report: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t, mb = zip(*report["memory_mb"])
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot([x / 60 for x in t], mb)
    ax.set(xlabel="minutes", ylabel="RSS of Ray worker processes (MB)", ylim=(0, max(mb) * 1.15),
           title=f"Soak: {report['clients']} clients, mixed good and bad uploads")
    fig.tight_layout()
    fig.savefig(RESULTS / "soak.png", dpi=120)


def markdown(report: dict) -> str:
    memory = [mb for _, mb in report["memory_mb"]]
    lines = header("Soak: mixed good and bad uploads", report) + [
        f"{report['clients']} clients for {report['minutes']} min, {report['requests']} requests "
        f"({report['requests_per_s']} req/s).",
        "",
        "| outcome | requests |",
        "|---|---:|",
        *(f"| {name} | {count} |" for name, count in sorted(report["outcomes"].items())),
        "",
        f"Server errors: **{report['server_errors']}**. Wrong answers: **{report['wrong']}**.",
        "",
        f"RSS of the Ray worker processes: {memory[0]} MB at the start, peak {max(memory)} MB, "
        f"{memory[-1]} MB at the end; mean of the first minute {report['first_minute_mb']} MB, of the "
        f"last {report['last_minute_mb']} MB (**{report['memory_drift']}x**). Plot: soak.png.",
        "",
        "Per role, first and last sample (MB): " + ", ".join(
            f"{name} {report['memory_by_role_mb'][0].get(name, 0)} -> {value}"
            for name, value in sorted(report["memory_by_role_mb"][-1].items())) + ".",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--clients", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bad = [(name, case.data, (case.status, case.code)) for name, case in bad_uploads(Path(tmp)).items()]
    good_videos = [person_clip(1, 1280, 720), person_clip(5, 1280, 720)]
    report = new_report("soak.py", minutes=args.minutes, clients=args.clients, args=ARGS)
    rng = random.Random(7)

    with local_cluster(args=ARGS) as cluster, httpx.Client(base_url=cluster.url, timeout=300) as client:
        good = []
        for path in good_videos:  # references, from the idle service
            response = client.post("/analyze", files={"video": (path.name, path.read_bytes())})
            response.raise_for_status()
            good.append((path.stem, path.read_bytes(), summary(response.json())))
        cases = good * (len(bad) // len(good)) + bad  # about half good, half bad

        async def soak() -> Counter:
            outcomes: Counter = Counter()
            until = time.monotonic() + args.minutes * 60
            limits = httpx.Limits(max_connections=args.clients)
            async with httpx.AsyncClient(base_url=cluster.url, timeout=300, limits=limits) as http:
                await asyncio.gather(*(client_loop(http, cases, random.Random(rng.random()), until, outcomes)
                                       for _ in range(args.clients)))
            return outcomes

        memory: list[tuple[float, float]] = []
        roles: list[dict] = []
        stop = threading.Event()
        started = time.monotonic()
        sampler = threading.Thread(target=sample_memory, args=(cluster, started, stop, memory, roles))
        sampler.start()
        try:
            outcomes = asyncio.run(soak())
        finally:
            stop.set()
            sampler.join()
        elapsed = time.monotonic() - started
        healthy = client.get("/healthz").status_code == 200

    def minute_mean(values: list[float]) -> float:
        return round(sum(values) / len(values), 1)

    requests = sum(outcomes.values())
    report.update(
        requests=requests,
        requests_per_s=round(requests / elapsed, 2),
        outcomes=dict(outcomes),
        server_errors=sum(n for k, n in outcomes.items() if k.startswith("server error")),
        wrong=sum(n for k, n in outcomes.items() if "WRONG" in k),
        healthy_after=healthy,
        memory_mb=memory,
        memory_by_role_mb=roles,
        first_minute_mb=minute_mean([mb for t, mb in memory if t <= 60]),
        last_minute_mb=minute_mean([mb for t, mb in memory if t >= memory[-1][0] - 60]),
    )
    report["memory_drift"] = round(report["last_minute_mb"] / report["first_minute_mb"], 3)
    write("soak", report, markdown(report))
    plot(report)
    return 0 if report["server_errors"] == 0 and report["wrong"] == 0 and healthy else 1


if __name__ == "__main__":
    sys.exit(main())
