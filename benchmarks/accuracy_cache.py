"""The pose model's detections on the labelled videos, cached on disk for the accuracy benchmark.

Detection is the slow step (minutes on 2 cores) and does not change when the pose
rules do, so ``benchmarks/accuracy.py`` replays it from this cache. The cache lives
under the model cache directory (never in the repository: it is derived from
third-party footage) and is keyed by video, people and model file.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from pathlib import Path

import numpy as np

from posecore.landmarker import FrameDetections
from posecore.model_bundle import cache_dir
from posecore.pipeline import Batch, Detect, Plan, local_detect


def cache_path(video: Path, max_people: int, model_file: Path) -> Path:
    """Where one video's detections are kept."""
    return cache_dir() / "accuracy" / f"{video.stem}_p{max_people}_group_{model_file.stem}.npz"


def save(path: Path, detections: list[FrameDetections]) -> None:
    """Write detections as flat arrays (people per frame, then all people stacked)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez_compressed(
        partial,
        index=np.array([d.index for d in detections], dtype=np.int64),
        t_s=np.array([d.t_s for d in detections], dtype=np.float64),
        people=np.array([d.people for d in detections], dtype=np.int64),
        landmarks=np.concatenate([d.landmarks for d in detections]).astype(np.float32),
        world=np.concatenate([d.world for d in detections]).astype(np.float32),
        # Clothing colours, which tracking uses to tell people apart (absent for one person).
        appearance=np.concatenate([d.appearance for d in detections if d.appearance is not None] or [np.zeros((0,))]),
    )
    partial.replace(path)


def load(path: Path) -> list[FrameDetections]:
    """The detections ``save`` wrote."""
    data = np.load(path)
    bounds = np.concatenate([[0], np.cumsum(data["people"])])
    looks = data["appearance"] if len(data["appearance"]) == bounds[-1] else None
    return [
        FrameDetections(int(i), float(t), data["landmarks"][a:b], data["world"][a:b],
                        None if looks is None else looks[a:b])
        for i, t, a, b in zip(data["index"], data["t_s"], bounds[:-1], bounds[1:])
    ]


def cached_detect(model_file: Path) -> Detect:
    """The pipeline's in-process detect step, replaying the cache when present, else filling it."""

    async def detect(plan: Plan) -> AsyncGenerator[Batch, None]:
        path = cache_path(Path(str(plan.source)), plan.options.max_people, model_file)
        if path.is_file():
            yield Batch(len(plan.indices), len(plan.indices), load(path))
            return
        found: list[FrameDetections] = []
        async for batch in local_detect(model_file)(plan):
            found.extend(batch.detections)
            yield batch
        save(path, found)

    return detect
