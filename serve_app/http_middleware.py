"""The ingress's ASGI middleware stack, in one place because its order matters.

Outermost first, for an analysis request:

1. CORS: answers browsers' preflights and adds its headers to every response,
   rejections included (so a page can read them).
2. Bearer auth: 401 for a missing or wrong key.
3. Rate limit: 429 for a client past its rate (authenticated clients only, when
   auth is on, so nobody spends another's budget).
4. Concurrency limit: 503 past N analyses in progress or B bytes of uploads in flight,
   429 past K in progress for one client.
5. Upload limit: 413 past the upload size, 408 when the body stalls or is too slow.

Steps 2-5 look at the headers only, so each rejection comes before any of the body is
read. All middleware is pure ASGI (no BaseHTTPMiddleware), which keeps streaming.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from serve_app.api_keys import ApiKeys
from serve_app.bearer_auth import BearerAuth
from serve_app.concurrency_limit import ConcurrencyLimit
from serve_app.cors import Cors
from serve_app.rate_limit import RateLimit, TokenBuckets
from serve_app.settings import AppArgs
from serve_app.upload_limit import UploadLimit, UploadPace


def install_middleware(app: FastAPI, args: AppArgs, on_reject: Callable[[str], None]) -> None:
    """Add the stack to ``app`` (in the replica, before its first request).

    ``on_reject(code)`` is called for each request a middleware turns away (metrics).
    Raises ApiKeyFileError if auth is configured and its key file is unusable: the
    replica must not start open.
    """
    # add_middleware wraps what is there already: innermost first.
    pace = UploadPace(
        idle_timeout_s=args.upload_idle_timeout_s,
        min_bytes_per_s=args.upload_min_bytes_per_s,
        window_s=args.upload_rate_window_s,
        grace_s=args.upload_rate_grace_s,
    )
    app.add_middleware(UploadLimit, max_bytes=args.max_upload_bytes, pace=pace)
    app.add_middleware(
        ConcurrencyLimit,
        max_requests=args.max_concurrent_uploads,
        on_reject=on_reject,
        max_per_client=args.max_concurrent_per_client,
        max_bytes_in_flight=args.max_upload_bytes_in_flight,
        max_upload_bytes=args.max_upload_bytes,
    )
    if args.rate_limit_per_minute > 0:
        buckets = TokenBuckets(args.rate_limit_per_minute, args.rate_limit_burst)
        app.add_middleware(RateLimit, buckets=buckets, on_reject=on_reject)
    if args.api_key_file:
        app.add_middleware(BearerAuth, keys=ApiKeys(args.api_key_file), on_reject=on_reject)
    if args.cors_allowed_origins:
        app.add_middleware(Cors, origins=args.cors_allowed_origins)
