"""The detect step's frame loop: decode frames and run the pose model on each.

The CLI runs it over a whole video (``posecore.pipeline.local_detect``); a Serve
PoseWorker replica runs ``detect_segment`` over its own range of frames.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from posecore.group_landmarker import GroupPoseModel
from posecore.landmarker import FrameDetections
from posecore.video import Source, VideoInfo, iter_frames


def detect_frames(
    source: Source, info: VideoInfo, indices: np.ndarray, model: GroupPoseModel
) -> Iterator[FrameDetections]:
    """Decode the frames at ``indices`` and run the pose model on each, in time order."""
    for frame in iter_frames(source, info, indices):
        yield model.detect(frame.image, frame.index, frame.t_s)


def detect_segment(
    source: Source,
    info: VideoInfo,
    indices: np.ndarray,
    warmup: int,
    model: GroupPoseModel,
    should_stop: Callable[[int], bool] | None = None,
) -> list[FrameDetections]:
    """One segment as a Serve replica analyses it: detect people on ``indices[warmup:]``.

    ``model`` must be fresh (no frame seen yet; the caller closes it). It runs
    ``indices[:warmup]`` first, unreported, so VIDEO-mode tracking is already settled at
    the segment's first frame; the caller stitches segments back in time order.
    ``should_stop(frames_done)`` is asked as each frame is detected (warm-up included);
    True ends the segment there (its request was cancelled).
    """
    detections: list[FrameDetections] = []
    for detection in detect_frames(source, info, indices, model):
        if should_stop is not None and should_stop(len(detections)):
            break
        detections.append(detection)
    if warmup >= len(indices):
        return []
    first = int(indices[warmup])  # warm-up frames are dropped by index: some may not decode
    return [d for d in detections if d.index >= first]
