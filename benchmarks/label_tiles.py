"""Blind labelling tiles: middle frames of reported segments no label covers, or a second look.

    python benchmarks/label_tiles.py [--out DIR]            # segment middles
    python benchmarks/label_tiles.py --resample N [--seed S] # N labelled rows, for a second labeller

Without ``--resample`` it reads ``benchmarks/results/accuracy.json`` (run
``benchmarks/accuracy.py`` first) and takes every segment judged ``unknown`` (no labelled
frame inside), one task per segment at its middle analysed frame. With ``--resample`` it
draws N rows of ``poses_*.csv`` that were matched to a dancer, to be labelled again by
someone who has not seen the first labels (``benchmarks/label_agreement.py`` compares
the two). For each task it writes, under ``DIR`` (default ``/tmp/label_tiles``, never the
repository: the tiles are third-party footage):

- ``tasks.csv``: ``task,video,frame_index,t_s,x,y`` (x, y: the dancer's hip centre), the
  first columns of a ``benchmarks/labels/mids_<video>.csv`` row;
- ``<task>_a_mid.png``: the crop around the dancer, raw and with the skeleton drawn
  (dancer's left orange, right blue, hip centre ringed in green);
- ``<task>_b_strip.png``: the same crop at frames -6, -3, 0, +3, +6, to tell a hold from motion;
- ``<task>_c_where.png``: the whole frame with the crop boxed (which dancer, in a group).

The tiles never show the reported pose name, so whoever labels them cannot be led by it.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere, without installing posecore

from benchmarks.accuracy import DATA, GROUPS, NOT_SCORED, SOLOS, hips, run_video  # noqa: E402
from benchmarks.report import RESULTS  # noqa: E402
from posecore.angles import L_HIP, R_HIP  # noqa: E402
from posecore.overlay import SKELETON  # noqa: E402
from posecore.video import iter_frames, probe  # noqa: E402

OFFSETS = (-6, -3, 0, 3, 6)  # frames around the middle shown in the strip
LEFT, RIGHT, HEAD = (0, 140, 255), (255, 120, 0), (200, 200, 200)  # BGR: orange, blue, grey
MARGIN = 0.35  # crop margin around the landmarks, in body lengths


def middle_frames(report: dict) -> list[dict]:
    """Each unknown segment's middle analysed frame: task id, video, frame, time, hip x, y, landmarks."""
    tasks = []
    for stem in dict.fromkeys(s["video"] for s in report["segments"] if s["verdict"] == "unknown"):
        _, analysis = run_video(stem)
        tracks = {d.track.id: d.track for d in analysis.dancers}
        for seg in (s for s in report["segments"] if s["video"] == stem and s["verdict"] == "unknown"):
            track = tracks[seg["dancer"]]
            inside = np.flatnonzero((track.times_s >= seg["start_s"] - 1e-6) & (track.times_s < seg["end_s"] - 1e-6))
            row = int(inside[len(inside) // 2])
            x, y = hips(track.landmarks[row].tolist())
            index = int(track.frame_indices[row])
            tasks.append({
                "task": f"{stem}_{index}_{seg['dancer']}", "video": stem, "frame_index": index,
                "t_s": round(float(track.times_s[row]), 3), "x": round(float(x), 3), "y": round(float(y), 3),
                "landmarks": track.landmarks[row],
            })  # fmt: skip
    return tasks


def resampled_rows(n: int, seed: int) -> list[dict]:
    """``n`` labelled rows drawn at random among those matched to a dancer, as tasks."""
    found = []
    for stem in (*SOLOS, *GROUPS):
        run, analysis = run_video(stem)
        tracks = {d.track.id: d.track for d in analysis.dancers}
        for row in run.rows:
            if row.dancer is None or row.pose in NOT_SCORED or row.hip is None:
                continue
            track = tracks[row.dancer]
            at = int(np.flatnonzero(track.frame_indices == row.frame_index)[0])
            found.append({
                "task": f"{stem}_{row.frame_index}_{round(100 * row.hip[0])}", "video": stem,
                "frame_index": row.frame_index, "t_s": row.t_s, "x": row.hip[0], "y": row.hip[1],
                "landmarks": track.landmarks[at],
            })  # fmt: skip
    picked = np.random.default_rng(seed).choice(len(found), size=min(n, len(found)), replace=False)
    return sorted((found[i] for i in picked), key=lambda t: (t["video"], t["frame_index"], t["x"]))


def draw(crop: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The crop (BGR) with the skeleton in the dancer's own colours and the hip centre ringed."""
    out = crop.copy()
    p = points.astype(int)
    for a, b in SKELETON:
        colour = HEAD if a < 11 else LEFT if a % 2 else RIGHT  # odd landmark indices from 11 are the left side
        cv2.line(out, tuple(p[a]), tuple(p[b]), colour, 2)
    cv2.circle(out, tuple(((p[L_HIP] + p[R_HIP]) / 2).astype(int)), 6, (0, 255, 0), 2)
    return out


def height(image: np.ndarray, h: int) -> np.ndarray:
    """``image`` resized to ``h`` pixels high."""
    return cv2.resize(image, (max(1, round(image.shape[1] * h / image.shape[0])), h))


def write_tiles(tasks: list[dict], out: Path) -> None:
    """The three PNGs of every task."""
    for stem in dict.fromkeys(t["video"] for t in tasks):
        source = DATA / f"{stem}.mp4"
        info = probe(source)
        mine = [t for t in tasks if t["video"] == stem]
        wanted = sorted({t["frame_index"] + o for t in mine for o in OFFSETS} & set(range(len(info.frame_times))))
        frames = {
            f.index: cv2.cvtColor(f.image, cv2.COLOR_RGB2BGR) for f in iter_frames(source, info, np.array(wanted))
        }
        for task in mine:
            index = task["frame_index"]
            whole = frames[index]
            h, w = whole.shape[:2]
            points = task["landmarks"][:, :2] * [w, h]
            low, high = np.nanmin(points, axis=0), np.nanmax(points, axis=0)
            margin = MARGIN * float(np.max(high - low))
            x0, y0 = np.maximum(0, low - margin).astype(int)
            x1, y1 = np.minimum([w, h], high + margin).astype(int)
            raw = whole[y0:y1, x0:x1]
            mid = np.hstack([height(raw, 720), height(draw(raw, points - [x0, y0]), 720)])
            strip = [draw(raw, points - [x0, y0]) if o == 0 else frames[index + o][y0:y1, x0:x1]
                     for o in OFFSETS if index + o in frames]  # fmt: skip
            where = whole.copy()
            cv2.rectangle(where, (int(x0), int(y0)), (int(x1), int(y1)), (0, 255, 0), 3)
            cv2.imwrite(str(out / f"{task['task']}_a_mid.png"), mid)
            cv2.imwrite(str(out / f"{task['task']}_b_strip.png"), np.hstack([height(s, 240) for s in strip]))
            cv2.imwrite(str(out / f"{task['task']}_c_where.png"), height(where, 400))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/label_tiles"))
    parser.add_argument("--resample", type=int, metavar="N", help="N labelled rows for a second labeller")
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()
    if args.resample:
        tasks = resampled_rows(args.resample, args.seed)
    else:
        tasks = middle_frames(json.loads((RESULTS / "accuracy.json").read_text()))
    args.out.mkdir(parents=True, exist_ok=True)
    write_tiles(tasks, args.out)
    with open(args.out / "tasks.csv", "w", newline="") as file:
        writer = csv.DictWriter(
            file, fieldnames=["task", "video", "frame_index", "t_s", "x", "y"], extrasaction="ignore"
        )
        writer.writeheader()
        writer.writerows(tasks)
    print(f"{len(tasks)} tasks: {args.out / 'tasks.csv'}")


if __name__ == "__main__":
    main()
