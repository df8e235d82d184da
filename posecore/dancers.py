"""One dancer's track -> angles, per-frame labels, pose segments and summary (each computed once)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posecore.angles import joint_angles, joint_confidences
from posecore.movements import detect_movements
from posecore.pose_library import PoseLibrary
from posecore.result import Dancer, PoseSegment
from posecore.timeline import label_segments, summarise
from posecore.tracks import Track


@dataclass
class DancerAnalysis:
    """Everything the result needs about one dancer, aligned with the track's rows."""

    track: Track
    angles: dict[str, np.ndarray]  # measure -> (n,) degrees or %, NaN where undefined
    labels: np.ndarray  # (n,) object: the raw per-frame pose label, None where the torso was not seen
    segments: list[PoseSegment]  # poses and movements in time order
    frames_analyzed: int
    frame_duration_s: float

    def to_dancer(self) -> Dancer:
        """The dancer block of the result."""
        n = len(self.track)
        return Dancer(
            id=self.track.id,
            frames_detected=n,
            coverage=round(n / self.frames_analyzed, 3) if self.frames_analyzed else 0.0,
            poses=self.segments,
            summary=summarise(self.segments, self.frames_analyzed * self.frame_duration_s),
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
) -> DancerAnalysis:
    """Angles, labels and segments of one dancer.

    ``segments`` holds pose segments and jump/turn segments in time order (movements
    overlap the poses they happen in, so their shares add on top of the poses'). The
    per-frame labels are the raw per-frame classification, not the smoothed segments:
    they show what each frame looked like.
    """
    angles = joint_angles(track.landmarks, track.world, width, height)
    labels, scores = library.classify(angles, joint_confidences(track.landmarks))
    segments = label_segments(
        track.times_s,
        labels,
        scores,
        frame_duration_s=frame_duration_s,
        min_pose_duration_s=min_pose_duration_s,
    )
    segments += detect_movements(track, frame_duration_s=frame_duration_s, width=width, height=height)
    segments.sort(key=lambda seg: (seg.start_s, seg.end_s, seg.name))
    return DancerAnalysis(track, angles, labels, segments, frames_analyzed, frame_duration_s)
