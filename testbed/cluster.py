"""Start a real local Ray cluster and deploy the ``dance`` app from serve_config.yaml.

Used by the Serve tests and the benchmarks. The cluster is started with ``ray start``
(the path users take), with token auth on and a token of its own (Ray 2.59+ turns
token auth on for new clusters and keeps the token in ~/.ray; the user's is left
alone), its own ports and temp dir. The app is deployed with ``serve deploy``.

A cluster may have more nodes on this machine (``ray start --address``, each with its
own temp dir, as on separate machines). Every node is started in a process session
of its own, so one node can be removed alone (all its processes killed at once, as
when a machine is lost) and teardown stops exactly this cluster's processes:
``ray stop`` would stop every Ray process on the machine, other clusters' too.
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from serve_app.proxy_memory import NODE_ENV

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
APP = "dance"

REPLICA_NODES = """
import json
import sys
import ray
from ray.util.state import list_actors

ray.init(address="auto", logging_level="ERROR")
alive = list_actors(filters=[("class_name", "=", f"ServeReplica:dance:{sys.argv[1]}"), ("state", "=", "ALIVE")])
print(json.dumps({a.name: a.node_id for a in alive}))
"""

NODE_ID = """
import sys
import ray

ray.init(address="auto", logging_level="ERROR")
print(next(n["NodeID"] for n in ray.nodes() if n["Alive"] and n["NodeManagerPort"] == int(sys.argv[1])))
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


def serve_config(
    http_port: int, args: dict | None = None, autoscaling: dict | None = None, user_config: dict | None = None
) -> dict:
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
class LocalNode:
    """One ``ray start`` node on this machine, in a process session of its own."""

    session: int  # the session id of every process of the node
    temp_dir: Path
    node_manager_port: int
    node_id: str = ""

    def processes(self) -> list[int]:
        """Live (not zombie) processes of the node."""
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if os.getsid(int(entry)) == self.session and _state(int(entry)) != "Z":
                    pids.append(int(entry))
            except (OSError, IndexError):  # gone meanwhile
                pass
        return pids

    def kill(self, timeout_s: float = 30) -> None:
        """SIGKILL every process of the node, as if its machine was lost; returns once all are gone."""
        deadline = time.monotonic() + timeout_s
        while pids := self.processes():
            if time.monotonic() > deadline:
                raise TimeoutError(f"processes of the node survived SIGKILL: {pids}")
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def command_line(pid: int) -> str:
    """A process's command line, arguments joined by spaces (OSError once it is gone)."""
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")


def open_files(pid: int) -> list[str]:
    """The files a process has open (sockets, pipes and anonymous inodes left out).

    Each descriptor is read on its own: one may close between the listing and its
    readlink (that race made a test flaky), and a closed one is simply not open.
    """
    files = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except FileNotFoundError:
            continue
        if not target.startswith(("socket:", "pipe:", "anon_inode:")):
            files.append(target)
    return files


def rss_bytes(pid: int) -> int:
    """A process's resident set size (OSError once it is gone)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return next((int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0)


def start_node(args: list[str], env: dict[str, str], temp_dir: Path, node_manager_port: int) -> LocalNode:
    """``ray start ARGS`` in a new process session; the node it leaves running."""
    process = subprocess.Popen(
        [str(BIN / "ray"), "start", *args],
        env=env,
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    node = LocalNode(session=process.pid, temp_dir=temp_dir, node_manager_port=node_manager_port)
    try:
        _, stderr = process.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        node.kill()
        raise
    if process.returncode != 0:
        node.kill()
        raise RuntimeError(f"ray start {args[:1]} failed: {stderr[-2000:]}")
    return node


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
    nodes: list[LocalNode] = field(default_factory=list)  # the head first

    def deploy(self, config: dict, wait: bool = True) -> None:
        """``serve deploy`` a config and (``wait``) wait until the app is RUNNING again."""
        path = self.temp_dir / "serve_config.yaml"
        path.write_text(yaml.safe_dump(config))
        run([str(BIN / "serve"), "deploy", str(path), "-a", self.dashboard], self.env)
        self.config = config
        if wait:
            wait_for(lambda: self.app_status() == "RUNNING", 180, "the app to be RUNNING")

    def add_node(self, num_cpus: int = 1) -> LocalNode:
        """Start a worker node on this machine that joins the cluster (``ray start --address``).

        It has its own temp dir (so its own logs), and its Serve proxy its own HTTP port
        (Serve's per-node override; on separate machines all proxies share one port).
        """
        temp_dir = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))
        port = free_port()
        env = dict(self.env, RAY_SERVE_WORKER_PROXY_HTTP_PORT=str(free_port()))
        node = start_node(
            [
                f"--address={self.address}",
                f"--num-cpus={num_cpus}",
                "--node-ip-address=127.0.0.1",
                f"--node-manager-port={port}",
                "--dashboard-agent-listen-port=0",
                f"--temp-dir={temp_dir}",
                "--disable-usage-stats",
            ],
            env,
            temp_dir,
            port,
        )
        self.nodes.append(node)
        return node

    def node_id(self, node: LocalNode) -> str:
        """Ray's id of one of the cluster's nodes (asked once, from a separate driver)."""
        if not node.node_id:
            node.node_id = run([sys.executable, "-c", NODE_ID, str(node.node_manager_port)], self.env).strip()
        return node.node_id

    def remove_node(self, node: LocalNode) -> None:
        """Kill every process of a worker node at once, as when its machine is lost."""
        node.kill()
        self.nodes.remove(node)
        shutil.rmtree(node.temp_dir, ignore_errors=True)

    def status(self, app: str = APP) -> dict:
        """The app's details from the dashboard's REST API (what `serve status` reads).

        Asked over HTTP, not by running `serve status`: a new Python process per call
        would take a good share of a core from the benchmarks that poll it.
        """
        token = {"Authorization": f"Bearer {self.env['RAY_AUTH_TOKEN']}"}
        details = httpx.get(f"{self.dashboard}/api/serve/applications/", headers=token, timeout=30).json()
        return (details.get("applications") or {}).get(app, {})

    def app_status(self) -> str | None:
        return self.status().get("status")

    def replica_states(self, deployment: str = "PoseWorker") -> Counter[str]:
        """How many of the deployment's replicas are in each state (RUNNING, STARTING...)."""
        replicas = self.status().get("deployments", {}).get(deployment, {}).get("replicas", [])
        return Counter(replica["state"] for replica in replicas)

    def running(self, deployment: str = "PoseWorker") -> int:
        """Replicas of ``deployment`` in the RUNNING state."""
        return self.replica_states(deployment)["RUNNING"]

    def replica_names(self, deployment: str) -> list[str]:
        """Actor names of the deployment's live replicas, asked from a separate driver."""
        return sorted(self.replica_nodes(deployment))

    def replica_nodes(self, deployment: str) -> dict[str, str]:
        """Actor name -> node id of the deployment's live replicas."""
        return json.loads(run([sys.executable, "-c", REPLICA_NODES, deployment], self.env))

    def serve_log_dirs(self) -> list[Path]:
        """Every node's Serve log directory (each node has its own temp dir)."""
        return [node.temp_dir / "session_latest" / "logs" / "serve" for node in self.nodes]


@contextmanager
def local_cluster(
    num_cpus: int = 2, worker_nodes: Sequence[int] = (), env: dict[str, str] | None = None, **config: dict
) -> Iterator[ServeCluster]:
    """A head node with ``num_cpus`` and the app deployed (``config``: see serve_config).

    ``worker_nodes``: the CPUs of each worker node to add. They join once the ingress
    runs, so the controller and the ingress are on the head (as when workers join a
    new cluster); PoseWorker replicas that found no CPU there start on them.
    ``env``: extra environment for every node and driver. Every node also gets
    ``NODE_ENV``, as ``make serve``, the Docker image and cluster.yaml give theirs.
    """
    temp_dir = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))  # short: Ray puts sockets in it
    gcs, dashboard, http, metrics, node_manager = free_port(), free_port(), free_port(), free_port(), free_port()
    env = {**os.environ, **NODE_ENV, **(env or {})}
    env.update(
        RAY_AUTH_MODE="token",
        RAY_AUTH_TOKEN=secrets.token_hex(16),
        RAY_USAGE_STATS_ENABLED="0",
        RAY_ADDRESS=f"127.0.0.1:{gcs}",
        PYTHONPATH=str(ROOT),
    )
    cluster = ServeCluster(
        address=f"127.0.0.1:{gcs}",
        dashboard=f"http://127.0.0.1:{dashboard}",
        url=f"http://127.0.0.1:{http}",
        metrics_url=f"http://127.0.0.1:{metrics}/metrics",
        temp_dir=temp_dir,
        env=env,
    )
    try:
        cluster.nodes.append(
            start_node(
                [
                    "--head",
                    f"--num-cpus={num_cpus}",
                    f"--port={gcs}",
                    "--node-ip-address=127.0.0.1",
                    f"--node-manager-port={node_manager}",
                    "--dashboard-host=127.0.0.1",
                    f"--dashboard-port={dashboard}",
                    f"--metrics-export-port={metrics}",
                    f"--temp-dir={temp_dir}",
                    "--disable-usage-stats",
                ],
                env,
                temp_dir,
                node_manager,
            )
        )
        token = {"Authorization": f"Bearer {env['RAY_AUTH_TOKEN']}"}
        wait_for(
            lambda: httpx.get(f"{cluster.dashboard}/api/version", headers=token).status_code == 200,
            120,
            "the dashboard",
        )
        cluster.deploy(serve_config(http, **config), wait=not worker_nodes)
        if worker_nodes:
            wait_for(lambda: cluster.running("DanceAnalyzer") == 1, 180, "the ingress to run on the head")
            for cpus in worker_nodes:
                cluster.add_node(cpus)
            wait_for(lambda: cluster.app_status() == "RUNNING", 180, "the app to be RUNNING")
        wait_for(lambda: httpx.get(f"{cluster.url}/healthz").status_code == 200, 120, "/healthz")
        yield cluster
    finally:
        # This cluster's processes only, workers first: `ray stop` would stop every
        # Ray cluster on the machine.
        survivors = []
        for node in reversed(cluster.nodes):
            try:
                node.kill()
            except TimeoutError as exc:
                survivors.append(str(exc))
            shutil.rmtree(node.temp_dir, ignore_errors=True)
        shutil.rmtree(temp_dir, ignore_errors=True)
        if survivors:
            raise RuntimeError(f"cluster teardown left processes: {survivors}")
