"""PoseWorker: one MediaPipe PoseLandmarker per replica, one video segment per call."""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor

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
        # Each segment needs a fresh landmarker (VIDEO mode tracks from frame to frame),
        # and creating one takes ~80 ms of a core: the next one is made while the replica
        # waits for work, off the path of the next request.
        self._model_maker = ThreadPoolExecutor(1, thread_name_prefix="model-maker")
        self._spare = self._prepare(max_people=1)

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
        model = await self._fresh_model(max_people)
        stop = threading.Event()
        try:
            return await asyncio.to_thread(self._detect, data, info, indices, warmup, model, stop)
        except asyncio.CancelledError:
            stop.set()
            raise
        finally:
            self._spare = self._prepare(max_people)  # the next request is likely alike

    def _prepare(self, max_people: int) -> Future[PoseModel]:
        return self._model_maker.submit(PoseModel, self.model_path, max_people=max_people)

    async def _fresh_model(self, max_people: int) -> PoseModel:
        """The spare landmarker if it fits ``max_people``, else a new one."""
        # Taken on the event loop, so a call cancelled while its thread still runs
        # cannot hand the same spare to two segments.
        spare, self._spare = self._spare, None
        if spare is not None:
            model = await asyncio.wrap_future(spare)
            if model.max_people == max_people:
                return model
            model.close()
        return await asyncio.wrap_future(self._prepare(max_people))

    def _detect(
        self, data: np.ndarray, info: VideoInfo, indices: np.ndarray, warmup: int, model: PoseModel,
        stop: threading.Event,
    ) -> list[FrameDetections]:
        def cancelled(done: int) -> bool:
            if stop.is_set():
                logger.info("segment cancelled after %d of %d frames", done, len(indices))
            return stop.is_set()

        with model:
            return detect_segment(memoryview(data), info, indices, warmup, model, cancelled)

    def check_health(self) -> None:
        """Prove the landmarker loads and runs, on a tiny blank frame."""
        with PoseModel(self.model_path) as model:
            model.detect(self._probe_image, 0, 0.0)
