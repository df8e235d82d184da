"""Stable person ids across frames.

MediaPipe's output order is not an identity: with several people it can swap from
one frame to the next. We match each frame's people to the tracks seen recently by
torso position, scaled by torso size so the gate means the same for a dancer near
the camera and one far away. A detection that matches no track starts a new id,
which is also what happens when the single detected person changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from posecore.landmarker import FrameDetections
from posecore.tracks import Track

TORSO = [11, 12, 23, 24]  # shoulders and hips: the most stable points of a moving dancer


@dataclass(eq=False)  # identity semantics: tracks are compared by object, not arrays
class _OpenTrack:
    id: int
    last_t_s: float
    torso: np.ndarray  # (4, 2) in aspect-corrected units
    rows: list[tuple[int, float, np.ndarray, np.ndarray]] = field(default_factory=list)


def _torso_points(landmarks: np.ndarray, aspect: float) -> np.ndarray:
    """(k, 33, 4) -> (k, 4, 2) torso points with x scaled so both axes share a unit."""
    points = landmarks[:, TORSO, :2].astype(np.float64)
    points[..., 0] *= aspect
    return points


def _torso_size(torso: np.ndarray) -> float:
    shoulders = (torso[0] + torso[1]) / 2
    hips = (torso[2] + torso[3]) / 2
    return max(float(np.linalg.norm(shoulders - hips)), 1e-3)


class PersonTracker:
    """Assigns stable ids to the people of consecutive frames (greedy nearest match)."""

    def __init__(
        self, *, aspect: float = 1.0, max_gap_s: float = 1.0, max_distance: float = 0.75, max_speed: float = 1.0
    ) -> None:
        self.aspect = aspect  # width / height of the upright frame
        self.max_gap_s = max_gap_s  # a track unseen for longer cannot be resumed
        # Gate: mean torso-point shift, in torso lengths. Between consecutive frames a
        # bigger shift is MediaPipe switching people; after a gap (the dancer unseen)
        # they may have moved on, by up to max_speed torso lengths a second.
        self.max_distance = max_distance
        self.max_speed = max_speed
        self._open: list[_OpenTrack] = []
        self._closed: list[_OpenTrack] = []
        self._next_id = 1
        self._last_t_s: float | None = None
        self._step_s = float("inf")  # shortest time between analysed frames seen so far

    def update(self, det: FrameDetections) -> list[int]:
        """Match one frame's people to tracks; returns the id of each person in order."""
        if self._last_t_s is not None and det.t_s > self._last_t_s:
            self._step_s = min(self._step_s, det.t_s - self._last_t_s)
        self._last_t_s = det.t_s
        self._retire(det.t_s)
        torsos = _torso_points(det.landmarks, self.aspect)
        pairs = sorted(
            (self._cost(track, torso), t, p)
            for t, track in enumerate(self._open)
            for p, torso in enumerate(torsos)
        )
        ids: list[int | None] = [None] * det.people
        used: set[int] = set()
        for cost, t, p in pairs:
            unseen_s = det.t_s - self._open[t].last_t_s - self._step_s
            if cost > self.max_distance + self.max_speed * max(0.0, unseen_s) or t in used or ids[p] is not None:
                continue
            used.add(t)
            ids[p] = self._open[t].id
        for p in range(det.people):
            track = self._track_for(ids[p])
            track.last_t_s, track.torso = det.t_s, torsos[p]
            track.rows.append((det.index, det.t_s, det.landmarks[p], det.world[p]))
            ids[p] = track.id
        return [int(i) for i in ids]  # type: ignore[arg-type]

    def tracks(self) -> list[Track]:
        """All tracks so far as aligned arrays, ordered by id."""
        tracks = []
        for open_track in sorted(self._closed + self._open, key=lambda t: t.id):
            indices, times, landmarks, world = zip(*open_track.rows)
            tracks.append(
                Track(
                    id=open_track.id,
                    frame_indices=np.asarray(indices, dtype=np.int64),
                    times_s=np.asarray(times, dtype=np.float64),
                    landmarks=np.stack(landmarks).astype(np.float32),
                    world=np.stack(world).astype(np.float32),
                )
            )
        return tracks

    def _cost(self, track: _OpenTrack, torso: np.ndarray) -> float:
        shift = np.linalg.norm(track.torso - torso, axis=1).mean()
        return float(shift / _torso_size(track.torso))

    def _track_for(self, track_id: int | None) -> _OpenTrack:
        if track_id is not None:
            return next(t for t in self._open if t.id == track_id)
        track = _OpenTrack(id=self._next_id, last_t_s=0.0, torso=np.zeros((4, 2)))
        self._next_id += 1
        self._open.append(track)
        return track

    def _retire(self, t_s: float) -> None:
        stale = [t for t in self._open if t_s - t.last_t_s > self.max_gap_s]
        self._open = [t for t in self._open if t not in stale]
        self._closed.extend(stale)


def build_tracks(detections: Iterable[FrameDetections], *, aspect: float = 1.0) -> list[Track]:
    """Link per-frame detections (in time order) into tracks with stable ids."""
    tracker = PersonTracker(aspect=aspect)
    for det in detections:
        tracker.update(det)
    return tracker.tracks()

