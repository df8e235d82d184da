"""Ray Serve's HTTP proxy back near its idle size after a burst of large uploads.

The proxy (Ray's ProxyActor, one per node) reads each request body as fast as the client
sends it and holds its chunks until the ingress fetches them, so a burst of large uploads
takes its heap up by about one upload; freed in no order, that heap then stays at the
peak (serve_app/heap_trim.py). Ray Serve runs extra ASGI middleware in the proxy when the
environment variable ``RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH`` names a function that
returns it. ``proxy_middlewares`` is that function: ``TrimAfterBodies`` changes no request
or response; it only trims the proxy's heap after large bodies (one trim per 16 MB).

``NODE_ENV`` is what every node's ``ray start`` (or ``serve run``) needs in its environment
(Makefile, Dockerfile, cluster.yaml and the test bed's cluster set it): the proxy's
processes are Ray's, so serve_config.yaml's ``runtime_env`` never reaches them.
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serve_app.heap_trim import HeapTrim

NODE_ENV = {
    "RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH": "serve_app.proxy_memory.proxy_middlewares",
    # Two heap arenas, as the app's own processes have (serve_config.yaml): fewer
    # heaps for freed body chunks to be scattered over.
    "MALLOC_ARENA_MAX": "2",
}


class TrimAfterBodies:
    """ASGI middleware: counts each HTTP request's body bytes as they are received and,
    when the request ends, hands them to ``HeapTrim`` (which trims after enough)."""

    def __init__(self, app: ASGIApp, heap_trim: HeapTrim | None = None) -> None:
        self.app = app
        self.heap_trim = heap_trim or HeapTrim()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
            return message

        try:
            await self.app(scope, counting_receive, send)
        finally:
            await self.heap_trim.end(received)


def proxy_middlewares() -> list[Middleware]:
    """The middleware Ray Serve's proxy adds (named by ``NODE_ENV``)."""
    return [Middleware(TrimAfterBodies)]
