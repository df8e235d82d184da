"""Set-up tool: builds the MediaPipe ``PoseLandmarker`` model bundle once.

Runtime code never imports this module (it runs pip); it locates the bundle with
``posecore.model_path``. ``python -m posecore model``, the Makefile and the Dockerfile
call ``provision_model`` here.

MediaPipe 1.2.x only has the Tasks API, whose ``PoseLandmarker`` needs a ``.task``
bundle, and no wheel ships one. The Apache-2.0 BlazePose models themselves are in
the ``mediapipe==0.10.21`` wheel (``pose_detection.tflite`` and
``pose_landmark_full.tflite``), but without the TFLite metadata the Tasks API
reads (image input and its normalisation). So the set-up step is:

1. get the 0.10.21 wheel (``pip download``; nothing else is ever fetched),
2. add image-input metadata to both models with MediaPipe's own metadata writer,
3. zip them, stored and aligned, as ``pose_detector.tflite`` +
   ``pose_landmarks_detector.tflite`` -- the layout of an official bundle.

Environment variables (besides ``POSE_MODEL`` and ``POSECORE_CACHE_DIR``, see
``posecore.model_path``):

- ``POSECORE_SOURCE_WHEEL``: path to an already downloaded
  ``mediapipe-0.10.21-*.whl``, to build offline instead of downloading it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
import tempfile
import types
import zipfile
from collections.abc import Sequence
from pathlib import Path

# Imported up front, not lazily in the build: mediapipe's first import keeps an
# exception (its optional `sounddevice` import error, in audio_record.sd_error) and
# so every frame on the stack at that moment. A first import inside the build would
# pin the build's model buffers and the metadata writer's temporary directory.
import mediapipe  # noqa: F401

from posecore.errors import ModelError
from posecore.model_path import (
    DEFAULT_MODEL_NAME,
    DETECTOR_MEMBER,
    LANDMARKS_MEMBER,
    bundle_problem,
    cache_dir,
    model_path,
)

log = logging.getLogger(__name__)

SOURCE_MEDIAPIPE_VERSION = "0.10.21"

# member name -> (path inside the 0.10.21 wheel, input normalisation mean, std).
# The detector takes pixels scaled to [-1, 1], the landmark model to [0, 1]; these
# are the values the old solution graphs used for the same models.
_SOURCES: dict[str, tuple[str, float, float]] = {
    DETECTOR_MEMBER: ("mediapipe/modules/pose_detection/pose_detection.tflite", 127.5, 127.5),
    LANDMARKS_MEMBER: ("mediapipe/modules/pose_landmark/pose_landmark_full.tflite", 0.0, 255.0),
}

# Any platform's wheel carries identical .tflite files; this platform/Python pair is
# one the registry serves whatever the host is, so the download works everywhere.
_SOURCE_PIP_ARGS = (
    "--only-binary=:all:",
    "--platform",
    "manylinux_2_28_x86_64",
    "--python-version",
    "3.11",
)


def provision_model() -> Path:
    """Path of the bundle to load, building the cached one first if there is none.

    ``$POSE_MODEL`` wins (must be a valid bundle, else ModelError); else the cached
    ``cache_dir()/pose_landmarker_full.task``, built now (one download of the 0.10.21
    wheel) when missing or broken.

    Raises:
        ModelError: bad ``$POSE_MODEL``, or the build failed (e.g. no network).
    """
    if os.environ.get("POSE_MODEL"):
        return model_path()
    cached = cache_dir() / DEFAULT_MODEL_NAME
    if bundle_problem(cached) is None:
        return cached
    log.info("building the pose model bundle %s (one-time set-up)", cached)
    return build_bundle(cached)


def build_bundle(out: Path, *, wheel: Path | None = None) -> Path:
    """Build the bundle at ``out`` from a ``mediapipe==0.10.21`` wheel and return ``out``.

    The wheel is ``wheel`` if given, else ``$POSECORE_SOURCE_WHEEL`` if set (offline
    set-up), else one downloaded with pip into a temporary directory. ``out`` is
    replaced atomically, so a concurrent or interrupted build never leaves a partial
    file; temporary files are removed whatever happens.

    Raises:
        ModelError: the wheel cannot be had or does not hold the models.
    """
    if wheel is None and os.environ.get("POSECORE_SOURCE_WHEEL"):
        wheel = Path(os.environ["POSECORE_SOURCE_WHEEL"]).expanduser()
    if wheel is None:
        with tempfile.TemporaryDirectory(prefix="posecore-wheel-") as tmp:
            return _build_from_wheel(download_source_wheel(Path(tmp)), out)
    return _build_from_wheel(wheel, out)


def download_source_wheel(dest_dir: Path) -> Path:
    """Path of a ``mediapipe==0.10.21`` wheel: one already in ``cache_dir()/wheels``
    or ``dest_dir``, else one downloaded with pip into ``dest_dir``.

    Raises:
        ModelError: pip failed (its last stderr line is in the message).
    """
    pattern = f"mediapipe-{SOURCE_MEDIAPIPE_VERSION}-*.whl"
    cached = sorted((cache_dir() / "wheels").glob(pattern))
    if cached:
        return cached[0]
    return fetch_wheel(f"mediapipe=={SOURCE_MEDIAPIPE_VERSION}", dest_dir, _SOURCE_PIP_ARGS)


def fetch_wheel(requirement: str, dest_dir: Path, pip_args: Sequence[str] = ()) -> Path:
    """Path of the wheel for ``requirement`` (``"name==version"``) in ``dest_dir``,
    downloaded with ``pip download --no-deps`` unless one is already there.

    pip downloads into a private temporary directory and the wheel is then moved in
    with one rename, so concurrent callers never see a partial wheel.

    Raises:
        ModelError: pip failed (its last stderr line is in the message).
    """
    name, version = requirement.split("==")
    pattern = f"{name.replace('-', '_')}-{version}-*.whl"
    existing = sorted(dest_dir.glob(pattern))
    if existing:
        return existing[0]
    dest_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest_dir, prefix=".download-") as tmp:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            *pip_args,
            requirement,
            "-d",
            tmp,
        ]
        done = subprocess.run(command, capture_output=True, text=True)
        found = sorted(Path(tmp).glob(pattern))
        if done.returncode != 0 or not found:
            raise ModelError(f"could not download {requirement} with pip: {_last_line(done.stderr)}")
        target = dest_dir / found[0].name
        os.replace(found[0], target)
    return target


def _build_from_wheel(wheel: Path, out: Path) -> Path:
    bare = _read_models(wheel)
    models = {
        member: _with_image_metadata(bare[member], source, mean, std)
        for member, (source, mean, std) in _SOURCES.items()
    }
    from mediapipe.tasks.python.metadata.metadata_writers import model_asset_bundle_utils

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    try:
        # MediaPipe's own bundler: stored (uncompressed) members at aligned offsets,
        # because MediaPipe mmaps the members straight out of the zip.
        model_asset_bundle_utils.create_model_asset_bundle(models, tmp_name)
        os.chmod(tmp_name, 0o644)  # mkstemp makes it 0600; the cache is a normal file
        os.replace(tmp_name, out)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    log.info("pose model bundle written to %s", out)
    return out


def _read_models(wheel: Path) -> dict[str, bytes]:
    """member name -> bare .tflite bytes read from the wheel."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            return {member: zf.read(source) for member, (source, _, _) in _SOURCES.items()}
    except (OSError, zipfile.BadZipFile, KeyError) as err:
        raise ModelError(
            f"{wheel} is not a mediapipe=={SOURCE_MEDIAPIPE_VERSION} wheel with the pose models: {err}"
        ) from err


def _with_image_metadata(model: bytes, source: str, mean: float, std: float) -> bytes:
    """The model with TFLite metadata declaring an RGB image input normalised as
    ``(pixel - mean) / std``: what the Tasks API needs to feed it images."""
    _install_metadata_version_stand_in()
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, writer_utils

    writer = metadata_writer.MetadataWriter.create(bytearray(model))
    writer.add_general_info(Path(source).stem, f"{source} from mediapipe=={SOURCE_MEDIAPIPE_VERSION}")
    writer.add_image_input(norm_mean=[mean], norm_std=[std])
    # Name each output explicitly: with none given, MediaPipe 1.2.2 fills all output
    # names from one shared object, and every output ends up named "Identity".
    for name in writer_utils.get_output_tensor_names(model):
        writer.add_feature_output(name=name)
    model_with_metadata, _json = writer.populate()
    return bytes(model_with_metadata)


def _install_metadata_version_stand_in() -> None:
    """Let ``mediapipe.tasks.python.metadata`` import in mediapipe 1.2.x.

    That module imports the compiled ``_pywrap_metadata_version``, which the 1.2.x
    wheels no longer ship, only to call ``GetMinimumMetadataParserVersion``. Its C++
    original returns "1.0.0" unless the metadata uses a field added later
    (subgraph-level process units, tensor groups, tokenizers, audio, custom
    metadata...); an image input with per-tensor normalisation uses none, so
    "1.0.0" is the exact answer for what we write.
    """
    if importlib.util.find_spec("mediapipe.tasks.cc") is not None:
        return  # a mediapipe that still ships the compiled module
    package = "mediapipe.tasks.cc.metadata.python"
    stand_in = types.ModuleType(f"{package}._pywrap_metadata_version")
    stand_in.GetMinimumMetadataParserVersion = lambda metadata_buffer: "1.0.0"  # type: ignore[attr-defined]
    parent = types.ModuleType(package)
    parent._pywrap_metadata_version = stand_in  # type: ignore[attr-defined]
    # `from package import _pywrap_metadata_version` only needs these two entries:
    # a module already in sys.modules is used without importing its parents.
    sys.modules.setdefault(package, parent)
    sys.modules.setdefault(stand_in.__name__, stand_in)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no error output"
