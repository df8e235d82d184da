"""Per-client rate limit on analysis requests: a token bucket per client, 429 when empty.

A client is its API key when auth is on, else its address as Serve's proxy reports it
(``scope["client"]``: the TCP peer, or the X-Forwarded-For address when the peer is a
proxy in uvicorn's ``FORWARDED_ALLOW_IPS``, by default only loopback). Buckets live
in the ingress replica's memory: with N ingress replicas a client may get N times the
rate, and a replica restart refills them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from serve_app.access import is_analysis_request
from serve_app.bearer_auth import CLIENT_KEY
from serve_app.http_errors import error_response

MAX_CLIENTS = 10_000  # buckets kept; beyond, the least recently seen client's goes


@dataclass
class Bucket:
    tokens: float
    updated_s: float


class TokenBuckets:
    """``rate_per_minute`` requests a minute per client, up to ``burst`` at once."""

    def __init__(
        self,
        rate_per_minute: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        self.rate_per_s = rate_per_minute / 60
        self.burst = burst
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: dict[str, Bucket] = {}  # in order of last use, oldest first

    def take(self, client: str) -> float:
        """Take a token for ``client``: 0 if it had one, else the seconds until it will."""
        now = self.clock()
        bucket = self._buckets.pop(client, None)
        if bucket is None:
            if len(self._buckets) >= self.max_clients:
                del self._buckets[next(iter(self._buckets))]
            bucket = Bucket(tokens=self.burst, updated_s=now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated_s) * self.rate_per_s)
        bucket.updated_s = now
        self._buckets[client] = bucket  # now the most recently used
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate_per_s


def client_id(scope: Scope) -> str:
    """Who a request counts against: its API key if authenticated, else its address."""
    if CLIENT_KEY in scope:
        return f"key:{scope[CLIENT_KEY]}"
    client = scope.get("client")
    return f"ip:{client[0]}" if client else "ip:unknown"


class RateLimit:
    """429 with ``Retry-After`` (whole seconds until a token) when a client's bucket is
    empty; only analysis requests take tokens."""

    def __init__(self, app: ASGIApp, buckets: TokenBuckets, on_reject: Callable[[str], None]) -> None:
        self.app = app
        self.buckets = buckets
        self.on_reject = on_reject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_analysis_request(scope):
            wait_s = self.buckets.take(client_id(scope))
            if wait_s > 0:
                self.on_reject("rate_limited")
                retry_after = max(1, math.ceil(wait_s))
                response = error_response(
                    "rate_limited",
                    f"too many requests; retry in {retry_after} s",
                    headers={"Retry-After": str(retry_after)},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
