"""PoseWorker: one MediaPipe PoseLandmarker per replica, one video segment per call."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import ray
from ray import serve

from posecore.detection import detect_segment
from posecore.group_landmarker import GroupPoseModel, MaxPeople
from posecore.landmarker import FrameDetections
from posecore.model_path import model_path
from posecore.video import VideoInfo

logger = logging.getLogger("ray.serve")

# glibc keeps freed frame buffers in its per-thread heaps, fragmented by the small
# allocations of Ray's own threads: a replica's memory swelled by up to 1.6 GB during
# one 1080p segment (measured). Handing free pages back (malloc_trim) this often keeps
# it flat; fixing malloc's mmap threshold instead cost ~15% of the speed.
TRIM_EVERY_FRAMES = 30


def _close_model(made: Future[GroupPoseModel]) -> None:
    """Close a landmarker made in the background (if it was made)."""
    if not made.cancelled() and made.exception() is None:
        made.result().close()


@serve.deployment  # scaling, CPUs and health-check timing live in serve_config.yaml
class PoseWorker:
    """Analyses one segment of a video: decode its own frame range, detect people."""

    def __init__(self) -> None:
        # The model is provisioned at set-up time (`make`, the Docker build); a replica
        # never builds or downloads it.
        self.model_path = model_path()
        # Fail the replica's start, not its first request: load the landmarker, run it once.
        with GroupPoseModel(self.model_path) as model:
            model.detect(np.zeros((64, 64, 3), dtype=np.uint8), 0, 0.0)
        # Each segment needs a fresh landmarker (VIDEO mode tracks from frame to frame),
        # and creating one takes ~80 ms of a core: the next one is made while the replica
        # waits for work, off the path of the next request.
        self._model_maker = ThreadPoolExecutor(1, thread_name_prefix="model-maker")
        self._spare: Future[GroupPoseModel] | None = self._prepare(max_people=1)
        # Looked up here, not at import: Serve pickles this module's globals. None off glibc.
        self._malloc_trim = getattr(ctypes.CDLL(None), "malloc_trim", None)

    async def analyze_segment(
        self,
        video: list[ray.ObjectRef],
        info: VideoInfo,
        indices: np.ndarray,
        warmup: int,
        max_people: MaxPeople,
    ) -> list[FrameDetections]:
        """Detect people on ``indices[warmup:]``; ``indices[:warmup]`` only warm up tracking.

        ``video`` wraps the upload's object-store reference in a list so that Ray hands
        the reference over instead of resolving (and copying) it at call time.
        Cancelling the call (its client left) stops the work within a frame.
        """
        data = await video[0]
        stop = threading.Event()
        try:
            model = await self._fresh_model(max_people)
            return await asyncio.to_thread(self._detect, data, info, indices, warmup, model, stop)
        except asyncio.CancelledError:
            stop.set()
            raise
        finally:
            if self._spare is None:
                self._spare = self._prepare(max_people)  # the next request is likely alike

    def _prepare(self, max_people: MaxPeople) -> Future[GroupPoseModel]:
        return self._model_maker.submit(GroupPoseModel, self.model_path, max_people=max_people)

    async def _fresh_model(self, max_people: MaxPeople) -> GroupPoseModel:
        """A landmarker for ``max_people`` that no segment has used: the spare if it fits."""
        # Taken on the event loop before any await, so two calls (one cancelled, its
        # thread still running) never share one.
        spare, self._spare = self._spare, None
        if spare is None:
            spare = self._prepare(max_people)
        try:
            model = await asyncio.shield(asyncio.wrap_future(spare))
        except asyncio.CancelledError:
            spare.add_done_callback(_close_model)  # nobody will use it now
            raise
        if model.max_people != max_people:
            model.close()
            return await self._fresh_model(max_people)
        return model

    def _detect(
        self,
        data: np.ndarray,
        info: VideoInfo,
        indices: np.ndarray,
        warmup: int,
        model: GroupPoseModel,
        stop: threading.Event,
    ) -> list[FrameDetections]:
        def between_frames(done: int) -> bool:
            """Housekeeping after each frame; True stops the segment (its call was cancelled)."""
            if self._malloc_trim is not None and done % TRIM_EVERY_FRAMES == 0:
                self._malloc_trim(0)
            if stop.is_set():
                logger.info("segment cancelled after %d of %d frames", done, len(indices))
            return stop.is_set()

        with model:
            return detect_segment(memoryview(data.data), info, indices, warmup, model, between_frames)

    def __del__(self) -> None:
        """Serve calls this as the replica stops: close the spare landmarker.

        MediaPipe closes a landmarker through a thread of its own; one left to the
        garbage collector at interpreter exit can wait forever for that thread.
        """
        maker = getattr(self, "_model_maker", None)
        if maker is not None:
            maker.shutdown(wait=True)  # a spare being made is finished first
            if self._spare is not None:
                _close_model(self._spare)
                self._spare = None

    def check_health(self) -> None:
        """Unhealthy (Serve replaces the replica) once making a landmarker has failed.

        Checks the spare made after each segment instead of making one more: a check
        every 10 s that built a landmarker took ~1% of the replica's core.
        """
        spare = self._spare
        if spare is not None and spare.done() and not spare.cancelled() and (error := spare.exception()):
            raise error
