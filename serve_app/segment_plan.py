"""Split a video's analysed frames into segments for the PoseWorker replicas.

Pure planning, no Ray: the ingress calls it with the probed frame list and the
number of replicas it can use.

Why these numbers: a segment pays a fixed cost (a fresh PoseLandmarker, a seek to
the keyframe before it, and a short warm-up), roughly 10-20 frames' worth of work.
So segments are never tiny; there are about two per replica so a slow replica does
not hold up the whole video; and a long video is cut into bounded segments that
queue across replicas (which is what makes the autoscaler add replicas).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PlanConfig:
    min_segment_frames: int = 48  # below this, the fixed cost per segment dominates
    max_segment_frames: int = 600  # bounds one segment's latency and result size
    segments_per_replica: int = 2  # slack for load balancing between replicas
    warmup_frames: int = 6  # analysed frames before a segment, for continuous tracking


@dataclass(frozen=True)
class Segment:
    """Analyse ``indices[start:end]``; run ``indices[warmup_start:start]`` first, unreported."""

    warmup_start: int
    start: int
    end: int

    @property
    def frames(self) -> int:
        return self.end - self.start


def plan_segments(frame_count: int, replicas: int, config: PlanConfig = PlanConfig()) -> list[Segment]:
    """Cut ``frame_count`` analysed frames into contiguous, near-equal segments."""
    if frame_count <= 0:
        return []
    by_replicas = max(1, replicas) * config.segments_per_replica
    most = max(1, frame_count // config.min_segment_frames)  # keep segments above the minimum
    least = math.ceil(frame_count / config.max_segment_frames)  # keep them below the maximum
    count = max(least, min(by_replicas, most))
    bounds = np.linspace(0, frame_count, count + 1).round().astype(int)
    return [
        Segment(warmup_start=max(0, int(a) - config.warmup_frames), start=int(a), end=int(b))
        for a, b in zip(bounds[:-1], bounds[1:])
    ]
