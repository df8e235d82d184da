"""Movements over time on a track: ``jump`` and ``turn``, as result segments.

* **jump**: both feet leave the ground. The lowest foot point (ankles, heels, toes)
  and the hips must both rise above their running baselines (75th percentile of
  image y over the surrounding second: the ground level even while the dancer hops
  now and then, yet following a dancer who walks towards or away from the camera).
  Rises are in leg lengths, so thresholds do not depend on the distance to the
  camera. Requiring the *lowest* point and the hips rules out a leg raise; requiring
  both plus a minimum airborne time rules out landmark jitter (thresholds checked on
  a real group-dance clip, where MediaPipe's ankles in baggy trousers wobble by
  ~5% of a leg). Image y is used because world landmarks are hip-centred: a jump
  does not show in them.
* **turn**: the torso's facing direction (world shoulder and hip axes in the floor
  plane) sweeps 180 degrees or more in one direction, on average at least 90
  degrees/s (180 within 2 s). Back-and-forth wiggles reverse before they add up. The
  turn runs from the first to the last frame rotating at that speed, so a slow
  drift before or after does not stretch it. A one-frame flip of the facing by ~180
  degrees is MediaPipe swapping left and right, not a rotation, and is ignored
  (only detectable above ~8 analysed fps).

Segment confidence is the mean visibility of the landmarks the movement uses.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from posecore.angles import L_ANKLE, L_HIP, L_KNEE, LEGS, R_ANKLE, R_HIP, R_KNEE, TORSO
from posecore.result import PoseSegment
from posecore.timeline import make_segment, runs, split_at_gaps
from posecore.tracks import Track

MIN_VISIBILITY = 0.5
BASELINE_S = 1.0
JUMP_FOOT_RISE = 0.10  # leg lengths the lowest foot point must rise (~9 cm)
JUMP_HIP_RISE = 0.05  # leg lengths the hips must rise (less: a tucked jump lifts feet more)
MIN_AIRBORNE_S = 0.1  # above threshold for 3 frames at 30 fps, 2 at 15
FEET = list(range(L_ANKLE, 33))  # ankles, heels, foot indices
TURN_SWEEP_DEG = 180.0
TURN_MIN_SPEED = 90.0  # deg/s, on average over the turn and to count a frame as turning
TURN_SPEED_WINDOW_S = 0.2  # rotation speed is measured over this much time (jitter)
TURN_REVERSAL_DEG = 45.0  # rotating back this far ends a sweep
MAX_TURN_SPEED = 1440.0  # deg/s (4 rev/s); faster steps are left/right swaps


def detect_movements(track: Track, *, frame_duration_s: float, width: int, height: int) -> list[PoseSegment]:
    """Jump and turn segments of one track, in time order."""
    found = detect_jumps(track, frame_duration_s=frame_duration_s, width=width, height=height)
    found += detect_turns(track, frame_duration_s=frame_duration_s)
    return sorted(found, key=lambda seg: (seg.start_s, seg.name))


def detect_jumps(track: Track, *, frame_duration_s: float, width: int, height: int) -> list[PoseSegment]:
    """Segments where both feet and the hips are clearly above their running baselines."""
    px = track.landmarks[..., :2].astype(np.float64) * [float(width), float(height)]
    visibility = track.landmarks[:, LEGS, 3].astype(np.float64).min(axis=1)
    usable = visibility >= MIN_VISIBILITY
    foot = np.where(usable, px[:, FEET, 1].max(axis=1), np.nan)  # lowest point (y down)
    hip = np.where(usable, px[:, [L_HIP, R_HIP], 1].mean(axis=1), np.nan)
    leg = (
        sum(
            np.linalg.norm(px[:, a] - px[:, b], axis=1)
            for a, b in ((L_HIP, L_KNEE), (L_KNEE, L_ANKLE), (R_HIP, R_KNEE), (R_KNEE, R_ANKLE))
        )
        / 2
    )
    leg = np.where(usable, leg, np.nan)
    times = np.asarray(track.times_s, dtype=np.float64)
    scale = _rolling_percentile(leg, times, frame_duration_s, 50)
    with np.errstate(invalid="ignore"):
        foot_rise = (_rolling_percentile(foot, times, frame_duration_s, 75) - foot) / scale
        hip_rise = (_rolling_percentile(hip, times, frame_duration_s, 75) - hip) / scale
        airborne_all = (foot_rise >= JUMP_FOOT_RISE) & (hip_rise >= JUMP_HIP_RISE)
    segments = []
    for block in split_at_gaps(times, frame_duration_s):
        t, vis, airborne = times[block], visibility[block], airborne_all[block]
        for a, b in runs(airborne):
            if airborne[a] and t[b - 1] - t[a] + frame_duration_s >= MIN_AIRBORNE_S - 1e-9:
                end_s = t[b - 1] + frame_duration_s
                segments.append(make_segment("jump", t[a], end_s, b - a, vis[a:b].mean()))
    return segments


def facing_angle(world: np.ndarray) -> np.ndarray:
    """Facing direction (n,) in degrees, from world landmarks (n, 33, 3).

    The angle in the floor plane (x, z) of the body's left-pointing axis (shoulders
    plus hips); 0 = facing the camera.
    """
    world = np.asarray(world, dtype=np.float64)
    axis = (world[:, 11] - world[:, 12]) + (world[:, 23] - world[:, 24])
    return np.degrees(np.arctan2(axis[:, 2], axis[:, 0]))


def detect_turns(track: Track, *, frame_duration_s: float) -> list[PoseSegment]:
    """Segments where the facing direction sweeps at least 180 degrees one way."""
    visibility = track.landmarks[:, TORSO, 3].astype(np.float64).min(axis=1)
    ok = np.flatnonzero(visibility >= MIN_VISIBILITY)
    times = np.asarray(track.times_s, dtype=np.float64)[ok]
    facing, visibility = facing_angle(track.world[ok]), visibility[ok]
    segments = []
    for block in split_at_gaps(times, frame_duration_s):
        t, vis = times[block], visibility[block]
        phi = _unwrap(facing[block], t)
        speed = _speed(phi, t, frame_duration_s)
        for p, e in _sweeps(phi, TURN_REVERSAL_DEG):
            sweep = phi[e] - phi[p]
            turning = p + np.flatnonzero(np.sign(sweep) * speed[p : e + 1] >= TURN_MIN_SPEED)
            if abs(sweep) < TURN_SWEEP_DEG or not len(turning):
                continue
            start, end = turning[0], turning[-1]
            if abs(sweep) / (t[end] - t[start] + frame_duration_s) >= TURN_MIN_SPEED:
                end_s, confidence = t[end] + frame_duration_s, vis[start : end + 1].mean()
                segments.append(make_segment("turn", t[start], end_s, end - start + 1, confidence))
    return segments


def _rolling_percentile(values: np.ndarray, times: np.ndarray, frame_duration_s: float, q: float) -> np.ndarray:
    """Percentile ``q`` of the values within +-BASELINE_S/2 of each row, ignoring NaN.

    Rows are placed on the frame grid first, so unseen frames and the track's ends
    shrink the window instead of skewing it.
    """
    if not len(values):
        return values
    slots = np.round((times - times[0]) / frame_duration_s).astype(np.int64)
    grid = np.full(slots[-1] + 1, np.nan)
    grid[slots] = values
    half = max(1, round(BASELINE_S / frame_duration_s / 2))
    windows = sliding_window_view(np.pad(grid, half, constant_values=np.nan), 2 * half + 1)
    return nanpercentile_rows(windows[slots], q)


def nanpercentile_rows(rows: np.ndarray, q: float) -> np.ndarray:
    """``np.nanpercentile(rows, q, axis=1)`` (linear interpolation); NaN for an all-NaN row.

    Vectorised: NumPy's NaN-aware version loops over the rows in Python, which made it
    most of the time of a whole video's aggregation.
    """
    ordered = np.sort(rows, axis=1)  # NaN sorts last
    count = np.count_nonzero(~np.isnan(rows), axis=1)
    position = np.maximum(count - 1, 0) * (q / 100.0)
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, np.maximum(count - 1, 0))
    row = np.arange(len(rows))
    low, high = ordered[row, below], ordered[row, above]
    result = low + (high - low) * (position - below)
    result[count == 0] = np.nan
    return result


def _speed(phi: np.ndarray, times: np.ndarray, frame_duration_s: float) -> np.ndarray:
    """Signed rotation speed (deg/s) over a centred window of ~TURN_SPEED_WINDOW_S."""
    half = max(1, round(TURN_SPEED_WINDOW_S / frame_duration_s / 2))
    rows = np.arange(len(phi))
    lo, hi = np.maximum(rows - half, 0), np.minimum(rows + half, len(phi) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (phi[hi] - phi[lo]) / (times[hi] - times[lo])


def _unwrap(angles: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Cumulative rotation in degrees from the first frame, ignoring left/right swaps."""
    step = (np.diff(angles) + 180.0) % 360.0 - 180.0
    step[np.abs(step) > MAX_TURN_SPEED * np.diff(times)] = 0.0
    return np.concatenate([[0.0], np.cumsum(step)])


def _sweeps(phi: np.ndarray, reversal: float) -> list[tuple[int, int]]:
    """(start, end) indices of one-way sweeps: each ends where phi turns back by ``reversal``.

    A zig-zag filter: wiggles smaller than ``reversal`` stay inside one sweep.
    """
    found: list[tuple[int, int]] = []
    lo = hi = pivot = ext = 0
    direction = 0
    for i in range(1, len(phi)):
        if direction == 0:  # no direction yet: wait for a move of ``reversal`` either way
            lo = i if phi[i] < phi[lo] else lo
            hi = i if phi[i] > phi[hi] else hi
            if phi[hi] - phi[lo] >= reversal:
                direction = 1 if hi > lo else -1
                pivot, ext = (lo, hi) if direction > 0 else (hi, lo)
        elif (phi[i] - phi[ext]) * direction > 0:
            ext = i
        elif (phi[ext] - phi[i]) * direction >= reversal:
            found.append((pivot, ext))
            pivot, ext, direction = ext, i, -direction
    if direction:
        found.append((pivot, ext))
    return found
