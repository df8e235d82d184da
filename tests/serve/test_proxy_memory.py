"""The heap handed back after large request bodies: in the ingress and, through Ray Serve's
proxy callback, in the proxy (serve_app/heap_trim.py, serve_app/proxy_memory.py)."""

from __future__ import annotations

import asyncio
import ctypes
from pathlib import Path

import pytest
from ray.serve._private.http_util import validate_http_proxy_callback_return
from ray.serve._private.utils import call_function_from_import_path
from starlette.types import Message, Receive, Scope, Send

from serve_app.heap_trim import TRIM_AFTER_BYTES, HeapTrim
from serve_app.proxy_memory import NODE_ENV, TrimAfterBodies

MB = 1024 * 1024


def own_memory_mb() -> float:
    """This process's anonymous resident memory (its heap), in MB."""
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("RssAnon:"))
    return int(line.split()[1]) / 1024


async def body_reader(scope: Scope, receive: Receive, send: Send) -> None:
    """An app that reads the whole body, as the proxy does, then answers 200."""
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def post(app: TrimAfterBodies, chunks: list[bytes]) -> None:
    pending = list(chunks)

    async def receive() -> Message:
        return {"type": "http.request", "body": pending.pop(0), "more_body": len(pending) > 0}

    async def send(message: Message) -> None:
        pass

    await app({"type": "http", "method": "POST", "path": "/analyze", "headers": []}, receive, send)


def test_the_proxy_callback_is_what_ray_serve_accepts() -> None:
    """The import path ``NODE_ENV`` gives the proxy resolves, and returns Starlette middleware."""
    middlewares = call_function_from_import_path(NODE_ENV["RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH"])
    assert [m.cls for m in validate_http_proxy_callback_return(middlewares)] == [TrimAfterBodies]


def test_bodies_received_are_counted_and_trimmed_once_per_threshold() -> None:
    app = TrimAfterBodies(body_reader, HeapTrim(after_bytes=10 * MB))

    async def run() -> list[int]:
        trims = []
        for _ in range(4):  # 4 x 3 MB in 1 MB chunks: the trim comes with the 4th
            await post(app, [b"x" * MB] * 3)
            trims.append(app.heap_trim.trims)
        await post(app, [b"x" * MB] * 20)  # one large body: trimmed as it ends
        trims.append(app.heap_trim.trims)
        return trims

    assert asyncio.run(run()) == [0, 0, 0, 1, 2]  # the settling trims are 5 s away
    assert app.heap_trim.bytes_since_trim == 0


def test_one_more_trim_once_a_burst_has_settled() -> None:
    app = TrimAfterBodies(body_reader, HeapTrim(after_bytes=MB, settle_s=0.2))

    async def run() -> list[int]:
        trims = []
        for _ in range(3):  # a burst: each body trims, and puts the settling trim off
            await post(app, [b"x" * MB])
            await asyncio.sleep(0.05)
        trims.append(app.heap_trim.trims)
        await asyncio.sleep(0.3)
        trims.append(app.heap_trim.trims)
        return trims

    assert asyncio.run(run()) == [3, 4]


def test_other_scopes_pass_through_uncounted() -> None:
    seen = []

    async def lifespan_app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    app = TrimAfterBodies(lifespan_app, HeapTrim(after_bytes=1))

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        pass

    asyncio.run(app({"type": "lifespan"}, receive, send))
    assert seen == ["lifespan"] and app.heap_trim.trims == 0


@pytest.mark.skipif(not hasattr(ctypes.CDLL(None), "malloc_trim"), reason="malloc_trim is glibc's")
def test_a_trim_gives_back_the_heap_that_freed_chunks_left() -> None:
    """200 MB of 100 KB chunks (heap, not mmap), freed but for the last one, which pins the
    heap's top: free() alone keeps it all; the trim returns it."""
    chunks = [bytes(100 * 1024) for _ in range(2000)]
    for chunk in chunks:
        chunk[0]  # noqa: B018 (touched: resident)
    before_free = own_memory_mb()
    del chunks[:-1]
    kept = own_memory_mb()
    asyncio.run(HeapTrim(after_bytes=TRIM_AFTER_BYTES).end(TRIM_AFTER_BYTES))
    after_trim = own_memory_mb()
    assert kept > before_free - 50, (before_free, kept)  # free() gave (almost) nothing back
    assert after_trim < kept - 100, (kept, after_trim)  # measured: ~130 of the 200 MB


ROOT = Path(__file__).resolve().parents[2]


def test_every_way_of_starting_ray_gives_the_proxy_its_environment() -> None:
    """The proxy is Ray's process: only the command that starts Ray can set its environment."""
    settings = [f"{name}={value}" for name, value in NODE_ENV.items()]
    makefile = (ROOT / "Makefile").read_text()  # exported to `make serve`'s recipe
    assert all(f"serve: export {name} := {value}\n" in makefile for name, value in NODE_ENV.items())
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert all(s in dockerfile for s in settings)
    ray_starts = [line for line in (ROOT / "cluster.yaml").read_text().splitlines() if " ray start " in line]
    assert len(ray_starts) == 2 and all(s in line for s in settings for line in ray_starts)
