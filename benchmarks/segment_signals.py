"""Can the service tell its right pose segments from its wrong ones?

    python benchmarks/segment_signals.py [--videos STEM ...]

A confidence floor or any other gate can only raise segment precision if something the
service knows separates the segments a person judges right from the wrong ones. For every
judged pose segment of ``accuracy.py`` (same videos, labels and verdicts) this measures the
signals the pipeline has at that point, and reports:

- each signal's AUC (the chance that a random right segment scores above a random wrong
  one; 0.5 = no separation), over all segments and over the named ones (not ``standing``);
- a logistic regression on all of them, trained leaving one video out, and what gating
  on it would keep: precision and the share of right segments at each threshold, and the
  most right segments any threshold keeps at 90% precision.

Writes benchmarks/results/segment_signals.{json,md}.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere, without installing posecore

from benchmarks.accuracy import (  # noqa: E402
    GROUPS,
    MOVEMENTS,
    labelled_videos_parser,
    percent,
    require_videos,
    run_video,
)
from benchmarks.learned_vs_rules import Scaler, Softmax  # noqa: E402
from benchmarks.report import header, new_report, write  # noqa: E402
from posecore.angles import joint_confidences  # noqa: E402
from posecore.hits import torso_scale  # noqa: E402
from posecore.pose_library import PoseLibrary  # noqa: E402
from posecore.stillness import part_speeds  # noqa: E402

SIGNALS = {
    "confidence": "the segment's reported confidence (mean winning-rule score)",
    "duration_s": "how long the segment lasts",
    "purity": "share of its frames whose own per-frame label is the segment's name",
    "margin": "mean score of its pose minus the best other pose's, per frame",
    "visibility": "mean MediaPipe landmark visibility",
    "size": "torso length as a share of the frame height (hits.torso_scale)",
    "speed": "mean speed of the faster of arms and legs, torso lengths per second",
    "group": "1 in a group video, 0 in a solo",
}
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
TARGET_PRECISION = 0.9


def segment_signals(stem: str, library: PoseLibrary) -> list[dict]:
    """Every judged pose segment of one video: video, name, verdict and the ``SIGNALS``."""
    run, analysis = run_video(stem)
    width, height = analysis.result.video.width, analysis.result.video.height
    out = []
    for dancer in analysis.dancers:
        track = dancer.track
        speeds = part_speeds(track, width, height, frame_duration_s=dancer.frame_duration_s)
        table = library.score_table(dancer.angles, joint_confidences(track.landmarks), speeds=speeds)
        torso = torso_scale(track, width, height, dancer.frame_duration_s) / height
        fastest = np.fmax(speeds["arms"], speeds["legs"])
        for seg in run.segments:
            if seg["dancer"] != track.id or seg["name"] in MOVEMENTS or seg["verdict"] == "unknown":
                continue
            inside = (track.times_s >= seg["start_s"] - 5e-4) & (track.times_s < seg["end_s"] - 5e-4)
            if not inside.any():
                continue
            scores = table[:, inside]
            if seg["name"] in library.poses:
                own = library.names.index(seg["name"])
                margin = float(np.mean(scores[own] - np.delete(scores, own, axis=0).max(axis=0)))
            else:  # the fallback: how far the best named pose stayed from matching
                margin = float(np.mean(1.0 - scores.max(axis=0)))
            out.append({
                "video": stem, "name": seg["name"], "verdict": seg["verdict"],
                "confidence": seg["confidence"], "duration_s": seg["end_s"] - seg["start_s"],
                "purity": float(np.mean(dancer.labels[inside] == seg["name"])), "margin": margin,
                "visibility": float(track.landmarks[inside, :, 3].mean()), "size": float(np.nanmean(torso[inside])),
                "speed": float(np.nanmean(fastest[inside])), "group": float(stem in GROUPS),
            })  # fmt: skip
    return out


def auc(values: np.ndarray, right: np.ndarray) -> float | None:
    """P(a right segment's value > a wrong one's), ties counting half; None without both kinds."""
    pos, neg = values[right], values[~right]
    if not len(pos) or not len(neg):
        return None
    greater = (pos[:, None] > neg[None, :]).mean()
    ties = (pos[:, None] == neg[None, :]).mean()
    return round(float(greater + ties / 2), 3)


def lovo_probability(segments: list[dict]) -> np.ndarray:
    """P(right) for each segment from a logistic regression on ``SIGNALS`` trained on the other videos."""
    x = np.array([[s[k] for k in SIGNALS] for s in segments], dtype=np.float64)
    y = ["right" if s["verdict"] == "right" else "wrong" for s in segments]
    videos = np.array([s["video"] for s in segments])
    out = np.zeros(len(segments))
    for video in dict.fromkeys(videos):
        held = videos == video
        scaler = Scaler.fit(x[~held])
        model = Softmax().fit(scaler(x[~held]), [c for c, h in zip(y, held, strict=True) if not h])
        out[held] = model.proba(scaler(x[held]))[:, model.classes.index("right")]
    return out


def gating(probability: np.ndarray, right: np.ndarray) -> dict:
    """What keeping only segments with P(right) >= t gives, per threshold; and the best keep at 90%."""
    table = {}
    for t in THRESHOLDS:
        kept = probability >= t
        table[str(t)] = {
            "kept": int(kept.sum()),
            "precision": round(float(right[kept].mean()), 3) if kept.any() else None,
            "right_kept": round(float(right[kept].sum() / right.sum()), 3),
        }
    order = np.argsort(-probability, kind="stable")
    precision = np.cumsum(right[order]) / np.arange(1, len(order) + 1)
    reach = np.flatnonzero(precision >= TARGET_PRECISION)
    best = int(np.cumsum(right[order])[reach[-1]]) if len(reach) else 0
    return {"thresholds": table, "right_kept_at_90": round(best / int(right.sum()), 3)}


def summarise(segments: list[dict]) -> dict:
    """Signal AUCs (all, named), the LOVO model's AUC and gating table."""
    right = np.array([s["verdict"] == "right" for s in segments])
    named = np.array([s["name"] != "standing" for s in segments])
    probability = lovo_probability(segments)
    return {
        "segments": len(segments),
        "right": int(right.sum()),
        "precision": round(float(right.mean()), 3),
        "auc": {
            k: {
                "all": auc(np.array([s[k] for s in segments]), right),
                "named": auc(np.array([s[k] for s in segments])[named], right[named]),
            }
            for k in SIGNALS
        },
        "model_auc": {"all": auc(probability, right), "named": auc(probability[named], right[named])},
        "gating": gating(probability, right),
    }


def markdown(report: dict) -> str:
    s = report["summary"]
    lines = header("Can the service tell right pose segments from wrong ones?", report)
    lines += [
        report["notes"],
        "",
        f"{s['segments']} judged pose segments, {s['right']} right ({percent(s['precision'])}).",
        "",
        "| signal | AUC, all segments | AUC, named poses | what it is |",
        "|---|---|---|---|",
        *(f"| {k} | {v['all']} | {v['named']} | {SIGNALS[k]} |" for k, v in s["auc"].items()),
        f"| **all of them, logistic, leave one video out** | **{s['model_auc']['all']}** "
        f"| **{s['model_auc']['named']}** | |",
        "",
        "Gating on the model's P(right):",
        "",
        "| keep when P(right) >= | segments kept | precision | right segments kept |",
        "|---|---|---|---|",
        *(
            f"| {t} | {v['kept']} | {percent(v['precision'])} | {percent(v['right_kept'])} |"
            for t, v in s["gating"]["thresholds"].items()
        ),
        "",
        f"The most right segments any threshold keeps at {percent(TARGET_PRECISION)} precision: "
        f"**{percent(s['gating']['right_kept_at_90'])}**.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    args = labelled_videos_parser(__doc__, "segment_signals").parse_args()
    require_videos()
    report = new_report("segment_signals.py")
    library = PoseLibrary.default()
    segments = []
    for stem in args.videos:
        segments += segment_signals(stem, library)
        print(f"{stem}: {len(segments)} judged segments so far", flush=True)
    report["notes"] = (
        "Segments and verdicts as in accuracy.py (default options, every frame, decided labels; unknown "
        "segments left out). AUC 0.5 = the signal does not separate right from wrong. The model: standardised "
        "signals, softmax regression of learned_vs_rules.py, trained on the other videos."
    )
    report["summary"] = summarise(segments)
    report["segments"] = segments
    write(args.name, report, markdown(report))


if __name__ == "__main__":
    main()
