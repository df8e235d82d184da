"""Dancers are people seen for a real part of the video: track fragments are joined or dropped.

The tracker (``posecore.tracking``) starts a new id whenever a detection matches no
recent track: after the model loses the dancer for a moment (a turn, floor work, a
blur) or when it briefly finds something that is not a dancer. Left as they are, a
solo can come out as two or more dancers. Here, after tracking:

1. A track seen for less than ``min_dancer_s`` (a *fragment*) is joined to the track
   it continues: one that is never seen at the same time as the fragment and whose
   torso, at the nearest time, was where the fragment's is (within ``MAX_SHIFT``
   torso lengths plus ``MAX_SPEED`` torso lengths per second of time between them).
   The nearest such track wins; a fragment with none is dropped. (In a clip shorter
   than twice ``min_dancer_s``, a fragment is anyone seen for less than half of it.)
2. When ``max_people`` is 1 only one person is ever detected per frame, so every
   track is the same dancer lost and found again: all tracks become one.

Ids are then renumbered 1, 2, ... by first appearance, so a solo is dancer 1.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from posecore.tracks import Track

TORSO = [11, 12, 23, 24]
MAX_SHIFT = 1.5  # torso lengths between a fragment and the track it continues, at the seam
MAX_SPEED = 2.0  # torso lengths per second the dancer may travel while unseen


def clean_tracks(
    tracks: list[Track],
    *,
    min_dancer_s: float,
    max_people: int,
    aspect: float = 1.0,
    analysed_s: float | None = None,
) -> list[Track]:
    """``tracks`` with fragments joined to the track they continue (or dropped), ids 1..k by first appearance.

    In a video shorter than twice ``min_dancer_s`` (``analysed_s``: the analysed duration),
    a fragment is anyone seen for less than half of it: a short clip still has its dancers.
    """
    if analysed_s is not None:
        min_dancer_s = min(min_dancer_s, analysed_s / 2)
    if max_people == 1 and tracks:
        tracks = [_join(tracks)]
    step = _frame_step(tracks)

    def seen_s(track: Track) -> float:
        return len(track.times_s) * step

    tracks = sorted(tracks, key=seen_s, reverse=True)  # longest first: fragments join real tracks
    kept = [t for t in tracks if seen_s(t) >= min_dancer_s]
    for fragment in (t for t in tracks if seen_s(t) < min_dancer_s):
        host = _host(fragment, kept, aspect)
        if host is not None:
            kept[host] = _join([kept[host], fragment])
    kept.sort(key=lambda t: (float(t.times_s[0]), t.id))
    return [replace(track, id=i) for i, track in enumerate(kept, start=1)]


def _frame_step(tracks: list[Track]) -> float:
    """The usual time between analysed frames: the median step over every track. (A track's own
    median step is not: a few frames seen now and then would count as a long presence. The
    shortest step is not either: one near-duplicate timestamp of a variable-rate phone
    video would make every dancer look fleeting.)"""
    steps = np.concatenate([np.diff(np.asarray(t.times_s, dtype=np.float64)) for t in tracks] or [np.zeros(0)])
    steps = steps[steps > 0]
    return float(np.median(steps)) if len(steps) else 0.0


def _join(tracks: list[Track]) -> Track:
    """One track of all the rows of ``tracks`` (never seen at the same time), in time order, first id kept."""
    times = np.concatenate([t.times_s for t in tracks])
    order = np.argsort(times, kind="stable")
    return Track(
        id=tracks[0].id,
        frame_indices=np.concatenate([t.frame_indices for t in tracks])[order],
        times_s=times[order],
        landmarks=np.concatenate([t.landmarks for t in tracks])[order],
        world=np.concatenate([t.world for t in tracks])[order],
    )


def _host(fragment: Track, tracks: list[Track], aspect: float) -> int | None:
    """Index of the track ``fragment`` continues (nearest torso at the seam), None if none fits."""
    best, best_cost = None, np.inf
    for i, track in enumerate(tracks):
        if np.intersect1d(track.frame_indices, fragment.frame_indices).size:
            continue  # seen together: two people
        cost = _seam_cost(fragment, track, aspect)
        if cost < best_cost:
            best, best_cost = i, cost
    return best if best_cost <= 1.0 else None


def _seam_cost(fragment: Track, track: Track, aspect: float) -> float:
    """Torso shift at the nearest times of the two tracks over what is allowed then (<= 1 fits)."""
    start, end = float(fragment.times_s[0]), float(fragment.times_s[-1])
    before = np.flatnonzero(track.times_s < start)
    after = np.flatnonzero(track.times_s > end)
    costs = []
    for row, own_row, gap in (
        (before[-1] if len(before) else None, 0, start - float(track.times_s[before[-1]]) if len(before) else 0.0),
        (after[0] if len(after) else None, -1, float(track.times_s[after[0]]) - end if len(after) else 0.0),
    ):
        if row is None:
            continue
        a, b = _torso(track.landmarks[row], aspect), _torso(fragment.landmarks[own_row], aspect)
        size = max(_torso_length(a), _torso_length(b), 1e-3)
        shift = float(np.linalg.norm(a - b, axis=1).mean()) / size
        costs.append(shift / (MAX_SHIFT + MAX_SPEED * gap))
    return min(costs) if costs else np.inf


def _torso(landmarks: np.ndarray, aspect: float) -> np.ndarray:
    points = np.asarray(landmarks, dtype=np.float64)[TORSO, :2].copy()
    points[:, 0] *= aspect
    return points


def _torso_length(torso: np.ndarray) -> float:
    return float(np.linalg.norm((torso[0] + torso[1]) / 2 - (torso[2] + torso[3]) / 2))
