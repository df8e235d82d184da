"""Per-frame labels -> pose segments for one dancer, and the per-pose summary.

Decisions (what a dance coach reading the result would expect):

* **Hysteresis**: a new label replaces the current one only once it has lasted
  ``switch_s`` (at least 2 frames); shorter flickers are absorbed into the current
  segment, so one misread frame never splits a held pose.
* **Minimum duration**: segments shorter than ``min_pose_duration_s`` are *dropped*,
  not merged into a neighbour: a pose passed through that briefly is a transition,
  not a held pose, and merging would credit the neighbour with frames of a
  different pose. If the segments on both sides of a dropped one have the same
  label (and are close enough, see gaps), they become one segment.
* **Gaps**: frames with no label (dancer not seen, or torso not visible) stay
  unlabelled. An unseen stretch of up to ``max_gap_s`` is bridged; a longer one ends
  the segment.
* **Times**: a segment runs from its first frame's time to its last frame's time
  plus one frame duration, so a single frame lasts one frame. ``frames`` counts the
  seen frames in it.
* **Confidence**: the mean per-frame score over the segment's frames, where a
  frame that showed a different (absorbed) label counts 0.
* **Share**: ``total_s`` over the *analysed* duration (frames analysed x frame
  duration), the same denominator for every dancer and pose, so shares compare
  across dancers and never exceed 1. Divide by ``coverage`` for the share of the
  time a dancer was seen.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from posecore.result import PoseSegment, PoseTotal

SWITCH_S = 0.1
MAX_GAP_S = 0.25
_EPS = 1e-9  # float slack when comparing durations built from frame times


def make_segment(
    name: str, start_s: float, end_s: float, frames: int, confidence: float, facing: str | None = None
) -> PoseSegment:
    """One segment in the result format (times and confidence rounded to 3 decimals)."""
    start, end = round(float(start_s), 3), round(float(end_s), 3)
    return PoseSegment(
        name=name,
        start_s=start,
        end_s=end,
        duration_s=round(end - start, 3),
        frames=int(frames),
        confidence=round(float(confidence), 3),
        facing=facing,
    )


def split_at_gaps(times_s: np.ndarray, frame_duration_s: float, max_gap_s: float = MAX_GAP_S) -> list[slice]:
    """Slices of consecutive rows with no unseen stretch longer than ``max_gap_s`` between them."""
    times = np.asarray(times_s, dtype=np.float64)
    unseen = np.diff(times) - frame_duration_s
    cuts = (np.flatnonzero(unseen > max_gap_s + _EPS) + 1).tolist()
    bounds = [0, *cuts, len(times)] if len(times) else []
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def runs(values: Sequence[Any] | np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of equal consecutive values."""
    array = np.asarray(values, dtype=object)
    if not len(array):
        return []
    starts = [0, *(np.flatnonzero(array[1:] != array[:-1]) + 1).tolist()]
    return list(zip(starts, [*starts[1:], len(array)]))


def hysteresis(labels: Sequence[Any] | np.ndarray, min_frames: int) -> list[Any]:
    """Labels where runs shorter than ``min_frames`` take the label in force before them.

    A short run at the very start takes the first long-enough label instead.
    """
    spans = runs(labels)
    stable = [labels[a] for a, b in spans if b - a >= min_frames]
    current = stable[0] if stable else labels[0]
    out = []
    for a, b in spans:
        if b - a >= min_frames:
            current = labels[a]
        out.extend([current] * (b - a))
    return out


@dataclass
class _Span:
    name: str
    first_s: float
    last_s: float
    frames: int
    score_sum: float
    rows: list[int]


def label_segments(
    times_s: np.ndarray,
    labels: Sequence[Any] | np.ndarray,
    scores: np.ndarray,
    *,
    frame_duration_s: float,
    min_pose_duration_s: float = 0.2,
    switch_s: float = SWITCH_S,
    max_gap_s: float = MAX_GAP_S,
    min_confidence: float = 0.0,
    facings: Sequence | np.ndarray | None = None,
) -> list[PoseSegment]:
    """Segments of one dancer's per-frame labels (``None`` = not seen or unlabelled), in time order.

    Segments whose confidence is below ``min_confidence`` are dropped; ``facings`` (per
    frame, ``facing.facing_per_frame``) gives each segment its commonest facing.
    """
    times = np.asarray(times_s, dtype=np.float64)
    label_array = np.asarray(labels, dtype=object)
    scores = np.asarray(scores, dtype=np.float64)
    seen = np.flatnonzero([label is not None for label in label_array])
    min_frames = max(2, round(switch_s / frame_duration_s))
    spans: list[_Span] = []
    for block in split_at_gaps(times[seen], frame_duration_s, max_gap_s):
        rows = seen[block]
        smoothed = hysteresis(label_array[rows], min_frames)
        for a, b in runs(smoothed):
            r = rows[a:b]
            own = label_array[r] == smoothed[a]  # absorbed flicker frames score 0
            spans.append(_Span(smoothed[a], times[r[0]], times[r[-1]], b - a, float(scores[r][own].sum()), r.tolist()))
    merged: list[_Span] = []
    for span in spans:
        if span.last_s - span.first_s + frame_duration_s < min_pose_duration_s - _EPS:
            continue
        prev = merged[-1] if merged else None
        gap = span.first_s - prev.last_s - frame_duration_s if prev else np.inf
        if prev and prev.name == span.name and gap <= max_gap_s + _EPS:
            prev.last_s = span.last_s
            prev.frames += span.frames
            prev.score_sum += span.score_sum
            prev.rows += span.rows
        else:
            merged.append(span)
    facing = np.asarray(facings, dtype=object) if facings is not None else None
    return [
        make_segment(
            s.name,
            s.first_s,
            s.last_s + frame_duration_s,
            s.frames,
            s.score_sum / s.frames,
            _commonest(facing[s.rows]) if facing is not None else None,
        )
        for s in merged
        if s.score_sum / s.frames >= min_confidence - _EPS
    ]


def _commonest(values: np.ndarray) -> str | None:
    """The commonest non-None value (the first seen on ties); None if there are none."""
    counts = Counter(v for v in values if v is not None)
    return counts.most_common(1)[0][0] if counts else None


def summarise(segments: Iterable[PoseSegment], analysed_s: float) -> dict[str, PoseTotal]:
    """Per name: ``count`` of segments, ``total_s`` and ``share`` of the analysed duration.

    Ordered by total time, longest first.
    """
    totals: dict[str, list] = {}
    for seg in segments:
        entry = totals.setdefault(seg.name, [0, 0.0])
        entry[0] += 1
        entry[1] += seg.duration_s
    ordered = sorted(totals.items(), key=lambda item: (-item[1][1], item[0]))
    return {
        name: PoseTotal(
            count=count,
            total_s=round(total, 3),
            share=round(total / analysed_s, 3) if analysed_s > 0 else 0.0,
        )
        for name, (count, total) in ordered
    }
