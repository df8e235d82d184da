"""The ``dance`` application: DanceAnalyzer (ingress) composed with PoseWorker.

``serve_config.yaml`` points at ``build_app`` and passes its ``args``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator
from ray.serve import Application

from serve_app.access import AccessSettings
from serve_app.ingress import DanceAnalyzer, ServiceSettings
from serve_app.segment_plan import PlanConfig
from serve_app.worker import PoseWorker


class AppArgs(BaseModel):
    """Application arguments (serve_config.yaml ``args``)."""

    max_upload_mb: float = Field(200, gt=0, description="Largest upload accepted.")
    upload_idle_timeout_s: float = Field(30, gt=0, description="408 when an upload sends nothing for this long.")
    max_duration_s: float = Field(600, gt=0, description="Longest video accepted.")
    max_pixels: int = Field(3840 * 2160, gt=0, description="Largest frame (width x height) accepted.")
    worker_replicas: int = Field(2, ge=1, description="PoseWorker's max_replicas: segments are planned for them.")
    min_segment_frames: int = Field(PlanConfig.min_segment_frames, ge=1)
    max_segment_frames: int = Field(PlanConfig.max_segment_frames, ge=1)
    segments_per_replica: int = Field(PlanConfig.segments_per_replica, ge=1)
    warmup_frames: int = Field(PlanConfig.warmup_frames, ge=0)
    # Access and overload (serve_app/http_middleware.py): auth, rate limit and CORS off by default.
    api_key_file: str | None = Field(None, description="Absolute path of a file of API keys, one a line, "
                                     "on every node; set, /analyze* needs `Authorization: Bearer <key>`.")
    rate_limit_per_minute: float = Field(0, ge=0, description="Analysis requests per minute per client; 0: no limit.")
    rate_limit_burst: int = Field(AccessSettings.rate_limit_burst, ge=1,
                                  description="Requests a client may send at once before the rate applies.")
    max_concurrent_uploads: int = Field(AccessSettings.max_concurrent_uploads, ge=1,
                                        description="Analyses in progress per ingress replica; beyond: 503. "
                                        "Keep it below the ingress's max_ongoing_requests.")
    cors_allowed_origins: list[str] = Field([], description="Origins (scheme://host[:port]) browsers may call "
                                            "from, or ['*']; empty: no CORS.")

    @field_validator("api_key_file")
    @classmethod
    def _absolute(cls, path: str | None) -> str | None:
        # A relative path would depend on the replica's working directory.
        if path is not None and not Path(path).is_absolute():
            raise ValueError(f"api_key_file must be an absolute path, got {path!r}")
        return path

    @field_validator("cors_allowed_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        # Browsers send the bare origin: "https://a.example/" or a path would never match.
        for origin in origins:
            if origin != "*" and not re.fullmatch(r"https?://[^/\s]+", origin):
                raise ValueError(f"not an origin (scheme://host[:port]): {origin!r}")
        return origins


def build_app(raw_args: dict[str, Any]) -> Application:
    """Bind the deployments with ``raw_args`` (serve_config.yaml ``args``), validated here."""
    args = AppArgs.model_validate(raw_args)
    settings = ServiceSettings(
        max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
        upload_idle_timeout_s=args.upload_idle_timeout_s,
        max_duration_s=args.max_duration_s,
        max_pixels=args.max_pixels,
        worker_replicas=args.worker_replicas,
        plan=PlanConfig(
            min_segment_frames=args.min_segment_frames,
            max_segment_frames=args.max_segment_frames,
            segments_per_replica=args.segments_per_replica,
            warmup_frames=args.warmup_frames,
        ),
        access=AccessSettings(
            api_key_file=args.api_key_file,
            rate_limit_per_minute=args.rate_limit_per_minute,
            rate_limit_burst=args.rate_limit_burst,
            max_concurrent_uploads=args.max_concurrent_uploads,
            cors_allowed_origins=tuple(args.cors_allowed_origins),
        ),
    )
    return DanceAnalyzer.bind(PoseWorker.bind(), settings)


app = build_app({})
