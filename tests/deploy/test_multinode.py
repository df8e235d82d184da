"""The app spread over a real 2-node Ray cluster on this machine, and losing a node.

The head (1 CPU) and a worker node (1 CPU) are started with ``ray start`` and
``ray start --address``, each with its own temp dir and logs, as on two machines.
PoseWorker has min = max = 2 replicas: one per node, as only one CPU is free on each.
Where each segment of a request ran comes from Serve's own JSON access log lines
("CALL analyze_segment OK", with ``request_id`` and ``node_id``) on every node.

The worker node is removed by SIGKILL of all its processes at once (a lost machine)
while requests are in flight. What Serve does then, and what is asserted:

- the segment lost with its replica is retried by the ingress on the head's replica,
  so requests succeed (or fail with a clear 503 ``worker_unavailable``);
- Serve replaces the lost replica at once, but the replacement waits for a CPU: the
  head's only one is taken. Requests keep being served by the head's replica alone;
- a node added back gets the waiting replacement, so replicas (and a request's
  segments) are spread over both nodes again. Serve never moves a running replica:
  had the head had a spare CPU, the replacement would have started there and stayed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from testbed.cluster import ServeCluster, local_cluster, wait_for
from tests.serve.conftest import TEST_ARGS, person_clip

pytestmark = pytest.mark.slow

# Two segments of 120 frames: each some seconds of one core, so a node can be lost mid-segment.
FRAMES = 240
# The GCS declares a node dead after 3 missed 1 s health checks (Ray's default: 5 x 3 s).
FAST_NODE_FAILURE_DETECTION = {"RAY_health_check_period_ms": "1000", "RAY_health_check_failure_threshold": "3"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[ServeCluster]:
    with local_cluster(num_cpus=1, worker_nodes=[1], env=FAST_NODE_FAILURE_DETECTION,
                       args=dict(TEST_ARGS, worker_replicas=2),
                       autoscaling={"min_replicas": 2, "max_replicas": 2}) as running:
        yield running


@pytest.fixture(scope="module")
def client(cluster: ServeCluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cluster.url, timeout=300) as http:
        yield http


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return person_clip(tmp_path_factory.mktemp("videos") / "person.mp4", FRAMES)


def post(client: httpx.Client, video: bytes) -> httpx.Response:
    return client.post("/analyze", files={"video": ("clip.mp4", video)})


def log_records(log_dirs: list[Path], pattern: str, request_id: str, message: str) -> list[dict]:
    """JSON log records of one request whose message starts with ``message``."""
    records = []
    for log_dir in log_dirs:
        for path in log_dir.glob(pattern):
            for line in path.read_text(errors="replace").splitlines():
                if request_id in line and message in line:
                    record = json.loads(line)
                    if record.get("request_id") == request_id and record["message"].startswith(message):
                        records.append(record)
    return records


def segment_nodes(cluster: ServeCluster, response: httpx.Response, segments: int) -> list[str]:
    """Node ids of the replicas that analysed each of the request's ``segments``."""
    request_id = response.headers["x-request-id"]

    def calls() -> list[dict]:
        return log_records(cluster.serve_log_dirs(), "replica_dance_PoseWorker_*.log", request_id,
                           "CALL analyze_segment OK")

    wait_for(lambda: len(calls()) == segments, 30, f"{segments} segment log lines of {request_id}")
    return sorted(record["node_id"] for record in calls())


def test_pose_worker_replicas_on_both_nodes(cluster: ServeCluster) -> None:
    head, worker = (cluster.node_id(node) for node in cluster.nodes)
    assert sorted(cluster.replica_nodes("PoseWorker").values()) == sorted([head, worker])
    assert list(cluster.replica_nodes("DanceAnalyzer").values()) == [head]


def test_one_request_is_analysed_on_both_nodes(cluster: ServeCluster, client: httpx.Client, video: bytes) -> None:
    response = post(client, video)
    assert response.status_code == 200, response.text
    assert response.json()["analysis"]["frames_analyzed"] == FRAMES
    head, worker = (cluster.node_id(node) for node in cluster.nodes)
    assert segment_nodes(cluster, response, 2) == sorted([head, worker])


def test_worker_node_lost_mid_load(cluster: ServeCluster, client: httpx.Client, video: bytes) -> None:
    head_node, worker_node = cluster.nodes
    head = cluster.node_id(head_node)
    lost = [name for name, node in cluster.replica_nodes("PoseWorker").items() if node != head]
    assert len(lost) == 1

    with ThreadPoolExecutor(2) as pool:
        started = time.monotonic()
        pending = [pool.submit(post, client, video) for _ in range(2)]
        time.sleep(2.0)  # both replicas are in the middle of a segment by now
        cluster.remove_node(worker_node)
        responses = [future.result(timeout=240) for future in pending]
    assert time.monotonic() - started < 120

    for response in responses:
        if response.status_code == 200:  # the lost segment was retried on the head's replica
            assert response.json()["analysis"]["frames_analyzed"] == FRAMES
        else:
            assert response.status_code == 503 and response.headers["retry-after"], response.text
            assert response.json()["error"]["code"] == "worker_unavailable"
    # The node was lost mid-segment: the ingress saw a segment die with its replica.
    losses = [record for response in responses for record in log_records(
        cluster.serve_log_dirs(), "replica_dance_DanceAnalyzer_*.log", response.headers["x-request-id"],
        "segment lost with its replica")]
    assert losses, "no segment was running on the lost node"

    # Serve replaces the lost replica; the replacement waits for a free CPU, and there
    # is none: the head's replica holds its only one.
    def replacement_waiting() -> bool:
        states = cluster.replica_states("PoseWorker")
        return states.get("RUNNING") == 1 and states.get("STARTING") == 1

    wait_for(replacement_waiting, 60, "a replacement replica waiting for a CPU")
    assert list(cluster.replica_nodes("PoseWorker").values()) == [head]
    # Meanwhile the head's replica serves every segment.
    response = post(client, video)
    assert response.status_code == 200, response.text
    assert segment_nodes(cluster, response, 2) == [head, head]


def test_node_added_back_gets_the_replacement(cluster: ServeCluster, client: httpx.Client, video: bytes) -> None:
    head = cluster.node_id(cluster.nodes[0])
    new = cluster.node_id(cluster.add_node(1))
    wait_for(lambda: cluster.running() == 2, 120, "the replacement replica to run on the new node")
    assert sorted(cluster.replica_nodes("PoseWorker").values()) == sorted([head, new])

    response = post(client, video)
    assert response.status_code == 200, response.text
    assert segment_nodes(cluster, response, 2) == sorted([head, new])
