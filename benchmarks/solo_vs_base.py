"""Single-dancer speed against an earlier revision: the CLI's ``analyze`` on each solo video.

    python benchmarks/solo_vs_base.py [--base d3b6438] [--rounds 2]

Issue 18 asks that finding everyone costs nothing when one dancer is asked for, and the
round's new analyses (music, hits, key poses, metrics, holds, facing) must not slow the
common case. This checks out ``--base`` (default: main before this round's issues) into a
temporary git worktree and runs ``python -m posecore analyze VIDEO --json OUT`` with the
default options on every solo video in ../shared/data, base and current alternately (so
both see the same machine load), ``--rounds`` times. Wall time includes start-up and model
load, as a CLI user sees it. Writes benchmarks/results/solo_vs_base.{json,md}.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere, without installing posecore

from benchmarks.accuracy import DATA, SOLOS  # noqa: E402
from benchmarks.report import header, new_report, write  # noqa: E402


def analyse_seconds(tree: Path, video: Path, out: Path) -> float:
    """Wall time of the CLI's analyze, run from ``tree`` so that tree's posecore is imported."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "posecore", "analyze", str(video), "--json", str(out), "--no-table"],
        cwd=tree,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="d3b6438", help="git revision to compare with")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    videos = [DATA / f"{stem}.mp4" for stem in SOLOS if (DATA / f"{stem}.mp4").is_file()]
    if not videos:
        sys.exit(f"no solo videos in {DATA}")
    report = new_report("solo_vs_base.py", base=args.base, rounds=args.rounds)
    seconds: dict[str, dict[str, list[float]]] = {v.stem: {"base": [], "current": []} for v in videos}
    with tempfile.TemporaryDirectory() as tmp:
        base_tree = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(base_tree), args.base], cwd=ROOT, check=True)
        try:
            for _ in range(args.rounds):
                for video in videos:
                    for name, tree in (("base", base_tree), ("current", ROOT)):
                        seconds[video.stem][name].append(analyse_seconds(tree, video, Path(tmp) / f"{name}.json"))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT, check=False)
    rows = {
        stem: {
            "base_s": round(statistics.median(t["base"]), 2),
            "current_s": round(statistics.median(t["current"]), 2),
            "ratio": round(statistics.median(t["current"]) / statistics.median(t["base"]), 3),
        }
        for stem, t in seconds.items()
    }
    total = sum(r["current_s"] for r in rows.values()) / sum(r["base_s"] for r in rows.values())
    report.update(videos=rows, seconds=seconds, total_ratio=round(total, 3))
    lines = header("Single-dancer speed: this code against an earlier revision", report) + [
        f"Base: `{args.base}`. The CLI's `analyze` with default options (every frame, one dancer), wall time "
        f"including start-up and model load; base and current alternately, median of {args.rounds} rounds.",
        "",
        "| video | base (s) | current (s) | current / base |",
        "|---|---:|---:|---:|",
        *(f"| {stem} | {r['base_s']} | {r['current_s']} | {r['ratio']} |" for stem, r in rows.items()),
        "",
        f"All solos together: current / base = **{total:.3f}**.",
    ]
    write("solo_vs_base", report, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
