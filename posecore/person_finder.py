"""Find every person in a frame, small ones included, by running the landmarker on tiles.

MediaPipe's pose detector sees the whole frame shrunk to 224x224, so a dancer far from
the camera in a 720x1280 frame has a face of a few pixels and is missed; asking for
more poses does not help. Slicing-aided detection: the landmarker (IMAGE mode) also
runs on overlapping square tiles of the frame, where people are shown bigger, and the
people found several times (in the whole frame and in tiles, or in two overlapping
tiles) are merged by where their torsos are.

The people found here only seed person regions: their landmarks may be cut at a
tile's edge; ``GroupPoseModel`` then follows each one on a crop of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from mediapipe.tasks.python.vision import RunningMode

from posecore.landmarker import as_mp_image, create_landmarker, result_arrays

TORSO = [11, 12, 23, 24]  # shoulders and hips
# Two people are one when their torso points lie closer than this, on average, in torso
# lengths (of the smaller torso): dancers who stand side by side are about one apart.
SAME_PERSON_TORSO_SHIFT = 0.35
# ... or when one is much smaller (below this share of the other's torso length) and
# most of its torso box lies inside the other's: a part of a body found as a small whole
# person. (People of about one size whose torsos overlap are a dancer partly hidden
# behind another: both are kept.)
SAME_PERSON_TORSO_OVERLAP = 0.5
PART_OF_BODY_SIZE = 0.75
# A person whose torso points are less visible than this on average is not kept:
# the landmark model's guesses on background clutter are mostly invisible.
MIN_TORSO_VISIBILITY = 0.5
# Nor one whose torso is shorter than this share of the biggest person's: in a group
# dance everyone is about as far from the camera, and the tiny "people" found in tiles
# are objects (a floor fan, a bag) or a part of a body.
MIN_RELATIVE_TORSO = 0.4


@dataclass(frozen=True)
class Tiling:
    """Which tiles to look at: squares of ``scale`` x the frame's shorter side,
    overlapping by ``overlap`` of their side, for each scale; the whole frame too."""

    scales: tuple[float, ...] = (1.0, 0.6)
    overlap: float = 0.3
    poses_per_tile: int = 3

    def tiles(self, width: int, height: int) -> list[tuple[int, int, int, int]]:
        """(x0, y0, x1, y1) pixel boxes: the whole frame first, then the tiles."""
        boxes = [(0, 0, width, height)]
        for scale in self.scales:
            side = round(min(width, height) * scale)
            if side >= max(width, height):
                continue  # the whole frame again
            for y0 in _starts(height, side, self.overlap):
                for x0 in _starts(width, side, self.overlap):
                    boxes.append((x0, y0, x0 + side, y0 + side))
        return list(dict.fromkeys(boxes))


def _starts(length: int, side: int, overlap: float) -> list[int]:
    """Tile origins along one axis: evenly spread, first at 0, last flush with the end."""
    if side >= length:
        return [0]
    count = int(np.ceil((length - side) / (side * (1 - overlap)))) + 1
    return [round(float(v)) for v in np.linspace(0, length - side, count)]


def to_frame(landmarks: np.ndarray, box: tuple[int, int, int, int], width: int, height: int) -> np.ndarray:
    """Landmarks normalised to the crop ``box`` -> normalised to the whole frame (copy)."""
    x0, y0, x1, y1 = box
    out = landmarks.copy()
    out[..., 0] = (landmarks[..., 0] * (x1 - x0) + x0) / width
    out[..., 1] = (landmarks[..., 1] * (y1 - y0) + y0) / height
    out[..., 2] = landmarks[..., 2] * (x1 - x0) / width  # z shares x's scale
    return out


def torso_size(landmarks: np.ndarray, aspect: float) -> float:
    """Shoulder-mid to hip-mid distance of one person (33, >=2), in frame heights."""
    points = landmarks[TORSO, :2].astype(np.float64) * (aspect, 1.0)
    return max(float(np.linalg.norm((points[0] + points[1]) / 2 - (points[2] + points[3]) / 2)), 1e-3)


def torso_shift(a: np.ndarray, b: np.ndarray, aspect: float) -> float:
    """Mean distance between two people's torso points, in torso lengths of the smaller."""
    shift = np.linalg.norm((a[TORSO, :2] - b[TORSO, :2]) * (aspect, 1.0), axis=1).mean()
    return float(shift / min(torso_size(a, aspect), torso_size(b, aspect)))


def torso_visibility(landmarks: np.ndarray) -> float:
    """Mean visibility of one person's four torso points."""
    return float(landmarks[TORSO, 3].mean())


def torso_overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Share of the smaller of two people's torso boxes that lies inside the other's."""
    boxes = [np.concatenate([p[TORSO, :2].min(axis=0), p[TORSO, :2].max(axis=0)]) for p in (a, b)]
    inner = np.concatenate([np.maximum(boxes[0][:2], boxes[1][:2]), np.minimum(boxes[0][2:], boxes[1][2:])])
    intersection = max(0.0, inner[2] - inner[0]) * max(0.0, inner[3] - inner[1])
    smaller = min(max((b[2] - b[0]) * (b[3] - b[1]), 1e-9) for b in boxes)
    return float(intersection / smaller)


def same_person(a: np.ndarray, b: np.ndarray, aspect: float) -> bool:
    """Whether two detections (each (33, 4), frame-normalised) are one person."""
    if torso_shift(a, b, aspect) <= SAME_PERSON_TORSO_SHIFT:
        return True
    sizes = sorted([torso_size(a, aspect), torso_size(b, aspect)])
    return sizes[0] < PART_OF_BODY_SIZE * sizes[1] and torso_overlap(a, b) >= SAME_PERSON_TORSO_OVERLAP


def distinct_people(candidates: Sequence[np.ndarray], aspect: float, kept: Sequence[np.ndarray] = ()) -> list[int]:
    """Indices of the candidates (each (33, 4), frame-normalised) that are new people: well
    seen, not much smaller than the biggest person, not the same person as one of ``kept``
    nor as a better-seen candidate; best seen first."""
    sizes = [torso_size(c, aspect) for c in candidates]
    biggest = max([*sizes, *(torso_size(k, aspect) for k in kept)], default=0.0)
    order = sorted(range(len(candidates)), key=lambda i: -torso_visibility(candidates[i]))
    chosen: list[int] = []
    for i in order:
        if torso_visibility(candidates[i]) < MIN_TORSO_VISIBILITY or sizes[i] < MIN_RELATIVE_TORSO * biggest:
            continue
        if not any(same_person(candidates[i], other, aspect) for other in [*kept, *(candidates[j] for j in chosen)]):
            chosen.append(i)
    return chosen


class PersonFinder:
    """Finds the people of one frame on the whole frame and on overlapping tiles."""

    def __init__(self, model_path: str | Path, tiling: Tiling = Tiling()) -> None:
        self.tiling = tiling
        self._landmarker = create_landmarker(model_path, RunningMode.IMAGE, tiling.poses_per_tile)

    def find(self, image: np.ndarray, kept: Sequence[np.ndarray] = ()) -> np.ndarray:
        """(k, 33, 4) frame-normalised landmarks of the people in ``image`` (upright RGB uint8)
        who are not one of ``kept`` (people already known, each (33, 4)); best seen first."""
        height, width = image.shape[:2]
        candidates = []
        for box in self.tiling.tiles(width, height):
            x0, y0, x1, y1 = box
            landmarks, _world = result_arrays(self._landmarker.detect(as_mp_image(image[y0:y1, x0:x1])))
            candidates += [to_frame(person, box, width, height) for person in landmarks]
        chosen = distinct_people(candidates, width / height, kept)
        return np.stack([candidates[i] for i in chosen]) if chosen else np.zeros((0, 33, 4), np.float32)

    def close(self) -> None:
        self._landmarker.close()
