"""Person ids stay with people, not with MediaPipe's output order."""

from __future__ import annotations

import numpy as np

from posecore.landmarker import FrameDetections
from posecore.tracking import build_tracks


def person_at(cx: float, cy: float, size: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """A crude upright body centred at (cx, cy): only what tracking looks at matters."""
    landmarks = np.zeros((33, 4), dtype=np.float32)
    landmarks[:, 0], landmarks[:, 1], landmarks[:, 3] = cx, cy, 1.0
    landmarks[[11, 12], 1] = cy - size / 2  # shoulders
    landmarks[[23, 24], 1] = cy + size / 2  # hips
    landmarks[[11, 23], 0] = cx + size / 4  # the person's left is image right
    landmarks[[12, 24], 0] = cx - size / 4
    return landmarks, np.zeros((33, 3), dtype=np.float32)


def frame(index: int, *people: tuple[np.ndarray, np.ndarray], fps: float = 30) -> FrameDetections:
    landmarks = np.stack([p[0] for p in people]) if people else np.zeros((0, 33, 4), np.float32)
    world = np.stack([p[1] for p in people]) if people else np.zeros((0, 33, 3), np.float32)
    return FrameDetections(index=index, t_s=index / fps, landmarks=landmarks, world=world)


def test_ids_follow_positions_when_mediapipe_swaps_order() -> None:
    frames = []
    for i in range(20):
        left, right = person_at(0.25 + 0.002 * i, 0.5), person_at(0.75 - 0.002 * i, 0.5)
        frames.append(frame(i, *((left, right) if i % 3 else (right, left))))
    tracks = build_tracks(frames)
    assert [len(t) for t in tracks] == [20, 20]
    for track in tracks:
        xs = track.landmarks[:, 11, 0]
        assert np.all(np.abs(np.diff(xs)) < 0.01), "a track jumped between people"


def test_a_different_person_gets_a_new_id() -> None:
    frames = [frame(i, person_at(0.2, 0.5)) for i in range(10)]
    frames += [frame(i, person_at(0.8, 0.5)) for i in range(10, 20)]
    tracks = build_tracks(frames)
    assert [t.id for t in tracks] == [1, 2]
    assert tracks[0].frame_indices.tolist() == list(range(10))
    assert tracks[1].frame_indices.tolist() == list(range(10, 20))


def test_short_gap_keeps_the_id_but_a_long_one_does_not() -> None:
    seen = [i for i in range(90) if not 10 <= i < 15 and not 25 <= i < 70]  # 5-frame gap, 1.5 s gap
    tracks = build_tracks([frame(i, person_at(0.5, 0.5)) for i in seen])
    assert [len(t) for t in tracks] == [20, 20]


def test_after_a_gap_a_person_may_have_moved_but_not_teleported() -> None:
    before = [frame(i, person_at(0.3, 0.5)) for i in range(10)]
    near = [frame(i, person_at(0.5, 0.5)) for i in range(24, 30)]  # 0.8 s unseen, 1 torso length away
    far = [frame(i, person_at(0.9, 0.5)) for i in range(24, 30)]  # 0.8 s unseen, across the frame
    assert len(build_tracks(before + near)) == 1
    assert len(build_tracks(before + far)) == 2


def test_frames_without_people_leave_no_rows() -> None:
    tracks = build_tracks([frame(0), frame(1, person_at(0.5, 0.5)), frame(2)])
    assert len(tracks) == 1 and tracks[0].frame_indices.tolist() == [1]
