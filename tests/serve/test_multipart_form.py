"""The upload form's parser, in-process (no Ray): a file part named only by ``filename*=``
(RFC 5987) is a file, wherever the body's chunks split its header; large uploads are mapped."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from tempfile import SpooledTemporaryFile

import numpy as np
import pytest
from fastapi import FastAPI, Request, UploadFile
from starlette.datastructures import Headers

from posecore.video import probe
from serve_app.http_errors import install_error_handlers
from serve_app.multipart_form import READ_UNDER_BYTES, FormRoute, extended_filename, upload_contents
from testbed.media import write_video

BOUNDARY = "b0undary"
VIDEO = bytes(range(256)) * 40  # 10 KB of every byte value


def form_body(disposition: str, data: bytes = VIDEO) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; {disposition}\r\nContent-Type: video/mp4\r\n\r\n"
            .encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode())


def form_app() -> FastAPI:
    """A route that tells what its form's ``video`` field is, as the ingress's app parses it."""
    app = FastAPI()
    install_error_handlers(app)
    app.router.route_class = FormRoute

    @app.post("/analyze")
    async def analyze(request: Request) -> dict:
        video = (await request.form()).get("video")
        if isinstance(video, str):
            return {"text": len(video)}
        assert video is not None
        return {"filename": video.filename, "same_bytes": await video.read() == VIDEO}

    return app


def post(body: bytes, chunk_ends: list[int] | None = None) -> tuple[int, dict]:
    """POST ``body`` to the form app, cut into chunks ending at ``chunk_ends``."""
    ends = sorted(set(chunk_ends or []) | {len(body)})
    chunks = [body[start:end] for start, end in zip([0, *ends[:-1]], ends, strict=True)]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/analyze", "raw_path": b"/analyze", "root_path": "", "query_string": b"",
             "headers": [(b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode()),
                         (b"content-length", str(len(body)).encode())],
             "client": ("198.51.100.1", 5000), "server": ("127.0.0.1", 8000)}
    sent: list[dict] = []

    async def receive() -> dict:
        if not chunks:
            await asyncio.sleep(3600)
        return {"type": "http.request", "body": chunks.pop(0), "more_body": len(chunks) > 0}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(form_app()(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, json.loads(b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"))


@pytest.mark.parametrize(("disposition", "name"), [
    ("name=\"video\"; filename*=UTF-8''clip.mp4", "clip.mp4"),
    ("name=\"video\"; filename*=UTF-8''%C3%A9t%C3%A9%20dance.mp4", "été dance.mp4"),
    ("name=\"video\"; filename*=utf-8'en'clip.mp4", "clip.mp4"),
    ("name=\"video\"; filename*=ISO-8859-1''%E9t%E9.mp4", "été.mp4"),
    ("filename*=UTF-8''clip.mp4; name=\"video\"", "clip.mp4"),
    ("name=\"video\"; filename=\"plain.mp4\"", "plain.mp4"),
    ("name=\"video\"; filename=\"plain.mp4\"; filename*=UTF-8''ext.mp4", "plain.mp4"),
])
def test_a_file_part_is_a_file_however_it_is_named(disposition: str, name: str) -> None:
    status, got = post(form_body(disposition))
    assert status == 200
    assert got["filename"] == name


def test_the_file_keeps_its_bytes() -> None:
    status, got = post(form_body("name=\"video\"; filename*=UTF-8''clip.mp4"))
    assert (status, got) == (200, {"filename": "clip.mp4", "same_bytes": True})


def test_header_split_anywhere_across_chunks() -> None:
    body = form_body("name=\"video\"; filename*=UTF-8''clip.mp4")
    header_end = body.index(b"\r\n\r\n") + 4
    for cut in range(1, header_end + 1):
        status, got = post(body, [cut])
        assert (status, got["filename"]) == (200, "clip.mp4"), cut
    status, got = post(body, list(range(1, header_end + 5)))  # a byte a chunk
    assert (status, got["filename"]) == (200, "clip.mp4")


@pytest.mark.parametrize("value", ["clip.mp4", "UTF-8'clip.mp4", "NOPE''clip.mp4", "UTF-8''%FF%FE.mp4", ""])
def test_an_unreadable_extended_name_leaves_a_text_field(value: str) -> None:
    assert extended_filename(f"form-data; name=\"video\"; filename*={value}".encode()) is None
    status, got = post(form_body(f"name=\"video\"; filename*={value}", b"some text"))
    assert (status, got) == (200, {"text": 9})


def test_a_text_field_stays_text() -> None:
    status, got = post(form_body("name=\"video\"", b"not a file"))
    assert (status, got) == (200, {"text": 10})


@pytest.mark.parametrize("size", [0, 10, READ_UNDER_BYTES - 1, READ_UNDER_BYTES, 3 * READ_UNDER_BYTES + 7])
def test_upload_contents_are_the_whole_file(size: int) -> None:
    async def contents() -> bytes:
        spool = SpooledTemporaryFile(max_size=READ_UNDER_BYTES)
        upload = UploadFile(spool, size=0, headers=Headers())  # type: ignore[arg-type]
        data = bytes(i % 251 for i in range(size))
        await upload.write(data)
        await upload.seek(0)
        got = await upload_contents(upload)
        await upload.close()  # the map outlives the file
        assert isinstance(got, bytes) == (size < READ_UNDER_BYTES)
        assert bytes(got) == data
        return bytes(got)

    assert len(asyncio.run(contents())) == size


def test_a_mapped_upload_is_probed_and_shared_like_bytes(tmp_path: Path) -> None:
    noise = np.random.default_rng(5).integers(0, 256, (30, 320, 320, 3), dtype=np.uint8)
    data = write_video(tmp_path / "noise.mp4", list(noise), fps=15).read_bytes()
    assert len(data) >= READ_UNDER_BYTES

    async def mapped() -> bytes | memoryview:
        upload = UploadFile(SpooledTemporaryFile(max_size=READ_UNDER_BYTES), size=0,  # type: ignore[arg-type]
                            headers=Headers())
        await upload.write(data)
        view = await upload_contents(upload)
        await upload.close()
        return view

    view = asyncio.run(mapped())
    assert isinstance(view, memoryview) and view.readonly
    mapped_info, read_info = probe(view), probe(data)
    assert (mapped_info.frame_count, mapped_info.width, mapped_info.duration_s) == (30, 320, read_info.duration_s)
    assert np.array_equal(mapped_info.frame_times, read_info.frame_times)
    assert np.frombuffer(view, dtype=np.uint8).tobytes() == data  # what the fan-out puts in the object store
