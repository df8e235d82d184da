"""Autoscaling, metrics, logs and live reconfiguration, on the real cluster."""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from testbed.cluster import ServeCluster, wait_for
from tests.serve.conftest import CUSTOM_POSE


def post(client: httpx.Client, video: bytes) -> httpx.Response:
    return client.post("/analyze", files={"video": ("clip.mp4", video)})


def test_autoscaling_up_under_load_and_down_when_idle(
    serve_cluster: ServeCluster, client: httpx.Client, long_person_video: bytes
) -> None:
    wait_for(lambda: serve_cluster.running() == 1, 90, "idle scale-down to min_replicas=1")
    seen: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen.append(serve_cluster.running())
            time.sleep(0.5)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(3) as pool:
            responses = list(pool.map(lambda _: post(client, long_person_video), range(3)))
    finally:
        stop.set()
        watcher.join()
    assert [r.status_code for r in responses] == [200] * 3
    assert max(seen) == 2, f"replicas seen under load: {sorted(set(seen))}"
    wait_for(lambda: serve_cluster.running() == 1, 90, "scale-down after the load")


def test_custom_metrics_on_prometheus_endpoint(
    serve_cluster: ServeCluster, client: httpx.Client, person_video: bytes
) -> None:
    assert post(client, person_video).status_code == 200
    assert client.post("/analyze", files={"video": ("x.mp4", b"junk")}).status_code == 415

    def exported() -> str | None:
        text = httpx.get(serve_cluster.metrics_url, timeout=10).text
        wanted = ["ray_dance_frames_analyzed", 'stage="segments"', 'stage="upload"',
                  "ray_dance_segments_in_flight", 'code="not_a_video"']
        return text if all(w in text for w in wanted) else None

    wait_for(lambda: exported() is not None, 90, "custom metrics on the Prometheus endpoint", interval_s=3)
    frames = re.search(r"^ray_dance_frames_analyzed_total\{[^}]*\} ([0-9.e+]+)$", exported(), re.M)
    assert frames and float(frames.group(1)) >= 30


def test_json_logs_carry_request_id_and_timings(serve_cluster: ServeCluster, client: httpx.Client,
                                                person_video: bytes) -> None:
    response = post(client, person_video)
    request_id = response.headers["x-request-id"]
    logs = serve_cluster.temp_dir / "session_latest" / "logs" / "serve"

    def record() -> dict | None:
        for path in logs.glob("replica_dance_DanceAnalyzer_*.log"):
            for line in path.read_text(errors="replace").splitlines():
                if request_id in line and "analysed video" in line:
                    return json.loads(line)
        return None

    wait_for(lambda: record() is not None, 30, "the request's log line")
    entry = record()
    assert entry["request_id"] == request_id
    assert entry["frame_count"] == 30 and abs(entry["video_duration_s"] - 2.0) < 0.1
    assert set(entry["timings_s"]) == {"probe", "segments", "aggregation"}


def test_pose_definitions_change_live_without_a_restart(serve_cluster: ServeCluster, client: httpx.Client) -> None:
    before = serve_cluster.replica_names("DanceAnalyzer")
    config = copy.deepcopy(serve_cluster.config)
    ingress = next(d for d in config["applications"][0]["deployments"] if d["name"] == "DanceAnalyzer")
    original = ingress["user_config"]
    ingress["user_config"] = {"poses": {"star": {"description": "arms and legs wide",
                                                  "rules": {"leg_spread": [40, 90], "arm_elevation_left": [100, 150]}}}}
    try:
        serve_cluster.deploy(config)
        wait_for(lambda: "star" in client.get("/poses").json()["poses"], 60, "the new pose")
        poses = client.get("/poses").json()["poses"]
        assert not set(CUSTOM_POSE) & set(poses), "the old user poses should be replaced"
        assert serve_cluster.replica_names("DanceAnalyzer") == before, "the ingress was restarted"
    finally:
        ingress["user_config"] = original
        serve_cluster.deploy(config)
