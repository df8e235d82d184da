"""Group videos: are all dancers found, only dancers, and do they keep their ids?

For each group video of ``../shared/data``, in this process (no Serve, no analysis.py):
decode with ``posecore.video``, detect with a detector (``plain``: today's
``PoseModel`` with num_poses = max_people; ``group``: ``GroupPoseModel``; ``tiles``:
``PersonFinder`` on every frame, i.e. slicing-aided detection alone), link ids
with ``posecore.tracking.build_tracks``, and compare with the true people:

- recall: people found / true people, over all frames;
- precision: found people who are true dancers / people found. With a labels file
  (``benchmarks/labels/people_<video>.csv``: boxes of the true dancers on 30 frames)
  the labelled frames are scored, and a detection is a dancer when its hip centre lies
  in a true dancer's box not already taken by another detection; without one, all
  frames are scored on counts only (eye-checked, ``TRUE_PEOPLE``), and detections
  beyond the count are wrong;
- ids: tracks made by ``build_tracks``, and dancers: what the analysis reports after
  ``posecore.track_cleanup.clean_tracks`` with the default options (fragments seen for
  less than 1 s joined or dropped); the target is the true dancers, plus 2 at most;
- frames/s: detection + tracking on decoded frames (decoding not timed).

Run on all videos (the default, as ``make bench`` does), it writes
benchmarks/results/groups.{json,md}; on some (``--videos``), it only prints.

Usage::

    PYTHONPATH=. nice -n 10 python benchmarks/groups.py --detector group --max-people auto --every 3
    PYTHONPATH=. python benchmarks/groups.py --draw /tmp/out --videos duo_studio

Frames that are (nearly) black, e.g. an end card, have no true dancer.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.report import header, new_report, write  # noqa: E402
from posecore.appearance import appearance_features  # noqa: E402
from posecore.group_landmarker import GroupPoseModel, MaxPeople  # noqa: E402
from posecore.landmarker import FrameDetections, PoseModel, native_stderr_discarded  # noqa: E402
from posecore.model_path import model_path as locate_model  # noqa: E402
from posecore.options import AnalysisOptions, people_cap  # noqa: E402
from posecore.overlay import DANCER_COLOURS, SKELETON  # noqa: E402
from posecore.person_finder import PersonFinder, Tiling  # noqa: E402
from posecore.track_cleanup import clean_tracks  # noqa: E402
from posecore.tracking import build_tracks  # noqa: E402
from posecore.video import iter_frames, probe, sample_indices  # noqa: E402

# ../shared/data from the project's root (a git worktree one level deeper also finds it).
DATA = next(
    (p / "shared" / "data" for p in ROOT.parents[:2] if (p / "shared" / "data").is_dir()),
    ROOT.parent / "shared" / "data",
)
LABELS = ROOT / "benchmarks" / "labels"
# Dancers in each group video, checked by eye on frames across each video.
TRUE_PEOPLE = {"group_dance": 4, "group_3_office": 3, "group_3_studio": 3, "duo_studio": 2}
BLACK_FRAME_MEAN = 12.0  # mean pixel value below which a frame is an (empty) end card
Box = tuple[float, float, float, float]


class Detector:
    """What the runner needs of a detector: ``PoseModel``'s interface."""

    detect: Callable[[np.ndarray, int, float], FrameDetections]
    close: Callable[[], None]


@dataclass
class VideoScore:
    video: str
    detector: str
    frames: int
    scored_frames: int  # the labelled ones among them, or all without a labels file
    true_people: int
    recall: float
    precision: float
    ids: int
    ids_10_frames: int  # tracks seen on at least 10 analysed frames
    dancers: int  # ids the analysis reports: the tracks after clean_tracks (default options)
    frames_per_s: float
    precision_from: str  # "boxes" (labels file) or "counts"


class TilesEveryFrame:
    """Slicing-aided detection alone: ``PersonFinder`` on every frame, no following."""

    def __init__(self, model_path: Path, max_people: MaxPeople, tiling: Tiling) -> None:
        self.finder = PersonFinder(model_path, tiling)
        self.cap = people_cap(max_people)

    def detect(self, image: np.ndarray, index: int, t_s: float) -> FrameDetections:
        landmarks = self.finder.find(image)[: self.cap]
        world = np.zeros((landmarks.shape[0], 33, 3), np.float32)  # not needed for scoring
        return FrameDetections(index, t_s, landmarks, world, appearance_features(image, landmarks))

    def close(self) -> None:
        self.finder.close()


def make_detector(kind: str, model_path: Path, max_people: MaxPeople, find_every_s: float, tiling: Tiling) -> Detector:
    if kind == "tiles":
        return TilesEveryFrame(model_path, max_people, tiling)  # type: ignore[return-value]
    if kind == "plain":
        return PoseModel(model_path, max_people=people_cap(max_people))  # type: ignore[return-value]
    return GroupPoseModel(  # type: ignore[return-value]
        model_path, max_people=max_people, find_every_s=find_every_s, tiling=tiling
    )


def read_labels(video: str, folder: Path = LABELS) -> dict[int, list[Box]] | None:
    """frame index -> true dancers' boxes (x0, y0, x1, y1, normalised), from
    ``people_<video>.csv`` in ``folder`` (columns ``frame_index`` and ``boxes``:
    ``"x0 y0 x1 y1|..."``, empty for none); None when there is no such file."""
    path = folder / f"people_{video}.csv"
    if not path.is_file():
        return None
    labels: dict[int, list[Box]] = {}
    with path.open() as f:
        for row in csv.DictReader(f):
            boxes = [tuple(float(v) for v in box.split()) for box in (row["boxes"] or "").split("|") if box.strip()]
            labels[int(row["frame_index"])] = boxes  # type: ignore[assignment]
    return labels


def matched_dancers(hips: np.ndarray, boxes: list[Box]) -> int:
    """How many detections (hip centres, (k, 2)) are true dancers: each box takes at most
    one detection whose hip centre lies in it (a second one in the same box is a
    duplicate); boxes that overlap are shared out so as to match as many as possible."""
    inside = [[b for b, (x0, y0, x1, y1) in enumerate(boxes) if x0 <= x <= x1 and y0 <= y <= y1] for x, y in hips]
    taken: set[int] = set()
    matched = 0
    for options in sorted(inside, key=len):  # the most constrained detections first
        free = [b for b in options if b not in taken]
        if free:
            taken.add(free[0])
            matched += 1
    return matched


def score_video(
    video: str,
    kind: str,
    model_path: Path,
    max_people: MaxPeople,
    every: int,
    find_every_s: float,
    tiling: Tiling,
    labels_dir: Path = LABELS,
    draw: Path | None = None,
) -> VideoScore:
    path = DATA / f"{video}.mp4"
    info = probe(path)
    indices = sample_indices(info, None)[::every]
    labels = read_labels(video, labels_dir)
    detections, true_counts, correct, found = [], [], [], []
    elapsed = 0.0
    drawn: list[tuple[np.ndarray, FrameDetections]] = []
    draw_at = set(indices[np.linspace(0, len(indices) - 1, 6).astype(int)[1:-1]].tolist())
    detector = make_detector(kind, model_path, max_people, find_every_s, tiling)
    try:
        for frame in iter_frames(path, info, indices):
            started = time.perf_counter()
            det = detector.detect(frame.image, frame.index, frame.t_s)
            elapsed += time.perf_counter() - started
            detections.append(det)
            hips = (det.landmarks[:, 23, :2] + det.landmarks[:, 24, :2]) / 2
            if labels is not None:  # scored on the labelled frames only
                if frame.index in labels:
                    true_counts.append(len(labels[frame.index]))
                    correct.append(matched_dancers(hips, labels[frame.index]))
                    found.append(det.people)
            else:
                true = 0 if frame.image.mean() < BLACK_FRAME_MEAN else TRUE_PEOPLE[video]
                true_counts.append(true)
                correct.append(min(true, det.people))
                found.append(det.people)
            if draw is not None and frame.index in draw_at:
                drawn.append((frame.image, det))
    finally:
        detector.close()
    started = time.perf_counter()
    aspect = info.width / info.height
    tracks = build_tracks(detections, aspect=aspect)
    elapsed += time.perf_counter() - started
    dancers = clean_tracks(
        tracks,
        min_dancer_s=AnalysisOptions().min_dancer_s,
        max_people=people_cap(max_people),
        aspect=aspect,
        analysed_s=len(detections) / info.fps * every,
    )
    if draw is not None:
        save_drawing(draw / f"{video}_{kind}.png", drawn, tracks)
    return VideoScore(
        video=video,
        detector=f"{kind} max_people={max_people}",
        frames=len(detections),
        scored_frames=len(true_counts),
        true_people=TRUE_PEOPLE[video],
        recall=round(sum(correct) / max(sum(true_counts), 1), 3),
        precision=round(sum(correct) / max(sum(found), 1), 3),
        ids=len(tracks),
        ids_10_frames=sum(len(t) >= 10 for t in tracks),
        dancers=len(dancers),
        frames_per_s=round(len(detections) / elapsed, 1),
        precision_from="boxes" if labels is not None else "counts",
    )


def save_drawing(out: Path, drawn: list[tuple[np.ndarray, FrameDetections]], tracks: list) -> None:
    """The drawn frames side by side, skeletons coloured and numbered by track id."""
    import cv2

    owner = {(int(i), round(float(lm[0, 0]), 5)): t.id for t in tracks for i, lm in zip(t.frame_indices, t.landmarks)}
    panels = []
    for image, det in drawn:
        canvas = image.copy()
        height, width = canvas.shape[:2]
        for person in det.landmarks:
            track_id = owner.get((det.index, round(float(person[0, 0]), 5)), 0)
            colour = DANCER_COLOURS[(track_id - 1) % len(DANCER_COLOURS)]
            points = (person[:, :2] * (width, height)).astype(int)
            for a, b in SKELETON:
                cv2.line(canvas, tuple(map(int, points[a])), tuple(map(int, points[b])), colour, 3)
            cv2.putText(
                canvas, str(track_id), tuple(map(int, points[0] - (0, 25))), cv2.FONT_HERSHEY_SIMPLEX, 1.5, colour, 4
            )
        panels.append(cv2.resize(canvas, (int(width * 480 / height), 480)))
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), cv2.cvtColor(np.hstack(panels), cv2.COLOR_RGB2BGR))


def markdown(report: dict) -> str:
    lines = header("Group videos: every dancer found, only dancers, stable ids (issue 18)", report) + [
        f"Detector: {report['detector']}, every {report['every']} frame(s), find every {report['find_every_s']} s, "
        f"tiles {report['tile_scales']}. Targets: recall >= 0.90, precision >= 0.95, dancers <= true + 2.",
        "",
        "| video | true dancers | frames (scored) | recall | precision | ids (>= 10 frames) | dancers | frames/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in report["videos"]:
        lines.append(
            f"| {s['video']} | {s['true_people']} | {s['frames']} ({s['scored_frames']}) | {s['recall']} | "
            f"{s['precision']} | {s['ids']} ({s['ids_10_frames']}) | {s['dancers']} | {s['frames_per_s']} |"
        )
    lines += [
        "",
        "recall / precision: on the labelled frames of benchmarks/labels/people_<video>.csv (hip centre in "
        "a true dancer's box). ids: tracks of build_tracks; dancers: after clean_tracks, as the analysis "
        "reports them. frames/s: detection + tracking, decoded frames, one process (load-dependent).",
        "The approaches tried and the history: groups_approaches.md.",
        "",
    ]
    return "\n".join(lines)


def parse_max_people(text: str) -> MaxPeople:
    return "auto" if text == "auto" else int(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", nargs="+", default=list(TRUE_PEOPLE))
    parser.add_argument("--detector", choices=["plain", "group", "tiles"], default="group")
    parser.add_argument("--max-people", type=parse_max_people, default="auto")
    parser.add_argument("--every", type=int, default=1, help="analyse every n-th frame")
    parser.add_argument("--find-every-s", type=float, default=0.5)
    parser.add_argument("--tile-scales", type=float, nargs="*", default=list(Tiling().scales))
    parser.add_argument("--labels", type=Path, default=LABELS, help="folder of people_<video>.csv")
    parser.add_argument("--draw", type=Path, help="save a few frames with skeletons and ids here")
    parser.add_argument("--json", type=Path, help="append the scores to this JSON-lines file")
    args = parser.parse_args()
    model_path = locate_model()
    tiling = Tiling(scales=tuple(args.tile_scales))
    report = new_report(
        "groups.py",
        detector=f"{args.detector} max_people={args.max_people}",
        every=args.every,
        find_every_s=args.find_every_s,
        tile_scales=args.tile_scales,
        videos=[],
    )
    with native_stderr_discarded():
        for video in args.videos:
            score = score_video(
                video,
                args.detector,
                model_path,
                args.max_people,
                args.every,
                args.find_every_s,
                tiling,
                args.labels,
                args.draw,
            )
            print(json.dumps(asdict(score)), flush=True)
            report["videos"].append(asdict(score))
            if args.json:
                with args.json.open("a") as f:
                    f.write(
                        json.dumps(
                            {
                                **asdict(score),
                                "every": args.every,
                                "find_every_s": args.find_every_s,
                                "tile_scales": args.tile_scales,
                            }
                        )
                        + "\n"
                    )
    if set(args.videos) == set(TRUE_PEOPLE):
        write("groups", report, markdown(report))


if __name__ == "__main__":
    main()
