"""Where the pose model bundle is: runtime code only locates it, never builds it.

Provisioning is a set-up step (``make setup``, ``python -m posecore model``, the
Docker build): see ``posecore/model_bundle.py``.

Environment variables:

- ``POSE_MODEL``: path to a ``.task`` bundle to use instead (any official
  ``pose_landmarker_{lite,full,heavy}.task`` works).
- ``POSECORE_CACHE_DIR``: where the built bundle is kept (default
  ``${XDG_CACHE_HOME:-~/.cache}/posecore``).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from posecore.errors import ModelError

DEFAULT_MODEL_NAME = "pose_landmarker_full.task"

# The Tasks PoseLandmarker looks its two models up by these member names.
DETECTOR_MEMBER = "pose_detector.tflite"
LANDMARKS_MEMBER = "pose_landmarks_detector.tflite"
BUNDLE_MEMBERS = (DETECTOR_MEMBER, LANDMARKS_MEMBER)

SETUP_HINT = "run `make setup` or `python -m posecore model` once to provision it"


def cache_dir() -> Path:
    """Directory for the built bundle: ``$POSECORE_CACHE_DIR``, else
    ``${XDG_CACHE_HOME:-~/.cache}/posecore``. Not created here."""
    explicit = os.environ.get("POSECORE_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(xdg).expanduser() / "posecore"


def model_path() -> Path:
    """Path of the ``.task`` bundle to load: ``$POSE_MODEL``, else the provisioned one.

    Raises:
        ModelError: ``$POSE_MODEL`` is not a bundle, or none was provisioned (the
            message says how to provision it).
    """
    override = os.environ.get("POSE_MODEL")
    if override:
        path = Path(override).expanduser()
        problem = bundle_problem(path)
        if problem:
            raise ModelError(f"POSE_MODEL={path}: {problem}")
        return path
    cached = cache_dir() / DEFAULT_MODEL_NAME
    problem = bundle_problem(cached)
    if problem:
        raise ModelError(f"no pose model bundle at {cached} ({problem}): {SETUP_HINT}")
    return cached


def bundle_problem(path: Path) -> str | None:
    """Why ``path`` is not a usable bundle, or None if it is one."""
    if not path.is_file():
        return "no such file"
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (OSError, zipfile.BadZipFile):
        return "not a .task bundle (not a zip file)"
    missing = [m for m in BUNDLE_MEMBERS if m not in names]
    if missing:
        return f"not a pose landmarker bundle (missing {', '.join(missing)})"
    return None
