"""Shared fixtures: the real dance video (optional) and the pose model."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_VIDEO = ROOT.parent / "shared" / "data" / "group_dance.mp4"


@pytest.fixture(scope="session")
def shared_video() -> Path:
    """The real 17 s group dance clip; tests using it skip where ../shared is absent."""
    if not SHARED_VIDEO.is_file():
        pytest.skip(f"optional real video not present: {SHARED_VIDEO}")
    return SHARED_VIDEO


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The provisioned pose model (``make test`` builds it before pytest runs)."""
    from posecore.model_path import model_path

    return model_path()
