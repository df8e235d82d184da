"""Person ids stay with people, not with MediaPipe's output order."""

from __future__ import annotations

import numpy as np

from posecore.appearance import FEATURE_SIZE, REGION_SIZE, REGIONS, SATURATION_BINS
from posecore.landmarker import FrameDetections
from posecore.track_cleanup import clean_tracks
from posecore.tracking import build_tracks
from posecore.tracks import Track


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


def looks(hue: int) -> np.ndarray:
    """A colour feature: torso and thighs all of one hue bin (as appearance_features gives)."""
    feature = np.zeros(FEATURE_SIZE, dtype=np.float32)
    for region in range(len(REGIONS)):
        feature[region * REGION_SIZE + hue * SATURATION_BINS + 2] = 1.0
    return feature


def dressed(index: int, *people: tuple[tuple[np.ndarray, np.ndarray], int], fps: float = 30) -> FrameDetections:
    """A frame of people, each with the colour feature of their hue bin."""
    det = frame(index, *(p for p, _ in people), fps=fps)
    det.appearance = np.stack([looks(h) for _, h in people]) if people else np.zeros((0, FEATURE_SIZE), np.float32)
    return det


def test_dancers_who_swap_places_behind_each_other_keep_their_ids() -> None:
    """Red walks left to right behind blue, who walks right to left: while they overlap only
    the front one (blue) is seen; then both again, swapped. Positions alone would give red's
    id to whoever stands where red was; clothing colours say who is who."""
    red, blue = 0, 6
    frames = []
    for i in range(60):
        x_red, x_blue = 0.3 + 0.4 * i / 59, 0.7 - 0.4 * i / 59
        if abs(x_red - x_blue) < 0.12:  # red hidden behind blue (~10 frames)
            frames.append(dressed(i, (person_at(x_blue, 0.5), blue)))
        else:
            frames.append(dressed(i, (person_at(x_red, 0.5), red), (person_at(x_blue, 0.5), blue)))
    tracks = build_tracks(frames)
    assert len(tracks) == 2
    for track in tracks:
        xs = track.landmarks[:, 11, 0] - 0.05  # shoulder -> centre
        assert abs(xs[0] - xs[-1]) > 0.3, "each dancer crossed the stage"
        steps = np.sign(np.diff(xs))
        assert np.all(steps == steps[0]), "a track turned back: it jumped to the other dancer"


def test_a_dancer_hidden_for_two_seconds_comes_back_with_their_id() -> None:
    frames = [dressed(i, (person_at(0.3, 0.5), 1), (person_at(0.6, 0.5), 8)) for i in range(30)]
    frames += [dressed(i, (person_at(0.3, 0.5), 1)) for i in range(30, 90)]  # green hidden 2 s
    frames += [dressed(i, (person_at(0.65, 0.5), 8), (person_at(0.3, 0.5), 1)) for i in range(90, 120)]
    tracks = build_tracks(frames)
    assert [len(t) for t in tracks] == [120, 60]


def test_someone_else_where_a_dancer_was_is_a_new_person() -> None:
    frames = [dressed(i, (person_at(0.5, 0.5), 1)) for i in range(20)]
    frames += [dressed(i, (person_at(0.5, 0.5), 8)) for i in range(20, 40)]  # same place, other clothes
    assert [len(t) for t in build_tracks(frames)] == [20, 20]


def test_flickers_are_dropped_with_several_people() -> None:
    frames = [dressed(i, (person_at(0.3, 0.5), 1), (person_at(0.7, 0.5), 8)) for i in range(30)]
    frames[10].landmarks = np.concatenate([frames[10].landmarks, person_at(0.5, 0.8, 0.05)[0][None]])
    frames[10].world = np.concatenate([frames[10].world, np.zeros((1, 33, 3), np.float32)])
    frames[10].appearance = np.concatenate([frames[10].appearance, looks(4)[None]])
    tracks = build_tracks(frames)
    assert [len(t) for t in tracks] == [30, 30] and [t.id for t in tracks] == [1, 2]


def test_a_flicker_given_a_dancers_id_does_not_split_them_in_two() -> None:
    """A one-frame duplicate of red (frame 50, where red comes back later) starts a track of
    its own; when red, hidden from frame 61, reappears there at frame 70, the tracker gives her
    that track, the nearest. Red's first part and that track overlap at frame 50, so they could
    never be joined: the flicker is dropped from it, and red is one dancer again."""
    red, blue = 1, 8
    frames = []
    for i in range(91):
        people = [(person_at(0.8, 0.5), blue)]
        if i <= 60:
            people.append((person_at(0.3, 0.5), red))
        if i == 50 or i >= 70:
            people.append((person_at(0.5, 0.5), red))
        frames.append(dressed(i, *people))
    tracks = build_tracks(frames)
    assert sorted(len(t) for t in tracks) == [82, 91]
    red_track = next(t for t in tracks if len(t) == 82)
    assert 50 in red_track.frame_indices.tolist() and red_track.frame_indices.tolist().count(50) == 1


def trio(index: int, *, hidden: tuple[int, ...] = (), extra: list | None = None) -> FrameDetections:
    """Three dancers in different colours at x = 0.2, 0.5, 0.8 (hues 1, 5, 8), some hidden."""
    people = [(person_at(x, 0.5), hue) for n, (x, hue) in enumerate([(0.2, 1), (0.5, 5), (0.8, 8)]) if n not in hidden]
    return dressed(index, *people, *(extra or []))


def test_a_dancer_hidden_for_five_seconds_comes_back_with_their_id() -> None:
    """The left dancer is hidden for 5 s (longer than a fragment is joined over) and comes back
    on the right side: nobody else could be them, and someone was missing."""
    frames = [trio(i) for i in range(30)]
    frames += [trio(i, hidden=(0,)) for i in range(30, 180)]
    frames += [trio(i, hidden=(0,), extra=[(person_at(0.65, 0.6), 1)]) for i in range(180, 240)]
    tracks = build_tracks(frames)
    assert sorted(len(t) for t in tracks) == [90, 240, 240]


def test_a_near_duplicate_timestamp_does_not_stop_a_hidden_dancer_coming_back() -> None:
    """As above, with one frame 1 ms after the one before (a variable-rate phone video): time
    seen still counts in the usual frame step, so the dancer is recognised when she returns."""
    frames = [trio(i) for i in range(30)]
    frames += [trio(i, hidden=(0,)) for i in range(30, 180)]
    frames += [trio(i, hidden=(0,), extra=[(person_at(0.65, 0.6), 1)]) for i in range(180, 240)]
    frames[10].t_s = frames[9].t_s + 0.001
    tracks = build_tracks(frames)
    assert sorted(len(t) for t in tracks) == [90, 240, 240]


def test_a_returning_dancer_is_not_guessed_between_two_alike() -> None:
    """Two dancers dressed alike are hidden; one comes back: either could be them, so neither
    id is given (an extra id is better than two dancers joined into one)."""
    frames = [
        dressed(i, (person_at(0.2, 0.5), 1), (person_at(0.4, 0.5), 1), (person_at(0.8, 0.5), 8)) for i in range(30)
    ]
    frames += [dressed(i, (person_at(0.8, 0.5), 8)) for i in range(30, 180)]
    frames += [dressed(i, (person_at(0.3, 0.5), 1), (person_at(0.8, 0.5), 8)) for i in range(180, 240)]
    tracks = build_tracks(frames)
    assert sorted(len(t) for t in tracks) == [30, 30, 60, 240]


def test_a_newcomer_dressed_like_a_dancer_who_left_is_a_new_person() -> None:
    """The left dancer leaves and someone else joins, so nobody is missing when a person dressed
    like the one who left appears later: a new person, not the one who left."""
    frames = [trio(i) for i in range(30)]
    frames += [trio(i, hidden=(0,), extra=[(person_at(0.35, 0.5), 11)]) for i in range(30, 150)]
    frames += [
        trio(i, hidden=(0,), extra=[(person_at(0.35, 0.5), 11), (person_at(0.65, 0.6), 1)]) for i in range(150, 180)
    ]
    tracks = build_tracks(frames)
    assert sorted(len(t) for t in tracks) == [30, 30, 150, 180, 180]


def test_alike_dancers_far_apart_after_a_short_gap_are_two_people() -> None:
    """A dancer leaves on the left and one dressed alike appears on the far right 0.5 s later:
    nobody crosses the stage that fast, so they are two people."""
    frames = [trio(i) for i in range(30)]
    frames += [trio(i, hidden=(0,)) for i in range(30, 45)]
    frames += [trio(i, hidden=(0,), extra=[(person_at(0.95, 0.5), 1)]) for i in range(45, 90)]
    assert sorted(len(t) for t in build_tracks(frames)) == [30, 45, 90, 90]


def track_at(track_id: int, cx: float, indices: list[int], fps: float = 30) -> Track:
    """A track of one still person at ``cx`` on the frames ``indices``."""
    landmarks, world = person_at(cx, 0.5)
    n = len(indices)
    return Track(
        id=track_id,
        frame_indices=np.asarray(indices, dtype=np.int64),
        times_s=np.asarray(indices, dtype=np.float64) / fps,
        landmarks=np.repeat(landmarks[None], n, axis=0),
        world=np.repeat(world[None], n, axis=0),
    )


def test_a_few_frames_seen_now_and_then_are_not_a_dancer() -> None:
    """Three frames spread over a second are 0.1 s seen, not a second: no dancer of their own."""
    dancers = [track_at(1, 0.2, list(range(90))), track_at(2, 0.5, list(range(90)))]
    flicker = track_at(3, 0.85, [40, 55, 70])
    cleaned = clean_tracks([*dancers, flicker], min_dancer_s=1.0, max_people=5)
    assert [len(t) for t in cleaned] == [90, 90]


def test_a_near_duplicate_timestamp_does_not_make_dancers_fleeting() -> None:
    """A variable-rate phone video may have two frames 1 ms apart: the dancers seen for 3 s stay."""
    dancers = [track_at(1, 0.2, list(range(90))), track_at(2, 0.5, list(range(90)))]
    dancers[0].times_s[1] = dancers[0].times_s[0] + 0.001
    cleaned = clean_tracks(dancers, min_dancer_s=1.0, max_people=5)
    assert [len(t) for t in cleaned] == [90, 90]
