"""ASGI middleware that bounds the request body: its size and its pace.

Serve has no limit of its own on either: without one, a huge upload fills the
ingress's memory, and a body trickled in (slow loris) holds a request slot until
Serve's request timeout.
"""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serve_app.http_errors import error_response


class UploadTooLarge(HTTPException):
    """Raised from ``receive`` once a streamed body passes the limit.

    An HTTPException, because FastAPI turns any other exception met while parsing a
    form into a generic 400.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the upload is larger than the limit of {limit} bytes")


class UploadStalled(HTTPException):
    """Raised from ``receive`` when no part of the body arrived for ``idle_s`` seconds."""

    def __init__(self, idle_s: float) -> None:
        super().__init__(408, f"the upload stalled: no data for {idle_s:g} s")


class UploadLimit:
    """413 before reading a body whose Content-Length is over ``max_bytes``; for a body
    sent without a length (chunked), 413 as soon as the bytes received pass it. 408 when
    the body stops arriving for ``idle_timeout_s`` (as nginx's client_body_timeout)."""

    def __init__(self, app: ASGIApp, max_bytes: int, idle_timeout_s: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.idle_timeout_s = idle_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            if not length.isdigit():
                await error_response("malformed_request", "invalid Content-Length header")(scope, receive, send)
                return
            if int(length) > self.max_bytes:
                response = error_response("upload_too_large", UploadTooLarge(self.max_bytes).detail)
                await response(scope, receive, send)
                return
        received = 0
        body_done = False

        async def limited_receive() -> Message:
            nonlocal received, body_done
            if body_done:  # later calls wait for a disconnect, which may take any time
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.idle_timeout_s)
            except asyncio.TimeoutError:
                raise UploadStalled(self.idle_timeout_s) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise UploadTooLarge(self.max_bytes)
                body_done = not message.get("more_body", False)
            return message

        await self.app(scope, limited_receive, send)
