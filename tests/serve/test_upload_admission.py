"""Upload pace and admission limits as ASGI parts, in-process (no Ray): slow bodies are cut
with a JSON 408, and bytes in flight and analyses per client are bounded from the headers."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

import pytest
from fastapi import FastAPI, Request

from serve_app.concurrency_limit import ConcurrencyLimit
from serve_app.http_errors import install_error_handlers
from serve_app.upload_limit import MinimumRate, UploadLimit, UploadPace

BOUNDARY = "b0undary"


def multipart_head() -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"video\"; filename=\"v.mp4\"\r\n"
            "Content-Type: video/mp4\r\n\r\n").encode()


def form_app() -> FastAPI:
    """An /analyze route that reads the whole multipart form, as the ingress does."""
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/analyze")
    async def analyze(request: Request) -> dict:
        form = await request.form()
        return {"bytes": len(await form["video"].read())}  # type: ignore[union-attr]

    return app


def scope(length: int | None, client: str = "198.51.100.1") -> dict:
    headers = [(b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode())]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": "/analyze", "raw_path": b"/analyze", "root_path": "", "query_string": b"",
            "headers": headers, "client": (client, 5000), "server": ("127.0.0.1", 8000)}


async def call(app: Callable, chunks: list[tuple[float, bytes]], length: int | None = None,
               client: str = "198.51.100.1") -> tuple[int, dict]:
    """Send the body as (delay before it, bytes) chunks; the status and JSON body of the answer."""
    pending = list(chunks)
    sent: list[dict] = []

    async def receive() -> dict:
        if not pending:
            await asyncio.sleep(3600)  # the body is over: as a server, wait for a disconnect
        delay, data = pending.pop(0)
        await asyncio.sleep(delay)
        return {"type": "http.request", "body": data, "more_body": bool(pending)}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope(length, client), receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body)


def body_of(payload: bytes) -> tuple[bytes, bytes]:
    """The multipart body around ``payload``: (head + payload, tail)."""
    return multipart_head() + payload, f"\r\n--{BOUNDARY}--\r\n".encode()


PACE = UploadPace(idle_timeout_s=5, min_bytes_per_s=1000, window_s=0.5, grace_s=0.5)


def test_minimum_rate_deadline_on_a_waiting_clock() -> None:
    rate = MinimumRate(UploadPace(min_bytes_per_s=100, window_s=10, grace_s=10))  # 1000 bytes each 10 s
    assert rate.deadline_s() == 10  # nothing yet: fails when the grace period ends
    rate.add(4.0, 1500)
    assert rate.deadline_s() == 14  # enough for the window starting at 0, not for the one after 4 s
    rate.add(12.0, 600)
    assert rate.deadline_s() == 14  # since 4 s only 600 came: the window (4, 14] still needs 400
    rate.add(13.0, 500)
    assert rate.deadline_s() == 22  # the window from 4 s has 1100; the one from 12 s only 500 so far
    assert MinimumRate(UploadPace(min_bytes_per_s=0)).deadline_s() == float("inf")


def test_a_dripping_upload_gets_a_408_after_the_grace_period() -> None:
    head, tail = body_of(b"")
    # The attack, scaled down: the preamble, then a byte at a time, never idle.
    drip = [(0.0, head)] + [(0.05, b"x")] * 200 + [(0.0, tail)]
    started = time.monotonic()
    status, body = asyncio.run(call(UploadLimit(form_app(), max_bytes=10**6, pace=PACE), drip))
    assert (status, body["error"]["code"]) == (408, "request_timeout")
    assert "too slow" in body["error"]["message"]
    assert time.monotonic() - started < 2.0  # cut at the first window after the grace, not after 10 s


def test_a_steady_upload_above_the_rate_passes() -> None:
    head, tail = body_of(b"")
    steady = [(0.0, head)] + [(0.05, b"x" * 200)] * 30 + [(0.0, tail)]  # 4000 B/s for 1.5 s
    status, body = asyncio.run(call(UploadLimit(form_app(), max_bytes=10**6, pace=PACE), steady))
    assert (status, body) == (200, {"bytes": 6000})


def test_the_idle_timeout_still_applies() -> None:
    head, tail = body_of(b"")
    pace = UploadPace(idle_timeout_s=0.3, min_bytes_per_s=0)
    status, body = asyncio.run(call(UploadLimit(form_app(), 10**6, pace=pace), [(0.0, head), (1.0, tail)]))
    assert (status, body["error"]["code"]) == (408, "request_timeout") and "stalled" in body["error"]["message"]


async def admit(limit: ConcurrencyLimit, requests: list[tuple[int | None, str]]) -> list[tuple[int, dict]]:
    """Start the requests (length, client) one after another while the first ones are still uploading."""
    gate = asyncio.Event()

    async def held(scope: dict, receive: Callable[[], Awaitable[dict]], send: Callable) -> None:
        await gate.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    limit.app = held
    tasks = []
    results: list[tuple[int, dict]] = []
    for length, client in requests:
        tasks.append(asyncio.ensure_future(call(limit, [], length, client)))
        await asyncio.sleep(0.01)
        if tasks[-1].done():
            results.append(tasks[-1].result())
        else:
            results.append((0, {}))  # admitted, in progress
    gate.set()
    await asyncio.gather(*tasks)
    return results


def test_bytes_in_flight_budget_answers_503_from_the_headers() -> None:
    rejected: list[str] = []
    limit = ConcurrencyLimit(lambda *a: None, max_requests=32, on_reject=rejected.append,
                             max_bytes_in_flight=300, max_upload_bytes=200)
    results = asyncio.run(admit(limit, [(150, "a"), (150, "b"), (1, "c"), (None, "d")]))
    assert [status for status, _ in results[:2]] == [0, 0]  # 300 bytes in flight: at the budget
    assert [status for status, _ in results[2:]] == [503, 503]  # one more byte; no length = 200 bytes
    assert results[2][1]["error"]["code"] == "overloaded" and rejected == ["overloaded"] * 2
    assert limit.bytes_in_flight == 0 and limit.in_progress == 0  # all released
    assert asyncio.run(admit(limit, [(300, "e")]))[0][0] == 0  # free again


def test_per_client_limit_answers_429_with_retry_after() -> None:
    limit = ConcurrencyLimit(lambda *a: None, max_requests=32, on_reject=lambda code: None, max_per_client=2)
    results = asyncio.run(admit(limit, [(10, "a"), (10, "a"), (10, "a"), (10, "b")]))
    assert [status for status, _ in results] == [0, 0, 429, 0]
    assert results[2][1]["error"]["code"] == "too_many_in_progress"
    assert limit.by_client == {}  # forgotten once done


def test_retry_after_headers_on_admission_rejections() -> None:
    limit = ConcurrencyLimit(lambda *a: None, max_requests=32, on_reject=lambda code: None, max_per_client=1,
                             max_bytes_in_flight=10)
    headers: dict[int, dict] = {}

    async def run() -> None:
        gate = asyncio.Event()

        async def held(scope: dict, receive: Callable, send: Callable) -> None:
            await gate.wait()

        limit.app = held
        first = asyncio.ensure_future(limit(scope(5, "a"), None, lambda m: asyncio.sleep(0)))
        await asyncio.sleep(0.01)
        for length, client in ((5, "a"), (50, "b")):
            sent: list[dict] = []

            async def send(message: dict, sent: list[dict] = sent) -> None:
                sent.append(message)

            await limit(scope(length, client), None, send)
            headers[sent[0]["status"]] = dict(sent[0]["headers"])
        gate.set()
        await first

    asyncio.run(run())
    assert headers[429][b"retry-after"] == headers[503][b"retry-after"] == b"5"


@pytest.mark.parametrize("size", [0, 10])
def test_small_uploads_are_received_whole(size: int) -> None:
    head, tail = body_of(b"y" * size)
    status, body = asyncio.run(call(UploadLimit(form_app(), 10**6, pace=PACE), [(0.0, head), (0.0, tail)]))
    assert (status, body) == (200, {"bytes": size})
