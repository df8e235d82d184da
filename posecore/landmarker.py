"""MediaPipe Tasks PoseLandmarker behind a small numpy interface.

One instance uses one core and must see strictly increasing timestamps (VIDEO
mode tracks each person's region of interest from the previous frame), so each
video segment gets its own instance. Parallelism comes from running several.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import mediapipe as mp
import numpy as np
from mediapipe.tasks.python import BaseOptions
from mediapipe.tasks.python.vision import (
    PoseLandmarker,
    PoseLandmarkerOptions,
    PoseLandmarkerResult,
    RunningMode,
)

from posecore.appearance import appearance_features
from posecore.errors import ModelError
from posecore.tracks import NUM_LANDMARKS


@contextmanager
def native_stderr_discarded() -> Iterator[None]:
    """Inside the block, drop what native code writes to stderr; Python's ``sys.stderr`` still shows.

    Why: MediaPipe's C++ logging and TFLite write straight to file descriptor 2
    ("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.", "W0000 ...
    inference_feedback_manager.cc ...") when a model is created and at the first frame
    with a person, which breaks the CLI's one-line errors. MediaPipe 1.2.2 links its
    logging statically and reads no setting for it: GLOG_minloglevel, TF_CPP_MIN_LOG_LEVEL
    and FLAGS_* in the environment change nothing, and its one hook (MpSetLoggingCallback)
    adds a listener without silencing stderr. So fd 2 is pointed at /dev/null, and
    ``sys.stderr`` at a copy of the real stderr (a terminal stays a terminal).

    Process-wide, so meant for the command line, not a server with other threads.
    """
    try:
        sys.stderr.flush()
        real = os.dup(2)
    except (AttributeError, OSError, ValueError):  # no usable stderr: nothing to protect
        real = None
    if real is None:
        yield
        return
    python_stderr = sys.stderr
    copy = open(real, "w", buffering=1, encoding=python_stderr.encoding, errors="backslashreplace")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.stderr = copy
    try:
        yield
    finally:
        copy.flush()
        os.dup2(real, 2)
        sys.stderr = python_stderr
        copy.close()  # also closes `real`


@dataclass
class FrameDetections:
    """The people MediaPipe found in one frame, in MediaPipe's (untrusted) order."""

    index: int
    t_s: float
    landmarks: np.ndarray  # (k, 33, 4) float32: x, y, z, visibility
    world: np.ndarray  # (k, 33, 3) float32: metres, hip-centred
    # (k, appearance.FEATURE_SIZE) float32 clothing colours, for telling people apart in
    # tracking; None when the detector did not compute them (one person: not needed).
    appearance: np.ndarray | None = None

    @property
    def people(self) -> int:
        return int(self.landmarks.shape[0])


def create_landmarker(model_path: str | Path, mode: RunningMode, num_poses: int) -> PoseLandmarker:
    """A Tasks PoseLandmarker; ModelError if the model cannot be loaded."""
    options = PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model_path)),
        running_mode=mode,
        num_poses=num_poses,
    )
    try:
        return PoseLandmarker.create_from_options(options)
    except Exception as exc:  # MediaPipe raises RuntimeError/ValueError with C++ text
        raise ModelError(f"cannot load pose model {model_path}: {exc}") from exc


def result_arrays(result: PoseLandmarkerResult) -> tuple[np.ndarray, np.ndarray]:
    """A Tasks result as (k, 33, 4) landmarks (normalised to the image given) and (k, 33, 3) world."""
    k = len(result.pose_landmarks)
    landmarks = np.zeros((k, NUM_LANDMARKS, 4), dtype=np.float32)
    world = np.zeros((k, NUM_LANDMARKS, 3), dtype=np.float32)
    for p, (points, world_points) in enumerate(zip(result.pose_landmarks, result.pose_world_landmarks)):
        landmarks[p] = [(q.x, q.y, q.z, q.visibility or 0.0) for q in points]
        world[p] = [(q.x, q.y, q.z) for q in world_points]
    return landmarks, world


def as_mp_image(image: np.ndarray) -> mp.Image:
    """An RGB uint8 array as a MediaPipe image (copied if not contiguous)."""
    return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))


class PoseModel:
    """A PoseLandmarker in VIDEO mode that returns landmark arrays."""

    def __init__(self, model_path: str | Path, *, max_people: int = 1) -> None:
        self._landmarker = create_landmarker(model_path, RunningMode.VIDEO, max_people)
        self.model_path = Path(model_path)
        self.max_people = max_people
        self._last_ms = -1

    def detect(self, image: np.ndarray, index: int, t_s: float) -> FrameDetections:
        """Detect people on one upright RGB uint8 frame shown at ``t_s`` seconds."""
        # VIDEO mode rejects non-increasing timestamps; frame times are strictly
        # increasing, but two can round to the same millisecond above 1000 fps.
        t_ms = max(int(round(t_s * 1000)), self._last_ms + 1)
        self._last_ms = t_ms
        landmarks, world = result_arrays(self._landmarker.detect_for_video(as_mp_image(image), t_ms))
        # Colours only matter for telling several people apart.
        appearance = appearance_features(image, landmarks) if self.max_people > 1 else None
        return FrameDetections(index=index, t_s=t_s, landmarks=landmarks, world=world, appearance=appearance)

    def close(self) -> None:
        self._landmarker.close()

    def __enter__(self) -> PoseModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
