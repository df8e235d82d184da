"""POST /analyze/stream (NDJSON progress, then the result) and the per-request ``poses`` option."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx

from posecore.pipeline import Event, Progress
from serve_app.http_errors import ApiError
from serve_app.ingress import _ndjson_stream

# A pose every upright person with a visible left arm matches, above every built-in pose.
ANY_LEFT_ARM = "any_left_arm:\n  priority: 100\n  rules: {arm_elevation_left: [0, 180]}\n"


def stream_events(client: httpx.Client, video: bytes, **params: object) -> list[dict]:
    with client.stream("POST", "/analyze/stream", files={"video": ("clip.mp4", video)}, params=params) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"] == "application/x-ndjson"
        return [json.loads(line) for line in response.iter_lines() if line]


def test_stream_reports_each_segment_then_the_result(client: httpx.Client, long_person_video: bytes) -> None:
    events = stream_events(client, long_person_video, sample_fps=10)
    progress, final = events[:-1], events[-1]
    assert all(e["event"] == "progress" for e in progress)
    total = progress[0]["segments_total"]
    assert total >= 2  # 200 frames planned over the 2 replicas
    assert [e["segments_done"] for e in progress] == list(range(total + 1))
    assert {e["segments_total"] for e in progress} == {total}
    assert final["event"] == "result"
    by_post = client.post("/analyze", files={"video": ("a.mp4", long_person_video)}, params={"sample_fps": 10})
    assert final["result"]["dancers"] == by_post.json()["dancers"]
    assert final["result"]["analysis"]["frames_analyzed"] == 200


def test_stream_rejects_bad_input_with_a_plain_json_error(client: httpx.Client, person_video: bytes) -> None:
    cases = [
        ({"video": ("notes.mp4", b"not a video at all" * 100)}, {}, 415, "not_a_video"),
        ({"video": ("clip.mp4", person_video)}, {"max_people": 11}, 422, "invalid_options"),
        ({"video": ("clip.mp4", person_video)}, {"poses": "arms_up: {colour: red}"}, 422, "invalid_pose_library"),
        ({"video": ("empty.mp4", b"")}, {}, 400, "empty_upload"),
        ({}, {}, 400, "missing_video"),
    ]
    for files, params, status, code in cases:
        response = client.post("/analyze/stream", files=files or {"other": ("x", b"x")}, params=params)
        assert response.status_code == status, (code, response.text)
        assert response.headers["content-type"] == "application/json"
        assert response.json()["error"]["code"] == code


def test_poses_option_adds_poses_for_that_request_only(client: httpx.Client, person_video: bytes) -> None:
    as_text = client.post("/analyze", files={"video": ("a.mp4", person_video)}, data={"poses": ANY_LEFT_ARM})
    as_file = client.post(
        "/analyze", files={"video": ("a.mp4", person_video), "poses": ("mine.yaml", ANY_LEFT_ARM.encode())}
    )
    as_json = stream_events(client, person_video, poses=json.dumps({"any_left_arm": {
        "priority": 100, "rules": {"arm_elevation_left": [0, 180]}}}))[-1]["result"]
    plain = client.post("/analyze", files={"video": ("a.mp4", person_video)})
    for result in (as_text.json(), as_file.json(), as_json):
        assert "any_left_arm" in result["dancers"][0]["summary"], result["dancers"][0]["summary"]
    assert "any_left_arm" not in plain.json()["dancers"][0]["summary"]
    assert "any_left_arm" not in client.get("/poses").json()["poses"]  # the service's vocabulary is unchanged


def test_bad_poses_option_is_a_422(client: httpx.Client, person_video: bytes) -> None:
    for poses in ("arms_up: [1, 2", "standing: {rules: {knee_left: [0, 10]}}", "- just\n- a list\n"):
        response = client.post("/analyze", files={"video": ("a.mp4", person_video)}, data={"poses": poses})
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid_pose_library" and error["message"]


def test_an_error_after_streaming_started_is_the_last_event() -> None:
    """In process: once progress was sent, a failure (here a lost worker pool) ends the stream as an event."""

    async def run() -> list[dict]:
        async def events() -> AsyncIterator[Event]:
            yield Progress(1, 2)
            await asyncio.sleep(0.01)
            raise ApiError("worker_unavailable", "pose replicas kept failing; retry shortly")

        return [json.loads(line) async for line in _ndjson_stream(Progress(0, 2), events())]

    lines = asyncio.run(run())
    assert [(e["event"], e.get("segments_done")) for e in lines] == [("progress", 0), ("progress", 1), ("error", None)]
    assert lines[-1]["error"] == {"code": "worker_unavailable", "message": "pose replicas kept failing; retry shortly"}


def test_a_client_leaving_mid_stream_leaves_the_service_healthy(
    client: httpx.Client, long_person_video: bytes, person_video: bytes
) -> None:
    with client.stream("POST", "/analyze/stream", files={"video": ("clip.mp4", long_person_video)}) as response:
        first = json.loads(next(response.iter_lines()))
        assert first["event"] == "progress" and first["segments_done"] == 0
    # Gone after the first event; the next request is served normally.
    response = client.post("/analyze", files={"video": ("a.mp4", person_video)}, timeout=120)
    assert response.status_code == 200 and response.json()["dancers"]
