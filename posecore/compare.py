"""Score a performance against a reference dance (the same routine, other dancer or take).

Pipeline, each step one function below:

1. **Resample** both tracks to ``RATE_HZ`` over the span where the dancer is seen;
   gaps up to ``MAX_GAP_S`` (and landmarks below ``MIN_VISIBILITY``) are linearly
   interpolated, longer ones stay missing.
2. **Features**: the image direction (unit vector, in pixels) of every body segment in
   ``LIMB_SEGMENTS``. A direction does not change with the dancer's position in the
   frame, their size or their distance from the camera, nor with the video's resolution.
3. **Cost**: for every pair (performance frame, reference frame) the angle in degrees
   between matching segments, averaged per limb, then over the limbs seen in both.
4. **Alignment**: dynamic time warping in which every performance frame is matched to
   exactly one reference frame, the reference advancing 0, 1 or 2 frames per
   performance frame (so the performance may be anywhere from frozen to 2x faster), and
   the path may begin and end anywhere in the reference: a performance that covers only
   part of the routine, or starts late in it, still aligns. Every path has one cost term
   per performance frame, so path costs compare fairly. Plain numpy: each row is
   vectorised, 20 s against 20 s takes a few milliseconds.
5. **Mirror**: with ``mirror="auto"`` the performance is aligned as is and mirrored
   (x flipped and left/right landmarks swapped) and the lower mean cost wins.
6. **Scores**: per matched frame, degrees are mapped to 0-100 by ``SCORE_CURVE``;
   ``score`` and each limb are means over the performance frames. ``offset_s`` is the
   median of (reference time - performance time) along the path, ``tempo_ratio`` the
   slope of reference time against performance time (Theil-Sen over frame pairs at
   least ``TEMPO_MIN_SPAN_S`` apart), and ``timing`` maps the mean absolute deviation of
   the path from that line (seconds, offset and tempo removed; frames left out of the
   alignment count as the curve's worst) by ``TIMING_CURVE``.

"left"/"right" are always the dancer's own. Times are each video's own presentation
times (``Track.times_s``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from posecore.angles import LANDMARK_NAMES, MIRROR_ORDER
from posecore.errors import PoseCoreError
from posecore.tracks import Track

RATE_HZ = 15.0  # common sampling rate of both dances; 1/15 s bounds the offset resolution
MAX_GAP_S = 1.0  # longer gaps in a track are not interpolated (those frames are missing)
MIN_VISIBILITY = 0.3  # landmarks below this are treated as not seen
STEP_PENALTY_DEG = 2.0  # added for a non-diagonal step, so held poses don't make the path wander
TEMPO_MIN_SPAN_S = 2.0  # Theil-Sen pairs closer than this are dominated by the path's staircase
TEMPO_MAX_POINTS = 400  # Theil-Sen on at most this many path points (pairs grow quadratically)
TIMELINE_STEP_S = 0.5
WORST_COUNT = 5
WORST_WINDOW_S = 1.0  # per-frame scores are averaged over this window before picking the worst
WORST_SEPARATION_S = 2.0
SKIP_COST_DEG = 45.0  # cost of a performance frame left out of the alignment (before or after it)
MISSING_COST_DEG = SKIP_COST_DEG  # an unseen frame neither attracts the path nor pushes it out

# Mean angle between matching segments (degrees) -> score. Same dance, same dancer: a few
# degrees of landmark noise; same routine by another dancer: ~15-30; another dance: ~40+.
SCORE_CURVE = ((0.0, 100.0), (5.0, 98.0), (15.0, 85.0), (30.0, 60.0), (50.0, 25.0), (75.0, 0.0))
# Mean absolute deviation of the alignment from a straight line (s) -> timing score.
TIMING_CURVE = ((0.0, 100.0), (0.05, 98.0), (0.15, 85.0), (0.3, 65.0), (0.6, 30.0), (1.2, 0.0))

# Body segments as (from, to) landmark names; "*_mid" are midpoints of the left/right pair.
LIMB_SEGMENTS: dict[str, tuple[tuple[str, str], ...]] = {
    "left_arm": (("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist")),
    "right_arm": (("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist")),
    "left_leg": (("left_hip", "left_knee"), ("left_knee", "left_ankle")),
    "right_leg": (("right_hip", "right_knee"), ("right_knee", "right_ankle")),
    "torso": (("hip_mid", "shoulder_mid"), ("right_shoulder", "left_shoulder"), ("right_hip", "left_hip")),
    "head": (("shoulder_mid", "nose"), ("right_ear", "left_ear")),
}
LIMBS = tuple(LIMB_SEGMENTS)
_MIDPOINTS = {"hip_mid": ("left_hip", "right_hip"), "shoulder_mid": ("left_shoulder", "right_shoulder")}

Mirror = Literal["auto"] | bool


class NotComparable(PoseCoreError):
    """A track is too short (or the options are wrong) to compare two dances."""

    code = "not_comparable"


@dataclass(frozen=True)
class TimelinePoint:
    """Mean score over [t_s, t_s + TIMELINE_STEP_S) of the performance; None if unseen."""

    t_s: float
    reference_t_s: float | None  # None if the bin lies outside the alignment
    score: float | None


@dataclass(frozen=True)
class WorstMoment:
    """A low point of the performance and the limb that was furthest off there."""

    t_s: float
    reference_t_s: float
    score: float
    limb: str


@dataclass(frozen=True)
class Comparison:
    """How well a performance matches a reference dance (see the module docstring)."""

    score: float  # 0-100, pose similarity after alignment
    timing: float  # 0-100, steadiness of the alignment
    offset_s: float  # reference time - performance time at matched moments (median)
    tempo_ratio: float  # reference seconds per performance second: 0.8 = performance at 0.8x speed
    limbs: dict[str, float | None]  # LIMBS -> 0-100, None if never seen in both
    timeline: list[TimelinePoint]
    worst_moments: list[WorstMoment]
    mirrored: bool

    def to_dict(self) -> dict[str, Any]:
        """The JSON response body."""
        return asdict(self)


def mirror_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """The same landmarks seen in a mirror: x flipped, left and right landmarks swapped."""
    flipped = landmarks[:, MIRROR_ORDER].copy()
    flipped[..., 0] = 1.0 - flipped[..., 0]
    return flipped


def compare_tracks(
    performance: Track,
    reference: Track,
    *,
    performance_size: tuple[int, int],
    reference_size: tuple[int, int],
    mirror: Mirror = "auto",
) -> Comparison:
    """Score ``performance`` against ``reference``; sizes are each video's (width, height).

    ``mirror``: "auto" tries the performance as is and mirrored and keeps the better
    alignment; True/False force it. Raises NotComparable if a track spans less than two
    samples at ``RATE_HZ``.
    """
    if mirror not in ("auto", True, False):
        raise NotComparable(f"mirror must be 'auto', true or false, not {mirror!r}")
    ref_t, ref_dirs = _sampled_directions(reference, reference_size, mirrored=False)
    choices = (False, True) if mirror == "auto" else (bool(mirror),)
    alignments = []
    for mirrored in choices:
        perf_t, perf_dirs = _sampled_directions(performance, performance_size, mirrored=mirrored)
        alignments.append((_align(_limb_costs(perf_dirs, ref_dirs)), mirrored, perf_t, perf_dirs))
    path, mirrored, perf_t, perf_dirs = min(alignments, key=lambda a: a[0].mean_cost)
    limb_degrees = np.full((perf_t.size, len(LIMBS)), np.nan)
    limb_degrees[path.rows] = _matched_limb_degrees(perf_dirs[path.rows], ref_dirs[path.columns])
    matched_ref_t = np.full(perf_t.size, np.nan)
    matched_ref_t[path.rows] = ref_t[0] + path.fractional_columns / RATE_HZ
    return _scored(perf_t, matched_ref_t, limb_degrees, mirrored)


def _sampled_directions(track: Track, size: tuple[int, int], *, mirrored: bool) -> tuple[np.ndarray, np.ndarray]:
    """Grid times (k,) and unit segment directions (k, segments, 2), NaN where unseen."""
    landmarks = mirror_landmarks(track.landmarks) if mirrored else track.landmarks
    times, points = _resampled(track.times_s, landmarks, size)
    if times.size < 2:
        raise NotComparable("a dancer must be seen for at least two samples to be compared")
    return times, _directions(points)


def _resampled(times_s: np.ndarray, landmarks: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel x, y of every landmark on a RATE_HZ grid (k, 33, 2); NaN across long gaps."""
    times = np.asarray(times_s, dtype=np.float64)
    if times.size == 0:
        return times, np.empty((0, landmarks.shape[1], 2))
    grid = times[0] + np.arange(int(np.floor((times[-1] - times[0]) * RATE_HZ + 1e-9)) + 1) / RATE_HZ
    pixels = landmarks[..., :2].astype(np.float64) * np.array(size, dtype=np.float64)
    seen = landmarks[..., 3] >= MIN_VISIBILITY
    out = np.full((grid.size, landmarks.shape[1], 2), np.nan)
    for j in range(landmarks.shape[1]):
        t = times[seen[:, j]]
        if t.size == 0:
            continue
        after = np.clip(np.searchsorted(t, grid), 0, t.size - 1)
        before = np.clip(np.searchsorted(t, grid, side="right") - 1, 0, t.size - 1)
        # A grid time is covered if seen samples on both sides are at most MAX_GAP_S apart.
        covered = (t[before] <= grid + 1e-9) & (t[after] >= grid - 1e-9) & (t[after] - t[before] <= MAX_GAP_S)
        for axis in range(2):
            out[covered, j, axis] = np.interp(grid[covered], t, pixels[seen[:, j], j, axis])
    return grid, out


def _segment_index() -> tuple[list[str], np.ndarray, np.ndarray]:
    """Point names (landmarks + midpoints) and the from/to point index of every segment."""
    points = list(LANDMARK_NAMES) + list(_MIDPOINTS)
    segments = [s for limb in LIMBS for s in LIMB_SEGMENTS[limb]]
    return points, np.array([points.index(a) for a, _ in segments]), np.array([points.index(b) for _, b in segments])


_POINTS, _SEG_FROM, _SEG_TO = _segment_index()
_LIMB_OF_SEGMENT = np.array([i for i, limb in enumerate(LIMBS) for _ in LIMB_SEGMENTS[limb]])


def _directions(points: np.ndarray) -> np.ndarray:
    """Unit direction of every segment (k, segments, 2) from pixel points (k, 33, 2)."""
    mids = [
        (points[:, LANDMARK_NAMES.index(a)] + points[:, LANDMARK_NAMES.index(b)]) / 2 for a, b in _MIDPOINTS.values()
    ]
    allpoints = np.concatenate([points, np.stack(mids, axis=1)], axis=1)
    vectors = allpoints[:, _SEG_TO] - allpoints[:, _SEG_FROM]
    with np.errstate(invalid="ignore", divide="ignore"):
        return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def _limb_costs(perf: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """(n, m) mean angle in degrees between the two poses, over the limbs seen in both."""
    total = np.zeros((perf.shape[0], ref.shape[0]))
    limbs_seen = np.zeros_like(total)
    for limb in range(len(LIMBS)):
        limb_sum = np.zeros_like(total)
        limb_count = np.zeros_like(total)
        for s in np.flatnonzero(_LIMB_OF_SEGMENT == limb):
            p, r = perf[:, s], ref[:, s]
            p_ok, r_ok = ~np.isnan(p[:, 0]), ~np.isnan(r[:, 0])
            cos = np.clip(np.nan_to_num(p) @ np.nan_to_num(r).T, -1.0, 1.0)
            both = np.outer(p_ok, r_ok)
            limb_sum += np.where(both, np.degrees(np.arccos(cos)), 0.0)
            limb_count += both
        seen = limb_count > 0
        total += np.where(seen, limb_sum / np.maximum(limb_count, 1), 0.0)
        limbs_seen += seen
    return np.where(limbs_seen > 0, total / np.maximum(limbs_seen, 1), MISSING_COST_DEG)


@dataclass(frozen=True)
class _Path:
    """The alignment: performance rows ``rows`` (consecutive) matched to reference ``columns``."""

    rows: np.ndarray  # (k,) int64
    columns: np.ndarray  # (k,) int64
    fractional_columns: np.ndarray  # (k,) float64, refined between grid samples
    mean_cost: float  # degrees per performance frame, skipped frames included


_FROM_DIAGONAL, _FROM_HELD_DIAGONAL, _FROM_SKIP, _FROM_HELD_SKIP, _FROM_START = range(5)
_PREDECESSOR = {  # code -> (reference advance, came from the held state)
    _FROM_DIAGONAL: (1, False),
    _FROM_HELD_DIAGONAL: (1, True),
    _FROM_SKIP: (2, False),
    _FROM_HELD_SKIP: (2, True),
}


def _align(cost: np.ndarray) -> _Path:
    """Best warping path through ``cost`` (n performance x m reference frames).

    Row-wise DP with two states per reference frame: "moved" (arrived advancing 1 or 2
    reference frames) and "held" (arrived advancing 0; a hold may not follow a hold), so
    the local tempo stays within 0.5x-2x. Non-diagonal steps cost STEP_PENALTY_DEG. The
    path starts and ends anywhere in the reference, and may also start late or end early
    in the performance: every performance frame outside it costs SKIP_COST_DEG.
    """
    n, m = cost.shape
    columns = np.arange(m)
    codes = np.full((n, m), _FROM_START, dtype=np.int8)
    moved, held = cost[0].copy(), np.full(m, np.inf)
    best = (float(moved.min()) + (n - 1) * SKIP_COST_DEG, 0, int(moved.argmin()), False)
    for i in range(1, n):
        candidates = np.full((5, m), np.inf)
        candidates[_FROM_DIAGONAL, 1:] = moved[:-1]
        candidates[_FROM_HELD_DIAGONAL, 1:] = held[:-1]
        candidates[_FROM_SKIP, 2:] = moved[:-2] + STEP_PENALTY_DEG
        candidates[_FROM_HELD_SKIP, 2:] = held[:-2] + STEP_PENALTY_DEG
        candidates[_FROM_START] = i * SKIP_COST_DEG
        codes[i] = np.argmin(candidates, axis=0)
        moved, held = cost[i] + candidates[codes[i], columns], cost[i] + moved + STEP_PENALTY_DEG
        for state, acc in ((False, moved), (True, held)):
            j = int(acc.argmin())
            if acc[j] + (n - 1 - i) * SKIP_COST_DEG < best[0]:
                best = (float(acc[j]) + (n - 1 - i) * SKIP_COST_DEG, i, j, state)
    total, i, j, is_held = best
    rows, cols = [i], [j]
    while is_held or codes[i, j] != _FROM_START:
        advance, is_held = (0, False) if is_held else _PREDECESSOR[int(codes[i, j])]
        i, j = i - 1, j - advance
        rows.append(i)
        cols.append(j)
    rows_a, cols_a = np.array(rows[::-1]), np.array(cols[::-1])
    total += rows_a[0] * SKIP_COST_DEG
    return _Path(rows_a, cols_a, _refined_columns(cost, rows_a, cols_a), total / n)


def _refined_columns(cost: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Sub-sample reference positions: equiangular (V-shaped) fit through the cost at j-1, j, j+1.

    Angle differences grow linearly with a small time error, so a V fits the cost
    minimum better than a parabola; this lifts offset and tempo below 1/RATE_HZ.
    """
    inner = (cols > 0) & (cols < cost.shape[1] - 1)
    r, c = rows[inner], cols[inner]
    before, here, after = cost[r, c - 1], cost[r, c], cost[r, c + 1]
    slope = np.maximum(before, after) - here
    with np.errstate(invalid="ignore", divide="ignore"):
        shift = np.where(slope > 0, (before - after) / (2 * slope), 0.0)
    out = cols.astype(np.float64)
    out[inner] += np.clip(shift, -0.5, 0.5)
    return out


def _matched_limb_degrees(perf: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """(n, limbs) mean angle between matched frames per limb; NaN where a limb is unseen."""
    cos = np.clip(np.sum(perf * ref, axis=-1), -1.0, 1.0)
    degrees = np.degrees(np.arccos(cos))  # NaN where either side is unseen
    return np.stack([_nanmean_rows(degrees[:, _LIMB_OF_SEGMENT == limb], axis=1) for limb in range(len(LIMBS))], axis=1)


def _nanmean_rows(values: np.ndarray, axis: int) -> np.ndarray:
    """Mean over ``axis`` ignoring NaN; NaN where all are NaN (without numpy's warning)."""
    seen = (~np.isnan(values)).sum(axis=axis)
    return np.where(seen > 0, np.nansum(values, axis=axis) / np.maximum(seen, 1), np.nan)


def _curve(values: np.ndarray | float, curve: tuple[tuple[float, float], ...]) -> np.ndarray:
    xs, ys = zip(*curve)
    return np.where(np.isnan(values), np.nan, np.interp(values, xs, ys))


def _nanmean(values: np.ndarray) -> float | None:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else None


def _tempo_line(perf_t: np.ndarray, ref_t: np.ndarray) -> tuple[float, float]:
    """Robust slope and intercept of ref_t against perf_t (Theil-Sen on well-separated pairs)."""
    if perf_t.size < 2:
        return 1.0, float(np.median(ref_t - perf_t))
    keep = np.unique(np.linspace(0, perf_t.size - 1, min(perf_t.size, TEMPO_MAX_POINTS)).astype(np.int64))
    x, y = perf_t[keep], ref_t[keep]
    i, j = np.triu_indices(x.size, k=1)
    far = x[j] - x[i] >= min(TEMPO_MIN_SPAN_S, (x[-1] - x[0]) / 2)
    slope = float(np.median((y[j] - y[i])[far] / (x[j] - x[i])[far])) if far.any() else 1.0
    return slope, float(np.median(y - slope * x))


def _scored(perf_t: np.ndarray, ref_t: np.ndarray, limb_degrees: np.ndarray, mirrored: bool) -> Comparison:
    """The response from the aligned reference time (NaN where skipped) and limb degrees per performance frame."""
    matched = ~np.isnan(ref_t)
    frame_degrees = np.where(matched, _nanmean_rows(limb_degrees, axis=1), SKIP_COST_DEG)
    frame_scores = _curve(frame_degrees, SCORE_CURVE)
    limb_scores = _curve(limb_degrees, SCORE_CURVE)
    slope, intercept = _tempo_line(perf_t[matched], ref_t[matched])
    # Frames left out of the alignment count as the worst timing (the curve's last point).
    deviation = float(np.mean(np.where(matched, np.abs(ref_t - (intercept + slope * perf_t)), TIMING_CURVE[-1][0])))
    return Comparison(
        score=_round(_nanmean(frame_scores) or 0.0),
        timing=_round(float(_curve(deviation, TIMING_CURVE))),
        offset_s=_round(float(np.median(ref_t[matched] - perf_t[matched])), 3),
        tempo_ratio=_round(slope, 3),
        limbs={limb: _round_or_none(_nanmean(limb_scores[:, k])) for k, limb in enumerate(LIMBS)},
        timeline=_timeline(perf_t, ref_t, frame_scores),
        worst_moments=_worst_moments(perf_t, ref_t, frame_scores, limb_degrees),
        mirrored=mirrored,
    )


def _timeline(perf_t: np.ndarray, ref_t: np.ndarray, scores: np.ndarray) -> list[TimelinePoint]:
    bins = np.floor((perf_t - perf_t[0]) / TIMELINE_STEP_S + 1e-9).astype(np.int64)
    points = []
    for b in np.unique(bins):
        rows = np.flatnonzero(bins == b)
        points.append(
            TimelinePoint(
                t_s=_round(float(perf_t[rows[0]]), 3),
                reference_t_s=None if np.isnan(ref_t[rows[0]]) else _round(ref_t[rows[0]], 3),
                score=_round_or_none(_nanmean(scores[rows])),
            )
        )
    return points


def _worst_moments(
    perf_t: np.ndarray, ref_t: np.ndarray, scores: np.ndarray, limb_degrees: np.ndarray
) -> list[WorstMoment]:
    """Lowest window-averaged scores of aligned frames, at least WORST_SEPARATION_S apart, with the worst limb."""
    half = max(1, round(WORST_WINDOW_S * RATE_HZ / 2))
    windows = [slice(max(0, i - half), i + half + 1) for i in range(perf_t.size)]
    smoothed = np.array([_nanmean_rows(scores[w], axis=0) for w in windows])
    per_limb = np.stack([_nanmean_rows(limb_degrees[w], axis=0) for w in windows])
    candidates = ~np.isnan(ref_t) & ~np.isnan(smoothed) & ~np.isnan(per_limb).all(axis=1)
    moments: list[WorstMoment] = []
    for i in np.argsort(np.where(candidates, smoothed, np.inf)):
        if len(moments) == WORST_COUNT or not candidates[i]:
            break
        if any(abs(perf_t[i] - m.t_s) < WORST_SEPARATION_S for m in moments):
            continue
        limb = LIMBS[int(np.nanargmax(per_limb[i]))]
        moments.append(WorstMoment(_round(perf_t[i], 3), _round(ref_t[i], 3), _round(smoothed[i]), limb))
    return sorted(moments, key=lambda m: m.t_s)


def _round(value: float, digits: int = 1) -> float:
    return round(float(value), digits)


def _round_or_none(value: float | None) -> float | None:
    return None if value is None else _round(value)
