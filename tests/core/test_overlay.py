"""The skeleton overlay video, drawn from a real analysis of a real person."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from posecore import AnalysisOptions, AnalysisResult, analyze_video
from posecore.errors import PoseCoreError
from posecore.overlay import dancer_colour, encoder_name, write_overlay
from testbed.media import write_video
from testbed.photos import real_photo

N_FRAMES = 10
LEFT_HIP, RIGHT_KNEE = 23, 26


@pytest.fixture(scope="module")
def person_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The man on the left of bus.jpg, 281x600 (odd width), drifting right."""
    bus = real_photo("bus.jpg")
    frames = [bus[330:930, 10 + 2 * i : 291 + 2 * i] for i in range(N_FRAMES)]
    # 4:4:4, as 4:2:0 has no odd sizes
    return write_video(tmp_path_factory.mktemp("overlay") / "person.mp4", frames, fps=30, pix_fmt="yuv444p")


@pytest.fixture(scope="module")
def result(person_video: Path, model_path: Path) -> AnalysisResult:
    return analyze_video(person_video, AnalysisOptions(include_landmarks=True), model_path=model_path).result


def decode(path: Path) -> tuple[str, list[np.ndarray]]:
    with av.open(str(path)) as container:
        codec = container.streams.video[0].codec_context.name
        return codec, [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def near(image: np.ndarray, colour: tuple[int, int, int], tolerance: int = 60) -> np.ndarray:
    return (np.abs(image.astype(int) - colour) < tolerance).all(axis=-1)


def test_overlay_draws_the_dancers_skeleton(person_video: Path, result: AnalysisResult, tmp_path: Path) -> None:
    out = tmp_path / "overlay.mp4"
    assert write_overlay(person_video, result, out) == encoder_name() == "libx264"
    codec, drawn = decode(out)
    _, original = decode(person_video)
    assert codec == "h264"
    assert len(drawn) == len(original) == N_FRAMES
    assert drawn[0].shape == (600, 280, 3)  # odd width cut to even for yuv420p
    red = dancer_colour(1)
    for frame, before, people in zip(drawn, original, (f.people for f in result.frames or [])):
        new_red = near(frame, red) & ~near(before[:, :280], red)
        assert new_red.sum() > 300  # bones and joints
        for joint in (LEFT_HIP, RIGHT_KNEE):  # drawn where the landmarks are
            x, y, _, visibility = people[0].landmarks[joint]
            assert visibility > 0.5
            row, col = round(y * 600), round(x * 280)
            assert new_red[row - 2 : row + 3, col - 2 : col + 3].any()
        # Away from the body (the top corners) the picture is unchanged.
        assert not new_red[:40, :40].any() and not new_red[:40, -40:].any()


def test_frames_not_analysed_show_the_nearest_skeleton(person_video: Path, model_path: Path, tmp_path: Path) -> None:
    options = AnalysisOptions(sample_fps=15, include_landmarks=True)
    sampled = analyze_video(person_video, options, model_path=model_path).result
    assert sampled.frames is not None and len(sampled.frames) == N_FRAMES // 2
    write_overlay(person_video, sampled, tmp_path / "sampled.mp4")
    _, drawn = decode(tmp_path / "sampled.mp4")
    assert len(drawn) == N_FRAMES
    assert all(near(frame, dancer_colour(1)).sum() > 300 for frame in drawn)


def test_overlay_needs_landmarks_and_a_video_path(person_video: Path, result: AnalysisResult, tmp_path: Path) -> None:
    without = result.model_copy(update={"frames": None})
    with pytest.raises(PoseCoreError, match="include_landmarks"):
        write_overlay(person_video, without, tmp_path / "out.mp4")
    with pytest.raises(PoseCoreError, match="mp4"):
        write_overlay(person_video, result, tmp_path / "out.gif")
    with pytest.raises(PoseCoreError, match="cannot write"):
        write_overlay(person_video, result, tmp_path / "missing_dir" / "out.mp4")
