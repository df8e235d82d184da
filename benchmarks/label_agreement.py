"""How often two people labelling the same frames by the same rules agree: the human ceiling.

    python benchmarks/label_agreement.py

``benchmarks/labels/second_<video>.csv`` holds a second, independent label for rows drawn
at random from ``poses_<video>.csv`` (``label_tiles.py --resample``; the second labeller
saw the frames and the written rules, never the first labels or the classifier). The
second label is scored against the first exactly as ``accuracy.py`` scores the
classifier (a name is right when it is the first label's ``pose`` or in its ``also``;
``standing`` is right on a ``transition``), so the figures read as the precision and
recall a careful person reaches on these labels. Writes
``benchmarks/results/label_agreement.{json,md}``.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere, without installing posecore

from benchmarks.accuracy import GROUPS, LABELS, NOT_SCORED, SOLOS, Row, percent, ratio, read_labels  # noqa: E402
from benchmarks.report import header, new_report, write  # noqa: E402
from posecore.pose_library import FALLBACK  # noqa: E402

UNNAMED = frozenset({"transition", FALLBACK})
SAME_PLACE = 0.02  # normalised hip distance: the same person in the same frame


def pairs(stem: str) -> list[tuple[Row, Row]]:
    """(first, second) label of each row labelled twice, both scored (not occluded / no dancer)."""
    if not (LABELS / f"second_{stem}.csv").is_file():
        return []
    first = read_labels(stem)
    found = []
    for again in read_labels(stem, "second"):
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


def markdown(report: dict) -> str:
    """The summary tables."""
    lines = header("Agreement between two labellers", report)
    lines += [report["notes"], "", "| rows | n | same pose | right by the scoring rules | named precision | named recall |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for part in ("solos", "groups", "all"):
        s = report[part]
        lines.append(
            f"| {part} | {s['rows']} | {percent(s['same_pose'])} | {percent(s['right_by_the_scoring_rules'])} | "
            f"{percent(s['named_precision'])} | {percent(s['named_recall'])} |"
        )
    lines += ["", "Second label right, by the first label (all rows):", "", "| first label | rows | second right |",
              "|---|---|---|"]  # fmt: skip
    lines += [f"| {p} | {v['rows']} | {v['second_right']} |" for p, v in report["all"]["per_first_pose"].items()]
    lines += ["", "Disagreements (first -> second): " + ", ".join(f"{k} {n}" for k, n in report["all"]["disagreements"])]
    return "\n".join(lines) + "\n"


def main() -> None:
    report = new_report("label_agreement.py")
    report["notes"] = (
        "Second labels (second_*.csv) scored against the first (poses_*.csv) with accuracy.py's rules. "
        "Named precision: second labels that name a pose (not transition/standing) and are right; named recall: "
        "first labels naming a pose that the second gave as its pose. Rows: label_tiles.py --resample."
    )
    solos = [p for stem in SOLOS for p in pairs(stem)]
    groups = [p for stem in GROUPS for p in pairs(stem)]
    report |= {"solos": agreement(solos), "groups": agreement(groups), "all": agreement(solos + groups)}
    write("label_agreement", report, markdown(report))


if __name__ == "__main__":
    main()
