"""What every benchmark records beside its figures: machine, versions, command, date."""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    """CPU, cores, load average (call it before the benchmark adds load) and versions."""
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as file:
            cpu = next(line.split(":", 1)[1].strip() for line in file if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        **{name: version(name) for name in ("mediapipe", "av", "numpy", "ray")},
    }


def header(title: str, report: dict) -> list[str]:
    """The Markdown lines that open every summary."""
    m = report["machine"]
    return [
        f"# {title}",
        "",
        f"- date: {report['date']}",
        f"- command: `{report['command']}`",
        f"- machine: {m['cpu']}, {m['cores']} cores ({m['cores_usable']} usable), load average "
        f"{' / '.join(map(str, m['load_average_1_5_15']))} at start",
        f"- python {m['python']}, mediapipe {m['mediapipe']}, av {m['av']}, numpy {m['numpy']}, ray {m['ray']}",
        "",
    ]


def new_report(script: str, **fields: object) -> dict:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": shlex.join(["python", f"benchmarks/{script}", *sys.argv[1:]]),
        "machine": machine(),
        **fields,
    }


def write(name: str, report: dict, summary: str) -> None:
    """benchmarks/results/NAME.json and NAME.md; the summary is printed too."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(summary)
    print(summary)
