"""The installed environment is what the lock files say: pinned, with one headless OpenCV."""

from __future__ import annotations

import importlib.metadata as metadata
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^[A-Za-z0-9_.\-]+(\[[a-z,]+\])?==[0-9][^\s;]*$")


def lock_lines(name: str) -> list[str]:
    lines = (ROOT / name).read_text().splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def test_every_dependency_is_pinned() -> None:
    for name in ("requirements.lock", "requirements-test.lock"):
        assert all(PIN.match(line) for line in lock_lines(name)), name
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert all(PIN.match(dep) for dep in project["dependencies"])


def test_exactly_one_opencv_and_it_is_headless() -> None:
    opencv = sorted(
        d.metadata["Name"].lower() for d in metadata.distributions() if d.metadata["Name"].lower().startswith("opencv")
    )
    assert opencv == ["opencv-contrib-python-headless"]
    assert not any(line.lower().startswith("opencv-contrib-python==") for line in lock_lines("requirements.lock"))


def test_installed_versions_match_the_lock() -> None:
    for line in lock_lines("requirements.lock"):
        name, version = re.sub(r"\[.*\]", "", line).split("==")
        assert metadata.version(name) == version, name


def test_cv2_imports_without_a_gui_library() -> None:
    import cv2

    # The headless build has no GUI backend, and so needs no libGL.
    assert re.search(r"GUI:\s+NONE", cv2.getBuildInformation())
