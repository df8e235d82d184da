"""Only Serve's HTTP port is ever bound publicly by our configs.

The Ray dashboard (and Serve's REST API on it), the GCS and the object store must not
be reachable from outside: on one machine (`make serve`) and in the container they
stay on loopback or unpublished; on the cluster the dashboard stays on the head's
loopback and the security group admits only Serve's port from outside (the rest of
cluster.yaml's rules are tested in test_cluster_yaml.py).
"""

from __future__ import annotations

import inspect
import re
import shlex
from pathlib import Path

import ray
import yaml
from ray.scripts.scripts import start as ray_start

from tests.deploy.test_dockerfile import DOCKERFILE, exec_form, public_config_command

ROOT = Path(__file__).resolve().parents[2]
SERVE_CONFIG = yaml.safe_load((ROOT / "serve_config.yaml").read_text())
SERVE_PORT = SERVE_CONFIG["http_options"]["port"]
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def values(node: object) -> list[object]:
    """Every scalar in a parsed YAML document."""
    if isinstance(node, dict):
        return [v for value in node.values() for v in values(value)]
    if isinstance(node, list):
        return [v for item in node for v in values(item)]
    return [node]


def test_rays_own_defaults_keep_the_dashboard_on_loopback() -> None:
    # `serve run` (make serve, the container) starts Ray through ray.init; a bare
    # `ray start --head` takes the CLI default. Both must stay local-only, since our
    # configs rely on them.
    assert inspect.signature(ray.init).parameters["dashboard_host"].default in LOOPBACK
    [option] = [p for p in ray_start.params if p.name == "dashboard_host"]
    assert option.default in LOOPBACK


def test_serve_config_binds_loopback_and_nothing_else() -> None:
    assert SERVE_CONFIG["http_options"]["host"] == "127.0.0.1"
    assert "0.0.0.0" not in values(SERVE_CONFIG)
    assert "grpc_options" not in SERVE_CONFIG  # no second public listener


def test_makefile_serves_with_rays_defaults() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^serve:.*\n\t\$\(VENV\)/bin/serve run serve_config\.yaml$", makefile, re.M)
    assert "0.0.0.0" not in makefile and "dashboard-host" not in makefile and "ray start" not in makefile


def test_container_publishes_only_serves_port() -> None:
    assert [a for k, a in DOCKERFILE if k == "EXPOSE"] == [str(SERVE_PORT)]
    assert exec_form("CMD")[:2] == ["serve", "run"]  # Ray from ray.init: dashboard on the container's loopback
    text = (ROOT / "Dockerfile").read_text()
    assert "ray start" not in text and "dashboard-host" not in text
    # The one 0.0.0.0 is Serve's own HTTP host, in the rewrite of serve_config.yaml.
    runs = [a for k, a in DOCKERFILE if "0.0.0.0" in a]
    assert runs == [public_config_command()] and "c['http_options']['host'] = '0.0.0.0'" in runs[0]
    # The documented `docker run` publishes that port alone.
    readme = (ROOT / "README.md").read_text()
    [run] = [line for line in readme.splitlines() if line.startswith("docker run ")]
    assert re.findall(r"-p (\S+)", run) == [f"{SERVE_PORT}:{SERVE_PORT}"]


def test_cluster_keeps_the_dashboard_on_the_heads_loopback() -> None:
    config = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    starts = [c for c in config["head_start_ray_commands"] + config["worker_start_ray_commands"] if "ray start" in c]
    for command in starts:
        words = shlex.split(command.split(";")[-1])
        hosts = [w.split("=", 1)[1] for w in words if w.startswith("--dashboard-host=")]
        assert all(h in LOOPBACK for h in hosts), command
        assert "--head" not in words or hosts, "the head names its dashboard host explicitly"
        assert not any(w.startswith(("--ray-client-server-port", "--metrics-export-port")) for w in words)
    # From outside: Serve's port only (GCS 6379, object manager 8076 and the rest
    # accept the cluster's own nodes, through the group's rule on itself).
    rules = config["provider"]["security_group"]["IpPermissions"]
    assert [(r["FromPort"], r["ToPort"]) for r in rules] == [(SERVE_PORT, SERVE_PORT)]


def test_readme_starts_ray_with_the_dashboard_on_loopback() -> None:
    readme = (ROOT / "README.md").read_text()
    starts = [line for line in readme.splitlines() if line.strip().startswith("ray start")]
    assert starts and all("--dashboard-host=127.0.0.1" in line for line in starts)
