"""Soak: mixed good, bad and abusive uploads at steady concurrency; correctness, errors,
/healthz latency and memory over time.

    python benchmarks/soak.py [--minutes 10] [--clients 6]

Starts a local Ray cluster with the app from serve_config.yaml (limits set to those the
bad-upload corpus assumes: 30 s, 1920x1080). N asyncio clients, each from its own
loopback address (as N users; the per-client limit applies to each), send, back to
back, a seeded random mix: half good uploads (generated clips of a real person, whose
results are compared with a reference taken from the idle service first), half bad ones
(the corpus of tests/bad_uploads.py, each with the status and code it must get) and the
abusive requests of issue 15 (a 4 MB pose file, a YAML anchor bomb, 10,000 levels of
nesting, 1000 fps), each with its expected status and code. Beside them, one dripping
upload a minute (the multipart preamble, then a byte a second: must be cut with a 408)
and a prober timing GET /healthz every 0.25 s. The RSS of the Ray worker processes is
sampled every 5 s. Reported: requests, good results that were correct, bad ones
rejected as specified, server errors (5xx or dropped connections: must be 0), /healthz
p99 (must be under 1 s), and memory at the start, peak and end.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
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
from testbed.drip import drip  # noqa: E402
from testbed.media import pattern_frames, write_video  # noqa: E402

ARGS = {"max_duration_s": 30, "max_pixels": 1920 * 1080}
# A case: its name, the multipart files and text fields to send, and what must come back:
# the reference summary of a good upload, or (status, code) of a rejection.
Case = tuple[str, dict[str, tuple[str, bytes]], dict[str, str], object]
DRIP_EVERY_S = 60
DRIP_LIMIT_S = 60  # the pace rule cuts a drip after ~10 s (its first 10 s window ends with the grace period)
HEALTHZ_EVERY_S = 0.25


def client_address(i: int) -> str:
    """A loopback address of its own for client ``i`` (Linux routes all of 127.0.0.0/8 to lo)."""
    return f"127.0.0.{10 + i}"


def anchor_bomb(levels: int = 8) -> str:
    """The ~450-byte "billion laughs" in a pose's priority: each level 9 aliases of the one before."""
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join(["x:", "  rules: {elbow_left: [0, 9]}", "  priority:"] + [f"    {line}" for line in lines]) + "\n"


def abusive_cases(video: bytes, tmp: Path) -> list[Case]:
    """Issue 15's cheap-but-costly requests, with the answers they must get."""
    fast = write_video(tmp / "fast.mp4", pattern_frames(1000, 16, 16), fps=1000).read_bytes()
    big_poses = ("[" + ",".join(["1"] * (2 * 1024 * 1024)) + "]").encode()  # 4 MB
    clip = ("clip.mp4", video)
    return [
        ("big_pose_file", {"video": clip, "poses": ("poses.json", big_poses)}, {}, (413, "poses_too_large")),
        ("anchor_bomb", {"video": clip}, {"poses": anchor_bomb()}, (422, "invalid_pose_library")),
        ("deep_json", {"video": clip}, {"poses": "[" * 10_000 + "]" * 10_000}, (422, "invalid_pose_library")),
        ("deep_yaml", {"video": clip}, {"poses": "- " * 10_000 + "1"}, (422, "invalid_pose_library")),
        ("1000_fps", {"video": ("fast.mp4", fast)}, {}, (413, "too_many_frames")),
    ]


def summary(result: dict) -> dict:
    """What must not change between two analyses of the same video."""
    analysis = result["analysis"]
    return {
        "frames_analyzed": analysis["frames_analyzed"],
        "undecodable_frames": analysis["undecodable_frames"],
        "dancers": len(result["dancers"]),
        "poses": sorted({p["name"] for d in result["dancers"] for p in d["poses"]}),
    }


async def client_loop(http: httpx.AsyncClient, cases: list[Case], rng: random.Random,
                      until: float, outcomes: Counter) -> None:
    """Send random cases until ``until``; count each outcome."""
    while time.monotonic() < until:
        name, files, data, expected = rng.choice(cases)
        try:
            response = await http.post("/analyze", files=files, data=data)
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


async def drip_loop(url: httpx.URL, source: str, until: float, outcomes: Counter) -> None:
    """A dripping upload every DRIP_EVERY_S until ``until``: each must be cut with a 408."""
    while time.monotonic() + DRIP_LIMIT_S < until:
        started = time.monotonic()
        reply, seconds = await asyncio.to_thread(drip, url, source, DRIP_LIMIT_S)
        outcomes["drip, cut with 408" if reply.startswith(b"HTTP/1.1 408") else
                 f"drip, WRONG ({reply[:12]!r} after {seconds:.0f} s)"] += 1
        await asyncio.sleep(max(0.0, DRIP_EVERY_S - (time.monotonic() - started)))


def probe_healthz(url: str, stop: threading.Event, latencies: list[float], failures: Counter) -> None:
    """GET /healthz every HEALTHZ_EVERY_S until ``stop``; each latency, or the failure."""
    with httpx.Client(base_url=url, timeout=30) as http:
        while not stop.wait(HEALTHZ_EVERY_S):
            started = time.monotonic()
            try:
                status = http.get("/healthz").status_code
            except httpx.HTTPError as exc:
                failures[type(exc).__name__] += 1
                continue
            latencies.append(time.monotonic() - started)
            if status != 200:
                failures[str(status)] += 1


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

    t, mb = zip(*report["memory_mb"], strict=True)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot([x / 60 for x in t], mb)
    ax.set(xlabel="minutes", ylabel="RSS of Ray worker processes (MB)", ylim=(0, max(mb) * 1.15),
           title=f"Soak: {report['clients']} clients, mixed good and bad uploads")
    fig.tight_layout()
    fig.savefig(RESULTS / "soak.png", dpi=120)


def markdown(report: dict) -> str:
    memory = [mb for _, mb in report["memory_mb"]]
    lines = header("Soak: mixed good, bad and abusive uploads", report) + [
        f"{report['clients']} clients for {report['minutes']} min, {report['requests']} requests "
        f"({report['requests_per_s']} req/s).",
        "",
        "| outcome | requests |",
        "|---|---:|",
        *(f"| {name} | {count} |" for name, count in sorted(report["outcomes"].items())),
        "",
        f"Server errors: **{report['server_errors']}**. Wrong answers: **{report['wrong']}**.",
        "",
        f"GET /healthz every {HEALTHZ_EVERY_S} s throughout ({report['healthz']['probes']} probes): p50 "
        f"{report['healthz']['p50_ms']} ms, **p99 {report['healthz']['p99_ms']} ms**, max "
        f"{report['healthz']['max_ms']} ms; failures: {report['healthz']['failures'] or 'none'}.",
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
    good_videos = [person_clip(1, 1280, 720), person_clip(5, 1280, 720)]
    with tempfile.TemporaryDirectory() as tmp:
        bad: list[Case] = [(name, {"video": (f"{name}.mp4", case.data)}, {}, (case.status, case.code))
                           for name, case in bad_uploads(Path(tmp)).items()]
        bad += abusive_cases(good_videos[0].read_bytes(), Path(tmp))
    report = new_report("soak.py", minutes=args.minutes, clients=args.clients, args=ARGS)
    rng = random.Random(7)

    with local_cluster(args=ARGS) as cluster, httpx.Client(base_url=cluster.url, timeout=300) as client:
        good = []
        for path in good_videos:  # references, from the idle service
            response = client.post("/analyze", files={"video": (path.name, path.read_bytes())})
            response.raise_for_status()
            good.append((path.stem, {"video": (path.name, path.read_bytes())}, {}, summary(response.json())))
        cases = good * (len(bad) // len(good)) + bad  # about half good, half bad

        async def soak() -> Counter:
            outcomes: Counter = Counter()
            until = time.monotonic() + args.minutes * 60
            clients = [httpx.AsyncClient(base_url=cluster.url, timeout=300,
                                         transport=httpx.AsyncHTTPTransport(local_address=client_address(i)))
                       for i in range(args.clients)]
            try:
                await asyncio.gather(
                    drip_loop(httpx.URL(cluster.url), client_address(args.clients), until, outcomes),
                    *(client_loop(http, cases, random.Random(rng.random()), until, outcomes) for http in clients))
            finally:
                for http in clients:
                    await http.aclose()
            return outcomes

        memory: list[tuple[float, float]] = []
        roles: list[dict] = []
        stop = threading.Event()
        started = time.monotonic()
        latencies: list[float] = []
        healthz_failures: Counter = Counter()
        sampler = threading.Thread(target=sample_memory, args=(cluster, started, stop, memory, roles))
        prober = threading.Thread(target=probe_healthz, args=(cluster.url, stop, latencies, healthz_failures))
        sampler.start()
        prober.start()
        try:
            outcomes = asyncio.run(soak())
        finally:
            stop.set()
            sampler.join()
            prober.join()
        elapsed = time.monotonic() - started
        healthy = client.get("/healthz").status_code == 200

    def minute_mean(values: list[float]) -> float:
        return round(sum(values) / len(values), 1)

    requests = sum(outcomes.values())
    percentiles = statistics.quantiles(latencies, n=100)
    report.update(
        healthz={"probes": len(latencies), "p50_ms": round(percentiles[49] * 1000, 1),
                 "p99_ms": round(percentiles[98] * 1000, 1), "max_ms": round(max(latencies) * 1000, 1),
                 "failures": dict(healthz_failures)},
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
    healthz_ok = not healthz_failures and report["healthz"]["p99_ms"] < 1000
    return 0 if report["server_errors"] == 0 and report["wrong"] == 0 and healthy and healthz_ok else 1


if __name__ == "__main__":
    sys.exit(main())
