"""Access settings (auth, rate limit, concurrency, CORS) and which requests they guard."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.types import Scope

# Every analysis route, present and future (/analyze, /analyze/stream..., /compare...).
# /healthz, /poses, /docs and /openapi.json stay open: they are cheap and reveal no user
# data, and load balancers probe /healthz without a key.
ANALYSIS_PREFIXES = ("/analyze", "/compare")


class AccessSettings(BaseModel):
    """Access and overload settings: part of the app args (serve_app/settings.py); all off by default."""

    model_config = ConfigDict(frozen=True)

    api_key_file: str | None = Field(
        None,
        description="Absolute path of a file of API keys, one a line, "
        "on every node; set, /analyze* and /compare* need `Authorization: Bearer <key>`.",
    )
    rate_limit_per_minute: float = Field(0, ge=0, description="Analysis requests per minute per client; 0: no limit.")
    rate_limit_burst: int = Field(10, ge=1, description="Requests a client may send at once before the rate applies.")
    max_concurrent_uploads: int = Field(
        32,
        ge=1,
        description="Analyses in progress per ingress replica; beyond: "
        "503. Keep it below the ingress's max_ongoing_requests.",
    )
    # Half the slots: one client (an app's backend behind one key is one client) cannot take them all.
    max_concurrent_per_client: int = Field(
        16,
        ge=0,
        description="Analyses in progress per client (API key, else "
        "address) per ingress replica; beyond: 429. 0: no limit.",
    )
    max_upload_bytes_in_flight: int = Field(
        1024**3,
        ge=0,
        description="Bytes of uploads in flight (by "
        "Content-Length; without one, the largest upload) beyond which new "
        "analyses get a 503: bounds the ingress's memory. 0: no limit.",
    )
    upload_min_bytes_per_s: float = Field(
        32 * 1024,
        ge=0,
        description="Minimum upload rate over each window, after the grace period; below: 408. 0: no rate rule.",
    )
    upload_rate_window_s: float = Field(10.0, gt=0, description="Window the minimum upload rate is averaged over.")
    upload_rate_grace_s: float = Field(10.0, ge=0, description="Time before the minimum upload rate applies.")
    cors_allowed_origins: tuple[str, ...] = Field(
        (), description="Origins (scheme://host[:port]) browsers may call from, or ['*']; empty: no CORS."
    )

    @field_validator("api_key_file")
    @classmethod
    def _absolute(cls, path: str | None) -> str | None:
        # A relative path would depend on the replica's working directory.
        if path is not None and not Path(path).is_absolute():
            raise ValueError(f"api_key_file must be an absolute path, got {path!r}")
        return path

    @field_validator("cors_allowed_origins")
    @classmethod
    def _origins(cls, origins: tuple[str, ...]) -> tuple[str, ...]:
        # Browsers send the bare origin: "https://a.example/" or a path would never match.
        for origin in origins:
            if origin != "*" and not re.fullmatch(r"https?://[^/\s]+", origin):
                raise ValueError(f"not an origin (scheme://host[:port]): {origin!r}")
        return origins


def is_analysis_request(scope: Scope) -> bool:
    """Whether an ASGI HTTP request is for an analysis route (the guarded ones)."""
    path = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path.startswith(ANALYSIS_PREFIXES)
