"""PoseWorker's own logic, in this process (real MediaPipe, no Ray cluster): every
segment gets a fresh landmarker, made ahead of time, and the health check reports a
replica that can no longer make one."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from posecore.detection import detect_segment
from posecore.errors import ModelError
from posecore.group_landmarker import GroupPoseModel
from posecore.landmarker import FrameDetections
from posecore.video import VideoInfo, probe
from serve_app.worker import PoseWorker
from testbed.media import write_video
from testbed.photos import real_photo

INDICES = np.arange(2, 14)
WARMUP = 3


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, VideoInfo]:
    """16 frames of a real person sliding sideways, keyframes every 5."""
    photo = real_photo("bus.jpg")
    frames = [photo[100:900, 10 + 6 * i : 490 + 6 * i] for i in range(16)]
    data = write_video(tmp_path_factory.mktemp("worker") / "person.mp4", frames, fps=15, gop=5).read_bytes()
    return np.frombuffer(data, dtype=np.uint8), probe(data)


@pytest.fixture
def worker() -> Iterator[PoseWorker]:
    replica = PoseWorker.func_or_class()
    yield replica
    replica.__del__()  # what Serve calls as a replica stops
    assert replica._spare is None


async def segment(worker: PoseWorker, clip: tuple[np.ndarray, VideoInfo], max_people: int = 1) -> list[FrameDetections]:
    data, info = clip
    video = asyncio.get_running_loop().create_future()  # what awaiting an ObjectRef gives
    video.set_result(data)
    return await worker.analyze_segment([video], info, INDICES, WARMUP, max_people)


def analyze(worker: PoseWorker, clip: tuple[np.ndarray, VideoInfo], max_people: int = 1) -> list[FrameDetections]:
    return asyncio.run(segment(worker, clip, max_people))


def test_each_segment_gets_a_fresh_landmarker(
    worker: PoseWorker, clip: tuple[np.ndarray, VideoInfo], model_path: Path
) -> None:
    """Repeated segments give exactly what a new model gives: no tracking state (and no
    timestamps, which VIDEO mode requires to increase) carried over from the last one."""
    data, info = clip
    expected = {}
    for max_people in (1, 2):
        with GroupPoseModel(model_path, max_people=max_people) as model:
            expected[max_people] = detect_segment(memoryview(data), info, INDICES, WARMUP, model)
    assert [d.index for d in expected[1]] == INDICES[WARMUP:].tolist()
    assert all(d.people == 1 for d in expected[1])
    assert all(1 <= d.people <= 2 for d in expected[2])

    for max_people in (1, 1, 2, 2, 1):
        got = analyze(worker, clip, max_people)

        assert [d.index for d in got] == [d.index for d in expected[max_people]]
        for a, b in zip(got, expected[max_people]):
            np.testing.assert_array_equal(a.landmarks, b.landmarks)
        # The next landmarker is ready, for a request like this one.
        assert worker._spare.result(timeout=30).max_people == max_people


def test_cancelled_segments_leave_the_replica_working(worker: PoseWorker, clip: tuple[np.ndarray, VideoInfo]) -> None:
    """A call cancelled while it waits for its landmarker, or while it detects, is
    followed by normal ones (the client left; Serve sends the replica new work)."""
    expected = analyze(worker, clip)

    async def cancel_then_run(delay_s: float) -> list[FrameDetections]:
        doomed = asyncio.ensure_future(segment(worker, clip))
        await asyncio.sleep(delay_s)
        doomed.cancel()
        with pytest.raises(asyncio.CancelledError):
            await doomed
        return await segment(worker, clip)

    for delay_s in (0, 0.01, 0.15):
        got = asyncio.run(cancel_then_run(delay_s))
        assert [d.index for d in got] == [d.index for d in expected]
        for a, b in zip(got, expected):
            np.testing.assert_array_equal(a.landmarks, b.landmarks)
    worker.check_health()


def test_health_check_fails_once_no_landmarker_can_be_made(
    worker: PoseWorker, clip: tuple[np.ndarray, VideoInfo], tmp_path: Path
) -> None:
    worker.check_health()
    broken = tmp_path / "pose_landmarker.task"
    broken.write_bytes(b"not a model")
    worker.model_path = broken  # as if the model file were replaced under a running replica

    assert len(analyze(worker, clip)) == len(INDICES) - WARMUP  # made before: still fine
    worker._spare.exception(timeout=30)  # wait for the next one to be tried

    with pytest.raises(ModelError, match="cannot load pose model"):
        worker.check_health()
