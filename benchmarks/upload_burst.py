"""Upload burst: the ingress's and proxy's memory through a burst of large junk uploads.

    python benchmarks/upload_burst.py [--uploads 20] [--mb 150] [--bursts 2] [--good 20]

Starts a local Ray cluster with the app from serve_config.yaml (its default limits:
200 MB uploads, 1 GiB of uploads in flight), then ``--bursts`` times sends ``--uploads``
concurrent uploads of ``--mb`` MB of random bytes (not a video: each must be answered 415
``not_a_video``; a 503 ``overloaded`` from the bytes-in-flight budget is retried after
its Retry-After, as a client would), then ``--good`` small valid analyses, 4 at a time.
The RSS of the ingress (DanceAnalyzer) and proxy (ProxyActor) processes is sampled
every 0.2 s: reported idle before, peak during the bursts, 10 s after each burst, and
after the valid analyses. Issue 15: at most about one copy of an upload is held in the
ingress, and both return near their idle size after a burst.

RSS is also split in two (/proc/PID/status): the process's own memory (``RssAnon``) and
the pages of Ray's shared object store it has mapped (``RssShmem``). Request bodies go
from the proxy to the ingress through that store, so both processes map the same pages;
they are the store's memory (counted once, in /dev/shm), kept by it for the next objects,
not the process's: a second burst shows whether they are reused or grow.
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
from benchmarks.memory import MB, Sampler, role, snapshot  # noqa: E402
from benchmarks.report import header, new_report, write  # noqa: E402
from testbed.cluster import ServeCluster, command_line, local_cluster  # noqa: E402

ROLES = ("DanceAnalyzer", "ProxyActor")
# Long enough for every upload to get through the 1 GiB budget a few at a time.
BURST_LIMIT_S = 600


def roles_mb(cluster: ServeCluster) -> dict[str, float]:
    totals = snapshot(cluster)
    return {name: round(totals.get(name, 0) / MB, 1) for name in ROLES}


def status_mb(pid: int) -> dict[str, float]:
    """A process's RSS and its own (anonymous) and shared-memory parts, in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {key: round(int(fields[key].split()[0]) / 1024, 1) for key in ("VmRSS", "RssAnon", "RssShmem")}


def roles_split_mb(cluster: ServeCluster) -> dict[str, dict[str, float]]:
    """Per role (one process each here): RSS, own memory and object-store pages, in MB."""
    split = {}
    for node in cluster.nodes:
        for pid in node.processes():
            try:
                name = role(command_line(pid))
                if name in ROLES:
                    split[name] = status_mb(pid)
            except OSError:  # gone meanwhile
                continue
    return split


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
    parser.add_argument("--bursts", type=int, default=2)
    parser.add_argument("--good", type=int, default=20)
    args = parser.parse_args()
    junk = os.urandom(args.mb * MB)
    good = person_clip(1, 640, 360).read_bytes()
    report = new_report("upload_burst.py", uploads=args.uploads, upload_mb=args.mb, bursts=args.bursts, good=args.good)

    with local_cluster() as cluster, httpx.Client(base_url=cluster.url, timeout=300) as client:
        client.post("/analyze", files={"video": ("warm.mp4", good)}).raise_for_status()  # warm-up
        time.sleep(5)
        idle = roles_mb(cluster)
        split = {"idle": roles_split_mb(cluster)}
        answers: list[tuple[str, int]] = []
        burst_s, after_bursts = [], []
        with Sampler(cluster) as sampler:
            for burst in range(args.bursts):
                started = time.monotonic()
                deadline = started + BURST_LIMIT_S
                with ThreadPoolExecutor(args.uploads) as pool:
                    # Each from a loopback address of its own: 20 users (the per-client limit is 16).
                    answers += pool.map(
                        lambda i, until=deadline: junk_upload(cluster.url, junk, f"127.0.0.{10 + i}", until),
                        range(args.uploads),
                    )
                burst_s.append(round(time.monotonic() - started, 1))
                time.sleep(10)
                after_bursts.append(roles_mb(cluster))
                split[f"after burst {burst + 1}"] = roles_split_mb(cluster)
        with ThreadPoolExecutor(4) as pool:
            good_statuses = Counter(
                pool.map(
                    lambda _: client.post("/analyze", files={"video": ("good.mp4", good)}).status_code, range(args.good)
                )
            )
        time.sleep(10)
        after_good = roles_mb(cluster)
        split["after the valid analyses"] = roles_split_mb(cluster)

    outcomes = Counter(outcome for outcome, _ in answers)
    report.update(
        burst_s=burst_s,
        outcomes=dict(outcomes),
        retries_503=sum(retries for _, retries in answers),
        good_statuses={str(k): v for k, v in good_statuses.items()},
        idle_mb=idle,
        peak_mb={name: round(sampler.role_peaks.get(name, 0) / MB, 1) for name in ROLES},
        after_bursts_mb=after_bursts,
        after_good_mb=after_good,
        split_mb=split,
    )
    write("upload_burst", report, markdown(report))
    uploads = args.uploads * args.bursts
    ok = outcomes == Counter({"415 not_a_video": uploads}) and good_statuses == Counter({200: args.good})
    return 0 if ok else 1


def markdown(report: dict) -> str:
    bursts = range(1, len(report["after_bursts_mb"]) + 1)
    lines = header("Upload burst: ingress and proxy memory", report) + [
        f"{len(report['burst_s'])} bursts of {report['uploads']} concurrent uploads of {report['upload_mb']} MB of "
        f"random bytes (in {' and '.join(map(str, report['burst_s']))} s): "
        + ", ".join(f"{n} x {k}" for k, n in sorted(report["outcomes"].items()))
        + f" ({report['retries_503']} 503s from the bytes-in-flight budget, retried); then "
        f"{report['good']} valid analyses: "
        + ", ".join(f"{n} x {k}" for k, n in report["good_statuses"].items())
        + ".",
        "",
        "RSS:",
        "",
        "| process | idle (MB) | peak (MB) | "
        + " | ".join(f"10 s after burst {i} (MB)" for i in bursts)
        + " | after the valid analyses (MB) |",
        "|---|---:|---:|" + "---:|" * len(bursts) + "---:|",
        *(
            f"| {name} | {report['idle_mb'][name]} | {report['peak_mb'][name]} | "
            + " | ".join(str(after[name]) for after in report["after_bursts_mb"])
            + f" | {report['after_good_mb'][name]} |"
            for name in ROLES
        ),
        "",
        "The same RSS split: the process's own memory (RssAnon) + the pages of Ray's shared object store",
        "it has mapped (RssShmem; the same pages in both processes, counted once by the machine):",
        "",
        "| process | " + " | ".join(report["split_mb"]) + " |",
        "|---|" + "---:|" * len(report["split_mb"]),
        *(
            f"| {name} | "
            + " | ".join(f"{at[name]['RssAnon']} + {at[name]['RssShmem']}" for at in report["split_mb"].values())
            + " |"
            for name in ROLES
        ),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
