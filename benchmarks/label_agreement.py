"""How often two people labelling the same frames by the same rules agree: the human ceiling.

    python benchmarks/label_agreement.py

``benchmarks/labels/second_<video>.csv`` (and ``mids_second_<video>.csv``) hold a second,
independent label for the rows of ``poses_<video>.csv`` (and ``mids_<video>.csv``); the
second labeller saw the frames and the written rules, never the first labels or the
classifier. Where the two disagreed, a third look decided (``adjudicated.csv``) and the
label files hold the decision; the first labeller's own labels are rebuilt from
``adjudicated.csv`` here, so agreement is measured between the two independent passes.
The second label is scored against the first exactly as ``accuracy.py`` scores the
classifier (a name is right when it is the first label's ``pose`` or in its ``also``;
``standing`` is right on a ``transition``), so the figures read as the precision and
recall a careful person reaches. Writes ``benchmarks/results/label_agreement.{json,md}``.
"""

from __future__ import annotations

import csv
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere, without installing posecore

from benchmarks.accuracy import GROUPS, LABELS, NOT_SCORED, SOLOS, Row, percent, ratio, read_labels  # noqa: E402
from benchmarks.report import header, new_report, write  # noqa: E402
from posecore.pose_library import FALLBACK  # noqa: E402

UNNAMED = frozenset({"transition", FALLBACK})
SAME_PLACE = 0.02  # normalised hip distance: the same person in the same frame


def first_labels(stem: str, kind: str) -> list[Row]:
    """The first labeller's rows of ``kind`` (poses / mids) as labelled, before adjudication."""
    rows = read_labels(stem, kind)
    with open(LABELS / "adjudicated.csv", newline="") as file:
        decided = [d for d in csv.DictReader(file) if d["video"] == stem and d["kind"] == kind]
    for d in decided:
        for i, row in enumerate(rows):
            if row.frame_index == int(d["frame_index"]) and row.hip and abs(row.hip[0] - float(d["x"])) < SAME_PLACE:
                also = frozenset(d["first_also"].replace(";", " ").split())
                rows[i] = replace(row, pose=d["first_pose"], also=also)
    return rows


def pairs(stem: str, kind: str = "poses") -> list[tuple[Row, Row]]:
    """(first, second) label of each row of ``kind`` labelled twice, both scored (not occluded / no dancer)."""
    second = "second" if kind == "poses" else f"{kind}_second"
    if not (LABELS / f"{second}_{stem}.csv").is_file():
        return []
    first = first_labels(stem, kind)
    found = []
    for again in read_labels(stem, second):
        same = [r for r in first if r.frame_index == again.frame_index and r.hip and again.hip
                and abs(r.hip[0] - again.hip[0]) + abs(r.hip[1] - again.hip[1]) < SAME_PLACE]  # fmt: skip
        if len(same) == 1 and same[0].pose not in NOT_SCORED and again.pose not in NOT_SCORED:
            found.append((same[0], again))
    return found


def agreement(labelled: list[tuple[Row, Row]]) -> dict:
    """The second labels scored against the first: exact and lenient agreement, named precision / recall."""
    named_said = [(a, b) for a, b in labelled if b.pose not in UNNAMED]
    named_truth = [(a, b) for a, b in labelled if a.pose not in UNNAMED]
    per_pose: Counter[str] = Counter(a.pose for a, _ in labelled)
    kept: Counter[str] = Counter(a.pose for a, b in labelled if a.is_right(b.pose))
    return {
        "rows": len(labelled),
        "same_pose": ratio(sum(a.pose == b.pose for a, b in labelled), len(labelled)),
        "right_by_the_scoring_rules": ratio(sum(a.is_right(b.pose) for a, b in labelled), len(labelled)),
        "named_precision": ratio(sum(a.is_right(b.pose) for a, b in named_said), len(named_said)),
        "named_recall": ratio(sum(a.pose == b.pose for a, b in named_truth), len(named_truth)),
        "per_first_pose": {p: {"rows": n, "second_right": kept[p]} for p, n in per_pose.most_common()},
        "disagreements": Counter(f"{a.pose} -> {b.pose}" for a, b in labelled if not a.is_right(b.pose)).most_common(),
    }


def decisions() -> dict:
    """Who the third look sided with, per kind: the first labeller, the second, or both (a borderline)."""
    with open(LABELS / "adjudicated.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    names = {"1": "first", "2": "second", "both": "both"}
    return {kind: dict(Counter(names[r["decision"]] for r in rows if r["kind"] == kind)) for kind in ("poses", "mids")}


def markdown(report: dict) -> str:
    """The summary tables."""
    lines = header("Agreement between two labellers", report)
    lines += [report["notes"], "", "| rows | n | same pose | right by the scoring rules | named precision | named recall |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for part, s in report["agreement"].items():
        lines.append(
            f"| {part} | {s['rows']} | {percent(s['same_pose'])} | {percent(s['right_by_the_scoring_rules'])} | "
            f"{percent(s['named_precision'])} | {percent(s['named_recall'])} |"
        )
    lines += ["", "Disagreements decided by a third look (which labeller the rules supported): "
              + "; ".join(f"{kind}: {v}" for kind, v in report["decisions"].items()), ""]  # fmt: skip
    every = report["agreement"]["regular samples, all"]
    lines += ["Second label right, by the first label (regular samples):", "", "| first label | rows | second right |",
              "|---|---|---|"]  # fmt: skip
    lines += [f"| {p} | {v['rows']} | {v['second_right']} |" for p, v in every["per_first_pose"].items()]
    lines += ["", "Disagreements (first -> second): " + ", ".join(f"{k} {n}" for k, n in every["disagreements"])]
    return "\n".join(lines) + "\n"


def main() -> None:
    report = new_report("label_agreement.py")
    report["notes"] = (
        "Second labels (second_*.csv, mids_second_*.csv) scored against the first labeller's (poses_*.csv, "
        "mids_*.csv as labelled, before adjudication) with accuracy.py's rules. Named precision: second labels "
        "that name a pose (not transition/standing) and are right; named recall: first labels naming a pose "
        "that the second gave as its pose. Regular samples are evenly spaced; segment middles sit where the "
        "classifier reported a segment."
    )
    solos = [p for stem in SOLOS for p in pairs(stem)]
    groups = [p for stem in GROUPS for p in pairs(stem)]
    mids = [p for stem in (*SOLOS, *GROUPS) for p in pairs(stem, "mids")]
    report["agreement"] = {
        "regular samples, solos": agreement(solos),
        "regular samples, groups": agreement(groups),
        "regular samples, all": agreement(solos + groups),
        "segment middles": agreement(mids),
    }
    report["decisions"] = decisions()
    write("label_agreement", report, markdown(report))


if __name__ == "__main__":
    main()
