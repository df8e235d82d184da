"""ASGI middleware that bounds the request body: its size and its pace.

Serve has no limit of its own on either: without one, a huge upload fills the
ingress's memory, and a body trickled in (slow loris) holds a request slot until
Serve's request timeout. Two pace rules, both answered with a JSON 408:

- idle: no byte for ``idle_timeout_s`` (as nginx's client_body_timeout);
- minimum rate: from ``grace_s`` on, every ``window_s`` must bring at least
  ``min_bytes_per_s * window_s`` bytes (as Apache's mod_reqtimeout MinRate). This is what
  cuts a client dripping a byte every few seconds, which the idle timer never sees.

Time counts only while the ingress waits for the client (inside ``receive``), so a busy
ingress that reads late never blames the client for it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serve_app.http_errors import error_response


@dataclass(frozen=True)
class UploadPace:
    """How slowly a body may arrive (see the module docstring); ``min_bytes_per_s`` 0: no rate rule."""

    idle_timeout_s: float = 30.0
    min_bytes_per_s: float = 32 * 1024
    window_s: float = 10.0
    grace_s: float = 10.0


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


class UploadTooSlow(HTTPException):
    """Raised from ``receive`` when the body arrives slower than the minimum rate."""

    def __init__(self, pace: UploadPace) -> None:
        super().__init__(
            408, f"the upload is too slow: under {pace.min_bytes_per_s / 1024:g} KB/s over {pace.window_s:g} s"
        )


class MinimumRate:
    """The minimum-rate rule on one body, on a clock of seconds spent waiting for it."""

    def __init__(self, pace: UploadPace) -> None:
        self.need = pace.min_bytes_per_s * pace.window_s  # bytes every window must bring
        self.window_s = pace.window_s
        self.grace_s = pace.grace_s
        self.total = 0
        # (waited_s, total bytes then); the first is the start of the current window.
        self._samples: deque[tuple[float, int]] = deque([(0.0, 0)])

    def add(self, waited_s: float, nbytes: int) -> None:
        """``nbytes`` more arrived after ``waited_s`` seconds of waiting in all."""
        self.total += nbytes
        self._samples.append((waited_s, self.total))
        while len(self._samples) > 1 and self._samples[1][0] <= waited_s - self.window_s:
            self._samples.popleft()

    def deadline_s(self) -> float:
        """The waiting time at which the rule fails unless more bytes arrive (inf: never)."""
        if self.need <= 0:
            return math.inf
        for waited_s, total in self._samples:
            if self.total - total < self.need:  # once this sample starts the window, too little came since
                return max(self.grace_s, waited_s + self.window_s)
        return math.inf  # unreachable: the latest sample always fails


class UploadLimit:
    """413 before reading a body whose Content-Length is over ``max_bytes``; for a body
    sent without a length (chunked), 413 as soon as the bytes received pass it. 408 when
    the body stalls or arrives slower than ``pace`` allows."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, idle_timeout_s: float | None = None, pace: UploadPace | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        pace = pace or UploadPace()
        if idle_timeout_s is not None:  # the original argument, still accepted
            pace = UploadPace(idle_timeout_s, pace.min_bytes_per_s, pace.window_s, pace.grace_s)
        self.pace = pace

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
        rate = MinimumRate(self.pace)
        waited_s = 0.0
        body_done = False

        async def limited_receive() -> Message:
            nonlocal waited_s, body_done
            if body_done:  # later calls wait for a disconnect, which may take any time
                return await receive()
            idle_deadline_s = waited_s + self.pace.idle_timeout_s
            rate_deadline_s = rate.deadline_s()
            started = time.monotonic()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, min(idle_deadline_s, rate_deadline_s) - waited_s))
            except TimeoutError:
                if rate_deadline_s < idle_deadline_s:
                    raise UploadTooSlow(self.pace) from None
                raise UploadStalled(self.pace.idle_timeout_s) from None
            finally:
                waited_s += time.monotonic() - started
            if message["type"] == "http.request":
                body_done = not message.get("more_body", False)
                rate.add(waited_s, len(message.get("body", b"")))
                if rate.total > self.max_bytes:
                    raise UploadTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)
