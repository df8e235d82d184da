"""Fixtures: one real local Ray cluster per session with the ``dance`` app, and videos."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from testbed.cluster import ServeCluster, local_cluster
from testbed.media import write_video
from testbed.photos import real_photo

# Limits small enough to test cheaply, large enough for the real 17 s clip.
TEST_ARGS = {"max_upload_mb": 8, "max_duration_s": 30, "max_pixels": 1920 * 1080, "upload_idle_timeout_s": 3}
CHROMIUM = Path("/usr/bin/chromium")
FAST_AUTOSCALING = {"min_replicas": 1, "upscale_delay_s": 1, "downscale_delay_s": 8}
CUSTOM_POSE = {"hands_overhead_wide": {"description": "test pose", "rules": {"arm_elevation_left": [150, 180]}}}


@pytest.fixture(scope="session")
def serve_cluster() -> Iterator[ServeCluster]:
    with local_cluster(args=TEST_ARGS, autoscaling=FAST_AUTOSCALING, user_config={"poses": CUSTOM_POSE}) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def client(serve_cluster: ServeCluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=serve_cluster.url, timeout=300) as http:
        yield http


def person_clip(path: Path, frames: int) -> bytes:
    """A 15 fps h264 clip of a real person (bus.jpg, cropped, drifting to and fro)."""
    photo = real_photo("bus.jpg")
    shift = [2 * (i % 40 if i % 80 < 40 else 40 - i % 40) for i in range(frames)]
    return write_video(path, [photo[100:900, 10 + s : 490 + s] for s in shift], fps=15, codec="h264").read_bytes()


@pytest.fixture(scope="session")
def person_video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """2 s: quick requests."""
    return person_clip(tmp_path_factory.mktemp("videos") / "person.mp4", 30)


@pytest.fixture(scope="session")
def long_person_video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """20 s (300 frames): several seconds of work, for load, autoscaling and faults."""
    return person_clip(tmp_path_factory.mktemp("videos") / "long_person.mp4", 300)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright (never a browser download)."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is not installed (make test installs Debian's chromium when run as root with apt-get)")
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (it is in requirements-test.lock)")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        except Error as exc:
            pytest.skip(f"{CHROMIUM} cannot start: {str(exc).splitlines()[0]}")
        yield chromium
        chromium.close()
