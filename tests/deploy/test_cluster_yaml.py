"""cluster.yaml, offline: Ray's own validator, and the security invariants.

``prepare_config`` merges Ray's AWS defaults and ``validate_config`` checks the
result against Ray's schema; neither calls AWS (nor needs boto3, which only the
head installs, for the autoscaler).
"""

from __future__ import annotations

import copy
import re
import shlex
from pathlib import Path

import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

ROOT = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((ROOT / "cluster.yaml").read_text())
SERVE_PORT = yaml.safe_load((ROOT / "serve_config.yaml").read_text())["http_options"]["port"]
TOKEN_PATH = "/home/admin/.ray/dance-cluster.token"
AUTH_ENV = f"RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH={TOKEN_PATH}"
# vCPUs of the instance types it uses (AWS's published specifications).
VCPUS = {"m7i.large": 2, "c7a.xlarge": 4}


def start_commands() -> list[str]:
    return CONFIG["head_start_ray_commands"] + CONFIG["worker_start_ray_commands"]


@pytest.fixture(scope="module")
def prepared() -> dict:
    config = prepare_config(copy.deepcopy(CONFIG))
    validate_config(config)
    return config


def test_valid_for_rays_cluster_launcher(prepared: dict) -> None:
    assert prepared["provider"]["type"] == "aws"
    assert re.fullmatch(r"[a-z]{2}-[a-z]+-\d", prepared["provider"]["region"])
    assert prepared["provider"]["cache_stopped_nodes"] is False  # `ray down` leaves no disks behind


def test_head_and_cpu_worker_node_types(prepared: dict) -> None:
    types = prepared["available_node_types"]
    head, workers = types[prepared["head_node_type"]], [t for name, t in types.items()
                                                       if name != prepared["head_node_type"]]
    assert head["resources"] == {"CPU": 0}  # no pose replica on the control plane
    assert head["max_workers"] == 0 and head["node_config"]["InstanceType"] in VCPUS
    [worker] = workers
    instance = worker["node_config"]["InstanceType"]
    assert worker["resources"] == {"CPU": VCPUS[instance]}  # one PoseWorker replica per vCPU
    assert 1 <= worker["min_workers"] <= worker["max_workers"] <= prepared["max_workers"]
    assert {t["node_config"]["ImageId"] for t in types.values()} == {head["node_config"]["ImageId"]}


def test_only_ssh_and_serve_are_reachable_from_outside(prepared: dict) -> None:
    # Ray's managed group is used (no node type brings its own), so its rules are
    # intra-cluster traffic, SSH, and exactly these.
    for node_type in prepared["available_node_types"].values():
        assert "SecurityGroupIds" not in node_type["node_config"]
    rules = prepared["provider"]["security_group"]["IpPermissions"]
    assert [(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in rules] == [("tcp", SERVE_PORT, SERVE_PORT)]
    for rule in rules:
        assert not rule.get("UserIdGroupPairs") and not rule.get("PrefixListIds")
        assert all(re.fullmatch(r"\d+\.\d+\.\d+\.\d+/\d+", r["CidrIp"]) for r in rule["IpRanges"])

    # The dashboard (and Serve's REST API with it) listens on the head's loopback only.
    [head_start] = [c for c in CONFIG["head_start_ray_commands"] if "ray start" in c]
    assert "--dashboard-host=127.0.0.1" in shlex.split(head_start)
    assert not any("0.0.0.0" in c for c in start_commands() if "ray start" in c)
    assert not any(re.search(r"--(ray-client-server|metrics-export)-port", c) for c in start_commands())


def test_token_auth_on_every_ray_command() -> None:
    # The token file reaches every node (file_mounts are synced to workers too), from
    # a local file that is not the local default token.
    local = CONFIG["file_mounts"][TOKEN_PATH]
    assert local.startswith("~/.ray/") and local != "~/.ray/auth_token"
    for command in start_commands():
        for call in re.findall(r"(?:^|;|&&)\s*([^;&]*?\b(?:ray|serve) (?:start|stop|deploy)\b)", command):
            assert call.strip().startswith(AUTH_ENV), call
    assert sum("ray start" in c for c in start_commands()) == 2
    # And for interactive commands (`ray exec cluster.yaml 'serve status'`).
    assert any(f"export {AUTH_ENV}" in c for c in CONFIG["setup_commands"])


def test_head_deploys_serve_config_and_workers_join() -> None:
    head = " ; ".join(CONFIG["head_start_ray_commands"])
    assert "--head --port=6379" in head and "--autoscaling-config=~/ray_bootstrap_config.yaml" in head
    [join] = [c for c in CONFIG["worker_start_ray_commands"] if "ray start" in c]
    assert "--address=$RAY_HEAD_IP:6379" in shlex.split(join.split(";")[-1])

    # serve_config.yaml deployed with Serve on 0.0.0.0, by the Dockerfile's rewrite
    # (tests/deploy/test_dockerfile.py runs it).
    [deploy] = [c for c in CONFIG["head_start_ray_commands"] if "serve deploy" in c]
    code, key_file = re.search(r'python -c "(.+?)" (\S+) &&', deploy).groups()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f'RUN python -c "{code}"' in dockerfile
    assert "serve deploy serve_config.public.yaml" in deploy and "'serve_config.public.yaml'" in code


def test_api_keys_are_required_and_reach_every_node() -> None:
    # The deployed config names a key file (the rewrite sets args.api_key_file to its
    # argument; tests/deploy/test_dockerfile.py runs it) that file_mounts puts on
    # every node, since the ingress replica may run on any of them and reads it there.
    [deploy] = [c for c in CONFIG["head_start_ray_commands"] if "serve deploy" in c]
    code, key_file = re.search(r'python -c "(.+?)" (\S+) &&', deploy).groups()
    assert "['api_key_file'] = sys.argv[1]" in code
    local = CONFIG["file_mounts"][key_file]
    assert key_file.startswith("/home/admin/") and local.startswith("~/") and "dance" in local


def test_nodes_install_the_project_as_make_does() -> None:
    assert CONFIG["file_mounts"]["~/dance"] == "."
    assert CONFIG["rsync_filter"] == [".gitignore"] and ".venv/" in (ROOT / ".gitignore").read_text()
    setup = " && ".join(CONFIG["setup_commands"])
    assert "pip install --quiet --no-deps -r requirements.lock" in setup  # the Makefile's lock, the same way
    assert "pip install --quiet --no-deps -e ." in setup
    assert "python -m posecore model" in setup
    assert "requirements-test.lock" not in setup
    apt = next(c for c in CONFIG["setup_commands"] if "apt-get install" in c)
    assert {"python3-venv", "libegl1", "libgles2"} <= set(shlex.split(apt))
    [boto] = CONFIG["head_setup_commands"]
    packages = [w for w in shlex.split(boto.split("pip install", 1)[1]) if not w.startswith("-")]
    assert packages and all(re.fullmatch(r"[a-z0-9-]+==[0-9.]+", p) for p in packages)
    assert "--no-deps" in boto and not CONFIG["worker_setup_commands"]
