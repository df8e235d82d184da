"""The ``dance`` application: DanceAnalyzer (ingress) composed with PoseWorker.

``serve_config.yaml`` points at ``build_app`` and passes its ``args``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from ray.serve import Application

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
    )
    return DanceAnalyzer.bind(PoseWorker.bind(), settings)


app = build_app({})
