"""Generated benchmark clips of a real person (cached: encoding 1080p takes a while)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from posecore.model_bundle import cache_dir
from testbed.media import write_video
from testbed.photos import real_photo


def _frames(seconds: float, width: int, height: int, fps: int) -> Iterator[np.ndarray]:
    """A real person (from bus.jpg) walking to and fro across a grey stage."""
    person = real_photo("bus.jpg")[100:900, 10:490]
    scale = max(1, round(height * 0.7 / person.shape[0]))  # about 70% of the frame height
    person = person.repeat(scale, axis=0).repeat(scale, axis=1)[: height - 8, : width - 8]
    span = width - person.shape[1]
    top = (height - person.shape[0]) // 2
    for i in range(int(seconds * fps)):
        phase = (i / fps / 4) % 2  # 4 s across, 4 s back
        left = int(span * (phase if phase < 1 else 2 - phase))
        frame = np.full((height, width, 3), 96, np.uint8)
        frame[top : top + person.shape[0], left : left + person.shape[1]] = person
        yield frame


def person_clip(seconds: float, width: int, height: int, fps: int = 30) -> Path:
    """An h264 mp4 of ``seconds`` at ``width``x``height``, made once and cached."""
    path = cache_dir() / "bench" / f"person_{seconds:g}s_{width}x{height}_{fps}fps.mp4"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.mp4")
        write_video(partial, _frames(seconds, width, height, fps), fps=fps, codec="h264")
        partial.replace(path)
    return path
