"""Movements over time on a track: ``jump`` and ``turn``, as result segments.

A movement segment is reported only when the evidence is clear: a user who sees a
jump or a turn that did not happen stops trusting the timeline, so doubtful cases
are left out (they stay whatever pose or transition they were).

* **jump**: both feet leave the ground and come back down. The lowest foot point
  (ankles, heels, toes) and the hips must both rise above their running baselines
  (75th percentile of image y over the surrounding second: the ground level even
  while the dancer hops now and then, yet following a dancer who walks towards or
  away from the camera). Rises are in leg lengths (the body's own scale), so
  thresholds do not depend on the distance to the camera. Requiring the *lowest*
  point and the hips rules out a leg raise; requiring both plus a minimum airborne
  time rules out landmark jitter. On top of that, a jump must look like one:

  - the dancer stands on the floor (feet seen inside the frame, torso upright)
    just before take-off and just after landing, and lands near the take-off level:
    a rise that never comes back down is the camera tilting, or a body part
    misread, not a flight;
  - the feet leave the floor they stood on: the lowest foot point rises
    ``JUMP_FOOT_RISE`` above its level at take-off too, not only above the running
    baseline (a baseline pulled down by what comes next, e.g. landing from a turn
    into a crouch lower in the image or a camera zooming in, makes feet that never
    moved look risen while the dancer straightens up);
  - the whole body rises, not only the legs: the hips and the shoulders go up by at
    least ``BODY_RISE_SHARE`` of the feet's rise (a leg lifted or misread, or another
    dancer's legs taken for this one's, moves the feet alone);
  - the body keeps its size in the image through the flight (torso length within
    ``JUMP_MAX_ZOOM``): a camera zoom or a dancer stepping towards the camera moves
    the feet in the image without anyone leaving the floor;
  - the flight is ballistic: time in the air and height go together (h = g t^2 / 8),
    so a slow drift upwards (the camera tilting, the dancer rising onto a step) is
    too long for its height, and anything over ``JUMP_MAX_AIRBORNE_S`` is no jump.

  Image y is used because world landmarks are hip-centred: a jump does not show in
  them.
* **turn**: the torso's facing direction (world shoulder and hip axes in the floor
  plane) sweeps at least ``TURN_SWEEP_DEG`` in one direction while rotating fast
  (``TURN_MIN_SPEED`` on every frame of the run: a dance turn is quick and
  continuous), with the torso upright and seen well. A slow drift, a half turn to
  face the back, a pause, turning on the knees, or rolling on the floor (where the shoulder axis says
  nothing about a turn) are not turns. The segment covers the run of fast rotation
  only. A one-frame flip of the facing by ~180 degrees is MediaPipe swapping left
  and right, not a rotation, and is ignored (only detectable above ~8 analysed fps).

Segment confidence is the mean visibility of the landmarks the movement uses.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from posecore.angles import L_ANKLE, L_HIP, L_KNEE, L_SHOULDER, LEGS, R_ANKLE, R_HIP, R_KNEE, R_SHOULDER, TORSO
from posecore.result import PoseSegment
from posecore.timeline import make_segment, runs, split_at_gaps
from posecore.tracks import Track

MOVEMENT_NAMES = frozenset({"jump", "turn"})  # the segment names this module reports
MIN_VISIBILITY = 0.5
BASELINE_S = 1.0
JUMP_FOOT_RISE = 0.10  # leg lengths the lowest foot point must rise (~9 cm)
JUMP_HIP_RISE = 0.05  # leg lengths the hips must rise (less: a tucked jump lifts feet more)
MIN_AIRBORNE_S = 0.1  # above threshold for 3 frames at 30 fps, 2 at 15
JUMP_MAX_AIRBORNE_S = 0.8  # above the threshold: ~0.8 m of flight height, beyond any dance jump
JUMP_GROUND_S = 0.35  # the feet must be seen on the floor within this time before and after
JUMP_GROUND_RISE = 0.5 * JUMP_FOOT_RISE  # "on the floor": the lowest foot point within this of the baseline
JUMP_LANDING_TOLERANCE = 0.15  # leg lengths between the take-off and landing foot levels
JUMP_MAX_ZOOM = 0.15  # relative change of the torso's image length during the flight
JUMP_MAX_LEAN = 45.0  # degrees from vertical: the torso at take-off and landing (not floor work)
LEG_M = 0.8  # an adult's hip-to-ankle length, to turn leg lengths into metres for the flight check
GRAVITY = 9.81
BALLISTIC_SLACK = 0.5  # the rise above the threshold may be half what free fall implies (timing is coarse)
BODY_RISE_SHARE = 0.4  # the hips and the shoulders must rise at least this share of the feet's rise
FRAME_EDGE = 1.0  # a foot point at or below this (normalised y) is past the frame's bottom edge: a guess
FEET = list(range(L_ANKLE, 33))  # ankles, heels, foot indices
TURN_SWEEP_DEG = 300.0  # a full turn, less the ends where the rotation speeds up and slows down
TURN_MIN_SPEED = 180.0  # deg/s on every frame of the turn (a 360-degree turn in 2 s or faster)
TURN_SPEED_WINDOW_S = 0.2  # rotation speed is measured over this much time (jitter)
TURN_MAX_LEAN = 45.0  # degrees from vertical: turns happen upright (on the floor the facing is meaningless)
TURN_MIN_VISIBILITY = 0.7  # the torso's world landmarks must be seen well for their facing to be trusted
KNEEL_KNEE_HEIGHT = 0.2  # the lower knee within this many leg lengths of the lower ankle: a knee on the floor
MAX_TURN_SPEED = 1440.0  # deg/s (4 rev/s); faster steps are left/right swaps


def detect_movements(track: Track, *, frame_duration_s: float, width: int, height: int) -> list[PoseSegment]:
    """Jump and turn segments of one track, in time order."""
    found = detect_jumps(track, frame_duration_s=frame_duration_s, width=width, height=height)
    found += detect_turns(track, frame_duration_s=frame_duration_s, width=width, height=height)
    return sorted(found, key=lambda seg: (seg.start_s, seg.name))


def torso_lean(track: Track, width: int, height: int) -> np.ndarray:
    """(n,) tilt of the torso (hip centre to shoulder centre) from vertical in the image, degrees 0..180."""
    px = track.landmarks[..., :2].astype(np.float64) * [float(width), float(height)]
    up = px[:, [L_SHOULDER, R_SHOULDER]].mean(axis=1) - px[:, [L_HIP, R_HIP]].mean(axis=1)
    return np.degrees(np.arctan2(np.abs(up[:, 0]), -up[:, 1]))


def kneeling(track: Track, width: int, height: int) -> np.ndarray:
    """(n,) True where a knee is seen down at the level of the lower ankle (on the knees, not the feet)."""
    px = track.landmarks[..., :2].astype(np.float64) * [float(width), float(height)]
    seen = track.landmarks[:, LEGS, 3].min(axis=1) >= MIN_VISIBILITY
    leg = np.maximum(
        np.linalg.norm(px[:, L_HIP] - px[:, L_KNEE], axis=1) + np.linalg.norm(px[:, L_KNEE] - px[:, L_ANKLE], axis=1),
        np.linalg.norm(px[:, R_HIP] - px[:, R_KNEE], axis=1) + np.linalg.norm(px[:, R_KNEE] - px[:, R_ANKLE], axis=1),
    )
    knee_up = px[:, [L_ANKLE, R_ANKLE], 1].max(axis=1) - px[:, [L_KNEE, R_KNEE], 1].max(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return seen & (knee_up < KNEEL_KNEE_HEIGHT * leg)


def detect_jumps(track: Track, *, frame_duration_s: float, width: int, height: int) -> list[PoseSegment]:
    """Segments where both feet and the hips leave the floor in a flight that lands again."""
    px = track.landmarks[..., :2].astype(np.float64) * [float(width), float(height)]
    visibility = track.landmarks[:, [*LEGS, *FEET], 3].astype(np.float64).min(axis=1)
    inside = track.landmarks[:, FEET, 1].max(axis=1) < FRAME_EDGE  # feet cut off by the frame are guesses
    usable = (visibility >= MIN_VISIBILITY) & inside
    foot = np.where(usable, px[:, FEET, 1].max(axis=1), np.nan)  # lowest point (y down)
    hip = np.where(usable, px[:, [L_HIP, R_HIP], 1].mean(axis=1), np.nan)
    shoulder = np.where(usable, px[:, [L_SHOULDER, R_SHOULDER], 1].mean(axis=1), np.nan)
    leg = (
        sum(
            np.linalg.norm(px[:, a] - px[:, b], axis=1)
            for a, b in ((L_HIP, L_KNEE), (L_KNEE, L_ANKLE), (R_HIP, R_KNEE), (R_KNEE, R_ANKLE))
        )
        / 2
    )
    leg = np.where(usable, leg, np.nan)
    torso = np.linalg.norm(px[:, [L_SHOULDER, R_SHOULDER]].mean(axis=1) - px[:, [L_HIP, R_HIP]].mean(axis=1), axis=1)
    upright = torso_lean(track, width, height) <= JUMP_MAX_LEAN
    times = np.asarray(track.times_s, dtype=np.float64)
    scale = _rolling_percentile(leg, times, frame_duration_s, 50)
    with np.errstate(invalid="ignore"):
        foot_rise = (_rolling_percentile(foot, times, frame_duration_s, 75) - foot) / scale
        hip_rise = (_rolling_percentile(hip, times, frame_duration_s, 75) - hip) / scale
        shoulder_rise = (_rolling_percentile(shoulder, times, frame_duration_s, 75) - shoulder) / scale
        airborne_all = (foot_rise >= JUMP_FOOT_RISE) & (hip_rise >= JUMP_HIP_RISE)
        grounded_all = usable & upright & (foot_rise <= JUMP_GROUND_RISE)
    segments = []
    for block in split_at_gaps(times, frame_duration_s):
        t, vis, airborne, grounded = times[block], visibility[block], airborne_all[block], grounded_all[block]
        for a, b in runs(airborne):
            if not airborne[a]:
                continue
            flight_s = t[b - 1] - t[a] + frame_duration_s
            if not MIN_AIRBORNE_S - 1e-9 <= flight_s <= JUMP_MAX_AIRBORNE_S:
                continue
            before = np.flatnonzero(grounded & (t < t[a]) & (t >= t[a] - JUMP_GROUND_S))
            after = np.flatnonzero(grounded & (t > t[b - 1]) & (t <= t[b - 1] + JUMP_GROUND_S))
            if not len(before) or not len(after):
                continue  # no take-off from the floor, or no landing back on it
            take_off, landing = block.start + before[-1], block.start + after[0]
            flight = slice(block.start + a, block.start + b)
            ref = scale[take_off]
            if abs(foot[landing] - foot[take_off]) > JUMP_LANDING_TOLERANCE * ref:
                continue  # lands somewhere else in the image: camera motion, not a flight
            if foot[take_off] - np.nanmin(foot[flight]) < JUMP_FOOT_RISE * ref:
                continue  # the feet never left the floor they took off from: only the baseline moved
            if np.nanmax(np.abs(torso[flight] / torso[take_off] - 1.0)) > JUMP_MAX_ZOOM:
                continue  # the body changed size in the image: zoom or depth, not height
            peak = np.nanmax(foot_rise[flight])
            if min(np.nanmax(hip_rise[flight]), np.nanmax(shoulder_rise[flight])) < BODY_RISE_SHARE * peak:
                continue  # only the legs moved (or were misread): a jump lifts the whole body
            above = (peak - JUMP_FOOT_RISE) * LEG_M
            if above < BALLISTIC_SLACK * GRAVITY * flight_s**2 / 8:
                continue  # too slow for its height: not free flight
            segments.append(make_segment("jump", t[a], t[b - 1] + frame_duration_s, b - a, vis[a:b].mean()))
    return segments


def facing_angle(world: np.ndarray) -> np.ndarray:
    """Facing direction (n,) in degrees, from world landmarks (n, 33, 3).

    The angle in the floor plane (x, z) of the body's left-pointing axis (shoulders
    plus hips); 0 = facing the camera.
    """
    world = np.asarray(world, dtype=np.float64)
    axis = (world[:, 11] - world[:, 12]) + (world[:, 23] - world[:, 24])
    return np.degrees(np.arctan2(axis[:, 2], axis[:, 0]))


def detect_turns(track: Track, *, frame_duration_s: float, width: int, height: int) -> list[PoseSegment]:
    """Segments where the upright torso rotates fast one way through at least ``TURN_SWEEP_DEG``."""
    visibility = track.landmarks[:, TORSO, 3].astype(np.float64).min(axis=1)
    upright = (torso_lean(track, width, height) <= TURN_MAX_LEAN) & ~kneeling(track, width, height)
    ok = np.flatnonzero((visibility >= TURN_MIN_VISIBILITY) & upright)
    times = np.asarray(track.times_s, dtype=np.float64)[ok]
    facing, visibility = facing_angle(track.world[ok]), visibility[ok]
    segments = []
    for block in split_at_gaps(times, frame_duration_s):
        t, vis = times[block], visibility[block]
        phi = _unwrap(facing[block], t)
        speed = _speed(phi, t, frame_duration_s)
        direction = np.where(speed >= TURN_MIN_SPEED, 1, np.where(speed <= -TURN_MIN_SPEED, -1, 0))
        for start, stop in runs(direction):
            end = stop - 1
            if direction[start] == 0 or abs(phi[end] - phi[start]) < TURN_SWEEP_DEG:
                continue
            end_s, confidence = t[end] + frame_duration_s, vis[start:stop].mean()
            segments.append(make_segment("turn", t[start], end_s, stop - start, confidence))
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
