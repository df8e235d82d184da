"""Key poses and movement quality on a real K-pop solo (optional: needs ../shared/data)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from posecore.angles import joint_angles
from posecore.detection import detect_frames
from posecore.hits import body_speed, find_moments, hit_times
from posecore.key_poses import KeyPose, find_key_poses
from posecore.landmarker import PoseModel
from posecore.movement_quality import movement_metrics
from posecore.pose_library import PoseLibrary
from posecore.smoothing import Smoothing, smooth_track
from posecore.thumbnails import frame_thumbnails
from posecore.tracking import build_tracks
from posecore.tracks import Track
from posecore.video import VideoInfo, probe, sample_indices

KPOP = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "solo_kpop_1080p.mp4"


@pytest.fixture(scope="module")
def kpop(model_path: Path) -> tuple[VideoInfo, Track]:
    """The dancer's smoothed track, as the pipeline makes it."""
    if not KPOP.is_file():
        pytest.skip(f"optional real video not present: {KPOP}")
    info = probe(KPOP)
    with PoseModel(model_path, max_people=1) as model:
        detections = list(detect_frames(KPOP, info, sample_indices(info, None), model))
    tracks = build_tracks(detections, aspect=info.width / info.height)
    return info, smooth_track(max(tracks, key=len), Smoothing())


def analyse(info: VideoInfo, track: Track) -> tuple[list[float], list[KeyPose], dict]:
    step = 1 / info.fps
    angles = joint_angles(track.landmarks, track.world, info.width, info.height)
    speed = body_speed(track, info.width, info.height, frame_duration_s=step)
    moments = find_moments(track, speed, frame_duration_s=step)
    hits = hit_times(moments)
    poses = find_key_poses(track, angles, moments, speed, PoseLibrary.default())
    metrics = movement_metrics(track, angles, speed, hits, None, info.width, info.height, frame_duration_s=step)
    return hits, poses, metrics


def test_kpop_key_poses_and_metrics(kpop: tuple[VideoInfo, Track]) -> None:
    info, track = kpop
    started = time.perf_counter()
    hits, poses, metrics = analyse(info, track)
    assert time.perf_counter() - started < 1.0  # small next to detection (~15 s here)
    # She stands still, arms down, for the first 4 s, then dances: hits only after that,
    # about one a second or more (checked by eye: 4.6, 5.2, 5.8, 7.0, ...).
    assert all(t > 4.0 for t in hits) and 6 <= len(hits) <= 16
    # The opening stance is the first key pose: arms down, recurring within the intro.
    first = poses[0]
    assert first.occurrences[0][0] < 0.5 and sum(a < 4.1 for a, _ in first.occurrences) >= 2
    arms = [first.angles["arm_elevation_left"], first.angles["arm_elevation_right"]]
    assert all(a is not None and a < 20 for a in arms)
    assert len(poses) >= 2
    assert 0.3 < metrics["energy"] < 2.0
    assert metrics["symmetry"] > 0.8
    assert -6.0 < metrics["smoothness"] < -1.0
    rom = metrics["range_of_motion"]["mean"]
    assert rom is not None and 20 < rom < 120
    thumbs = frame_thumbnails(KPOP, info, track, [p.best_row for p in poses])
    assert len(thumbs) == len(poses) and all(len(uri) <= 15_000 for uri in thumbs.values())
    assert np.all([p.to_dict(thumbs[p.best_row])["thumbnail"].startswith("data:image/jpeg") for p in poses])
