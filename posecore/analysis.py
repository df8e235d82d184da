"""In-process analysis: video bytes or path -> result contract dict.

The Serve app runs the same steps, with ``detect_frames`` spread over replicas.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from posecore.errors import EmptyVideo
from posecore.landmarker import FrameDetections, PoseModel
from posecore.model_bundle import resolve_model_path
from posecore.options import AnalysisOptions
from posecore.pose_library import PoseLibrary
from posecore.result import RunInfo, build_result
from posecore.video import Source, VideoInfo, VideoLimits, iter_frames, probe, sample_indices

Progress = Callable[[int, int], None]  # (frames done, frames planned)


def detect_frames(
    source: Source, info: VideoInfo, indices: np.ndarray, model: PoseModel
) -> Iterator[FrameDetections]:
    """Decode the frames at ``indices`` and run the pose model on each, in time order."""
    for frame in iter_frames(source, info, indices):
        yield model.detect(frame.image, frame.index, frame.t_s)


def detect_segment(
    source: Source,
    info: VideoInfo,
    indices: np.ndarray,
    warmup: int,
    model: PoseModel,
    should_stop: Callable[[int], bool] | None = None,
) -> list[FrameDetections]:
    """One segment as a Serve replica analyses it: detect people on ``indices[warmup:]``.

    ``model`` must be fresh (no frame seen yet; the caller closes it). It runs
    ``indices[:warmup]`` first, unreported, so VIDEO-mode tracking is already settled at
    the segment's first frame; the caller stitches segments back in time order.
    ``should_stop(frames_done)`` is asked as each frame is detected (warm-up included);
    True ends the segment there (its request was cancelled).
    """
    detections = []
    for detection in detect_frames(source, info, indices, model):
        if should_stop is not None and should_stop(len(detections)):
            break
        detections.append(detection)
    if warmup >= len(indices):
        return []
    first = int(indices[warmup])  # warm-up frames are dropped by index: some may not decode
    return [d for d in detections if d.index >= first]


def analyze_video(
    source: Source,
    options: AnalysisOptions = AnalysisOptions(),
    *,
    model_path: str | Path | None = None,
    library: PoseLibrary | None = None,
    limits: VideoLimits = VideoLimits(),
    progress: Progress | None = None,
) -> dict:
    """Analyse a whole video in this process and return the result contract dict."""
    started = time.perf_counter()
    info = probe(source, limits)
    indices = sample_indices(info, options.sample_fps)
    model_path = Path(model_path) if model_path else resolve_model_path()
    detections = []
    with PoseModel(model_path, max_people=options.max_people) as model:
        for det in detect_frames(source, info, indices, model):
            detections.append(det)
            if progress:
                progress(len(detections), len(indices))
    if not detections:
        raise EmptyVideo("no frame of the video could be decoded")
    run = RunInfo(
        model=model_path.name,
        elapsed_s=time.perf_counter() - started,
        undecodable_frames=len(indices) - len(detections),
    )
    return build_result(info, detections, options, library or PoseLibrary.default(), run)
