"""Faults on the real cluster: replicas killed mid-request, clients that leave, a bad model.

Every accepted request must end in a correct result or a clear 5xx within a bounded
time, and the deployment must come back to its configured replicas.
"""

from __future__ import annotations

import copy
import json
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from testbed.cluster import ServeCluster, run, wait_for
from tests.serve.conftest import person_clip

KILL_REPLICA = """
import sys
import ray

ray.init(address="auto", logging_level="ERROR")
ray.kill(ray.get_actor(sys.argv[1], namespace="serve"), no_restart=True)
"""


def post(client: httpx.Client, video: bytes) -> httpx.Response:
    return client.post("/analyze", files={"video": ("clip.mp4", video)})


def kill_replica(cluster: ServeCluster, deployment: str) -> None:
    run([sys.executable, "-c", KILL_REPLICA, cluster.replica_names(deployment)[0]], cluster.env)


def recovered(cluster: ServeCluster) -> bool:
    return cluster.app_status() == "RUNNING" and cluster.running("DanceAnalyzer") == 1 and cluster.running() >= 1


@pytest.fixture(scope="module")
def slow_video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """29 s at 15 fps (435 frames): each of its two segments takes seconds."""
    return person_clip(tmp_path_factory.mktemp("videos") / "slow.mp4", 435)


def test_worker_replica_killed_mid_request(
    serve_cluster: ServeCluster, client: httpx.Client, long_person_video: bytes
) -> None:
    with ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        pending = pool.submit(post, client, long_person_video)
        time.sleep(2.0)  # its segments are running by now
        kill_replica(serve_cluster, "PoseWorker")
        response = pending.result(timeout=240)
    assert time.monotonic() - started < 120
    if response.status_code == 200:  # the lost segment was retried on a live replica
        assert response.json()["analysis"]["frames_analyzed"] == 300
    else:
        assert response.status_code == 503 and response.headers["retry-after"]
        assert response.json()["error"]["code"] == "worker_unavailable"
    wait_for(lambda: recovered(serve_cluster), 120, "recovery")
    assert post(client, long_person_video).status_code == 200


def test_ingress_replica_killed_mid_request(
    serve_cluster: ServeCluster, client: httpx.Client, long_person_video: bytes, person_video: bytes
) -> None:
    with ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        pending = pool.submit(post, client, long_person_video)
        time.sleep(2.0)
        kill_replica(serve_cluster, "DanceAnalyzer")
        response = pending.result(timeout=240)
    assert time.monotonic() - started < 60
    # The request died with the replica that held it: a server error, not a hang.
    assert response.status_code == 200 or response.status_code >= 500, response.text
    wait_for(lambda: recovered(serve_cluster), 120, "a new ingress replica")
    later = post(client, person_video)
    assert later.status_code == 200 and later.json()["analysis"]["frames_analyzed"] == 30


def cancelled_segments(cluster: ServeCluster, request_id: str) -> list[str]:
    """The PoseWorker log lines saying a segment of ``request_id`` stopped early."""
    found = []
    for folder in cluster.serve_log_dirs():
        for path in folder.glob("replica_dance_PoseWorker_*.log"):
            for line in path.read_text(errors="replace").splitlines():
                if request_id in line and "segment cancelled" in line:
                    found.append(json.loads(line)["message"])
    return found


def test_client_disconnect_cancels_its_segments(
    serve_cluster: ServeCluster, client: httpx.Client, slow_video: bytes, person_video: bytes
) -> None:
    wait_for(lambda: recovered(serve_cluster), 120, "a healthy app")
    request_id = "leaving-client-1"
    with pytest.raises(httpx.ReadTimeout):  # the client gives up and closes its connection
        client.post("/analyze", files={"video": ("slow.mp4", slow_video)},
                    headers={"x-request-id": request_id}, timeout=httpx.Timeout(300, read=4.0))
    wait_for(lambda: cancelled_segments(serve_cluster, request_id), 30, "a segment to stop early")
    for message in cancelled_segments(serve_cluster, request_id):
        done, total = map(int, re.fullmatch(r"segment cancelled after (\d+) of (\d+) frames", message).groups())
        assert done < total, message  # stopped partway, not at the end
    # The replicas are free again: a short request does not wait behind the abandoned one.
    assert post(client, person_video).status_code == 200


BAD_BUNDLE_APP = {
    "name": "broken",
    "route_prefix": "/broken",
    "import_path": "serve_app.app:build_app",
    "args": {},
    "runtime_env": {"env_vars": {}},  # POSE_MODEL set below
}


def failed_ingress(cluster: ServeCluster, app: str) -> dict | None:
    """The app's ingress deployment details once the app and it have DEPLOY_FAILED."""
    details = cluster.status(app)
    deployment = details.get("deployments", {}).get("DanceAnalyzer", {})
    return deployment if details.get("status") == deployment.get("status") == "DEPLOY_FAILED" else None


def test_a_model_that_fails_to_load_fails_its_deployment_clearly(
    serve_cluster: ServeCluster, client: httpx.Client, person_video: bytes, tmp_path: Path
) -> None:
    """A second app whose replicas get a corrupt model: it fails to deploy with the
    reason in its status, in bounded time; the dance app keeps serving."""
    corrupt = tmp_path / "corrupt.task"
    corrupt.write_bytes(b"PK\x03\x04 not really a bundle")
    original = copy.deepcopy(serve_cluster.config)
    broken = copy.deepcopy(BAD_BUNDLE_APP)
    broken["runtime_env"]["env_vars"]["POSE_MODEL"] = str(corrupt)
    config = copy.deepcopy(original)
    config["applications"].append(broken)
    try:
        serve_cluster.deploy(config, wait=False)
        wait_for(lambda: failed_ingress(serve_cluster, "broken"), 180, "the broken app to fail")
        message = failed_ingress(serve_cluster, "broken")["message"]
        assert f"POSE_MODEL={corrupt}" in message, message
        assert post(client, person_video).status_code == 200  # the healthy app is untouched
    finally:
        serve_cluster.deploy(original)
    wait_for(lambda: serve_cluster.status("broken") == {}, 60, "the broken app to be deleted")
