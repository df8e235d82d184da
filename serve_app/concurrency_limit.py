"""ASGI middleware: admission of analysis requests in this ingress replica, from their headers.

Three limits, each answered at once, before any of the body is read:

- at most N analyses in progress: 503 ``overloaded`` with ``Retry-After``;
- at most K of them per client (its API key, else its address): 429 ``too_many_in_progress``;
- at most B bytes of uploads in flight (their Content-Length; a body sent without one
  counts as the largest upload allowed): 503 ``overloaded``. An upload is held in the
  ingress's memory while its request lasts, so B bounds that memory.

Serve's own limits answer with plain text (503 past the deployment's
``max_queued_requests``, 408 past ``request_timeout_s``), and requests past
``max_ongoing_requests`` wait in Serve's queue without reaching this code at all, so
N must stay below the ingress's ``max_ongoing_requests``: the difference is the room
left for /healthz, /poses and these quick rejections.

As uploads end, free heap pages go back to the system, once per 16 MB of them
(``serve_app/heap_trim.py``): glibc otherwise keeps the peak of a burst of uploads for good.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from serve_app.access import is_analysis_request
from serve_app.heap_trim import HeapTrim
from serve_app.http_errors import RETRY_AFTER_S, error_response
from serve_app.rate_limit import client_id


class ConcurrencyLimit:
    """A slot per analysis request, held from its headers until its response is sent
    (or its client goes away), so a slow upload holds one too. ``max_per_client`` and
    ``max_bytes_in_flight`` 0: no such limit."""

    def __init__(
        self,
        app: ASGIApp,
        max_requests: int,
        on_reject: Callable[[str], None],
        max_per_client: int = 0,
        max_bytes_in_flight: int = 0,
        max_upload_bytes: int = 0,
    ) -> None:
        self.app = app
        self.max_requests = max_requests
        self.on_reject = on_reject
        self.max_per_client = max_per_client
        self.max_bytes_in_flight = max_bytes_in_flight
        self.max_upload_bytes = max_upload_bytes
        self.in_progress = 0
        self.bytes_in_flight = 0
        self.by_client: dict[str, int] = {}  # clients with a request in progress only
        self.heap_trim = HeapTrim()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_analysis_request(scope):
            await self.app(scope, receive, send)
            return
        client = client_id(scope)
        upload_bytes = self._upload_bytes(scope)
        rejection = self._rejection(client, upload_bytes)
        if rejection is not None:
            code, message, headers = rejection
            self.on_reject(code)
            await error_response(code, message, headers)(scope, receive, send)
            return
        self.in_progress += 1
        self.by_client[client] = self.by_client.get(client, 0) + 1
        self.bytes_in_flight += upload_bytes
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_progress -= 1
            self.bytes_in_flight -= upload_bytes
            self.by_client[client] -= 1
            if not self.by_client[client]:
                del self.by_client[client]
            await self.heap_trim.end(upload_bytes)

    def _upload_bytes(self, scope: Scope) -> int:
        """The body's size from its headers; without a (valid) Content-Length, the largest allowed."""
        length = dict(scope["headers"]).get(b"content-length", b"")
        return int(length) if length.isdigit() else self.max_upload_bytes

    def _rejection(self, client: str, upload_bytes: int) -> tuple[str, str, dict[str, str] | None] | None:
        """(code, message, headers) if the request must wait, else None."""
        if self.in_progress >= self.max_requests:
            return "overloaded", f"{self.max_requests} analyses are in progress; retry shortly", None
        if self.max_per_client and self.by_client.get(client, 0) >= self.max_per_client:
            message = f"you have {self.max_per_client} analyses in progress; wait for one to finish"
            return "too_many_in_progress", message, {"Retry-After": str(RETRY_AFTER_S)}
        if self.max_bytes_in_flight and self.bytes_in_flight + upload_bytes > self.max_bytes_in_flight:
            return "overloaded", "too many uploads are being received; retry shortly", None
        return None
