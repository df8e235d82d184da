"""The result contract: per-frame detections -> dancers, poses and summary JSON.

The same dict is returned by the CLI, the HTTP API and the Serve handle.
Field names may gain siblings but never change.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from posecore.angles import joint_angles
from posecore.dancers import describe_dancer
from posecore.landmarker import FrameDetections
from posecore.options import AnalysisOptions
from posecore.pose_library import PoseLibrary
from posecore.smoothing import smooth_track
from posecore.tracking import build_tracks
from posecore.tracks import Track
from posecore.video import VideoInfo

SCHEMA_VERSION = "1"


@dataclass(frozen=True)
class RunInfo:
    """How the analysis ran, for the ``analysis`` block."""

    model: str
    elapsed_s: float
    undecodable_frames: int


def build_result(
    info: VideoInfo,
    detections: Iterable[FrameDetections],
    options: AnalysisOptions,
    library: PoseLibrary,
    run: RunInfo,
) -> dict:
    """Aggregate time-ordered per-frame detections into the result contract."""
    detections = list(detections)
    tracks = [
        smooth_track(track, options.smoothing)
        for track in build_tracks(detections, aspect=info.width / info.height)
    ]
    dancers, labels = [], []
    for track in tracks:
        dancer, track_labels = describe_dancer(
            track,
            frames_analyzed=len(detections),
            frame_duration_s=options.frame_step_s(info.fps),
            width=info.width,
            height=info.height,
            library=library,
            min_pose_duration_s=options.min_pose_duration_s,
        )
        dancers.append(dancer)
        labels.append(track_labels)
    result = {
        "schema_version": SCHEMA_VERSION,
        "video": info.to_dict(),
        "analysis": {
            "frames_analyzed": len(detections),
            "sample_fps": options.sample_fps,
            "max_people": options.max_people,
            "model": run.model,
            "elapsed_s": round(run.elapsed_s, 3),
            "undecodable_frames": run.undecodable_frames,
        },
        "dancers": dancers,
    }
    if options.include_landmarks:
        result["frames"] = _frames(detections, tracks, labels, info)
    return result


def _frames(
    detections: list[FrameDetections], tracks: list[Track], labels: list, info: VideoInfo
) -> list[dict]:
    """Per-frame people with their (smoothed) landmarks, pose label and joint angles."""
    frames = {d.index: {"index": d.index, "t_s": round(d.t_s, 4), "people": []} for d in detections}
    for track, track_labels in zip(tracks, labels):
        landmarks = np.round(track.landmarks.astype(np.float64), 5).tolist()
        angles = _angle_rows(joint_angles(track.landmarks, track.world, info.width, info.height))
        for row, index in enumerate(track.frame_indices.tolist()):
            frames[index]["people"].append(
                {"id": track.id, "landmarks": landmarks[row], "pose": track_labels[row], "angles": angles[row]}
            )
    return [frames[d.index] for d in detections]


def _angle_rows(angles: dict[str, np.ndarray]) -> list[dict[str, float | None]]:
    """Per frame, each measure rounded to 0.1 (degrees or %); ``None`` where undefined (NaN)."""
    columns = {
        name: [None if math.isnan(v) else v for v in np.round(values, 1).tolist()] for name, values in angles.items()
    }
    return [dict(zip(columns, row)) for row in zip(*columns.values())]
