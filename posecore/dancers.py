"""One dancer's track -> angles, per-frame labels, pose segments and summary, then body
speed -> hits -> key poses and movement quality (each computed once)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from posecore.angles import joint_angles, joint_confidences
from posecore.facing import facing_per_frame
from posecore.hits import Moment, body_speed, find_moments, hit_times
from posecore.key_poses import KeyPose, find_key_poses
from posecore.movement_quality import movement_metrics
from posecore.movements import MOVEMENT_NAMES, detect_movements
from posecore.pose_library import FALLBACK, PoseLibrary
from posecore.result import Dancer, MovementMetrics, PoseSegment
from posecore.stillness import part_speeds
from posecore.timeline import label_segments, summarise
from posecore.tracks import Track

# Pose labels a movement segment replaces on the timeline. "standing" only says "no named
# shape"; during a turn or a jump the movement is what the dancer does, so reporting
# "standing" under a pirouette contradicts it. A named shape held through the movement
# stays (a pirouette in passe is reported as turn + passe, as the labels name it).
HIDDEN_BY_MOVEMENT = frozenset({FALLBACK})


@dataclass
class DancerAnalysis:
    """Everything the result needs about one dancer, aligned with the track's rows."""

    track: Track
    angles: dict[str, np.ndarray]  # measure -> (n,) degrees or %, NaN where undefined
    labels: np.ndarray  # (n,) object: the raw per-frame pose label, None where the torso was not seen
    segments: list[PoseSegment]  # poses and movements in time order
    frames_analyzed: int
    frame_duration_s: float
    moments: list[Moment] = field(default_factory=list)  # hits and holds
    key_poses: list[KeyPose] = field(default_factory=list)
    metrics: Mapping = field(default_factory=dict)

    def to_dancer(self, thumbnails: Mapping[int, str] | None = None) -> Dancer:
        """The dancer block of the result; ``thumbnails``: data URIs by track row."""
        n = len(self.track)
        thumbnails = thumbnails or {}
        return Dancer(
            id=self.track.id,
            frames_detected=n,
            coverage=round(n / self.frames_analyzed, 3) if self.frames_analyzed else 0.0,
            poses=self.segments,
            summary=summarise(self.segments, self.frames_analyzed * self.frame_duration_s),
            key_poses=[pose.to_dict(thumbnails.get(pose.best_row)) for pose in self.key_poses],
            hits_s=[round(t, 3) for t in hit_times(self.moments)],
            metrics=MovementMetrics.model_validate(self.metrics) if self.metrics else None,
        )


def analyse_dancer(
    track: Track,
    *,
    frames_analyzed: int,
    frame_duration_s: float,
    width: int,
    height: int,
    library: PoseLibrary,
    min_pose_duration_s: float = 0.2,
    min_confidence: float = 0.0,
    beats_s: Sequence[float] | None = None,
) -> DancerAnalysis:
    """Angles, labels and segments of one dancer; hits, key poses and movement quality.

    ``segments`` holds pose segments and jump/turn segments in time order (movements
    overlap the poses they happen in, so their shares add on top of the poses'). The
    per-frame labels are the raw per-frame classification, not the smoothed segments:
    they show what each frame looked like; a frame below ``min_confidence`` (near a pose
    without being in it) or in a held pose while moving has none. The pose segments leave
    out the fallback ("standing") where a turn or a jump is reported (``HIDDEN_BY_MOVEMENT``).
    """
    angles = joint_angles(track.landmarks, track.world, width, height)
    speeds = part_speeds(track, width, height, frame_duration_s=frame_duration_s)
    labels, scores = library.classify(
        angles, joint_confidences(track.landmarks), speeds=speeds, min_score=min_confidence
    )
    movements = detect_movements(track, frame_duration_s=frame_duration_s, width=width, height=height)
    segments = label_segments(
        track.times_s,
        movement_labels(track.times_s, labels, movements),
        scores,
        frame_duration_s=frame_duration_s,
        min_pose_duration_s=min_pose_duration_s,
        min_confidence=min_confidence,
        facings=facing_per_frame(track.landmarks, track.world),
    )
    poses = [seg for seg in segments if seg.name not in MOVEMENT_NAMES]
    segments = cut_out_movements(poses, movements, track.times_s, min_pose_duration_s) + movements
    segments.sort(key=lambda seg: (seg.start_s, seg.end_s, seg.name))
    speed = body_speed(track, width, height, frame_duration_s=frame_duration_s)
    moments = find_moments(track, speed, frame_duration_s=frame_duration_s)
    key_poses = find_key_poses(track, angles, moments, speed, library)
    metrics = movement_metrics(
        track, angles, speed, hit_times(moments), beats_s, width, height, frame_duration_s=frame_duration_s
    )
    return DancerAnalysis(
        track, angles, labels, segments, frames_analyzed, frame_duration_s, moments, key_poses, metrics
    )


def movement_labels(times_s: np.ndarray, labels: np.ndarray, movements: Sequence[PoseSegment]) -> np.ndarray:
    """A copy of the per-frame ``labels`` where the frames inside a movement segment that
    showed a label of ``HIDDEN_BY_MOVEMENT`` take the movement's name instead.

    On the timeline those frames then behave exactly as the hidden label did (flickers
    absorbed, spans shorter than the minimum duration dropped, so a hop shorter than
    that does not split the segment around it), and the segments they make are dropped
    by the caller: the movement segment itself reports that time. Left unlabelled
    instead, they would let a named shape's scattered frames bridge across them.
    """
    out = np.array(labels, dtype=object, copy=True)
    hidden = np.array([label in HIDDEN_BY_MOVEMENT for label in out], dtype=bool)
    for seg in movements:
        out[_frames_within(times_s, seg.start_s, seg.end_s) & hidden] = seg.name
    return out


def _frames_within(times_s: np.ndarray, start_s: float, end_s: float) -> np.ndarray:
    """Which frames lie in [start, end) of a segment (segment times are rounded to 1 ms)."""
    times = np.asarray(times_s, dtype=np.float64)
    return (times >= start_s - 5e-4) & (times < end_s - 5e-4)


def cut_out_movements(
    segments: Sequence[PoseSegment], movements: Sequence[PoseSegment], times_s: np.ndarray, min_pose_duration_s: float
) -> list[PoseSegment]:
    """``segments`` with each movement's time cut out of the ``HIDDEN_BY_MOVEMENT`` ones.

    ``movement_labels`` already keeps them out of a movement, except one shorter than the
    timeline's flicker rules (a 0.1 s hop): "standing" on either side would join across it.
    The pieces left keep the segment's confidence and facing; one held for less than
    ``min_pose_duration_s`` is dropped, as on the timeline.
    """
    out: list[PoseSegment] = []
    for seg in segments:
        pieces = [(seg.start_s, seg.end_s)]
        for move in movements if seg.name in HIDDEN_BY_MOVEMENT else ():
            # Each piece's part before the movement, then its part after: still in time order.
            pieces = [
                piece
                for start, end in pieces
                for piece in ((start, min(end, move.start_s)), (max(start, move.end_s), end))
                if piece[1] > piece[0]
            ]
        for start, end in pieces:
            if (start, end) == (seg.start_s, seg.end_s):
                out.append(seg)
            elif end - start >= min_pose_duration_s:
                frames = int(_frames_within(times_s, start, end).sum())
                out.append(
                    seg.model_copy(
                        update={"start_s": start, "end_s": end, "duration_s": round(end - start, 3), "frames": frames}
                    )
                )
    return out
