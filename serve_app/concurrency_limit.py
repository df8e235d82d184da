"""ASGI middleware: at most N analysis requests in progress in this ingress replica.

A request beyond N gets an immediate 503 JSON with ``Retry-After``, before any of its
body is read. Serve's own limits answer with plain text (503 past the deployment's
``max_queued_requests``, 408 past ``request_timeout_s``), and requests past
``max_ongoing_requests`` wait in Serve's queue without reaching this code at all, so
N must stay below the ingress's ``max_ongoing_requests``: the difference is the room
left for /healthz, /poses and these quick rejections.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from serve_app.access import is_analysis_request
from serve_app.http_errors import error_response


class ConcurrencyLimit:
    """A slot per analysis request, held from its headers until its response is sent
    (or its client goes away), so a slow upload holds one too."""

    def __init__(self, app: ASGIApp, max_requests: int, on_reject: Callable[[str], None]) -> None:
        self.app = app
        self.max_requests = max_requests
        self.on_reject = on_reject
        self.in_progress = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_analysis_request(scope):
            await self.app(scope, receive, send)
            return
        if self.in_progress >= self.max_requests:
            self.on_reject("overloaded")
            response = error_response("overloaded", f"{self.max_requests} analyses are in progress; retry shortly")
            await response(scope, receive, send)
            return
        self.in_progress += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_progress -= 1
