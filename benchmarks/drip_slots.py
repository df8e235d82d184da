"""Dripping uploads against the default limits: does a real upload get through?

    python benchmarks/drip_slots.py [--drippers 33]

Issue 15: 33 connections that each sent an upload's preamble and then a byte every few
seconds held all 32 ``max_concurrent_uploads`` slots, and a real upload got 503 for as
long as they dripped (up to 600 s). This starts a local Ray cluster with the app from
serve_config.yaml (its default limits), opens ``--drippers`` dripping uploads, and from
another address sends a real analysis every second until one is answered 200. Twice:
the drippers from one address (the issue's case: the per-client limit keeps half the
slots free), then spread over 3 addresses (every slot taken until the pace rule cuts
them). Reported: each real attempt's status, the time until a real upload was analysed,
and how and when each dripper was answered (the pace rule's 408, or the per-client 429).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from benchmarks.clips import person_clip  # noqa: E402
from benchmarks.report import header, new_report, write  # noqa: E402
from testbed.cluster import local_cluster  # noqa: E402
from testbed.drip import drip  # noqa: E402

DRIP_LIMIT_S = 120  # far past the pace rule's cut (grace 10 s + one 10 s window)
REAL_LIMIT_S = 120


def scenario(url: httpx.URL, client: httpx.Client, video: bytes, drippers: int, addresses: int) -> dict:
    """Drippers from ``addresses`` addresses, real uploads until one is analysed."""
    attempts: list[dict] = []
    with ThreadPoolExecutor(drippers) as pool:
        started = time.monotonic()
        futures = [pool.submit(drip, url, f"127.0.0.{20 + i % addresses}", DRIP_LIMIT_S) for i in range(drippers)]
        time.sleep(2)  # every dripper has sent its preamble and holds its slot
        while time.monotonic() - started < REAL_LIMIT_S:
            sent = time.monotonic() - started
            response = client.post("/analyze", files={"video": ("real.mp4", video)})
            code = response.json().get("error", {}).get("code") if response.status_code != 200 else None
            attempts.append(
                {
                    "sent_s": round(sent, 1),
                    "status": response.status_code,
                    "code": code,
                    "seconds": round(time.monotonic() - started - sent, 2),
                }
            )
            if response.status_code == 200:
                break
            time.sleep(1)
        replies = [f.result() for f in futures]
    return {
        "drippers": drippers,
        "addresses": addresses,
        "attempts": attempts,
        "first_200_after_s": next((round(a["sent_s"] + a["seconds"], 1) for a in attempts if a["status"] == 200), None),
        "first_200_took_s": next((a["seconds"] for a in attempts if a["status"] == 200), None),
        "drippers_answered": dict(
            Counter(reply.split(b" ", 2)[1].decode() if reply else "none" for reply, _ in replies)
        ),
        "drippers_cut_after_s": sorted(round(s, 1) for reply, s in replies if b" 408 " in reply[:20]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--drippers", type=int, default=33)
    args = parser.parse_args()
    video = person_clip(1, 640, 360).read_bytes()
    report = new_report("drip_slots.py", drippers=args.drippers)
    with local_cluster() as cluster, httpx.Client(base_url=cluster.url, timeout=300) as client:
        client.post("/analyze", files={"video": ("warm.mp4", video)}).raise_for_status()  # warm-up
        runs = [scenario(httpx.URL(cluster.url), client, video, args.drippers, n) for n in (1, 3)]
    report["runs"] = runs
    lines = header("Dripping uploads against the default limits", report) + [
        f"{args.drippers} dripping uploads (preamble, then a byte a second); meanwhile a real analysis from "
        "another address every second until one is answered 200.",
        "",
        "| dripper addresses | real uploads (the first sent 2 s after the drippers) | first 200, after the drippers "
        "started (s) | its own time (s) | drippers answered | 408 after (s) |",
        "|---:|---|---:|---:|---|---|",
    ]
    for run in runs:
        statuses = Counter(f"{a['status']} {a['code'] or ''}".strip() for a in run["attempts"])
        cut = run["drippers_cut_after_s"]
        lines.append(
            f"| {run['addresses']} | {', '.join(f'{n} x {k}' for k, n in statuses.items())} | "
            f"**{run['first_200_after_s']}** | {run['first_200_took_s']} | {', '.join(f'{n} x {k}' for k, n in run['drippers_answered'].items())} | "
            f"{f'{cut[0]}-{cut[-1]}' if cut else '-'} |"
        )
    write("drip_slots", report, "\n".join(lines) + "\n")
    return 0 if all(run["first_200_after_s"] is not None for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
