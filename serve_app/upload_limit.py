"""ASGI middleware that bounds the request body size (Serve has no limit of its own)."""

from __future__ import annotations

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


class UploadLimit:
    """413 before reading a body whose Content-Length is over ``max_bytes``; for a body
    sent without a length (chunked), 413 as soon as the bytes received pass it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

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

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise UploadTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)
