"""Every dancer of a group: find people on tiles now and then, follow each on a crop.

MediaPipe's PoseLandmarker is made for one prominent person: its detector sees the
frame at 224x224, so in a group only the two or so biggest dancers are found, whatever
``num_poses`` is. Here:

- every ``find_every_s`` seconds of video (and on the frame after a person was lost)
  a ``PersonFinder`` looks for people on the whole frame and on overlapping tiles;
- each person found gets a slot: a VIDEO-mode landmarker of its own that sees only a
  crop around that person, re-centred on them every frame from their landmarks, so in
  its crop they are big and prominent. Between two finds this costs one landmark-model
  run per person (MediaPipe's own tracking inside each slot), not a detector run;
- two slots that end on the same person are merged (the younger one is freed).

``GroupPoseModel(max_people=1)`` is exactly ``PoseModel``: one person costs nothing more.

Finds happen at fixed times of the video (multiples of ``find_every_s``), not counted
from an instance's first frame, so a segment analysed on its own (after a few warm-up
frames) looks for people at the same frames as the whole-video pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Self

import numpy as np
from mediapipe.tasks.python.vision import PoseLandmarker, RunningMode

from posecore.appearance import FEATURE_SIZE, appearance_features
from posecore.landmarker import (
    FrameDetections,
    PoseModel,
    as_mp_image,
    create_landmarker,
    result_arrays,
)
from posecore.options import people_cap
from posecore.person_finder import (
    PersonFinder,
    Tiling,
    same_person,
    to_frame,
    torso_visibility,
)
from posecore.tracks import NUM_LANDMARKS

MaxPeople = int | Literal["auto"] | None  # None: as "auto"

DEFAULT_TILING = Tiling()

# A crop shows its person's landmark box plus these shares of the box's height above and
# below, and to each side: room for the next frame's motion and for limbs the landmarks
# missed, but little room for the neighbours (a neighbour in the crop can steal the slot).
CROP_MARGIN_Y = 0.25
CROP_MARGIN_X = 0.15
MIN_CROP_PX = 64
# Landmarks less visible than this do not size the crop (they are guesses).
BOX_VISIBILITY = 0.3
# The crop's size follows the person's smoothly: a crop that jumps in size moves the
# person inside it, and the slot's own tracking (in crop coordinates) loses them.
SIZE_SMOOTHING = 0.3
# A slot whose person's torso is seen less than this is lost (it drifted off the person).
MIN_TORSO_VISIBILITY = 0.4


@dataclass(eq=False)
class _Slot:
    """One followed person: their landmarker and where to crop next."""

    landmarker: PoseLandmarker
    centre: tuple[float, float] = (0.0, 0.0)  # pixels
    size: tuple[float, float] = (0.0, 0.0)  # pixels, crop width and height before clipping to the frame
    frames: int = 0  # frames followed: the older of two duplicates is kept
    landmarks: np.ndarray = field(default_factory=lambda: np.zeros((NUM_LANDMARKS, 4), np.float32))
    world: np.ndarray = field(default_factory=lambda: np.zeros((NUM_LANDMARKS, 3), np.float32))

    def aim(self, landmarks: np.ndarray, width: int, height: int, smoothing: float) -> None:
        """Centre the next crop on ``landmarks`` (frame-normalised), sized from their box."""
        points = landmarks[:, :2] * (width, height)
        seen = points[landmarks[:, 3] >= BOX_VISIBILITY]
        if len(seen) < 4:
            seen = points
        low, high = seen.min(axis=0), seen.max(axis=0)
        box_h = float(high[1] - low[1])
        size = (
            max(float(high[0] - low[0]) + 2 * CROP_MARGIN_X * box_h, MIN_CROP_PX),
            max(box_h * (1 + 2 * CROP_MARGIN_Y), MIN_CROP_PX),
        )
        self.centre = (float(low[0] + high[0]) / 2, float(low[1] + high[1]) / 2)
        if self.size[0] > 0:
            size = (
                self.size[0] + smoothing * (size[0] - self.size[0]),
                self.size[1] + smoothing * (size[1] - self.size[1]),
            )
        self.size = size

    def crop_box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """The crop (x0, y0, x1, y1) in pixels: the box around the person, shifted and
        clipped to lie inside the frame."""
        box_w, box_h = min(int(self.size[0]), width), min(int(self.size[1]), height)
        x0 = int(np.clip(self.centre[0] - box_w / 2, 0, width - box_w))
        y0 = int(np.clip(self.centre[1] - box_h / 2, 0, height - box_h))
        return x0, y0, x0 + box_w, y0 + box_h


class GroupPoseModel:
    """Pose of every person of a frame, up to ``max_people``; ``PoseModel``'s interface.

    ``max_people``: 1..MAX_PEOPLE, or "auto"/None for everyone (up to MAX_PEOPLE).
    Like ``PoseModel`` it needs strictly increasing ``t_s`` and one instance per segment.
    """

    def __init__(
        self,
        model_path: str | Path,
        *,
        max_people: MaxPeople = 1,
        find_every_s: float = 0.5,
        tiling: Tiling = DEFAULT_TILING,
    ) -> None:
        self.model_path = Path(model_path)
        self.max_people = max_people
        self.cap = people_cap(max_people)
        self.find_every_s = find_every_s
        self._single = PoseModel(model_path, max_people=1) if self.cap == 1 else None
        self._finder = PersonFinder(model_path, tiling) if self.cap > 1 else None
        self._slots: list[_Slot] = []
        # Landmarkers of lost people, to reuse, with the last timestamp each was given.
        self._free: list[tuple[PoseLandmarker, int]] = []
        self._last_ms = -1
        self._last_find_t_s: float | None = None
        self._lost_since_find = False

    def detect(self, image: np.ndarray, index: int, t_s: float) -> FrameDetections:
        """Detect people on one upright RGB uint8 frame shown at ``t_s`` seconds."""
        if self._single is not None:
            return self._single.detect(image, index, t_s)
        t_ms = max(round(t_s * 1000), self._last_ms + 1)
        self._last_ms = t_ms
        height, width = image.shape[:2]
        for slot in list(self._slots):
            if not self._follow(slot, image, t_ms):
                self._lose(slot)
        self._drop_duplicates(width / height)
        if self._find_due(t_s):
            self._add_people(image, t_ms)
        return self._detections(image, index, t_s)

    def close(self) -> None:
        """Free every landmarker (MediaPipe closes them through a thread of its own)."""
        if self._single is not None:
            self._single.close()
        if self._finder is not None:
            self._finder.close()
        for landmarker in [s.landmarker for s in self._slots] + [f[0] for f in self._free]:
            landmarker.close()
        self._slots, self._free = [], []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _find_due(self, t_s: float) -> bool:
        """Whether to look for new people on this frame: at each new period of the
        video's clock; after someone was lost, once half a period has passed since the
        last look; never when full."""
        period = math.floor(t_s / self.find_every_s)
        if self._last_find_t_s is None:
            due = True
        else:
            due = period != math.floor(self._last_find_t_s / self.find_every_s) or (
                self._lost_since_find and t_s - self._last_find_t_s >= self.find_every_s / 2
            )
        if not due or len(self._slots) >= self.cap:
            return False
        self._last_find_t_s, self._lost_since_find = t_s, False
        return True

    def _follow(self, slot: _Slot, image: np.ndarray, t_ms: int) -> bool:
        """Run the slot's landmarker on its crop; False if its person is gone."""
        height, width = image.shape[:2]
        box = slot.crop_box(width, height)
        x0, y0, x1, y1 = box
        landmarks, world = result_arrays(slot.landmarker.detect_for_video(as_mp_image(image[y0:y1, x0:x1]), t_ms))
        if landmarks.shape[0] == 0 or torso_visibility(landmarks[0]) < MIN_TORSO_VISIBILITY:
            return False
        slot.landmarks, slot.world = to_frame(landmarks[0], box, width, height), world[0]
        slot.frames += 1
        slot.aim(slot.landmarks, width, height, SIZE_SMOOTHING)
        return True

    def _lose(self, slot: _Slot) -> None:
        self._slots.remove(slot)
        self._free.append((slot.landmarker, self._last_ms))
        self._lost_since_find = True

    def _drop_duplicates(self, aspect: float) -> None:
        """Free the younger of two slots that follow the same person."""
        for slot in sorted(self._slots, key=lambda s: s.frames):  # youngest first
            if any(other is not slot and same_person(slot.landmarks, other.landmarks, aspect) for other in self._slots):
                self._lose(slot)

    def _add_people(self, image: np.ndarray, t_ms: int) -> None:
        """Find people not followed yet and give each a slot (up to the cap), starting now."""
        assert self._finder is not None
        height, width = image.shape[:2]
        found = self._finder.find(image, kept=[s.landmarks for s in self._slots])
        for person in found[: self.cap - len(self._slots)]:
            slot = _Slot(landmarker=self._fresh_landmarker(t_ms))
            slot.aim(person, width, height, smoothing=1.0)
            if self._follow(slot, image, t_ms) and not any(
                same_person(slot.landmarks, s.landmarks, width / height) for s in self._slots
            ):
                self._slots.append(slot)
            else:
                self._free.append((slot.landmarker, t_ms))

    def _fresh_landmarker(self, t_ms: int) -> PoseLandmarker:
        """A VIDEO-mode landmarker with no person in mind: a reused one is first shown an
        empty image, which ends its tracking and landmark smoothing of its last person (so it
        must have last run before the previous millisecond)."""
        reusable = [f for f in self._free if f[1] < t_ms - 1]
        if not reusable:
            return create_landmarker(self.model_path, RunningMode.VIDEO, 1)
        self._free.remove(reusable[0])
        landmarker = reusable[0][0]
        landmarker.detect_for_video(as_mp_image(np.zeros((MIN_CROP_PX, MIN_CROP_PX, 3), np.uint8)), t_ms - 1)
        return landmarker

    def _detections(self, image: np.ndarray, index: int, t_s: float) -> FrameDetections:
        if not self._slots:
            return FrameDetections(
                index=index,
                t_s=t_s,
                landmarks=np.zeros((0, NUM_LANDMARKS, 4), np.float32),
                world=np.zeros((0, NUM_LANDMARKS, 3), np.float32),
                appearance=np.zeros((0, FEATURE_SIZE), np.float32),
            )
        landmarks = np.stack([s.landmarks for s in self._slots]).astype(np.float32)
        world = np.stack([s.world for s in self._slots]).astype(np.float32)
        return FrameDetections(
            index=index, t_s=t_s, landmarks=landmarks, world=world, appearance=appearance_features(image, landmarks)
        )
