"""posecore.model_bundle: building the pose ``.task`` bundle and choosing which to load.

The bundle is really built (from the mediapipe 0.10.21 wheel, fetched once into
``cache_dir()/wheels`` unless ``POSECORE_SOURCE_WHEEL`` names one) and really
loaded by MediaPipe's ``PoseLandmarker`` on real photos. No mocks.
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
import zipfile
from pathlib import Path

import mediapipe as mp
import numpy as np
import pytest
from mediapipe.tasks.metadata import metadata_schema_py_generated as metadata_fb
from mediapipe.tasks.metadata import schema_py_generated as tflite_fb
from mediapipe.tasks.python.core.base_options import BaseOptions
from mediapipe.tasks.python.vision import PoseLandmarker, PoseLandmarkerOptions
from mediapipe.tasks.python.vision.core.vision_task_running_mode import VisionTaskRunningMode

from posecore.errors import ModelError
from posecore.model_bundle import (
    DEFAULT_MODEL_NAME,
    build_bundle,
    cache_dir,
    download_source_wheel,
    provision_model,
)
from posecore.model_path import model_path
from testbed.photos import real_photo

MEMBERS = {"pose_detector.tflite", "pose_landmarks_detector.tflite"}

NOSE, L_SHOULDER, R_SHOULDER, L_HIP, R_HIP, L_ANKLE, R_ANKLE = 0, 11, 12, 23, 24, 27, 28

# (x, y) of confidently visible landmarks as mediapipe 0.10.21's old solution API
# (mp.solutions.pose, model_complexity=1, static_image_mode=True) gives them for the
# same photos and the same models. Measured worst landmark: a faithful bundle is off
# by 0.005 (bus) / 0.007 (zidane); with the landmark model normalised like the
# detector's, 0.017 / 0.046; with the detector normalised like the landmark
# model's, 0.14 / 0.29.
REFERENCE = {
    "bus.jpg": {
        0: (0.177, 0.413), 11: (0.199, 0.456), 12: (0.104, 0.458), 13: (0.231, 0.516),
        14: (0.142, 0.529), 15: (0.176, 0.517), 16: (0.222, 0.513), 23: (0.188, 0.595),
        24: (0.135, 0.601), 25: (0.202, 0.693), 26: (0.121, 0.703), 27: (0.228, 0.791),
        28: (0.085, 0.796),
    },
    "zidane.jpg": {
        0: (0.778, 0.281), 11: (0.779, 0.419), 12: (0.673, 0.435), 14: (0.654, 0.638),
        16: (0.762, 0.625), 23: (0.700, 0.709), 24: (0.635, 0.714), 26: (0.651, 0.917),
    },
}
TOLERANCE = 0.012  # normalised units: ~10 px on bus.jpg, ~15 px on zidane.jpg


@pytest.fixture(scope="session")
def source_wheel() -> Path:
    """The mediapipe 0.10.21 wheel, downloaded at most once per machine."""
    if os.environ.get("POSECORE_SOURCE_WHEEL"):
        return Path(os.environ["POSECORE_SOURCE_WHEEL"])
    return download_source_wheel(cache_dir() / "wheels")


@pytest.fixture(scope="session")
def bundle(source_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_bundle(tmp_path_factory.mktemp("bundle") / DEFAULT_MODEL_NAME, wheel=source_wheel)


@pytest.fixture
def empty_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty POSECORE_CACHE_DIR, and no POSE_MODEL / POSECORE_SOURCE_WHEEL."""
    monkeypatch.delenv("POSE_MODEL", raising=False)
    monkeypatch.delenv("POSECORE_SOURCE_WHEEL", raising=False)
    cache = tmp_path / "cache"
    monkeypatch.setenv("POSECORE_CACHE_DIR", str(cache))
    return cache


def detect(bundle: Path, rgb: np.ndarray, **options: float) -> list[np.ndarray]:
    """(33, 3) arrays of x, y, visibility, one per person the landmarker finds."""
    landmarker_options = PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(bundle)),
        running_mode=VisionTaskRunningMode.IMAGE,
        num_poses=1,
        **options,
    )
    with PoseLandmarker.create_from_options(landmarker_options) as landmarker:
        result = landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
    return [np.array([[p.x, p.y, p.visibility] for p in pose]) for pose in result.pose_landmarks]


def data_offset(path: Path, info: zipfile.ZipInfo) -> int:
    """File offset of a member's bytes: after its local header, name and extra field."""
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        header = f.read(30)
    assert header[:4] == b"PK\x03\x04"
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_length + extra_length


def input_normalisation(model: bytes) -> tuple[list[float], list[float], int]:
    """mean, std and colour space of the model's image input, from its TFLite metadata."""
    tflite = tflite_fb.Model.GetRootAsModel(model, 0)
    entries = [tflite.Metadata(i) for i in range(tflite.MetadataLength())]
    [entry] = [e for e in entries if e.Name() == b"TFLITE_METADATA"]
    blob = tflite.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
    tensor = metadata_fb.ModelMetadata.GetRootAsModelMetadata(blob, 0).SubgraphMetadata(0).InputTensorMetadata(0)
    unit = tensor.ProcessUnits(0)
    assert unit.OptionsType() == metadata_fb.ProcessUnitOptions.NormalizationOptions
    normalisation = metadata_fb.NormalizationOptions()
    normalisation.Init(unit.Options().Bytes, unit.Options().Pos)
    image = metadata_fb.ImageProperties()
    image.Init(tensor.Content().ContentProperties().Bytes, tensor.Content().ContentProperties().Pos)
    return normalisation.MeanAsNumpy().tolist(), normalisation.StdAsNumpy().tolist(), image.ColorSpace()


def assert_matches_reference(pose: np.ndarray, photo: str) -> None:
    for index, (x, y) in REFERENCE[photo].items():
        assert pose[index, 0] == pytest.approx(x, abs=TOLERANCE), f"landmark {index} x"
        assert pose[index, 1] == pytest.approx(y, abs=TOLERANCE), f"landmark {index} y"


# --- the build -------------------------------------------------------------------


def test_bundle_holds_the_two_models_stored_at_aligned_offsets(bundle: Path) -> None:
    with zipfile.ZipFile(bundle) as zf:
        assert set(zf.namelist()) == MEMBERS
        for info in zf.infolist():
            assert info.compress_type == zipfile.ZIP_STORED, info.filename
            offset = data_offset(bundle, info)
            # MediaPipe mmaps members in place: the bytes must start on a boundary.
            assert offset % 4 == 0, (info.filename, offset)
            with open(bundle, "rb") as f:
                f.seek(offset)
                start = f.read(8)
            assert start == zf.read(info.filename)[:8]
            assert start[4:8] == b"TFL3"  # a TFLite flatbuffer starts right there


def test_each_model_declares_its_image_input_normalisation(bundle: Path) -> None:
    with zipfile.ZipFile(bundle) as zf:
        detector = input_normalisation(zf.read("pose_detector.tflite"))
        landmarks = input_normalisation(zf.read("pose_landmarks_detector.tflite"))
    rgb = metadata_fb.ColorSpaceType.RGB
    assert detector == ([127.5], [127.5], rgb)  # pixels to [-1, 1]
    assert landmarks == ([0.0], [255.0], rgb)  # pixels to [0, 1]


def test_landmarker_finds_the_full_body_on_bus_photo(bundle: Path) -> None:
    rgb = real_photo("bus.jpg")
    poses = detect(bundle, rgb)  # MediaPipe's default thresholds
    assert len(poses) == 1
    [pose] = poses
    assert pose.shape == (33, 3)
    assert np.all((pose[:, :2] > 0) & (pose[:, :2] < 1)), "whole body is inside the photo"
    assert pose[NOSE, 1] < pose[L_SHOULDER, 1] < pose[L_HIP, 1] < pose[L_ANKLE, 1]
    assert pose[NOSE, 1] < pose[R_SHOULDER, 1] < pose[R_HIP, 1] < pose[R_ANKLE, 1]
    assert pose[[NOSE, L_SHOULDER, R_SHOULDER, L_HIP, R_HIP], 2].min() > 0.9
    assert_matches_reference(pose, "bus.jpg")


def test_landmarker_finds_a_person_on_zidane_photo(bundle: Path) -> None:
    rgb = real_photo("zidane.jpg")
    # Waist-up framing: the detector scores this person under the default 0.5, in
    # the old solution API as well, so both are run at 0.3.
    poses = detect(bundle, rgb, min_pose_detection_confidence=0.3)
    assert len(poses) == 1
    [pose] = poses
    assert pose.shape == (33, 3)
    visible = pose[:, 2] > 0.5
    assert visible.sum() >= 15
    assert np.all((pose[visible, :2] > 0) & (pose[visible, :2] < 1)), "visible points inside the photo"
    for hip in (L_HIP, R_HIP):
        for shoulder in (L_SHOULDER, R_SHOULDER):
            assert pose[NOSE, 1] < pose[shoulder, 1] < pose[hip, 1]
    assert_matches_reference(pose, "zidane.jpg")


def test_build_leaves_only_the_bundle_behind(
    source_wheel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    out = tmp_path / "out" / "model.task"
    assert build_bundle(out, wheel=source_wheel) == out
    assert os.listdir(out.parent) == ["model.task"]
    assert os.listdir(scratch) == []


def test_failed_build_keeps_the_previous_bundle_and_no_temp_files(tmp_path: Path) -> None:
    not_the_wheel = tmp_path / "mediapipe-0.10.21-py3-none-any.whl"
    with zipfile.ZipFile(not_the_wheel, "w") as zf:
        zf.writestr("mediapipe/__init__.py", "")
    out = tmp_path / "out" / DEFAULT_MODEL_NAME
    out.parent.mkdir()
    out.write_bytes(b"previous bundle")
    with pytest.raises(ModelError, match="pose models"):
        build_bundle(out, wheel=not_the_wheel)
    assert out.read_bytes() == b"previous bundle"
    assert os.listdir(out.parent) == [DEFAULT_MODEL_NAME]


def test_pip_failure_is_a_one_line_model_error(
    empty_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real pip run with no package source at all: no config files, no index,
    # no find-links.
    for name in [n for n in os.environ if n.startswith("PIP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    dest = tmp_path / "wheels"
    with pytest.raises(ModelError) as caught:
        download_source_wheel(dest)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("could not download mediapipe==0.10.21 with pip: ")
    assert "mediapipe==0.10.21" in message.split(": ", 1)[1]  # pip's own last line
    assert os.listdir(dest) == []


# --- which bundle is loaded ------------------------------------------------------


def test_pose_model_env_wins_over_the_cache(
    bundle: Path, empty_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty_cache.mkdir()
    shutil.copy(bundle, empty_cache / DEFAULT_MODEL_NAME)
    chosen = tmp_path / "pose_landmarker_heavy.task"
    shutil.copy(bundle, chosen)
    monkeypatch.setenv("POSE_MODEL", str(chosen))
    assert provision_model() == chosen


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "no such file"),
        (b"not a zip at all", "not a zip"),
        ({"pose_detector.tflite": b"x"}, "missing pose_landmarks_detector.tflite"),
    ],
    ids=["missing", "not-a-zip", "zip-without-landmarks-model"],
)
def test_pose_model_env_must_name_a_bundle(
    content: bytes | dict[str, bytes] | None,
    problem: str,
    empty_cache: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "any.task"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, dict):
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in content.items():
                zf.writestr(name, data)
    monkeypatch.setenv("POSE_MODEL", str(path))
    with pytest.raises(ModelError) as caught:
        provision_model()
    assert str(path) in str(caught.value)
    assert problem in str(caught.value)
    assert not empty_cache.exists(), "a bad POSE_MODEL must not fall back to building"


def test_cached_bundle_is_used_without_rebuilding(
    bundle: Path, empty_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty_cache.mkdir()
    cached = empty_cache / DEFAULT_MODEL_NAME
    shutil.copy(bundle, cached)
    before = cached.stat().st_mtime_ns
    # Any build attempt would fail on this wheel, so success means no rebuild.
    monkeypatch.setenv("POSECORE_SOURCE_WHEEL", str(tmp_path / "absent.whl"))
    assert provision_model() == cached
    assert model_path() == cached
    assert cached.stat().st_mtime_ns == before
    assert os.listdir(empty_cache) == [DEFAULT_MODEL_NAME]


def test_without_build_an_empty_cache_says_how_to_build(empty_cache: Path) -> None:
    with pytest.raises(ModelError) as caught:
        model_path()
    assert "python -m posecore model" in str(caught.value)
    assert "make setup" in str(caught.value)
    assert str(empty_cache / DEFAULT_MODEL_NAME) in str(caught.value)
    assert not empty_cache.exists()


def test_a_broken_cached_bundle_is_rebuilt_from_the_source_wheel_env(
    bundle: Path, source_wheel: Path, empty_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty_cache.mkdir()
    cached = empty_cache / DEFAULT_MODEL_NAME
    cached.write_bytes(b"truncated by an old crash")
    with pytest.raises(ModelError):
        model_path()
    monkeypatch.setenv("POSECORE_SOURCE_WHEEL", str(source_wheel))
    assert provision_model() == cached
    with zipfile.ZipFile(cached) as rebuilt, zipfile.ZipFile(bundle) as reference:
        for name in MEMBERS:
            assert rebuilt.read(name) == reference.read(name)
    assert os.listdir(empty_cache) == [DEFAULT_MODEL_NAME]
