"""Cheap requests that used to freeze or exhaust the service (issue 15), on a real cluster:
each is answered quickly with a clear JSON error (or analysed, where it is valid) while
/healthz stays fast.

One small cluster for the module, with short upload-pace windows so the dripping uploads
are cut within seconds, and the default duration limit (the sparse 598 s video).
"""

from __future__ import annotations

import http.client
import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest

from serve_app.multipart_form import READ_UNDER_BYTES
from testbed.cluster import ServeCluster, local_cluster
from testbed.drip import BOUNDARY, drip
from testbed.media import pattern_frames, write_video
from tests.serve.conftest import TEST_ARGS, person_clip

GRACE_S = WINDOW_S = 2.0
MAX_PER_CLIENT = 4
ABUSE_ARGS = dict(TEST_ARGS, max_duration_s=600, worker_replicas=1, max_concurrent_uploads=8,
                  max_concurrent_per_client=MAX_PER_CLIENT, upload_rate_grace_s=GRACE_S,
                  upload_rate_window_s=WINDOW_S)
HEALTHZ_WITHIN_S = 1.0


@pytest.fixture(scope="module")
def abuse_cluster() -> Iterator[ServeCluster]:
    with local_cluster(args=ABUSE_ARGS, autoscaling={"min_replicas": 1, "max_replicas": 1}) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def api(abuse_cluster: ServeCluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=abuse_cluster.url, timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def tiny_video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return write_video(tmp_path_factory.mktemp("v") / "tiny.mp4", pattern_frames(10, 64, 48), fps=10).read_bytes()


@pytest.fixture(scope="module")
def person_video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return person_clip(tmp_path_factory.mktemp("v") / "person.mp4", 30)


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]["code"]


def while_probing_healthz(client: httpx.Client, action: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run ``action`` while another thread times /healthz; (its result, its seconds, slowest /healthz)."""
    slowest = 0.0
    done = threading.Event()

    def probe() -> None:
        nonlocal slowest
        with httpx.Client(base_url=str(client.base_url), timeout=30) as prober:
            while not done.is_set():
                started = time.monotonic()
                assert prober.get("/healthz").status_code == 200
                slowest = max(slowest, time.monotonic() - started)
                done.wait(0.05)

    with ThreadPoolExecutor(1) as pool:
        prober = pool.submit(probe)
        started = time.monotonic()
        try:
            result = action()
        finally:
            elapsed = time.monotonic() - started
            done.set()
        prober.result()
    return result, elapsed, slowest


def analyse(client: httpx.Client, video: bytes, **data: Any) -> httpx.Response:
    return client.post("/analyze", files={"video": ("clip.mp4", video, "video/mp4")}, data=data)


# -- pose files ---------------------------------------------------------------------------


def anchor_bomb(levels: int = 8) -> str:
    """The "billion laughs" in a pose's ``priority``: each level 9 aliases of the one before."""
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join(["x:", "  rules: {elbow_left: [0, 9]}", "  priority:"] + [f"    {line}" for line in lines]) + "\n"


def test_a_4mb_pose_file_part_is_refused_quickly(api: httpx.Client, tiny_video: bytes) -> None:
    poses = ("[" + ",".join(["1"] * (2 * 1024 * 1024)) + "]").encode()  # 4 MB of JSON
    files = {"video": ("clip.mp4", tiny_video, "video/mp4"), "poses": ("poses.json", poses, "application/json")}
    response, seconds, healthz = while_probing_healthz(api, lambda: api.post("/analyze", files=files))
    assert response.status_code == 413, response.text
    assert error_code(response) == "poses_too_large"
    assert seconds < 5 and healthz < HEALTHZ_WITHIN_S


def test_an_anchor_bomb_in_priority_gets_a_short_422(api: httpx.Client, tiny_video: bytes) -> None:
    bomb = anchor_bomb()
    assert len(bomb) < 600  # the issue's ~450 bytes (9**9 values once expanded)
    response, seconds, healthz = while_probing_healthz(api, lambda: analyse(api, tiny_video, poses=bomb))
    assert response.status_code == 422, response.text
    assert error_code(response) == "invalid_pose_library"
    assert len(response.content) < 300
    assert seconds < 5 and healthz < HEALTHZ_WITHIN_S


@pytest.mark.parametrize("text", [
    "[" * 10_000 + "]" * 10_000,  # JSON
    '{"x": ' * 10_000 + "1" + "}" * 10_000,  # JSON objects
    "- " * 10_000 + "1",  # YAML block sequences, compact
    "{a: " * 10_000 + "1" + "}" * 10_000,  # YAML flow mappings
], ids=["json-lists", "json-objects", "yaml-blocks", "yaml-flow"])
def test_deep_nesting_in_poses_is_a_422_not_a_500(api: httpx.Client, tiny_video: bytes, text: str) -> None:
    for response in (analyse(api, tiny_video, poses=text),
                     api.post("/analyze", files={"video": ("clip.mp4", tiny_video, "video/mp4"),
                                                 "poses": ("poses.yaml", text.encode(), "text/yaml")})):
        assert response.status_code == 422, response.text[:300]
        assert error_code(response) == "invalid_pose_library"
        assert len(response.content) < 300


# -- videos -----------------------------------------------------------------------------


def test_a_thousand_frames_a_second_is_refused_before_decoding(api: httpx.Client, tmp_path: Path) -> None:
    video = write_video(tmp_path / "fast.mp4", pattern_frames(1000, 16, 16), fps=1000).read_bytes()
    started = time.monotonic()
    response = analyse(api, video)
    assert time.monotonic() - started < 3  # was 8 s of two cores' work
    assert response.status_code == 413, response.text
    assert error_code(response) == "too_many_frames"


def two_stream_video(path: Path, person: bytes) -> bytes:
    """A 16x16 blank stream first, then the person clip's frames as a second, bigger stream."""
    with av.open(str(path), "w") as out, av.open(io.BytesIO(person)) as clip:
        frames = [frame.to_ndarray(format="rgb24") for frame in clip.decode(video=0)]
        height, width = frames[0].shape[:2]
        small, big = out.add_stream("h264", rate=15), out.add_stream("h264", rate=15)
        for stream, (w, h) in ((small, (16, 16)), (big, (width, height))):
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        blank = pattern_frames(1, 16, 16)[0]
        for i, image in enumerate(frames):
            for stream, picture in ((small, blank), (big, image)):
                frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
                frame.pts = i
                out.mux(stream.encode(frame))
        for stream in (small, big):
            out.mux(stream.encode())
    return path.read_bytes()


def test_the_dancer_in_the_bigger_second_stream_is_found(api: httpx.Client, person_video: bytes,
                                                         tmp_path: Path) -> None:
    response = analyse(api, two_stream_video(tmp_path / "two.mp4", person_video))
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["video"]["width"], result["video"]["height"]) != (16, 16)
    assert len(result["dancers"]) == 1


def test_three_frames_ten_minutes_apart_are_not_too_many(api: httpx.Client, tmp_path: Path) -> None:
    video = write_video(tmp_path / "sparse.mp4", pattern_frames(3, 64, 48), times_s=[0, 299, 598]).read_bytes()
    response = analyse(api, video)
    assert response.status_code == 200, response.text
    assert response.json()["video"]["duration_s"] == pytest.approx(598, abs=1)


def test_a_large_upload_is_analysed_from_its_mapped_file(api: httpx.Client, tmp_path: Path) -> None:
    """Over 1 MB, the ingress maps the spooled upload instead of reading it into memory."""
    noise = np.random.default_rng(5).integers(0, 256, (30, 320, 320, 3), dtype=np.uint8)
    video = write_video(tmp_path / "noise.mp4", list(noise), fps=15).read_bytes()
    assert len(video) > READ_UNDER_BYTES
    response = analyse(api, video)
    assert response.status_code == 200, response.text
    assert response.json()["video"]["frame_count"] == 30
    assert response.json()["analysis"]["frames_analyzed"] == 30


def test_a_file_part_named_only_by_filename_star_is_analysed(api: httpx.Client, tiny_video: bytes) -> None:
    body = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"video\"; filename*=UTF-8''clip.mp4\r\n"
            f"Content-Type: video/mp4\r\n\r\n").encode() + tiny_video + f"\r\n--{BOUNDARY}--\r\n".encode()
    response = api.post("/analyze", content=body,
                        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    assert response.status_code == 200, response.text  # was 422 missing_video
    assert response.json()["video"]["frame_count"] == 10


# -- cheap routes -----------------------------------------------------------------------


def test_head_healthz(api: httpx.Client) -> None:
    response = api.head("/healthz")
    assert response.status_code == 200


def get_raw(url: httpx.URL, path: str) -> tuple[int, bytes]:
    """GET ``path`` as it is (httpx refuses URLs this long); the status and body."""
    connection = http.client.HTTPConnection(url.host, url.port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_a_long_page_path_is_a_short_404(abuse_cluster: ServeCluster) -> None:
    status, body = get_raw(httpx.URL(abuse_cluster.url), "/page/" + "x" * 10_000)
    assert status == 404, body[:300]
    assert len(json.loads(body)["error"]["message"]) < 200


def test_a_100kb_page_path_is_refused_without_an_echo(abuse_cluster: ServeCluster) -> None:
    # Past 16 KB of request line the HTTP proxy (uvicorn's h11) answers 400 itself.
    status, body = get_raw(httpx.URL(abuse_cluster.url), "/page/" + "x" * 100_000)
    assert status in (400, 404, 414) and len(body) < 200, body[:300]


# -- dripping uploads ---------------------------------------------------------------------


def test_dripping_uploads_are_cut_and_a_real_upload_goes_through(
    abuse_cluster: ServeCluster, api: httpx.Client, person_video: bytes
) -> None:
    """N+1 drippers from one address: N are cut with 408 after the grace period and one
    window, the extra one is refused at once (429), and another client's real upload is
    analysed meanwhile."""
    url = httpx.URL(abuse_cluster.url)
    limit_s = GRACE_S + WINDOW_S + 15
    with ThreadPoolExecutor(MAX_PER_CLIENT + 1) as pool:
        drippers = [pool.submit(drip, url, "127.0.0.2", limit_s) for _ in range(MAX_PER_CLIENT + 1)]
        time.sleep(0.5)
        response = analyse(api, person_video)  # from 127.0.0.1
        replies = [d.result() for d in drippers]
    assert response.status_code == 200, response.text
    assert len(response.json()["dancers"]) == 1
    statuses = sorted(reply.split(b" ", 2)[1].decode() if reply else "none" for reply, _ in replies)
    assert statuses == ["408"] * MAX_PER_CLIENT + ["429"], [r[:200] for r, _ in replies]
    for reply, seconds in replies:
        if b" 408 " in reply[:20]:
            assert b"too slow" in reply
            assert GRACE_S <= seconds < GRACE_S + WINDOW_S + 5
        else:
            assert b"too_many_in_progress" in reply and seconds < 2
