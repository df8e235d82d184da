"""Key poses of a choreography: the body shapes a dancer stops in, grouped when they recur.

No vocabulary is needed to find them, so this works for any dance style:

1. The candidate moments are the hits and holds of ``posecore.hits``.
2. Each moment's shape is the median, over its first ``SHAPE_S`` (the pose as it
   lands: a hit's slow drift afterwards is not the pose), of ``SHAPE_MEASURES``: joint
   flexion (elbows, shoulders, knees, hips), arm and thigh elevation and torso lean,
   all in degrees. A measure whose landmarks are not visible (< ``MIN_VISIBILITY``)
   is left out (NaN) rather than guessed.
3. Two shapes differ by the root mean square of their per-measure differences
   (torso lean wraps at 360; only measures known in both count, and at least half
   must be). RMS rather than a mean, so one arm raised makes a clear difference
   (two measures 150 degrees apart give ~60, a mean would give ~25).
4. Average-linkage agglomerative clustering merges shapes closer than
   ``THRESHOLD_DEG``; a key pose is a cluster with at least ``min_occurrences``
   moments. Key poses are numbered by first occurrence.
5. ``angles`` is the cluster's median of every measure of ``posecore.angles.ANGLES``
   (rounded to 0.1). ``name`` is the pose vocabulary's label for that median shape when a
   named pose (not the "standing" fallback) scores ``NAME_MIN_SCORE`` or more, else None.
6. The clearest occurrence (``best_row``) is the row, over all occurrences, with the
   most visible main joints (within ``CLEAR_SLACK`` of the best) and the lowest speed:
   the frame to show as the pose's thumbnail.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from posecore.angles import ANGLES, joint_confidences
from posecore.hits import MAIN_JOINTS, Moment
from posecore.pose_library import FALLBACK, PoseLibrary
from posecore.tracks import Track

SHAPE_MEASURES = (
    "elbow_left", "elbow_right", "shoulder_left", "shoulder_right",
    "knee_left", "knee_right", "hip_left", "hip_right",
    "arm_elevation_left", "arm_elevation_right", "thigh_elevation_left", "thigh_elevation_right",
    "torso_lean",
)  # fmt: skip
WRAPPING = frozenset({"torso_lean"})  # signed, -180..180: differences wrap at 360
MIN_VISIBILITY = 0.5
SHAPE_S = 0.25
THRESHOLD_DEG = 25.0
MIN_OCCURRENCES = 2
NAME_MIN_SCORE = 0.7
CLEAR_SLACK = 0.05


@dataclass(frozen=True)
class KeyPose:
    """One recurring shape: its moments, median measures and clearest frame."""

    id: int
    name: str | None
    occurrences: tuple[tuple[float, float], ...]  # (start_s, end_s) per moment
    angles: Mapping[str, float | None]
    best_row: int
    best_t_s: float
    best_frame_index: int

    def to_dict(self, thumbnail: str | None = None) -> dict:
        """JSON form for the result (``thumbnail``: a data URI, added when given)."""
        out: dict = {
            "id": self.id,
            "name": self.name,
            "occurrences": [{"start_s": round(a, 3), "end_s": round(b, 3)} for a, b in self.occurrences],
            "angles": dict(self.angles),
            "clearest": {"t_s": round(self.best_t_s, 3), "frame_index": self.best_frame_index},
        }
        if thumbnail is not None:
            out["thumbnail"] = thumbnail
        return out


def find_key_poses(
    track: Track,
    angles: Mapping[str, np.ndarray],
    moments: Sequence[Moment],
    speed: np.ndarray,
    library: PoseLibrary | None = None,
    *,
    threshold_deg: float = THRESHOLD_DEG,
    min_occurrences: int = MIN_OCCURRENCES,
) -> list[KeyPose]:
    """Key poses of one track from its ``joint_angles`` and candidate ``moments``."""
    if not moments:
        return []
    confidences = joint_confidences(track.landmarks)
    times = np.asarray(track.times_s, dtype=np.float64)
    shape_rows = [_shape_rows(times, m) for m in moments]
    shapes = np.stack([_shape(angles, confidences, rows) for rows in shape_rows])
    clusters = cluster_shapes(shapes, threshold_deg)
    clusters = [c for c in clusters if len(c) >= min_occurrences]
    clusters.sort(key=lambda c: min(moments[i].t_s for i in c))
    poses = []
    for number, members in enumerate(clusters, start=1):
        members = sorted(members, key=lambda i: moments[i].t_s)
        chosen = [moments[i] for i in members]
        rows = np.concatenate([shape_rows[i] for i in members])
        median = _median_measures(angles, confidences, rows)
        best = _clearest_row(track, speed, rows)
        poses.append(
            KeyPose(
                id=number,
                name=_name(median, library),
                occurrences=tuple((m.t_s, m.end_s) for m in chosen),
                angles={k: (None if np.isnan(v) else round(float(v), 1)) for k, v in median.items()},
                best_row=best,
                best_t_s=float(track.times_s[best]),
                best_frame_index=int(track.frame_indices[best]),
            )
        )
    return poses


def shape_distances(shapes: np.ndarray) -> np.ndarray:
    """(k, k) RMS difference in degrees between shapes (k, measures); inf if too few in common."""
    diff = shapes[:, None, :] - shapes[None, :, :]
    wrap = np.array([m in WRAPPING for m in SHAPE_MEASURES])
    diff[..., wrap] = (diff[..., wrap] + 180.0) % 360.0 - 180.0
    known = np.isfinite(diff)
    count = known.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        rms = np.sqrt(np.where(known, diff**2, 0.0).sum(axis=2) / count)
    return np.where(count * 2 >= shapes.shape[1], rms, np.inf)


def cluster_shapes(shapes: np.ndarray, threshold_deg: float) -> list[list[int]]:
    """Average-linkage agglomerative clusters (lists of row indices) closer than ``threshold_deg``."""
    dist = shape_distances(shapes)
    np.fill_diagonal(dist, np.inf)
    members: list[list[int] | None] = [[i] for i in range(len(shapes))]
    while len(dist) > 1:
        a, b = np.unravel_index(np.argmin(dist), dist.shape)
        if not dist[a, b] < threshold_deg:
            break
        na, nb = len(members[a]), len(members[b])  # type: ignore[arg-type]
        # Lance-Williams update for average linkage: the merged cluster's mean distance.
        merged = (na * dist[a] + nb * dist[b]) / (na + nb)
        dist[a], dist[:, a] = merged, merged
        dist[a, a] = np.inf
        dist[b], dist[:, b] = np.inf, np.inf
        members[a] = members[a] + members[b]  # type: ignore[operator]
        members[b] = None
    return [m for m in members if m is not None]


def _usable(angles: Mapping[str, np.ndarray], confidences: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    values = np.asarray(angles[name], dtype=np.float64)
    return np.where(np.asarray(confidences[name]) >= MIN_VISIBILITY, values, np.nan)


def _shape_rows(times: np.ndarray, moment: Moment) -> np.ndarray:
    """The rows that show the moment's pose: its first ``SHAPE_S``."""
    rows = np.arange(moment.row, moment.end_row + 1)
    return rows[times[rows] < times[moment.row] + SHAPE_S]


def _shape(angles: Mapping[str, np.ndarray], confidences: Mapping[str, np.ndarray], rows: np.ndarray) -> np.ndarray:
    return np.array([_nanmedian(_usable(angles, confidences, m)[rows]) for m in SHAPE_MEASURES])


def _median_measures(
    angles: Mapping[str, np.ndarray], confidences: Mapping[str, np.ndarray], rows: np.ndarray
) -> dict[str, float]:
    return {name: _nanmedian(_usable(angles, confidences, name)[rows]) for name in ANGLES if name in angles}


def _nanmedian(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(np.median(values)) if len(values) else float("nan")


def _name(median: Mapping[str, float], library: PoseLibrary | None) -> str | None:
    """The vocabulary's named pose for the median shape, if one scores well."""
    if library is None:
        return None
    values = {k: np.array([v]) for k, v in median.items()}
    # The median shape's measures are known exactly where a median exists.
    conf = {k: np.array([1.0 if np.isfinite(median.get(k, np.nan)) else 0.0]) for k in ANGLES}
    labels, scores = library.classify(values, conf)
    label = labels[0]
    if label is None or label == FALLBACK or scores[0] < NAME_MIN_SCORE:
        return None
    return str(label)


def _clearest_row(track: Track, speed: np.ndarray, rows: np.ndarray) -> int:
    visibility = track.landmarks[rows][:, MAIN_JOINTS, 3].astype(np.float64).mean(axis=1)
    clear = rows[visibility >= visibility.max() - CLEAR_SLACK]
    slowness = np.nan_to_num(np.asarray(speed, dtype=np.float64)[clear], nan=np.inf)
    return int(clear[np.argmin(slowness)])
