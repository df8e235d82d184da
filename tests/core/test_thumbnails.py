"""Key-pose thumbnails: small valid JPEGs of the dancer, from real MediaPipe landmarks."""

from __future__ import annotations

import base64
from pathlib import Path

import cv2
import numpy as np
import pytest

from posecore.landmarker import FrameDetections, PoseModel
from posecore.thumbnails import LONGEST_SIDE, crop_box, thumbnail_data_uri
from testbed.photos import real_photo

PREFIX = "data:image/jpeg;base64,"


def decode(uri: str) -> np.ndarray:
    assert uri.startswith(PREFIX)
    image = cv2.imdecode(np.frombuffer(base64.b64decode(uri[len(PREFIX) :]), np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a decodable JPEG"
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def detect(model_path: Path, image: np.ndarray) -> FrameDetections:
    with PoseModel(model_path, max_people=4) as model:
        return model.detect(image, 0, 0.0)


@pytest.fixture(scope="module")
def bus() -> np.ndarray:
    return real_photo("bus.jpg")


@pytest.fixture(scope="module")
def people(bus: np.ndarray, model_path: Path) -> FrameDetections:
    found = detect(model_path, bus)
    assert found.people >= 1
    return found


def test_thumbnail_is_a_small_jpeg_of_the_person(bus: np.ndarray, people: FrameDetections, model_path: Path) -> None:
    for landmarks in people.landmarks:
        uri = thumbnail_data_uri(bus, landmarks)
        assert len(uri) <= 15_000
        thumb = decode(uri)
        assert max(thumb.shape[:2]) == LONGEST_SIDE
        assert thumb.shape[0] > thumb.shape[1]  # a standing person: taller than wide
    # The thumbnail shows the person: the pose model finds one in it (scaled back up).
    thumb = decode(thumbnail_data_uri(bus, people.landmarks[0]))
    big = cv2.resize(thumb, (thumb.shape[1] * 3, thumb.shape[0] * 3), interpolation=cv2.INTER_CUBIC)
    assert detect(model_path, big).people >= 1


def test_crop_surrounds_the_visible_landmarks(bus: np.ndarray, people: FrameDetections) -> None:
    height, width = bus.shape[:2]
    landmarks = people.landmarks[0]
    x0, y0, x1, y1 = crop_box(landmarks, width, height)
    visible = landmarks[landmarks[:, 3] >= 0.3, :2] * [width, height]
    assert (visible[:, 0] >= x0).all() and (visible[:, 0] <= x1).all()
    assert (visible[:, 1] >= y0).all() and (visible[:, 1] <= y1).all()
    assert (x1 - x0) * (y1 - y0) < 0.5 * width * height  # a crop, not the whole photo


def test_incompressible_image_still_fits_the_budget(people: FrameDetections) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (1080, 810, 3), dtype=np.uint8)
    everywhere = np.array([[0.0, 0.0, 0.0, 1.0], [1.0, 1.0, 0.0, 1.0]] * 16 + [[0.5, 0.5, 0.0, 1.0]], np.float32)
    for budget in (15_000, 3_000):
        uri = thumbnail_data_uri(noise, everywhere, max_bytes=budget)
        assert len(uri) <= budget
        decode(uri)
