"""Every bad-input class of the core, over HTTP: a clear JSON error, never a 500."""

from __future__ import annotations

import io
import socket
import wave

import av
import httpx
import numpy as np
import pytest

from tests.media import pattern_frames, write_video
from tests.serve.cluster import ServeCluster


def audio_only_mp4() -> bytes:
    """One second of silence in an mp4 (AAC): a container with no video stream."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 16000), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buffer.getvalue()


def error_of(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["message"]
    return body["error"]["code"]


def post(client: httpx.Client, data: bytes, **params: object) -> httpx.Response:
    return client.post("/analyze", files={"video": ("clip.mp4", data, "video/mp4")}, params=params)


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    tmp = tmp_path_factory.mktemp("bad")
    audio = io.BytesIO()
    with wave.open(audio, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000), w.writeframes(b"\0\0" * 8000)
    return {
        "audio_only": audio_only_mp4(),
        "tiny": write_video(tmp / "tiny.mp4", pattern_frames(10, 64, 48), fps=10).read_bytes(),
        "long": write_video(tmp / "long.mp4", pattern_frames(32, 32, 32), fps=1).read_bytes(),  # 32 s > 30 s
        "huge": write_video(tmp / "huge.mp4", [np.zeros((1088, 1928, 3), np.uint8)], fps=1).read_bytes(),
        "wav": audio.getvalue(),
    }


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("text", 415, "not_a_video"),
        ("random", 415, "not_a_video"),
        ("wav", 415, "not_a_video"),
        ("audio_only", 422, "no_video_stream"),
        ("long", 413, "video_too_long"),
        ("huge", 413, "too_many_pixels"),
        ("empty", 400, "empty_upload"),
        ("truncated", 415, "not_a_video"),
    ],
)
def test_bad_videos(client: httpx.Client, videos: dict[str, bytes], name: str, status: int, code: str) -> None:
    made = {
        "text": b"hello, this is not a video\n" * 10,
        "random": np.random.default_rng(1).bytes(50_000),
        "empty": b"",
        "truncated": videos["tiny"][: len(videos["tiny"]) // 2],
    }
    data = made[name] if name in made else videos[name]
    response = post(client, data)
    assert response.status_code == status, response.text
    assert error_of(response) == code


@pytest.mark.parametrize(
    "params",
    [{"max_people": 0}, {"max_people": 7}, {"max_people": "two"}, {"sample_fps": -1},
     {"sample_fps": "nan"}, {"min_pose_duration_s": -0.1}, {"include_landmarks": "maybe"}, {"colour": "red"}],
)
def test_bad_options(client: httpx.Client, videos: dict[str, bytes], params: dict) -> None:
    response = post(client, videos["tiny"], **params)
    assert response.status_code == 422, response.text
    assert error_of(response) == "invalid_options"


def test_missing_or_misnamed_field(client: httpx.Client, videos: dict[str, bytes]) -> None:
    for files in ({"file": ("a.mp4", videos["tiny"])}, None):
        response = client.post("/analyze", files=files, data=None if files else {"x": "1"})
        assert response.status_code == 400, response.text
        assert error_of(response) == "missing_video"


def test_not_multipart(client: httpx.Client, videos: dict[str, bytes]) -> None:
    response = client.post("/analyze", content=videos["tiny"], headers={"content-type": "video/mp4"})
    assert response.status_code == 400 and error_of(response) in {"missing_video", "malformed_request"}


MULTIPART_HEAD = b'--b\r\nContent-Disposition: form-data; name="video"; filename="a.mp4"\r\n\r\n'


def test_upload_over_the_limit_is_refused_before_the_body(serve_cluster: ServeCluster) -> None:
    """Content-Length says 9 MB (the limit is 8 MB): 413 comes back with no body sent."""
    url = httpx.URL(serve_cluster.url)
    with socket.create_connection((url.host, url.port), timeout=30) as conn:
        conn.sendall(
            b"POST /analyze HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            + f"Content-Length: {9 * 1024 * 1024}\r\n\r\n".encode() + MULTIPART_HEAD
        )
        reply = b""
        while b"upload_too_large" not in reply and (chunk := conn.recv(65536)):
            reply += chunk  # headers and body may come in separate packets
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b'"upload_too_large"' in reply


def test_chunked_upload_over_the_limit(client: httpx.Client) -> None:
    def body():
        yield MULTIPART_HEAD
        for _ in range(10):
            yield b"y" * (1024 * 1024)

    response = client.post("/analyze", content=body(), headers={"content-type": "multipart/form-data; boundary=b"})
    assert response.status_code == 413 and error_of(response) == "upload_too_large"


def test_unknown_route_and_method(client: httpx.Client) -> None:
    assert error_of(client.get("/nope")) == "not_found"
    assert error_of(client.get("/analyze")) == "method_not_allowed"


def test_service_healthy_after_bad_input(client: httpx.Client, videos: dict[str, bytes]) -> None:
    assert client.get("/healthz").status_code == 200
    assert post(client, videos["tiny"]).status_code == 200
