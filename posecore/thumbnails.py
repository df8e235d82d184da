"""Small JPEG crops of a dancer, as data URIs for the result (key-pose thumbnails)."""

from __future__ import annotations

import base64
from collections.abc import Sequence

import cv2
import numpy as np

from posecore.tracks import Track
from posecore.video import Source, VideoInfo, iter_frames

MAX_BYTES = 15_000
LONGEST_SIDE = 160
MARGIN = 0.15  # of the landmarks' box's longer side, on every side
HEAD_ROOM = 0.1  # more above: the top landmarks are the eyes, the hair is higher
MIN_VISIBILITY = 0.3
QUALITIES = (85, 75, 65, 55, 45, 35, 25)
SHRINK = 0.75  # when even the lowest quality is too big, shrink the image and retry
_PREFIX = "data:image/jpeg;base64,"


def crop_box(landmarks: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) pixels around the visible landmarks (33, 4) plus margins, inside the image."""
    points = np.asarray(landmarks, dtype=np.float64)
    visible = points[:, 3] >= MIN_VISIBILITY
    xy = points[visible if visible.any() else slice(None), :2] * [float(width), float(height)]
    (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
    side = max(x1 - x0, y1 - y0, 1.0)
    pad = MARGIN * side
    box = (
        int(np.clip(np.floor(x0 - pad), 0, width - 1)),
        int(np.clip(np.floor(y0 - pad - HEAD_ROOM * side), 0, height - 1)),
        int(np.clip(np.ceil(x1 + pad), 1, width)),
        int(np.clip(np.ceil(y1 + pad), 1, height)),
    )
    if box[2] <= box[0] or box[3] <= box[1]:  # the dancer is off-frame: show the whole frame
        return 0, 0, width, height
    return box


def thumbnail_data_uri(
    image: np.ndarray, landmarks: np.ndarray, max_bytes: int = MAX_BYTES, longest_side: int = LONGEST_SIDE
) -> str:
    """A JPEG data URI of the dancer in ``image`` (H, W, 3 RGB uint8), at most ``max_bytes`` long.

    The crop surrounds the dancer's ``landmarks`` (33, 4, normalised to the image);
    its longest side is scaled to ``longest_side`` pixels. The JPEG quality steps
    down until the whole URI fits; if even the lowest quality does not, the image
    shrinks. The bound is on the URI (what the JSON carries), not only the JPEG.
    """
    height, width = image.shape[:2]
    x0, y0, x1, y1 = crop_box(landmarks, width, height)
    crop = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2BGR)
    size = float(longest_side)
    while True:
        scale = size / max(crop.shape[:2])
        shape = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        resized = cv2.resize(crop, shape, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        for quality in QUALITIES:
            ok, encoded = cv2.imencode(".jpg", resized, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if not ok:
                raise ValueError("JPEG encoding failed")
            uri = _PREFIX + base64.b64encode(encoded.tobytes()).decode("ascii")
            if len(uri) <= max_bytes:
                return uri
        if max(shape) <= 8:
            raise ValueError(f"cannot fit a thumbnail in {max_bytes} bytes")
        size *= SHRINK


def frame_thumbnails(
    source: Source, info: VideoInfo, track: Track, rows: Sequence[int], max_bytes: int = MAX_BYTES
) -> dict[int, str]:
    """Thumbnails of ``track``'s dancer at track ``rows``: row -> data URI.

    Decodes only those frames (e.g. each key pose's ``best_row``); a frame that fails
    to decode has no entry.
    """
    wanted: dict[int, list[int]] = {}
    for row in rows:
        wanted.setdefault(int(track.frame_indices[row]), []).append(int(row))
    out: dict[int, str] = {}
    for frame in iter_frames(source, info, np.array(sorted(wanted), dtype=np.int64)):
        for row in wanted.get(frame.index, []):
            out[row] = thumbnail_data_uri(frame.image, track.landmarks[row], max_bytes)
    return out
