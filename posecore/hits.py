"""Body speed over a track, and the moments a dancer stops: hits and holds.

* **Body speed**: the mean speed of the main joints (shoulders, elbows, wrists, hips,
  knees, ankles) in image pixels, divided by the dancer's torso length (shoulder mid
  to hip mid, pixels; a rolling median over ``SCALE_WINDOW_S`` so a bend or a turn
  does not change the unit), so the unit is *torso lengths per second* whatever the
  distance to the camera. A joint counts only where it is visible (>= ``MIN_VISIBILITY``)
  at both ends of a step, and a step only joins consecutive analysed frames of the
  same stretch (``timeline.split_at_gaps``): no speed is made up across an unseen gap.
  The per-frame value is smoothed with a Gaussian of ``SMOOTH_S`` (MediaPipe's jitter
  is frame to frame; a hit's drop takes a few frames, so it survives).
* **Hit**: the speed falls sharply after motion: to ``STOP_RATIO`` of its peak or
  less, within ``HIT_WINDOW_S`` of a peak of ``MIN_PEAK`` or more (a peak after the
  previous hit). Its time is the first frame after the peak that is halfway down
  (``ARRIVAL_SHARE``) from the peak to the floor (the lowest speed just after): a
  smoothed abrupt stop crosses half its drop at the stop itself, so the smoothing
  does not delay the hit. It lasts (``end_s``) through the floor and then while the
  speed stays within ``STILL_SHARE`` of the drop above the floor (or below
  ``HOLD_SPEED``), or to the end of the hold it runs into.
* **Hold**: the speed stays below ``HOLD_SPEED`` for ``MIN_HOLD_S`` or longer. A hold
  reached without a hit (slowly) is its own ``"hold"`` moment.

Thresholds were set on synthetic stops and checked on real solo clips (K-pop, TikTok
routine, contemporary), see the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from posecore.angles import L_HIP, L_SHOULDER, R_HIP, R_SHOULDER
from posecore.timeline import split_at_gaps
from posecore.tracks import Track

MAIN_JOINTS = (11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)  # shoulders .. ankles
MIN_VISIBILITY = 0.5
SCALE_WINDOW_S = 2.0
SMOOTH_S = 0.05  # Gaussian sigma of the speed smoothing
MIN_PEAK = 0.8  # torso lengths/s: slower is not "motion" that can hit (a still dancer's jitter: 0.1-0.4)
STOP_RATIO = 0.5  # real hits (K-pop, TikTok) drop to 0.3-0.5 of the peak; abrupt synthetic stops to ~0
HIT_WINDOW_S = 0.4  # the peak must be at most this long before the stop
ARRIVAL_SHARE = 0.5
STILL_SHARE = 0.25  # after a hit, the pose lasts while the speed stays this far up from the floor
HOLD_SPEED = 0.4  # torso lengths/s
MIN_HOLD_S = 0.4
MIN_HIT_GAP_S = 0.15  # two hits closer than this are one

Kind = Literal["hit", "hold"]


@dataclass(frozen=True)
class Moment:
    """A candidate key-pose moment: rows ``row..end_row`` of the track (inclusive)."""

    kind: Kind
    t_s: float
    end_s: float
    row: int
    end_row: int


def frame_step_s(times_s: np.ndarray) -> float:
    """The usual time between analysed frames (median step), for callers without one."""
    steps = np.diff(np.asarray(times_s, dtype=np.float64))
    steps = steps[steps > 0]
    return float(np.median(steps)) if len(steps) else 1 / 30


def torso_scale(track: Track, width: int, height: int, frame_duration_s: float | None = None) -> np.ndarray:
    """(n,) torso length in pixels, a rolling median over ``SCALE_WINDOW_S``; NaN if never seen."""
    step = frame_duration_s or frame_step_s(track.times_s)
    px = track.landmarks[..., :2].astype(np.float64) * [float(width), float(height)]
    shoulders = (px[:, L_SHOULDER] + px[:, R_SHOULDER]) / 2
    hips = (px[:, L_HIP] + px[:, R_HIP]) / 2
    torso = np.linalg.norm(shoulders - hips, axis=1)
    seen = track.landmarks[:, [L_SHOULDER, R_SHOULDER, L_HIP, R_HIP], 3].min(axis=1) >= MIN_VISIBILITY
    torso = np.where(seen & (torso > 0), torso, np.nan)
    if not np.isfinite(torso).any():
        return torso
    slots, grid = _on_grid(torso, track.times_s, step)
    half = max(1, round(SCALE_WINDOW_S / step / 2))
    windows = sliding_window_view(np.pad(grid, half, constant_values=np.nan), 2 * half + 1)[slots]
    scale = np.full(len(torso), np.nan)
    has = np.isfinite(windows).any(axis=1)
    scale[has] = np.nanmedian(windows[has], axis=1)
    return np.where(np.isfinite(scale), scale, np.nanmedian(torso))


def body_speed(
    track: Track,
    width: int,
    height: int,
    *,
    frame_duration_s: float | None = None,
    smooth_s: float = SMOOTH_S,
    joints: tuple[int, ...] = MAIN_JOINTS,
) -> np.ndarray:
    """(n,) smoothed mean speed of ``joints`` (default: the main joints), torso lengths/s; NaN where unknown."""
    step = frame_duration_s or frame_step_s(track.times_s)
    n = len(track)
    speed = np.full(n, np.nan)
    if n < 2:
        return speed
    times = np.asarray(track.times_s, dtype=np.float64)
    px = track.landmarks[:, joints, :2].astype(np.float64) * [float(width), float(height)]
    visible = track.landmarks[:, joints, 3] >= MIN_VISIBILITY
    scale = torso_scale(track, width, height, step)
    dt = np.diff(times)
    joint_step = np.linalg.norm(np.diff(px, axis=0), axis=2)  # (n-1, joints) pixels
    both = visible[1:] & visible[:-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        per_joint = joint_step / dt[:, None] / ((scale[1:] + scale[:-1]) / 2)[:, None]
        # Mean over the joints visible at both ends (NaN if none).
        step_speed = np.where(both, per_joint, 0.0).sum(axis=1) / both.sum(axis=1)
    same_block = np.zeros(n - 1, dtype=bool)
    for block in split_at_gaps(times, step):
        same_block[block.start : block.stop - 1] = True
    step_speed = np.where(same_block & (dt > 0), step_speed, np.nan)
    # A frame's speed: the mean of the steps into and out of it (centred in time).
    with np.errstate(invalid="ignore"):
        around = np.stack([np.r_[np.nan, step_speed], np.r_[step_speed, np.nan]])
        has = np.isfinite(around).any(axis=0)
        speed[has] = np.nanmean(around[:, has], axis=0)
    return _gaussian(speed, times, step, smooth_s)


def find_moments(
    track: Track,
    speed: np.ndarray,
    *,
    frame_duration_s: float | None = None,
    min_peak: float = MIN_PEAK,
    stop_ratio: float = STOP_RATIO,
    hold_speed: float = HOLD_SPEED,
    min_hold_s: float = MIN_HOLD_S,
) -> list[Moment]:
    """Hits and holds of one track (see the module docstring), in time order."""
    step = frame_duration_s or frame_step_s(track.times_s)
    times = np.asarray(track.times_s, dtype=np.float64)
    speed = np.asarray(speed, dtype=np.float64)
    moments: list[Moment] = []
    for block in split_at_gaps(times, step):
        t, v = times[block], speed[block]
        hits = _hits(t, v, min_peak, stop_ratio)
        holds = _holds(t, v, hold_speed, min_hold_s)
        moments += _merge(hits, holds, t, v, hold_speed, step, block.start)
    return sorted(moments, key=lambda m: m.t_s)


def hit_times(moments: list[Moment]) -> list[float]:
    """The times of the hits (not the slow holds), seconds."""
    return [m.t_s for m in moments if m.kind == "hit"]


@dataclass(frozen=True)
class _Stop:
    arrival: int  # the hit's row: halfway down the drop
    floor: int  # the slowest row just after
    still: float  # the pose lasts while the speed stays at or below this


def _hits(t: np.ndarray, v: np.ndarray, min_peak: float, stop_ratio: float) -> list[_Stop]:
    """The hits of one stretch, in time order."""
    found: list[_Stop] = []
    last_hit_t = -np.inf
    known = np.isfinite(v)
    for i in np.flatnonzero(known):
        window = np.flatnonzero((t > max(last_hit_t, t[i] - HIT_WINDOW_S)) & (t < t[i]) & known)
        if not len(window):
            continue
        peak_row = int(window[np.argmax(v[window])])
        peak = v[peak_row]
        if peak < min_peak or v[i] > stop_ratio * peak:
            continue
        # The stop's floor: the lowest speed soon after the drop (it may keep falling).
        after = np.flatnonzero((t >= t[i]) & (t <= t[i] + HIT_WINDOW_S / 2) & known)
        floor_row = int(after[np.argmin(v[after])])
        floor = v[floor_row]
        level = floor + ARRIVAL_SHARE * (peak - floor)
        arrival = peak_row + int(np.argmax(v[peak_row : i + 1] <= level))
        if t[arrival] - last_hit_t >= MIN_HIT_GAP_S:
            found.append(_Stop(arrival, floor_row, floor + STILL_SHARE * (peak - floor)))
            last_hit_t = t[arrival]
    return found


def _holds(t: np.ndarray, v: np.ndarray, hold_speed: float, min_hold_s: float) -> list[tuple[int, int]]:
    """(first, last) rows of stretches slower than ``hold_speed`` for ``min_hold_s``."""
    slow = np.r_[False, np.nan_to_num(v, nan=np.inf) < hold_speed, False]
    edges = np.flatnonzero(np.diff(slow.astype(np.int8)))
    spans = zip(edges[::2], edges[1::2] - 1)
    return [(int(a), int(b)) for a, b in spans if t[b] - t[a] >= min_hold_s - 1e-9]


def _merge(
    hits: list[_Stop],
    holds: list[tuple[int, int]],
    t: np.ndarray,
    v: np.ndarray,
    hold_speed: float,
    step: float,
    offset: int,
) -> list[Moment]:
    """Hits (lasting through the hold they start, or while the body stays near still) and the other holds."""
    moments = []
    used_holds = set()
    for k, hit in enumerate(hits):
        next_hit = hits[k + 1].arrival if k + 1 < len(hits) else len(t)
        end = max(hit.arrival, min(hit.floor, next_hit - 1))
        held = [h for h in holds if h[1] >= hit.arrival and h[0] <= end + 1 and h[0] < next_hit]
        if held:
            used_holds.update(held)
            end = max(end, min(held[0][1], next_hit - 1))
        else:
            limit = max(hold_speed, hit.still)
            while end + 1 < next_hit and np.isfinite(v[end + 1]) and v[end + 1] <= limit:
                end += 1
        moments.append(Moment("hit", float(t[hit.arrival]), float(t[end] + step), offset + hit.arrival, offset + end))
    for h in holds:
        if h not in used_holds:
            a, b = h
            moments.append(Moment("hold", float(t[a]), float(t[b] + step), offset + a, offset + b))
    return moments


def _on_grid(values: np.ndarray, times_s: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows placed on the frame grid: (slot of each row, grid with NaN where unseen)."""
    times = np.asarray(times_s, dtype=np.float64)
    slots = np.round((times - times[0]) / step).astype(np.int64)
    grid = np.full(int(slots[-1]) + 1, np.nan)
    grid[slots] = values
    return slots, grid


def _gaussian(values: np.ndarray, times_s: np.ndarray, step: float, sigma_s: float) -> np.ndarray:
    """NaN-aware Gaussian smoothing on the frame grid; NaN rows stay NaN."""
    if sigma_s <= 0 or not np.isfinite(values).any():
        return values
    sigma = sigma_s / step
    radius = int(np.ceil(3 * sigma))
    if radius < 1:
        return values
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    slots, grid = _on_grid(values, times_s, step)
    known = np.isfinite(grid)
    weighted = np.convolve(np.where(known, grid, 0.0), kernel, mode="same")
    weights = np.convolve(known.astype(np.float64), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        smoothed = weighted / weights
    return np.where(np.isfinite(values), smoothed[slots], np.nan)
