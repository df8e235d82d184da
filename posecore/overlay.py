"""Each dancer's skeleton drawn over the video, written as a new video (the CLI's ``--overlay``).

The drawing comes from the in-memory result's per-frame landmarks (``include_landmarks``), as on
the web page: one colour per dancer id, BlazePose's bones between landmarks visible
enough to be trusted. Every frame of the video is written; a frame that was not
analysed (``sample_fps``) shows the nearest analysed frame's skeleton when one is
within about half a sampling step. The sound is not copied.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import cv2
import numpy as np

from posecore.errors import PoseCoreError
from posecore.pose_library import MIN_VISIBILITY
from posecore.result import AnalysisResult, PersonFrame
from posecore.video import Source, VideoLimits, iter_frames, probe

# BlazePose's skeleton: pairs of landmark indices joined by a bone (as in the page's app.js).
SKELETON = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10),
    (11, 12), (11, 13), (13, 15), (15, 17), (15, 19), (15, 21), (17, 19),
    (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20),
    (11, 23), (12, 24), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28),
    (27, 29), (28, 30), (29, 31), (30, 32), (27, 31), (28, 32),
)  # fmt: skip
# One RGB colour per dancer id, id 1 first (the page's DANCER_COLOURS).
DANCER_COLOURS = (
    (255, 59, 48), (52, 199, 89), (47, 123, 255), (255, 159, 10), (191, 90, 242),
    (0, 199, 230), (255, 214, 10), (255, 106, 193), (172, 142, 104), (255, 255, 255),
)  # fmt: skip
CONTAINERS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska"}
_CLOCK = Fraction(1, 90_000)  # a fine time base: frames keep their own presentation times

Progress = Callable[[int, int], None]  # (frames written, frames in the video)


def dancer_colour(dancer_id: int) -> tuple[int, int, int]:
    """The RGB colour the skeleton of ``dancer_id`` is drawn in."""
    return DANCER_COLOURS[(dancer_id - 1) % len(DANCER_COLOURS)]


def encoder_name() -> str:
    """H.264 (``libx264``) where this FFmpeg build has it, else MPEG-4 Part 2."""
    try:
        av.codec.Codec("libx264", "w")
        return "libx264"
    except Exception:  # av raises UnknownCodecError (or ValueError in older versions)
        return "mpeg4"


def check_overlay_path(path: Path) -> None:
    """Fail before any analysis when ``path`` cannot become the overlay video."""
    if path.suffix.lower() not in CONTAINERS:
        raise PoseCoreError(f"the overlay must be a {', '.join(CONTAINERS)} file, got {path.name}")
    if path.is_dir() or not path.parent.is_dir():
        raise PoseCoreError(f"cannot write the overlay video to {path}")


def draw_skeletons(image: np.ndarray, people: list[PersonFrame]) -> None:
    """Draw each person's skeleton (result ``frames[i].people``) on the RGB ``image``, in place."""
    height, width = image.shape[:2]
    thickness = max(2, round(min(width, height) / 150))
    for person in people:
        colour = dancer_colour(person.id)
        points = np.asarray(person.landmarks, dtype=np.float64)
        xy = np.round(points[:, :2] * [width, height]).astype(np.int32)
        seen = points[:, 3] >= MIN_VISIBILITY
        for a, b in SKELETON:
            if seen[a] and seen[b]:
                cv2.line(image, tuple(map(int, xy[a])), tuple(map(int, xy[b])), colour, thickness, cv2.LINE_AA)
        for x, y in xy[seen]:
            cv2.circle(image, (int(x), int(y)), thickness + 1, colour, -1, cv2.LINE_AA)


def write_overlay(
    source: Source,
    result: AnalysisResult,
    out_path: str | Path,
    *,
    limits: VideoLimits = VideoLimits(),
    progress: Progress | None = None,
) -> str:
    """Write ``source`` with the skeletons of ``result["frames"]`` drawn on to ``out_path``.

    Returns the encoder used. ``result`` must come from an analysis with
    ``include_landmarks``.
    """
    if result.frames is None:
        raise PoseCoreError("the overlay needs the per-frame landmarks: analyse with include_landmarks")
    out_path = Path(out_path)
    check_overlay_path(out_path)
    info = probe(source, limits)
    frames = result.frames
    times = np.array([f.t_s for f in frames], dtype=np.float64)
    steps = np.diff(times)
    tolerance = (float(np.median(steps)) if len(steps) else 1.0 / info.fps) * 0.6 + 0.01
    # yuv420p needs even sides: the last row or column of an odd-sized video is dropped.
    width, height = info.width // 2 * 2, info.height // 2 * 2
    encoder = encoder_name()
    with av.open(str(out_path), "w", format=CONTAINERS[out_path.suffix.lower()]) as out:
        stream = cast(
            av.video.stream.VideoStream, out.add_stream(encoder, rate=Fraction(info.fps).limit_denominator(1001))
        )
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = _CLOCK
        for done, frame in enumerate(iter_frames(source, info), start=1):
            image = frame.image[:height, :width].copy()  # our own, writable and contiguous
            nearest = _nearest(times, frame.t_s)
            if nearest is not None and abs(times[nearest] - frame.t_s) <= tolerance:
                draw_skeletons(image, frames[nearest].people)
            picture = av.VideoFrame.from_ndarray(image, format="rgb24")
            picture.time_base = _CLOCK
            picture.pts = round(frame.t_s / _CLOCK)
            out.mux(stream.encode(picture))
            if progress:
                progress(done, info.frame_count)
        out.mux(stream.encode(None))
    return encoder


def _nearest(times: np.ndarray, t: float) -> int | None:
    """Index of the sorted ``times`` value nearest ``t`` (None if there are none)."""
    after = int(np.searchsorted(times, t))
    candidates = [i for i in (after - 1, after) if 0 <= i < len(times)]
    return min(candidates, key=lambda i: abs(times[i] - t)) if candidates else None
