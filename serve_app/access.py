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
    cors_allowed_origins: tuple[str, ...] = ()  # empty: no CORS headers at all


def is_analysis_request(scope: Scope) -> bool:
    """Whether an ASGI HTTP request is for an analysis route (the guarded ones)."""
    path = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root):]
    return path.startswith(ANALYSIS_PREFIX)
