"""Pose-label accuracy on the hand-labelled real videos (benchmarks/labels/poses_*.csv).

    python benchmarks/accuracy.py [--videos STEM ...] [--no-sheet]

Runs the in-process pipeline (``posecore.pipeline.run_pipeline`` with every frame and
``include_landmarks``; detections are cached on disk, see ``accuracy_cache.py``) on
each labelled video, matches each labelled person-frame to the detected dancer whose
hip centre is nearest (within ``MATCH_RADIUS``, one-to-one per frame), and scores what
the result reports there. The scoring rules are in benchmarks/labels/README.md
("How the labels are scored"). Solo videos are where rules were tuned; the group
videos are reported apart as the held-out check.

Writes benchmarks/results/accuracy.{json,md}, and accuracy_errors.png: a contact sheet
of wrong frames. The PNG shows third-party footage, so it is git-ignored: look at it,
never commit it.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere, without installing posecore

from benchmarks.accuracy_cache import cached_detect  # noqa: E402
from benchmarks.report import RESULTS, header, new_report, write  # noqa: E402
from posecore.model_path import model_path  # noqa: E402
from posecore.options import AnalysisOptions  # noqa: E402
from posecore.pipeline import Analysis, Finished, run_pipeline  # noqa: E402
from posecore.pose_library import FALLBACK, PoseLibrary  # noqa: E402
from posecore.result import AnalysisResult  # noqa: E402

LABELS = ROOT / "benchmarks" / "labels"
DATA = ROOT.parent / "shared" / "data"
MATCH_RADIUS = 0.12  # normalised image units between a labelled hip point and a detected one
MOVEMENTS = frozenset({"jump", "turn"})
NOT_SCORED = frozenset({"occluded", "no_dancer"})
SOLOS = ("solo_kpop_1080p", "solo_contemporary", "same_routine_a", "same_routine_b", "same_routine_c")
GROUPS = ("group_3_office", "duo_studio", "group_3_studio", "group_dance")
NONE = "(none)"
SHEET_TILES = 32


@dataclass
class Row:
    """One labelled person-frame and what the result reported for it."""

    video: str
    frame_index: int
    t_s: float
    hip: tuple[float, float] | None
    pose: str
    also: frozenset[str]
    facing: str
    dancer: int | None = None  # matched dancer id
    reported: str | None = None  # the pose segment's name at this time (None: no pose reported)
    movements: frozenset[str] = frozenset()  # movement segments (jump, turn) covering this time
    reported_facing: str | None = None

    @property
    def truth(self) -> frozenset[str]:
        return self.also | {self.pose}

    @property
    def predicted(self) -> list[str]:
        return ([self.reported] if self.reported else []) + sorted(self.movements)

    def is_right(self, name: str) -> bool:
        """A reported name is right when labelled (pose or also); ``standing`` is right for a transition."""
        return name in self.truth or (name == FALLBACK and self.pose == "transition")


@dataclass
class VideoRun:
    stem: str
    rows: list[Row]
    result: AnalysisResult
    mids: list[Row] = field(default_factory=list)  # labels of reported segments' middle frames (mids_*.csv)
    segments: list[dict] = field(default_factory=list)  # each judged pose segment


def read_labels(stem: str, kind: str = "poses") -> list[Row]:
    """The labelled rows of one video: ``poses`` (regular samples), or ``mids``, ``second``... (may be absent)."""
    path = LABELS / f"{kind}_{stem}.csv"
    if kind != "poses" and not path.is_file():
        return []
    rows = []
    with open(path, newline="") as file:
        for r in csv.DictReader(file):
            hip = (float(r["x"]), float(r["y"])) if r["x"] and r["y"] else None
            also = frozenset(a for a in r["also"].replace(";", " ").replace(",", " ").split() if a)
            rows.append(Row(stem, int(r["frame_index"]), float(r["t_s"]), hip, r["pose"], also, r["facing"]))
    return rows


def max_people(stem: str) -> int:
    """1 for a solo; for a group the most people labelled in one frame."""
    path = LABELS / f"people_{stem}.csv"
    if not path.is_file():
        return 1
    with open(path, newline="") as file:
        return max(int(r["count"]) for r in csv.DictReader(file))


def analyse(stem: str, options: AnalysisOptions) -> Analysis:
    """The whole pipeline on one labelled video (detections replayed from the cache)."""
    model_file = model_path()

    async def run() -> Analysis:
        events = run_pipeline(
            DATA / f"{stem}.mp4", options, cached_detect(model_file), library=PoseLibrary.default(),
            model=model_file.name,
        )
        async for event in events:
            if isinstance(event, Finished):
                return event.analysis
        raise AssertionError("the pipeline ends with Finished")

    return asyncio.run(run())


def run_video(stem: str, **options: float) -> tuple[VideoRun, Analysis]:
    """One labelled video analysed (``options``: AnalysisOptions values to try), its rows matched and judged."""
    analysis = analyse(stem, AnalysisOptions(max_people=max_people(stem), include_landmarks=True, **options))
    rows, mids = read_labels(stem), read_labels(stem, "mids")
    for labelled in (rows, mids):
        match(labelled, analysis.result)
        report_at(labelled, analysis.result)
    run = VideoRun(stem, rows, analysis.result, mids)
    judge_segments(run)
    return run, analysis


def hips(landmarks: list[list[float]]) -> tuple[float, float]:
    """The hip centre (landmarks 23/24), clipped to the frame as the labels were."""
    points = np.asarray(landmarks, dtype=np.float64)
    return tuple(np.clip(points[[23, 24], :2].mean(axis=0), 0, 1))  # type: ignore[return-value]


def match(rows: list[Row], result: AnalysisResult) -> None:
    """Each labelled row -> the nearest detected dancer in its frame (one-to-one, within the radius)."""
    frames = {f.index: f for f in result.frames or []}
    by_frame: dict[int, list[Row]] = defaultdict(list)
    for row in rows:
        if row.hip is not None:
            by_frame[row.frame_index].append(row)
    for index, labelled in by_frame.items():
        people = frames[index].people if index in frames else []
        pairs = sorted(
            (float(np.hypot(*(np.subtract(hips(p.landmarks), row.hip)))), i, j)  # type: ignore[arg-type]
            for i, row in enumerate(labelled)
            for j, p in enumerate(people)
        )
        used_rows, used_people = set(), set()
        for distance, i, j in pairs:
            if distance > MATCH_RADIUS or i in used_rows or j in used_people:
                continue
            used_rows.add(i)
            used_people.add(j)
            labelled[i].dancer = people[j].id


def report_at(rows: list[Row], result: AnalysisResult) -> None:
    """What the result's timeline says for each matched row: pose segment name, movements, facing."""
    dancers = {d.id: d for d in result.dancers}
    for row in rows:
        if row.dancer is None:
            continue
        for seg in dancers[row.dancer].poses:
            if seg.start_s - 1e-6 <= row.t_s < seg.end_s - 1e-6:
                if seg.name in MOVEMENTS:
                    row.movements |= {seg.name}
                else:
                    row.reported = seg.name
                    row.reported_facing = getattr(seg, "facing", None)


def judge_segments(run: VideoRun) -> None:
    """Each reported segment: right / wrong by the labelled rows of its dancer inside it, else unknown.

    ``verdict`` is the majority of the labelled rows inside (regular samples and segment
    middles); ``middle`` is the verdict of the labelled row nearest the segment's middle.
    """
    for dancer in run.result.dancers:
        own = [r for r in run.rows + run.mids if r.dancer == dancer.id and r.pose not in NOT_SCORED]
        for seg in dancer.poses:
            inside = sorted((r for r in own if seg.start_s - 1e-6 <= r.t_s < seg.end_s - 1e-6), key=lambda r: r.t_s)
            right = sum(r.is_right(seg.name) for r in inside)
            verdict = "unknown" if not inside else "right" if 2 * right >= len(inside) else "wrong"
            middle = min(inside, key=lambda r: abs(r.t_s - (seg.start_s + seg.end_s) / 2), default=None)
            run.segments.append({
                "video": run.stem, "dancer": dancer.id, "name": seg.name, "start_s": seg.start_s,
                "end_s": seg.end_s, "confidence": seg.confidence, "labelled": [r.pose for r in inside],
                "verdict": verdict,
                "middle": "unknown" if middle is None else "right" if middle.is_right(seg.name) else "wrong",
            })  # fmt: skip


def mirror(name: str) -> str | None:
    """The other side's name (``left_arm_up`` <-> ``right_arm_up``), None for an unsided name."""
    for a, b in (("left", "right"), ("right", "left")):
        if a in name.split("_"):
            return "_".join(b if part == a else part for part in name.split("_"))
    return None


def score(runs: list[VideoRun]) -> dict:
    """Frame precision/recall per pose, segment precision, confusion, swaps, over ``runs``."""
    rows = [r for run in runs for r in run.rows if r.pose not in NOT_SCORED]
    predicted: Counter[str] = Counter()
    predicted_right: Counter[str] = Counter()
    labelled: Counter[str] = Counter()
    found: Counter[str] = Counter()
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    swaps: dict[str, int] = Counter()
    sided: dict[str, int] = Counter()
    for row in rows:
        for name in row.predicted:
            predicted[name] += 1
            predicted_right[name] += row.is_right(name)
        labelled[row.pose] += 1
        hit = row.pose in row.predicted or (row.pose == "transition" and set(row.predicted) <= {FALLBACK})
        found[row.pose] += hit
        confusion[row.pose][row.reported or NONE] += 1
        for name in row.predicted:
            other = mirror(name)
            if other and other in row.truth:
                sided[row.facing] += 1
                swaps[row.facing] += name not in row.truth
        for name in row.truth:  # sided labels the result got right, for the swap rate's denominator
            if mirror(name) and name in row.predicted:
                sided[row.facing] += 1
    names = sorted(set(predicted) | set(labelled), key=lambda n: (-labelled[n], n))
    per_pose = per_pose_table(names, labelled, found, predicted, predicted_right)
    segments = [s for run in runs for s in run.segments if s["name"] not in MOVEMENTS]
    verdicts = Counter(s["verdict"] for s in segments)
    middles = Counter(s["middle"] for s in segments)
    moves = Counter(s["verdict"] for run in runs for s in run.segments if s["name"] in MOVEMENTS)
    named = [n for n in names if labelled[n] and n not in ("transition", FALLBACK)]
    return {
        "person_frames": len(rows),
        "matched": sum(r.dancer is not None for r in rows),
        "named_predictions_right": ratio(
            sum(predicted_right[n] for n in predicted if n != FALLBACK),
            sum(predicted[n] for n in predicted if n != FALLBACK),
        ),
        "named_recall": ratio(sum(found[n] for n in named), sum(labelled[n] for n in named)),
        "segments": dict(verdicts),
        "segment_precision": ratio(verdicts["right"], verdicts["right"] + verdicts["wrong"]),
        "segment_precision_by_middle": ratio(middles["right"], middles["right"] + middles["wrong"]),
        "movement_segments": dict(moves),
        "movement_segment_precision": ratio(moves["right"], moves["right"] + moves["wrong"]),
        "per_pose": per_pose,
        "confusion": {k: dict(v.most_common()) for k, v in confusion.items()},
        "swaps_by_facing": {f: {"swapped": swaps[f], "sided_predictions": sided[f]} for f in sorted(sided)},
        "low_confidence_segments": sum(s["confidence"] < 0.5 for s in segments),
    }


def per_pose_table(names: list[str], labelled: Counter[str], found: Counter[str], reported: Counter[str],
                   right: Counter[str]) -> dict[str, dict]:
    """Per name: rows labelled with it, recall, frames it was reported on, precision."""
    return {
        name: {
            "labelled": labelled[name],
            "recall": ratio(found[name], labelled[name]),
            "reported": reported[name],
            "precision": ratio(right[name], reported[name]),
        }
        for name in names
    }  # fmt: skip


def ratio(part: float, whole: float) -> float | None:
    """part / whole to 3 decimals; None when there is nothing to divide by."""
    return round(part / whole, 3) if whole else None


def video_summary(run: VideoRun) -> dict:
    """Per video: dancers reported, phantom reports on no_dancer frames, matches."""
    empty = [r for r in run.rows if r.pose == "no_dancer"]
    phantom = 0
    for row in empty:
        for dancer in run.result.dancers:
            phantom += any(s.start_s - 1e-6 <= row.t_s < s.end_s - 1e-6 for s in dancer.poses)
    people = [r for r in run.rows if r.hip is not None]
    return {
        "dancers": len(run.result.dancers),
        "dancer_frames": {d.id: d.frames_detected for d in run.result.dancers},
        "labelled_person_frames": len(people),
        "matched": sum(r.dancer is not None for r in people),
        "no_dancer_frames": len(empty),
        "no_dancer_frames_with_a_pose": phantom,
    }


def contact_sheet(runs: list[VideoRun], path: Path) -> int:
    """A PNG of wrong frames: the crop around the dancer, skeleton drawn, reported vs labelled."""
    import cv2

    from posecore.overlay import draw_skeletons
    from posecore.video import iter_frames, probe

    wrong = [
        (run, r) for run in runs for r in run.rows
        if r.pose not in NOT_SCORED and (any(not r.is_right(n) for n in r.predicted)
                                         or (r.pose not in ("transition", FALLBACK) and r.pose not in r.predicted))
    ]  # fmt: skip
    step = max(1, len(wrong) // SHEET_TILES)
    wrong = wrong[::step][:SHEET_TILES]
    tiles = []
    size = 160
    for stem in dict.fromkeys(run.stem for run, _ in wrong):
        run = next(run for run, _ in wrong if run.stem == stem)
        mine = [r for rr, r in wrong if rr.stem == stem]
        source = DATA / f"{stem}.mp4"
        info = probe(source)
        frames = {f.index: f for f in run.result.frames or []}
        for frame in iter_frames(source, info, np.array(sorted({r.frame_index for r in mine}))):
            for row in (r for r in mine if r.frame_index == frame.index):
                image = frame.image.copy()
                people = [p for p in frames[row.frame_index].people if p.id == row.dancer] if row.dancer else []
                draw_skeletons(image, people)
                h, w = image.shape[:2]
                cx, cy = (row.hip[0] * w, row.hip[1] * h) if row.hip else (w / 2, h / 2)
                half = int(0.3 * h)
                x0 = int(np.clip(cx - half, 0, max(0, w - 2 * half)))
                y0 = int(np.clip(cy - half, 0, max(0, h - 2 * half)))
                crop = cv2.resize(np.ascontiguousarray(image[y0 : y0 + 2 * half, x0 : x0 + 2 * half]), (size, size))
                said = "+".join(row.predicted) or NONE
                for k, text in enumerate((f"{stem[:14]} {row.frame_index}", f"got {said}", f"want {row.pose}")):
                    cv2.putText(crop, text, (3, 14 + 14 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 3)
                    cv2.putText(crop, text, (3, 14 + 14 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (255, 255, 0), 1)
                tiles.append(crop)
    if not tiles:
        return 0
    columns = 8
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % columns)
    sheet = np.vstack([np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)])
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    return len(tiles)


def markdown(report: dict) -> str:
    """The summary tables."""
    lines = header("Pose-label accuracy on the labelled videos", report)
    lines += [report["notes"], ""]
    for part in ("solos", "groups", "all"):
        s = report[part]
        lines += [
            f"## {part} ({s['person_frames']} scored person-frames, {s['matched']} matched to a dancer)",
            "",
            f"- pose segment precision: **{percent(s['segment_precision'])}** "
            f"({s['segments'].get('right', 0)} right, {s['segments'].get('wrong', 0)} wrong, "
            f"{s['segments'].get('unknown', 0)} with no labelled frame inside)",
            f"- pose segment precision by the labelled frame nearest the middle: "
            f"**{percent(s['segment_precision_by_middle'])}**",
            f"- movement (jump, turn) segment precision: {percent(s['movement_segment_precision'])} "
            f"({s['movement_segments'].get('right', 0)} right, {s['movement_segments'].get('wrong', 0)} wrong, "
            f"{s['movement_segments'].get('unknown', 0)} unknown; posecore/movements.py)",
            f"- named poses: {percent(s['named_predictions_right'])} of frame predictions right, "
            f"recall {percent(s['named_recall'])}",
            f"- segments below confidence 0.5: {s['low_confidence_segments']}",
            "- left/right on sided predictions, by labelled facing: "
            + ", ".join(
                f"{f}: {v['swapped']} swapped of {v['sided_predictions']}" for f, v in s["swaps_by_facing"].items()
            ),
            "",
            "| pose | labelled | recall | reported frames | precision |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {name} | {v['labelled']} | {percent(v['recall'])} | {v['reported']} | {percent(v['precision'])} |"
            for name, v in s["per_pose"].items()
        ]
        lines.append("")
    lines += ["## Confusion (all videos): labelled pose -> reported pose segment", ""]
    lines += ["| labelled | reported |", "|---|---|"]
    lines += [
        f"| {k} | {', '.join(f'{n} {c}' for n, c in v.items())} |" for k, v in report["all"]["confusion"].items()
    ]
    lines += ["", "## Dancers per video", "",
              "| video | dancers | matched / labelled person-frames | no_dancer frames with a pose |",
              "|---|---|---|---|"]  # fmt: skip
    lines += [
        f"| {stem} | {v['dancers']} | {v['matched']} / {v['labelled_person_frames']} | "
        f"{v['no_dancer_frames_with_a_pose']} / {v['no_dancer_frames']} |"
        for stem, v in report["videos"].items()
    ]
    return "\n".join(lines) + "\n"


def percent(value: float | None) -> str:
    """A ratio as a whole percentage, "-" for None."""
    return "-" if value is None else f"{100 * value:.0f}%"


def labelled_videos_parser(doc: str, name: str) -> argparse.ArgumentParser:
    """The arguments every benchmark on the labelled videos takes: ``--videos``, ``--name`` (results file stem)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--videos", nargs="*", default=[*SOLOS, *GROUPS])
    parser.add_argument("--name", default=name, help="results file stem")
    return parser


def require_videos() -> None:
    """Exit with a one-line message when the labelled videos are not there."""
    if not DATA.is_dir():
        sys.exit(f"the labelled videos are not at {DATA}")


def main() -> None:
    parser = labelled_videos_parser(__doc__, "accuracy")
    parser.add_argument("--no-sheet", action="store_true", help="skip the contact sheet of errors")
    parser.add_argument("--option", nargs="*", default=[], metavar="NAME=NUMBER",
                        help="an AnalysisOptions value to try, e.g. min_pose_duration_s=0.4")
    args = parser.parse_args()
    require_videos()
    report = new_report("accuracy.py")
    runs = []
    tried = {k: float(v) for k, v in (o.split("=", 1) for o in args.option)}
    for stem in args.videos:
        run, _ = run_video(stem, **tried)
        runs.append(run)
        print(f"{stem}: {len(run.result.dancers)} dancers", flush=True)
    report["notes"] = (
        "Every frame analysed, in-process pipeline, default options except max_people (1 for a solo, the "
        "labelled head count for a group) and include_landmarks. Segments are judged by the regular samples "
        "(poses_*.csv) and the segment-middle labels (mids_*.csv); frame figures use the regular samples only. "
        "Scoring rules: benchmarks/labels/README.md."
    )
    report["solos"] = score([r for r in runs if r.stem in SOLOS])
    report["groups"] = score([r for r in runs if r.stem not in SOLOS])
    report["all"] = score(runs)
    report["videos"] = {run.stem: video_summary(run) for run in runs}
    report["segments"] = [s for run in runs for s in run.segments]
    write(args.name, report, markdown(report))
    if not args.no_sheet:
        sheet = RESULTS / f"{args.name}_errors.png"
        print(f"contact sheet of {contact_sheet(runs, sheet)} wrong frames: {sheet} (git-ignored: third-party footage)")


if __name__ == "__main__":
    main()
