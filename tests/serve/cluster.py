"""Start a real local Ray cluster and deploy the ``dance`` app from serve_config.yaml.

Used by the Serve tests and the benchmarks. The cluster is started with ``ray start``
(the path users take), with token auth on and a token of its own (Ray 2.59+ turns
token auth on for new clusters and keeps the token in ~/.ray; the user's is left
alone), its own ports and temp dir. The app is deployed with ``serve deploy``.
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
APP = "dance"

LIST_REPLICAS = """
import sys
import ray
from ray.util.state import list_actors

ray.init(address="auto", logging_level="ERROR")
alive = list_actors(filters=[("class_name", "=", f"ServeReplica:dance:{sys.argv[1]}"), ("state", "=", "ALIVE")])
print(" ".join(sorted(a.name for a in alive)))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd: list[str], env: dict[str, str], timeout: float = 300) -> str:
    """Run a command to completion; its stdout, or RuntimeError with its stderr."""
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed: {done.stderr[-2000:]}")
    return done.stdout


def wait_for(condition: Callable[[], object], timeout_s: float, what: str, interval_s: float = 1.0) -> None:
    """Poll ``condition`` until it is truthy; TimeoutError naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception:  # not up yet
            pass
        time.sleep(interval_s)
    raise TimeoutError(f"timed out after {timeout_s}s waiting for {what}")


def serve_config(http_port: int, args: dict | None = None, autoscaling: dict | None = None,
                 user_config: dict | None = None) -> dict:
    """serve_config.yaml with another port and, optionally, other args and autoscaling."""
    config = yaml.safe_load((ROOT / "serve_config.yaml").read_text())
    config["http_options"]["port"] = http_port
    app = config["applications"][0]
    app["args"].update(args or {})
    for deployment in app["deployments"]:
        if deployment["name"] == "DanceAnalyzer" and user_config is not None:
            deployment["user_config"] = copy.deepcopy(user_config)
        if deployment["name"] == "PoseWorker":
            deployment["autoscaling_config"].update(autoscaling or {})
    return config


@dataclass
class ServeCluster:
    """Handles on a running local cluster with the app deployed."""

    address: str  # GCS address for ray.init / RAY_ADDRESS
    dashboard: str  # for `serve deploy` / `serve status`
    url: str  # Serve HTTP
    metrics_url: str  # Prometheus
    temp_dir: Path
    env: dict[str, str]  # what a driver process needs to connect
    config: dict | None = None  # the deployed serve config

    def deploy(self, config: dict) -> None:
        """``serve deploy`` a config and wait until the app is RUNNING again."""
        path = self.temp_dir / "serve_config.yaml"
        path.write_text(yaml.safe_dump(config))
        run([str(BIN / "serve"), "deploy", str(path), "-a", self.dashboard], self.env)
        self.config = config
        wait_for(lambda: self.app_status() == "RUNNING", 180, "the app to be RUNNING")

    def status(self) -> dict:
        out = run([str(BIN / "serve"), "status", "-a", self.dashboard], self.env)
        return (yaml.safe_load(out).get("applications") or {}).get(APP, {})

    def app_status(self) -> str | None:
        return self.status().get("status")

    def running(self, deployment: str = "PoseWorker") -> int:
        """Replicas of ``deployment`` in the RUNNING state."""
        states = self.status().get("deployments", {}).get(deployment, {}).get("replica_states", {})
        return states.get("RUNNING", 0)

    def replica_names(self, deployment: str) -> list[str]:
        """Actor names of the deployment's live replicas, asked from a separate driver."""
        return run([sys.executable, "-c", LIST_REPLICAS, deployment], self.env).split()


@contextmanager
def local_cluster(num_cpus: int = 2, **config: dict) -> Iterator[ServeCluster]:
    """A head node with ``num_cpus`` and the app deployed (``config``: see serve_config)."""
    temp_dir = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))  # short: Ray puts sockets in it
    gcs, dashboard, http, metrics = free_port(), free_port(), free_port(), free_port()
    env = dict(os.environ)
    env.update(
        RAY_AUTH_MODE="token",
        RAY_AUTH_TOKEN=secrets.token_hex(16),
        RAY_USAGE_STATS_ENABLED="0",
        RAY_ADDRESS=f"127.0.0.1:{gcs}",
        PYTHONPATH=str(ROOT),
    )
    cluster = ServeCluster(
        address=f"127.0.0.1:{gcs}", dashboard=f"http://127.0.0.1:{dashboard}", url=f"http://127.0.0.1:{http}",
        metrics_url=f"http://127.0.0.1:{metrics}/metrics", temp_dir=temp_dir, env=env,
    )
    try:
        run([str(BIN / "ray"), "start", "--head", f"--num-cpus={num_cpus}", f"--port={gcs}",
             "--node-ip-address=127.0.0.1", "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}",
             f"--metrics-export-port={metrics}", f"--temp-dir={temp_dir}", "--disable-usage-stats"], env)
        token = {"Authorization": f"Bearer {env['RAY_AUTH_TOKEN']}"}
        wait_for(lambda: httpx.get(f"{cluster.dashboard}/api/version", headers=token).status_code == 200,
                 120, "the dashboard")
        cluster.deploy(serve_config(http, **config))
        wait_for(lambda: httpx.get(f"{cluster.url}/healthz").status_code == 200, 120, "/healthz")
        yield cluster
    finally:
        subprocess.run([str(BIN / "ray"), "stop", "--force"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(temp_dir, ignore_errors=True)
