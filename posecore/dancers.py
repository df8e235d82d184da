"""One dancer's track -> the dancer block of the result (poses, movements, summary)."""

from __future__ import annotations

import numpy as np

from posecore.angles import joint_angles, joint_confidences
from posecore.movements import detect_movements
from posecore.pose_library import PoseLibrary
from posecore.timeline import label_segments, summarise
from posecore.tracks import Track


def describe_dancer(
    track: Track,
    *,
    frames_analyzed: int,
    frame_duration_s: float,
    width: int,
    height: int,
    library: PoseLibrary,
    min_pose_duration_s: float = 0.2,
) -> tuple[dict, np.ndarray]:
    """The dancer dict and the per-frame pose labels aligned with the track rows.

    ``poses`` holds pose segments and jump/turn segments in time order (movements
    overlap the poses they happen in, so their shares add on top of the poses'). The
    per-frame labels are the raw per-frame classification (``None`` where the torso
    was not visible), not the smoothed segments: they show what each frame looked like.
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
    segments.sort(key=lambda seg: (seg["start_s"], seg["end_s"], seg["name"]))
    dancer = {
        "id": track.id,
        "frames_detected": len(track),
        "coverage": round(len(track) / frames_analyzed, 3) if frames_analyzed else 0.0,
        "poses": segments,
        "summary": summarise(segments, frames_analyzed * frame_duration_s),
    }
    return dancer, labels
