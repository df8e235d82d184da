"""The landmark tensors that flow from the pose model to aggregation.

Landmark layout (MediaPipe BlazePose, 33 points): ``landmarks[..., 0:2]`` are x, y
normalised to the *upright* frame (0..1, may fall slightly outside), ``[..., 2]`` is
MediaPipe's relative depth z, ``[..., 3]`` is visibility (0..1). ``world`` holds
MediaPipe's metric world landmarks (x, y, z in metres, hip-centred, y pointing down).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NUM_LANDMARKS = 33


@dataclass
class Track:
    """One dancer over the analysed frames in which they were seen.

    Arrays are aligned on the first axis (one row per frame where this person is seen),
    sorted by time.
    """

    id: int
    frame_indices: np.ndarray  # (n,) int64, global frame index in the video
    times_s: np.ndarray  # (n,) float64, presentation time in seconds
    landmarks: np.ndarray  # (n, 33, 4) float32: x, y, z, visibility
    world: np.ndarray  # (n, 33, 3) float32: metres, hip-centred

    def __len__(self) -> int:
        return int(self.frame_indices.shape[0])
