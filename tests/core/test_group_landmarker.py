"""Finding every person: real MediaPipe inference on real photos of people."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from posecore.group_landmarker import GroupPoseModel
from posecore.landmarker import PoseModel
from posecore.model_path import model_path as locate_model
from posecore.options import MAX_PEOPLE, people_cap
from posecore.person_finder import Tiling
from testbed.photos import real_photo


@pytest.fixture(scope="module")
def model_path() -> Path:
    return locate_model()


@pytest.fixture(scope="module")
def small_people() -> np.ndarray:
    """Three copies of bus.jpg side by side over an empty lower half: 9 standing people,
    each about a fifth of the frame's height (bus.jpg alone has them at two thirds)."""
    bus = real_photo("bus.jpg")
    row = np.hstack([bus, bus[:, ::-1], bus])
    canvas = np.vstack([row, np.full_like(row, 128)])
    return cv2.resize(canvas, (canvas.shape[1] // 2, canvas.shape[0] // 2), interpolation=cv2.INTER_AREA)


def people_found(model: PoseModel | GroupPoseModel, image: np.ndarray, frames: int = 3) -> list[int]:
    return [model.detect(image, i, i / 30).people for i in range(frames)]


def test_finds_small_people_that_the_plain_landmarker_misses(model_path: Path, small_people: np.ndarray) -> None:
    with PoseModel(model_path, max_people=MAX_PEOPLE) as plain:
        plain_counts = people_found(plain, small_people)
    with GroupPoseModel(model_path, max_people="auto") as group:
        group_counts = people_found(group, small_people)
    assert max(plain_counts) <= 2
    assert min(group_counts) >= 4
    assert min(group_counts) > max(plain_counts)


def test_found_people_are_where_people_are(model_path: Path, small_people: np.ndarray) -> None:
    with GroupPoseModel(model_path, max_people="auto") as group:
        det = group.detect(small_people, 0, 0.0)
    hips_y = (det.landmarks[:, 23, 1] + det.landmarks[:, 24, 1]) / 2
    assert ((hips_y > 0.05) & (hips_y < 0.5)).all(), hips_y  # the lower half is empty grey
    assert det.appearance is not None and det.appearance.shape[0] == det.people
    # Distinct people: no two hip centres within a torso's width of each other.
    hips = (det.landmarks[:, 23, :2] + det.landmarks[:, 24, :2]) / 2
    gaps = np.linalg.norm(hips[:, None] - hips[None], axis=-1) + np.eye(det.people)
    assert gaps.min() > 0.02


def test_max_people_caps_the_people_reported(model_path: Path, small_people: np.ndarray) -> None:
    with GroupPoseModel(model_path, max_people=2) as group:
        assert max(people_found(group, small_people)) == 2


def test_one_person_is_the_plain_landmarker(model_path: Path) -> None:
    """max_people=1 costs nothing more: same landmarks as PoseModel, frame after frame."""
    image = real_photo("zidane.jpg")
    with PoseModel(model_path) as plain, GroupPoseModel(model_path, max_people=1) as group:
        for i in range(3):
            a, b = plain.detect(image, i, i / 30), group.detect(image, i, i / 30)
            np.testing.assert_array_equal(a.landmarks, b.landmarks)


def test_frames_without_people_give_no_detections(model_path: Path) -> None:
    with GroupPoseModel(model_path, max_people="auto") as group:
        det = group.detect(np.zeros((360, 640, 3), np.uint8), 0, 0.0)
    assert det.people == 0 and det.landmarks.shape == (0, 33, 4)


def test_lost_people_are_looked_for_again_before_the_next_regular_look(
    model_path: Path, small_people: np.ndarray
) -> None:
    """People leave (an empty frame) and come back: they are looked for half a period
    after being lost, not only at the next whole period."""
    empty = np.zeros_like(small_people)
    images = [small_people, empty] + [small_people] * 15
    with GroupPoseModel(model_path, max_people="auto", find_every_s=1.0) as group:
        counts = [group.detect(image, i, i / 30).people for i, image in enumerate(images)]
    assert counts[1] == 0
    assert min(counts[0], counts[-1]) >= 4  # frame 16 (0.53 s): found again before 1 s


def test_people_cap() -> None:
    assert people_cap("auto") == people_cap(None) == MAX_PEOPLE >= 10
    assert people_cap(3) == 3
    for bad in (0, MAX_PEOPLE + 1, True, "3", 2.0):
        with pytest.raises(ValueError):
            people_cap(bad)  # type: ignore[arg-type]


def test_tiles_cover_the_frame_with_overlap() -> None:
    tiling = Tiling(scales=(1.0, 0.6), overlap=0.3)
    for width, height in [(720, 1280), (1280, 592), (640, 640)]:
        tiles = tiling.tiles(width, height)
        assert tiles[0] == (0, 0, width, height)
        covered = np.zeros((height, width), bool)
        for x0, y0, x1, y1 in tiles[1:] or tiles:
            assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
            covered[y0:y1, x0:x1] = True
        assert covered.all()
