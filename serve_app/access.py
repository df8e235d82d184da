"""Access settings (auth, rate limit, concurrency, CORS) and which requests they guard."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import Scope

# Every analysis route, present and future (/analyze, /analyze/stream...). /healthz,
# /poses, /docs and /openapi.json stay open: they are cheap and reveal no user data,
# and load balancers probe /healthz without a key.
ANALYSIS_PREFIX = "/analyze"


@dataclass(frozen=True)
class AccessSettings:
    """From serve_config.yaml's application args (see app.py); the defaults are all off."""

    # A file of API keys, one a line, read by the ingress replica; None: no auth.
    api_key_file: str | None = None
    # Analysis requests a client may start per minute (token bucket); 0: no limit.
    rate_limit_per_minute: float = 0
    rate_limit_burst: int = 10  # requests a rested client may send at once
    # Analyses in progress in one ingress replica beyond which new ones get a 503.
    max_concurrent_uploads: int = 32
    # Analyses in progress per client (API key, else address) in one ingress replica; 0: no limit.
    max_concurrent_per_client: int = 4
    # Bytes of uploads in flight (by Content-Length; without one, max_upload_bytes) beyond which
    # new analyses get a 503: bounds the ingress's memory. 0: no limit.
    max_upload_bytes_in_flight: int = 1024 * 1024 * 1024
    # Minimum upload rate (bytes/s) over each window, once the grace period is over: 408 below. 0: none.
    upload_min_bytes_per_s: float = 32 * 1024
    upload_rate_window_s: float = 10.0
    upload_rate_grace_s: float = 10.0
    cors_allowed_origins: tuple[str, ...] = ()  # empty: no CORS headers at all


def is_analysis_request(scope: Scope) -> bool:
    """Whether an ASGI HTTP request is for an analysis route (the guarded ones)."""
    path = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root):]
    return path.startswith(ANALYSIS_PREFIX)
