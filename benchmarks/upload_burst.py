"""Upload burst: the ingress's and proxy's memory through a burst of large junk uploads.

    python benchmarks/upload_burst.py [--uploads 20] [--mb 150] [--good 20]

Starts a local Ray cluster with the app from serve_config.yaml (its default limits:
200 MB uploads, 1 GiB of uploads in flight), then sends ``--uploads`` concurrent
uploads of ``--mb`` MB of random bytes (not a video: each must be answered 415
``not_a_video``; a 503 ``overloaded`` from the bytes-in-flight budget is retried after
its Retry-After, as a client would), then ``--good`` small valid analyses, 4 at a time.
The RSS of the ingress (DanceAnalyzer) and proxy (ProxyActor) processes is sampled
every 0.2 s: reported idle before, peak during the burst, after it (10 s later), and
after the valid analyses. Issue 15: at most about one copy of an upload is held in the
ingress, and both return near their idle size after the burst.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from benchmarks.clips import person_clip  # noqa: E402
from benchmarks.memory import MB, Sampler, snapshot  # noqa: E402
from benchmarks.report import header, new_report, write  # noqa: E402
from testbed.cluster import ServeCluster, local_cluster  # noqa: E402

ROLES = ("DanceAnalyzer", "ProxyActor")
# Long enough for every upload to get through the 1 GiB budget a few at a time.
BURST_LIMIT_S = 600


def roles_mb(cluster: ServeCluster) -> dict[str, float]:
    totals = snapshot(cluster)
    return {name: round(totals.get(name, 0) / MB, 1) for name in ROLES}


def junk_upload(url: str, data: bytes, source: str, deadline: float) -> tuple[str, int]:
    """POST ``data`` from the address ``source`` until it is answered with something other
    than 503; (outcome, 503s met)."""
    retries = 0
    with httpx.Client(base_url=url, timeout=300, transport=httpx.HTTPTransport(local_address=source)) as http:
        while time.monotonic() < deadline:
            try:
                response = http.post("/analyze", files={"video": ("junk.mp4", data, "video/mp4")})
            except httpx.HTTPError as exc:
                return f"dropped: {type(exc).__name__}", retries
            if response.status_code != 503:
                error = response.json().get("error", {}) if response.content else {}
                outcome = f"{response.status_code} {error.get('code')}"
                if response.status_code != 415:  # say why
                    outcome += f" ({error.get('message')})"
                return outcome, retries
            retries += 1
            time.sleep(float(response.headers.get("Retry-After", 1)))
    return "gave up (still 503)", retries


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uploads", type=int, default=20)
    parser.add_argument("--mb", type=int, default=150)
    parser.add_argument("--good", type=int, default=20)
    args = parser.parse_args()
    junk = os.urandom(args.mb * MB)
    good = person_clip(1, 640, 360).read_bytes()
    report = new_report("upload_burst.py", uploads=args.uploads, upload_mb=args.mb, good=args.good)

    with local_cluster() as cluster, httpx.Client(base_url=cluster.url, timeout=300) as client:
        client.post("/analyze", files={"video": ("warm.mp4", good)}).raise_for_status()  # warm-up
        time.sleep(5)
        idle = roles_mb(cluster)
        started = time.monotonic()
        with Sampler(cluster) as sampler, ThreadPoolExecutor(args.uploads) as pool:
            # Each from a loopback address of its own: 20 users (the per-client limit is 4).
            answers = list(pool.map(lambda i: junk_upload(cluster.url, junk, f"127.0.0.{10 + i}",
                                                          started + BURST_LIMIT_S), range(args.uploads)))
        burst_s = time.monotonic() - started
        time.sleep(10)
        after_burst = roles_mb(cluster)
        with ThreadPoolExecutor(4) as pool:
            good_statuses = Counter(pool.map(
                lambda _: client.post("/analyze", files={"video": ("good.mp4", good)}).status_code, range(args.good)))
        time.sleep(10)
        after_good = roles_mb(cluster)

    outcomes = Counter(outcome for outcome, _ in answers)
    report.update(
        burst_s=round(burst_s, 1),
        outcomes=dict(outcomes),
        retries_503=sum(retries for _, retries in answers),
        good_statuses={str(k): v for k, v in good_statuses.items()},
        idle_mb=idle,
        peak_mb={name: round(sampler.role_peaks.get(name, 0) / MB, 1) for name in ROLES},
        after_burst_mb=after_burst,
        after_good_mb=after_good,
    )
    write("upload_burst", report, markdown(report))
    ok = outcomes == Counter({"415 not_a_video": args.uploads}) and good_statuses == Counter({200: args.good})
    return 0 if ok else 1


def markdown(report: dict) -> str:
    lines = header("Upload burst: ingress and proxy memory", report) + [
        f"{report['uploads']} concurrent uploads of {report['upload_mb']} MB of random bytes in "
        f"{report['burst_s']} s: " + ", ".join(f"{n} x {k}" for k, n in sorted(report["outcomes"].items()))
        + f" ({report['retries_503']} 503s from the bytes-in-flight budget, retried); then "
        f"{report['good']} valid analyses: " + ", ".join(f"{n} x {k}" for k, n in report["good_statuses"].items())
        + ".",
        "",
        "| process | idle (MB) | burst peak (MB) | 10 s after the burst (MB) | after the valid analyses (MB) |",
        "|---|---:|---:|---:|---:|",
        *(f"| {name} | {report['idle_mb'][name]} | {report['peak_mb'][name]} | {report['after_burst_mb'][name]} "
          f"| {report['after_good_mb'][name]} |" for name in ROLES),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
