"""Split a video's analysed frames into segments for the PoseWorker replicas.

Pure planning, no Ray: the ingress calls it with the number of frames to analyse,
the keyframes among them and the number of replicas it can use.

Why these numbers: a segment pays a fixed cost (a fresh PoseLandmarker, a seek to the
keyframe before it and a short warm-up), roughly 10-20 frames' worth of work. So
segments are never tiny; a lone video gets one segment per replica the deployment may
have; a long video is cut into bounded segments that queue across replicas (which is
what makes the autoscaler add replicas, and evens out a slow one); and boundaries move
to a nearby keyframe so a worker does not decode frames only to throw them away.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class PlanConfig(BaseModel):
    """How videos are cut into segments: part of the app args (serve_app/settings.py)."""

    model_config = ConfigDict(frozen=True)

    min_segment_frames: int = Field(48, ge=1, description="Below this, the fixed cost per segment dominates.")
    max_segment_frames: int = Field(600, ge=1, description="Bounds one segment's latency and result size.")
    # One per replica measured fastest for a lone video (each extra segment pays the
    # fixed cost); busy services balance across requests, and long videos get more.
    segments_per_replica: int = Field(1, ge=1, description="Segments per replica and round.")
    warmup_frames: int = Field(6, ge=0, description="Analysed frames before a segment, for continuous tracking.")
    # Move a boundary by up to this share of a segment so its warm-up starts on a keyframe:
    # a little imbalance (model time) against decoding frames only to skip them.
    keyframe_snap: float = Field(0.1, ge=0, le=1, description="Share of a segment a boundary may move.")


@dataclass(frozen=True)
class Segment:
    """Analyse ``indices[start:end]``; run ``indices[warmup_start:start]`` first, unreported."""

    warmup_start: int
    start: int
    end: int


def plan_segments(
    frame_count: int,
    replicas: int,
    config: PlanConfig = PlanConfig(),
    keyframes: np.ndarray | None = None,
) -> list[Segment]:
    """Cut ``frame_count`` analysed frames into contiguous, near-equal segments.

    ``keyframes``: positions (0..frame_count) of analysed frames that are keyframes or
    come right after one; a boundary whose warm-up could start there is moved to it.
    """
    if frame_count <= 0:
        return []
    per_round = max(1, replicas) * config.segments_per_replica
    most = max(1, frame_count // config.min_segment_frames)  # keep segments above the minimum
    least = math.ceil(frame_count / config.max_segment_frames)  # keep them below the maximum
    # Whole rounds of one segment per replica, so no replica is left with an extra one.
    rounds = math.ceil(least / per_round)
    count = min(rounds * per_round, max(most, least))
    bounds = np.linspace(0, frame_count, count + 1).round().astype(int)
    if keyframes is not None and count > 1:
        targets = np.asarray(keyframes) + config.warmup_frames
        targets = targets[(targets > 0) & (targets < frame_count)]
        if len(targets):
            bounds[1:-1] = _snap(bounds[1:-1], targets, config.keyframe_snap * frame_count / count)
    return [
        Segment(warmup_start=max(0, int(a) - config.warmup_frames), start=int(a), end=int(b))
        for a, b in zip(bounds[:-1], bounds[1:])
        if b > a
    ]


def _snap(bounds: np.ndarray, targets: np.ndarray, reach: float) -> np.ndarray:
    """Each bound moved to its nearest target within ``reach``, kept strictly increasing."""
    # Sorted search, not a bounds x targets distance matrix: an all-intra video (MJPEG)
    # has a keyframe per frame. Ties go to the earlier target.
    targets = np.unique(targets)
    after = np.minimum(np.searchsorted(targets, bounds), len(targets) - 1)
    before = np.maximum(after - 1, 0)
    closer_before = np.abs(targets[before] - bounds) <= np.abs(targets[after] - bounds)
    nearest = np.where(closer_before, targets[before], targets[after])
    snapped = np.where(np.abs(nearest - bounds) <= reach, nearest, bounds)
    return np.maximum.accumulate(snapped)
