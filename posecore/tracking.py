"""Stable person ids across frames.

MediaPipe's output order is not an identity: with several people it can swap from
one frame to the next. We match each frame's people to the tracks seen recently by
where their torso should be now (last position moved on by the track's velocity),
scaled by torso size so the gate means the same for a dancer near the camera and one
far away, and, when the detections carry appearance features (clothing colours),
by how alike they look: a dancer who passes behind another and comes back is matched
to their own track, not to the neighbour who happens to stand where they were.
A detection that matches no track starts a new id.

At the end, short fragments are merged: a track that starts after another ended,
shortly after, near where it could have got to, and dressed alike, is the same person.
Then a dancer hidden for longer (behind the others for a few counts) is re-identified:
a track that starts after another ended, within ``REID_MAX_GAP_S``, within reach, is
joined to it when the two look alike, no other dancer could as well be either of them
(similar outfits are common in a group, so colours alone are weak), and someone was
missing when it appeared (fewer people there than when the other was last seen). Two different dancers joined
into one is worse than one dancer with two ids, so every doubt keeps them apart.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from posecore.appearance import REGIONS, appearance_distance
from posecore.landmarker import FrameDetections
from posecore.tracks import Track

TORSO = [11, 12, 23, 24]  # shoulders and hips: the most stable points of a moving dancer
# Weight of the appearance distance (0..1) against the position cost (in torso lengths).
APPEARANCE_WEIGHT = 1.0
# People this different in colours (Hellinger distance) are never one track.
MAX_APPEARANCE_DISTANCE = 0.45
# Colours this close let a track be resumed across a longer gap or distance.
SURE_APPEARANCE_DISTANCE = 0.25
# How fast a track's colours follow its person (lighting and pose change them slowly).
APPEARANCE_UPDATE = 0.1
# Velocity: smoothed over frames; trusted for at most this long when a track is unseen.
VELOCITY_UPDATE = 0.3
MAX_PREDICTION_S = 0.5
# With several people, a track of fewer frames, or shorter, that joins no other is a
# flicker: a duplicate of someone, or a body part or object found as a person for an instant.
MIN_FRAGMENT_FRAMES = 3
MIN_FRAGMENT_S = 0.3
# Re-identification over longer gaps: a track seen for less than this (frames x frame
# step) has too few frames for its colours to mean much, and is nobody's rival;
REID_MIN_SEEN_S = 0.5
# colours at most this far apart may be one dancer (a hidden dancer's colours are mixed
# with whoever hides them, so a little more than SURE_APPEARANCE_DISTANCE);
REID_APPEARANCE_DISTANCE = 0.3
# every other track that could be either of the two must look this much further away;
REID_MARGIN = 0.08
# and nobody is recognised after this long unseen.
REID_MAX_GAP_S = 10.0


@dataclass(eq=False)  # identity semantics: tracks are compared by object, not arrays
class _OpenTrack:
    id: int
    last_t_s: float
    torso: np.ndarray  # (4, 2) in aspect-corrected units
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # torso units per second
    appearance: np.ndarray | None = None  # running mean of the person's colour features
    rows: list[tuple[int, float, np.ndarray, np.ndarray]] = field(default_factory=list)
    first_torso: np.ndarray | None = None

    def predicted(self, t_s: float) -> np.ndarray:
        """Where the torso should be at ``t_s`` if the person kept moving (for a while)."""
        dt = min(max(t_s - self.last_t_s, 0.0), MAX_PREDICTION_S)
        return self.torso + self.velocity * dt


def _torso_points(landmarks: np.ndarray, aspect: float) -> np.ndarray:
    """(k, 33, 4) -> (k, 4, 2) torso points with x scaled so both axes share a unit."""
    points = landmarks[:, TORSO, :2].astype(np.float64)
    points[..., 0] *= aspect
    return points


def _torso_size(torso: np.ndarray) -> float:
    shoulders = (torso[0] + torso[1]) / 2
    hips = (torso[2] + torso[3]) / 2
    return max(float(np.linalg.norm(shoulders - hips)), 1e-3)


def _looks(track_appearance: np.ndarray | None, appearance: np.ndarray | None) -> float:
    """Appearance distance 0..1, or NaN when either side has no colours."""
    if track_appearance is None or appearance is None:
        return float("nan")
    return appearance_distance(track_appearance, appearance)


def _updated_looks(old: np.ndarray | None, new: np.ndarray) -> np.ndarray:
    """A track's colours moved toward a new detection's, region by region: a region the
    detection could not see (all zeros) keeps the old colours, one never seen takes the new."""
    if old is None:
        return new
    out = old.copy()
    for region in np.split(np.arange(len(new)), len(REGIONS)):
        if new[region].sum() == 0:
            continue
        rate = 1.0 if old[region].sum() == 0 else APPEARANCE_UPDATE
        out[region] = old[region] + rate * (new[region] - old[region])
    return out


class PersonTracker:
    """Assigns stable ids to the people of consecutive frames (greedy best match)."""

    def __init__(
        self,
        *,
        aspect: float = 1.0,
        max_gap_s: float = 1.0,
        max_distance: float = 0.75,
        max_speed: float = 1.0,
        reid_gap_s: float = 3.0,
    ) -> None:
        self.aspect = aspect  # width / height of the upright frame
        self.max_gap_s = max_gap_s  # a track unseen for longer cannot be resumed on position alone
        # Gate: mean torso-point shift from the predicted position, in torso lengths.
        # Between consecutive frames a bigger shift is MediaPipe switching people; after
        # a gap (the dancer unseen) they may have moved on, by up to max_speed torso
        # lengths a second.
        self.max_distance = max_distance
        self.max_speed = max_speed
        # A person who looks the same (clothes) may be resumed after this long unseen:
        # a dancer hidden behind another for a few counts.
        self.reid_gap_s = reid_gap_s
        self._open: list[_OpenTrack] = []
        self._closed: list[_OpenTrack] = []
        self._next_id = 1
        self._last_t_s: float | None = None
        self._step_s = float("inf")  # shortest time between analysed frames seen so far
        self._steps: list[float] = []  # every time between consecutive analysed frames

    def update(self, det: FrameDetections) -> list[int]:
        """Match one frame's people to tracks; returns the id of each person in order."""
        if self._last_t_s is not None and det.t_s > self._last_t_s:
            self._steps.append(det.t_s - self._last_t_s)
            self._step_s = min(self._step_s, self._steps[-1])
        self._last_t_s = det.t_s
        self._retire(det.t_s)
        torsos = _torso_points(det.landmarks, self.aspect)
        looks = det.appearance
        pairs = []
        for t, track in enumerate(self._open):
            for p, torso in enumerate(torsos):
                cost = self._cost(track, torso, None if looks is None else looks[p], det.t_s)
                if cost is not None:
                    pairs.append((cost, t, p))
        pairs.sort()
        ids: list[int | None] = [None] * det.people
        used: set[int] = set()
        for _cost, t, p in pairs:
            if t in used or ids[p] is not None:
                continue
            used.add(t)
            ids[p] = self._open[t].id
        for p in range(det.people):
            track = self._track_for(ids[p])
            self._extend(track, det, p, torsos[p])
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

    def merge_fragments(
        self, max_gap_s: float = 3.0, min_frames: int = MIN_FRAGMENT_FRAMES, min_s: float = MIN_FRAGMENT_S
    ) -> None:
        """Join tracks that are one person seen in pieces: B starts after A ended, within
        ``max_gap_s``, within reach of where A was, and dressed like A (needs colours).
        Flickers are dropped first from within each track (``_flickers_apart``), and after
        the joins every track left on fewer than ``min_frames`` frames or spanning less than
        ``min_s`` seconds; then the ids are renumbered 1.. in order of first appearance."""
        step_s = self._usual_step_s()
        pieces = (self._flickers_apart(track, min_frames, min_s, step_s) for track in self._closed + self._open)
        tracks = sorted(pieces, key=lambda t: t.rows[0][1])
        merged = True
        while merged:
            merged = False
            candidates = []
            for a in tracks:
                for b in tracks:
                    cost = self._join_cost(a, b, max_gap_s)
                    if cost is not None:
                        candidates.append((cost, id(a), id(b), a, b))
            if candidates:
                _, _, _, a, b = min(candidates, key=lambda c: c[0])
                a.rows += b.rows
                a.torso, a.last_t_s, a.velocity = b.torso, b.last_t_s, b.velocity
                tracks.remove(b)
                merged = True
        tracks = [t for t in tracks if len(t.rows) >= min_frames and t.rows[-1][1] - t.rows[0][1] >= min_s]
        self._reidentify(tracks, step_s)
        for new_id, track in enumerate(tracks, start=1):
            track.id = new_id
        self._closed, self._open = tracks, []

    def _usual_step_s(self) -> float:
        """The median time between analysed frames, by which a track's rows count as time seen
        (the shortest would not do: one near-duplicate timestamp of a variable-rate phone video
        would make every dancer look fleeting)."""
        return float(np.median(self._steps)) if self._steps else math.inf

    def _flickers_apart(self, track: _OpenTrack, min_frames: int, min_s: float, step_s: float) -> _OpenTrack:
        """``track`` without the flickers it picked up.

        A flicker is a short run (fewer than ``min_frames`` frames, or seen for less than
        ``min_s``: frames x ``step_s``) unseen for more than ``MAX_PREDICTION_S`` on either
        side. The tracker may have given it this id by colour (a duplicate of a neighbour, or
        a glimpse of someone else dressed alike); left in, it keeps the track from joining the
        one it really continues, since two tracks seen at the same time are never one person.
        So it is dropped, as a flicker on a track of its own is; the rest of the track stays
        as the tracker linked it."""
        times = [row[1] for row in track.rows]
        bounds = [0, *(i for i in range(1, len(times)) if times[i] - times[i - 1] > MAX_PREDICTION_S), len(times)]
        kept = [
            i
            for a, b in zip(bounds[:-1], bounds[1:])
            if b - a >= min_frames and (b - a) * step_s >= min_s
            for i in range(a, b)
        ]
        return track if not kept or len(kept) == len(times) else self._piece(track, kept)

    def _piece(self, track: _OpenTrack, rows: list[int]) -> _OpenTrack:
        """A track of some of ``track``'s rows (in order), dressed as ``track`` (a few rows
        fewer hardly change a running mean of colours)."""

        def torso(row: int) -> np.ndarray:
            return _torso_points(track.rows[row][2][None], self.aspect)[0]

        return _OpenTrack(
            id=track.id,
            last_t_s=track.rows[rows[-1]][1],
            torso=torso(rows[-1]),
            appearance=track.appearance,
            rows=[track.rows[row] for row in rows],
            first_torso=torso(rows[0]),
        )

    def _join_cost(self, a: _OpenTrack, b: _OpenTrack, max_gap_s: float) -> float | None:
        start_b = b.rows[0][1]
        gap = start_b - a.last_t_s
        if a is b or gap <= 0 or gap > max_gap_s or b.first_torso is None:
            return None
        looks = _looks(a.appearance, b.appearance)
        if not looks <= SURE_APPEARANCE_DISTANCE:  # NaN (no colours) never joins
            return None
        shift = float(np.linalg.norm(a.torso - b.first_torso, axis=1).mean()) / _torso_size(a.torso)
        if shift > self.max_distance + 2 * self.max_speed * gap:
            return None
        return shift + APPEARANCE_WEIGHT * looks

    def _reidentify(self, tracks: list[_OpenTrack], step_s: float) -> None:
        """Join, in ``tracks`` (in place), dancers who come back after being hidden for longer:
        the closest-looking sure pair first, then again until no pair is sure. A track counts as
        a dancer once seen for ``REID_MIN_SEEN_S`` (its frames x ``step_s``)."""
        while True:
            dancers = [t for t in tracks if len(t.rows) * step_s >= REID_MIN_SEEN_S]
            pairs = [(self._reid_looks(a, b), i, j) for i, a in enumerate(dancers) for j, b in enumerate(dancers)]
            sure = (
                (dancers[i], dancers[j])
                for looks, i, j in sorted((p for p in pairs if p[0] <= REID_APPEARANCE_DISTANCE), key=lambda p: p[0])
                if self._unrivalled(looks, dancers[i], dancers[j], pairs, dancers)
                and self._someone_missing(dancers[i], dancers[j], tracks)
            )
            pair = next(sure, None)  # only the first is joined: the others are judged again after it
            if pair is None:
                return
            a, b = pair
            a.rows += b.rows
            a.torso, a.last_t_s, a.velocity = b.torso, b.last_t_s, b.velocity
            tracks.remove(b)

    def _reid_looks(self, a: _OpenTrack, b: _OpenTrack) -> float:
        """How unlike ``a``'s and ``b``'s colours are when ``b`` could be ``a`` come back (starts
        after ``a`` ended, within ``REID_MAX_GAP_S``, within reach); inf otherwise or without colours."""
        gap = b.rows[0][1] - a.last_t_s
        if a is b or gap <= 0 or gap > REID_MAX_GAP_S or b.first_torso is None:
            return math.inf
        shift = float(np.linalg.norm(a.torso - b.first_torso, axis=1).mean()) / _torso_size(a.torso)
        if shift > self.max_distance + 2 * self.max_speed * gap:
            return math.inf
        looks = _looks(a.appearance, b.appearance)
        return math.inf if math.isnan(looks) else looks

    @staticmethod
    def _unrivalled(
        looks: float, a: _OpenTrack, b: _OpenTrack, pairs: list[tuple[float, int, int]], dancers: list[_OpenTrack]
    ) -> bool:
        """Whether no other dancer could as well be ``b`` come back, or ``a`` come back as."""
        for other_looks, i, j in pairs:
            rival = (dancers[j] is b and dancers[i] is not a) or (dancers[i] is a and dancers[j] is not b)
            if rival and other_looks < looks + REID_MARGIN:
                return False
        return True

    @staticmethod
    def _someone_missing(a: _OpenTrack, b: _OpenTrack, tracks: list[_OpenTrack]) -> bool:
        """Whether fewer people are there when ``b`` appears (``b`` not counted) than when ``a``
        was last seen (``a`` counted): if as many are, someone joined meanwhile, and ``b`` is
        as likely a newcomer as ``a`` come back."""

        def present(t_s: float, but: _OpenTrack | None = None) -> int:
            return sum(1 for t in tracks if t is not but and t.rows[0][1] <= t_s <= t.last_t_s)

        return present(b.rows[0][1], but=b) < present(a.last_t_s)

    def _cost(self, track: _OpenTrack, torso: np.ndarray, looks: np.ndarray | None, t_s: float) -> float | None:
        """Matching cost of a track and a detection, or None if they cannot be one person."""
        shift = float(np.linalg.norm(track.predicted(t_s) - torso, axis=1).mean()) / _torso_size(track.torso)
        unseen_s = max(0.0, t_s - track.last_t_s - self._step_s)
        distance = _looks(track.appearance, looks)
        if distance > MAX_APPEARANCE_DISTANCE:
            return None
        speed = self.max_speed
        if distance <= SURE_APPEARANCE_DISTANCE:
            speed *= 2  # sure of who it is: allow a longer way round the others
        elif unseen_s > self.max_gap_s:
            return None  # long unseen and not recognisably the same: a new person
        if shift > self.max_distance + speed * unseen_s:
            return None
        return shift + (0.0 if math.isnan(distance) else APPEARANCE_WEIGHT * distance)

    def _extend(self, track: _OpenTrack, det: FrameDetections, p: int, torso: np.ndarray) -> None:
        if track.rows:
            dt = det.t_s - track.last_t_s
            if 0 < dt <= MAX_PREDICTION_S:
                velocity = (torso - track.torso).mean(axis=0) / dt
                track.velocity = track.velocity + VELOCITY_UPDATE * (velocity - track.velocity)
            elif dt > MAX_PREDICTION_S:
                track.velocity = np.zeros(2)
        else:
            track.first_torso = torso
        if det.appearance is not None:
            track.appearance = _updated_looks(track.appearance, det.appearance[p].astype(np.float64))
        track.last_t_s, track.torso = det.t_s, torso
        track.rows.append((det.index, det.t_s, det.landmarks[p], det.world[p]))

    def _track_for(self, track_id: int | None) -> _OpenTrack:
        if track_id is not None:
            return next(t for t in self._open if t.id == track_id)
        track = _OpenTrack(id=self._next_id, last_t_s=0.0, torso=np.zeros((4, 2)))
        self._next_id += 1
        self._open.append(track)
        return track

    def _retire(self, t_s: float) -> None:
        limit = max(self.max_gap_s, self.reid_gap_s)
        stale = [t for t in self._open if t_s - t.last_t_s > limit]
        self._open = [t for t in self._open if t not in stale]
        self._closed.extend(stale)


def build_tracks(detections: Iterable[FrameDetections], *, aspect: float = 1.0) -> list[Track]:
    """Link per-frame detections (in time order) into tracks with stable ids. With colour
    features in the detections (several people asked for), fragments of one person are
    merged, flickers dropped and ids renumbered (``PersonTracker.merge_fragments``)."""
    tracker = PersonTracker(aspect=aspect)
    with_colours = False
    for det in detections:
        tracker.update(det)
        with_colours = with_colours or det.appearance is not None
    if with_colours:
        tracker.merge_fragments()
    return tracker.tracks()
