"""What a dancer looks like: colour histograms of their torso and thighs.

Positions alone cannot tell two dancers apart after one has passed behind the other;
their clothes usually can. The feature is computed at detection time, while the frame
is at hand, and carried with the detections to tracking.

Feature: for each body region (torso: shoulders to hips; thighs: hips to knees), a
hue x saturation histogram of its coloured pixels plus a brightness histogram of all
its pixels, together normalised to sum 1; the regions are concatenated. Comparing
two features gives a Hellinger distance per region, 0 (same colours) .. 1 (disjoint).
"""

from __future__ import annotations

import cv2
import numpy as np

HUE_BINS, SATURATION_BINS, VALUE_BINS = 12, 3, 4
# Below this saturation (0..255) a pixel is grey/black/white: its hue is noise, so it
# only counts in the brightness histogram.
MIN_SATURATION = 40
REGION_SIZE = HUE_BINS * SATURATION_BINS + VALUE_BINS
# Landmark indices of each region's corners: (left, right) shoulders, hips, knees.
REGIONS: tuple[tuple[int, ...], ...] = ((11, 12, 23, 24), (23, 24, 25, 26))
FEATURE_SIZE = REGION_SIZE * len(REGIONS)
# Regions smaller than this many pixels a side give no usable histogram.
MIN_REGION_PX = 4


def appearance_features(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(k, FEATURE_SIZE) float32 colour features of the k people of ``landmarks`` (k, 33, 4)
    on the upright RGB uint8 ``image``; a region that is off-frame or too small is all zeros."""
    features = np.zeros((landmarks.shape[0], FEATURE_SIZE), dtype=np.float32)
    if landmarks.shape[0] == 0:
        return features
    height, width = image.shape[:2]
    for p, person in enumerate(landmarks):
        for r, corners in enumerate(REGIONS):
            box = _inner_box(person[list(corners), :2] * (width, height), width, height)
            if box is not None:
                x0, y0, x1, y1 = box
                features[p, r * REGION_SIZE : (r + 1) * REGION_SIZE] = _region_histogram(image[y0:y1, x0:x1])
    return features


def appearance_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Hellinger distance between two features, averaged over the regions both have; 0..1,
    or NaN when they share no region (nothing to compare)."""
    distances = []
    for r in range(len(REGIONS)):
        p, q = a[r * REGION_SIZE : (r + 1) * REGION_SIZE], b[r * REGION_SIZE : (r + 1) * REGION_SIZE]
        if p.sum() > 0 and q.sum() > 0:
            overlap = float(np.sqrt(p * q).sum())
            distances.append(np.sqrt(max(0.0, 1.0 - overlap)))
    return float(np.mean(distances)) if distances else float("nan")


def _inner_box(corners: np.ndarray, width: int, height: int) -> tuple[int, int, int, int] | None:
    """The middle of the region spanned by its four corner points, in pixels, clipped to the
    frame: the inner part avoids the background around the body's outline."""
    x0, y0 = corners.min(axis=0)
    x1, y1 = corners.max(axis=0)
    # Shrink the sides toward the centre: arms and background hug a torso's outline.
    cx, half_w = (x0 + x1) / 2, max((x1 - x0) / 2, 1.0) * 0.7
    box = (
        int(max(0, cx - half_w)),
        int(max(0, y0 + 0.1 * (y1 - y0))),
        int(min(width, cx + half_w)),
        int(min(height, y1 - 0.1 * (y1 - y0))),
    )
    if box[2] - box[0] < MIN_REGION_PX or box[3] - box[1] < MIN_REGION_PX:
        return None
    return box


def _region_histogram(pixels: np.ndarray) -> np.ndarray:
    hsv = cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2HSV)
    coloured = (hsv[..., 1] >= MIN_SATURATION).astype(np.uint8)
    hue_sat = cv2.calcHist([hsv], [0, 1], coloured, [HUE_BINS, SATURATION_BINS], [0, 180, MIN_SATURATION, 256])
    value = cv2.calcHist([hsv], [2], None, [VALUE_BINS], [0, 256])
    histogram = np.concatenate([hue_sat.ravel(), value.ravel()]).astype(np.float32)
    total = histogram.sum()
    return histogram / total if total > 0 else histogram
