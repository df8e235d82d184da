"""Clothing colours tell dancers apart; the same clothes match wherever the dancer stands."""

from __future__ import annotations

import numpy as np

from posecore.appearance import FEATURE_SIZE, appearance_distance, appearance_features
from tests.core.test_tracking import person_at


def stage(*dancers: tuple[float, tuple[int, int, int], tuple[int, int, int]]) -> np.ndarray:
    """A grey 360x640 stage with dancers at x (normalised): a top and trousers colour each,
    painted over their torso and thighs as ``person_at`` places them (size 0.2)."""
    image = np.full((360, 640, 3), 128, np.uint8)
    for x, top, trousers in dancers:
        cx = int(x * 640)
        image[108:216, cx - 40 : cx + 40] = top  # shoulders (y 0.3) to hips (y 0.6)
        image[216:300, cx - 40 : cx + 40] = trousers
    return image


def people(*xs: float) -> np.ndarray:
    landmarks = np.stack([person_at(x, 0.45, 0.3)[0] for x in xs])
    landmarks[:, [25, 26], 1] = 0.8  # knees
    landmarks[:, 25, 0], landmarks[:, 26, 0] = landmarks[:, 23, 0], landmarks[:, 24, 0]
    return landmarks


RED, BLUE, BLACK, WHITE = (200, 30, 30), (30, 60, 200), (15, 15, 15), (240, 240, 240)


def test_same_clothes_match_and_different_clothes_do_not() -> None:
    image = stage((0.2, RED, BLACK), (0.5, BLUE, BLACK), (0.8, RED, BLACK))
    features = appearance_features(image, people(0.2, 0.5, 0.8))
    assert features.shape == (3, FEATURE_SIZE)
    same = appearance_distance(features[0], features[2])
    different = appearance_distance(features[0], features[1])
    assert same < 0.1 and different > 0.3  # tops differ, trousers alike: half the regions


def test_black_and_white_clothes_differ_by_brightness() -> None:
    image = stage((0.3, BLACK, BLACK), (0.7, WHITE, WHITE))
    features = appearance_features(image, people(0.3, 0.7))
    assert appearance_distance(features[0], features[1]) > 0.5


def test_a_person_off_the_frame_has_no_colours_to_compare() -> None:
    features = appearance_features(stage(), people(1.5))
    assert not features.any()
    assert np.isnan(appearance_distance(features[0], features[0]))
