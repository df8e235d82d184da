"""PoseWorker: one MediaPipe PoseLandmarker per replica, one video segment per call."""

from __future__ import annotations

import asyncio
import logging
import threading

import numpy as np
import ray
from ray import serve

from posecore.analysis import detect_segment
from posecore.landmarker import FrameDetections, PoseModel
from posecore.model_bundle import resolve_model_path
from posecore.video import VideoInfo

logger = logging.getLogger("ray.serve")


@serve.deployment  # scaling, CPUs and health-check timing live in serve_config.yaml
class PoseWorker:
    """Analyses one segment of a video: decode its own frame range, detect people."""

    def __init__(self) -> None:
        # The model is provisioned at set-up time (`make`, the Docker build); a replica
        # never builds or downloads it.
        self.model_path = resolve_model_path(build=False)
        self._probe_image = np.zeros((64, 64, 3), dtype=np.uint8)
        self.check_health()  # fail the replica's start, not its first request

    async def analyze_segment(
        self,
        video: list[ray.ObjectRef],
        info: VideoInfo,
        indices: np.ndarray,
        warmup: int,
        max_people: int,
    ) -> list[FrameDetections]:
        """Detect people on ``indices[warmup:]``; ``indices[:warmup]`` only warm up tracking.

        ``video`` wraps the upload's object-store reference in a list so that Ray hands
        the reference over instead of resolving (and copying) it at call time.
        Cancelling the call (its client left) stops the work within a frame.
        """
        data = await video[0]
        stop = threading.Event()
        try:
            return await asyncio.to_thread(self._detect, data, info, indices, warmup, max_people, stop)
        except asyncio.CancelledError:
            stop.set()
            raise

    def _detect(
        self, data: np.ndarray, info: VideoInfo, indices: np.ndarray, warmup: int, max_people: int,
        stop: threading.Event,
    ) -> list[FrameDetections]:
        def cancelled(done: int) -> bool:
            if stop.is_set():
                logger.info("segment cancelled after %d of %d frames", done, len(indices))
            return stop.is_set()

        return detect_segment(memoryview(data), info, indices, warmup, self.model_path, max_people, cancelled)

    def check_health(self) -> None:
        """Prove the landmarker loads and runs, on a tiny blank frame."""
        with PoseModel(self.model_path) as model:
            model.detect(self._probe_image, 0, 0.0)
