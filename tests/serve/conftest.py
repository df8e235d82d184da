"""A real local Ray cluster with the ``dance`` app deployed from serve_config.yaml.

The cluster is started once per test session with ``ray start`` (so the tests also
exercise the CLI path users take), with token auth on and an isolated token, its own
ports and temp dir, and is stopped at the end. The app is deployed with ``serve
deploy`` from serve_config.yaml, with test-sized limits and faster autoscaling.
"""

from __future__ import annotations

import copy
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from tests.media import write_video
from tests.photos import real_photo

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
APP = "dance"
# Limits small enough to test cheaply, large enough for the real 17 s clip.
TEST_ARGS = {"max_upload_mb": 8, "max_duration_s": 30, "max_pixels": 1920 * 1080}
CUSTOM_POSE = {"hands_overhead_wide": {"description": "test pose", "rules": {"arm_elevation_left": [150, 180]}}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServeCluster:
    """Handles on the running test cluster."""

    address: str  # GCS address for ray.init / RAY_ADDRESS
    dashboard: str  # for `serve deploy`
    url: str  # Serve HTTP
    metrics_url: str
    temp_dir: Path
    config: dict  # the deployed serve config
    env: dict[str, str]

    def deploy(self, config: dict) -> None:
        """``serve deploy`` a config and wait until the app is RUNNING again."""
        path = self.temp_dir / "serve_test_config.yaml"
        path.write_text(yaml.safe_dump(config))
        run([str(BIN / "serve"), "deploy", str(path), "-a", self.dashboard], self.env)
        self.config = config
        wait_for(lambda: self.app_status() == "RUNNING", 180, "the app to be RUNNING")

    def app_status(self) -> str | None:
        out = run([str(BIN / "serve"), "status", "-a", self.dashboard], self.env)
        status = yaml.safe_load(out) or {}
        return (status.get("applications") or {}).get(APP, {}).get("status")

    def replicas(self, deployment: str = "PoseWorker") -> dict[str, int]:
        out = run([str(BIN / "serve"), "status", "-a", self.dashboard], self.env)
        app = (yaml.safe_load(out).get("applications") or {}).get(APP, {})
        return app.get("deployments", {}).get(deployment, {}).get("replica_states", {})

    def running(self, deployment: str = "PoseWorker") -> int:
        return self.replicas(deployment).get("RUNNING", 0)


def run(cmd: list[str], env: dict[str, str], timeout: float = 300) -> str:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed: {done.stderr[-2000:]}")
    return done.stdout


def wait_for(condition, timeout_s: float, what: str, interval_s: float = 1.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception:  # not up yet
            pass
        time.sleep(interval_s)
    raise TimeoutError(f"timed out after {timeout_s}s waiting for {what}")


def test_config(http_port: int) -> dict:
    """serve_config.yaml with a test port, test limits and faster autoscaling."""
    config = yaml.safe_load((ROOT / "serve_config.yaml").read_text())
    config["http_options"]["port"] = http_port
    app = config["applications"][0]
    app["args"] = dict(TEST_ARGS)
    for deployment in app["deployments"]:
        if deployment["name"] == "DanceAnalyzer":
            deployment["user_config"] = {"poses": copy.deepcopy(CUSTOM_POSE)}
        if deployment["name"] == "PoseWorker":
            deployment["autoscaling_config"].update(upscale_delay_s=1, downscale_delay_s=8)
    return config


@pytest.fixture(scope="session")
def serve_cluster() -> Iterator[ServeCluster]:
    temp_dir = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))  # short: Ray puts sockets in it
    gcs, dashboard, http, metrics = free_port(), free_port(), free_port(), free_port()
    env = dict(os.environ)
    # Ray 2.59+ turns token auth on for new clusters and keeps the token in ~/.ray.
    # Use token auth, as production does, with a token of our own so the user's is untouched.
    env.update(
        RAY_AUTH_MODE="token",
        RAY_AUTH_TOKEN=secrets.token_hex(16),
        RAY_USAGE_STATS_ENABLED="0",
        RAY_ADDRESS=f"127.0.0.1:{gcs}",
        PYTHONPATH=str(ROOT),
    )
    run(
        [str(BIN / "ray"), "start", "--head", "--num-cpus=2", f"--port={gcs}",
         "--node-ip-address=127.0.0.1", "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}",
         f"--metrics-export-port={metrics}", f"--temp-dir={temp_dir}", "--disable-usage-stats"],
        env,
    )
    cluster = ServeCluster(
        address=f"127.0.0.1:{gcs}", dashboard=f"http://127.0.0.1:{dashboard}", url=f"http://127.0.0.1:{http}",
        metrics_url=f"http://127.0.0.1:{metrics}/metrics", temp_dir=temp_dir, config={}, env=env,
    )
    saved = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_ADDRESS")}
    os.environ.update({k: env[k] for k in saved})  # for ray.init in this process
    try:
        token = {"Authorization": f"Bearer {env['RAY_AUTH_TOKEN']}"}
        wait_for(lambda: httpx.get(f"{cluster.dashboard}/api/version", headers=token).status_code == 200,
                 120, "the dashboard")
        cluster.deploy(test_config(http))
        wait_for(lambda: httpx.get(f"{cluster.url}/healthz").status_code == 200, 120, "/healthz")
        yield cluster
    finally:
        subprocess.run([str(BIN / "ray"), "stop", "--force"], env=env, capture_output=True, timeout=120)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(temp_dir, ignore_errors=True)


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
