"""The pipeline's detect step on the cluster: a plan's frames cut into segments, fanned
out to PoseWorker replicas, collected as they finish.

The upload goes to the object store once and every worker reads it in place. A segment
whose replica dies is retried once elsewhere. The first failure cancels the other
segments, and so does closing the stream (the client left): abandoned work does not
hold replicas.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable

import numpy as np
import ray
from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError
from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError
from ray.serve.handle import DeploymentHandle

from posecore.landmarker import FrameDetections
from posecore.pipeline import Batch, Plan
from serve_app.http_errors import ApiError
from serve_app.segment_plan import PlanConfig, Segment, plan_segments

logger = logging.getLogger("ray.serve")

# Replica losses a segment survives before the request fails with a 503.
SEGMENT_ATTEMPTS = 2


class SegmentFanout:
    """The detect step over PoseWorker replicas; ``detect`` is a ``posecore.pipeline.Detect``."""

    def __init__(
        self, worker: DeploymentHandle, config: PlanConfig, replicas: int, on_in_flight: Callable[[int], None]
    ) -> None:
        self.worker = worker
        self.config = config
        self.replicas = replicas  # PoseWorker's max_replicas
        self.in_flight = 0  # segments sent, not back yet, over all requests: how busy the replicas are
        self.on_in_flight = on_in_flight

    async def detect(self, plan: Plan) -> AsyncGenerator[Batch, None]:
        """Batches of (segments done, segments planned, detections), as segments finish."""
        indices = plan.indices
        # Where each keyframe falls among the analysed frames: a warm-up may start there.
        keyframes = np.searchsorted(indices, plan.info.keyframe_indices)
        # Split over the replicas not already busy: a lone video over all of them, but
        # under load a video stays whole, sparing the per-segment cost (seek, warm-up).
        idle = max(1, self.replicas - self.in_flight)
        segments = plan_segments(len(indices), idle, self.config, keyframes)
        assert isinstance(plan.source, (bytes, memoryview))  # an upload, not a path
        video = ray.put(np.frombuffer(plan.source, dtype=np.uint8))  # once; workers read it in place
        tasks = [asyncio.ensure_future(self._segment(video, plan, s)) for s in segments]
        self._count(len(tasks))
        for task in tasks:  # a callback, not a finally: a task cancelled before it starts runs no code
            task.add_done_callback(lambda _: self._count(-1))
        try:
            yield Batch(0, len(tasks))
            for done, finished in enumerate(asyncio.as_completed(tasks), start=1):
                yield Batch(done, len(tasks), await finished)
        finally:
            for task in tasks:
                task.cancel()  # a no-op for the finished ones

    async def _segment(self, video: ray.ObjectRef, plan: Plan, segment: Segment) -> list[FrameDetections]:
        """One segment on some replica; retried once if that replica dies under it."""
        frames = plan.indices[segment.warmup_start : segment.end]
        warmup = segment.start - segment.warmup_start
        for attempt in range(1, SEGMENT_ATTEMPTS + 1):
            response = self.worker.analyze_segment.remote([video], plan.info, frames, warmup, plan.options.max_people)
            try:
                return await response
            except asyncio.CancelledError:
                response.cancel()  # the client left or a sibling failed: free the replica now
                raise
            except BackPressureError as exc:
                raise ApiError("overloaded", "the service is at capacity; retry shortly") from exc
            except (RayActorError, ActorDiedError, ActorUnavailableError, DeploymentUnavailableError) as exc:
                logger.warning("segment lost with its replica (attempt %d): %s", attempt, exc)
        raise ApiError("worker_unavailable", "pose replicas kept failing; retry shortly")

    def _count(self, change: int) -> None:
        self.in_flight += change
        self.on_in_flight(self.in_flight)
