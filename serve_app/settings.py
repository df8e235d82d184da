"""The application's arguments (serve_config.yaml ``args``), typed and validated once.

``build_app`` validates them and binds them to DanceAnalyzer as they are; each part of
the app reads its own fields (the middleware its access settings, the planner its
segment settings).
"""

from __future__ import annotations

from pydantic import ConfigDict, Field

from posecore.video import VideoLimits
from serve_app.access import AccessSettings
from serve_app.segment_plan import PlanConfig


class AppArgs(AccessSettings, PlanConfig):
    """Everything serve_config.yaml's ``args`` may set, with its default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_upload_mb: float = Field(200, gt=0, description="Largest upload accepted.")
    upload_idle_timeout_s: float = Field(30, gt=0, description="408 when an upload sends nothing for this long.")
    max_duration_s: float = Field(600, gt=0, description="Longest video accepted.")
    max_pixels: int = Field(3840 * 2160, gt=0, description="Largest frame (width x height) accepted.")
    max_frames: int = Field(36_000, gt=0, description="Most frames a video may have (each costs one inference).")
    max_fps: float = Field(240, gt=0, description="Highest average frame rate accepted.")
    # PoseWorker's max_replicas: an idle service splits a video over all of them, and
    # its queued segments are what makes the autoscaler start them.
    worker_replicas: int = Field(2, ge=1, description="PoseWorker's max_replicas: segments are planned for them.")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def limits(self) -> VideoLimits:
        """What a video may be: checked by the pipeline's plan step."""
        return VideoLimits(
            max_duration_s=self.max_duration_s,
            max_pixels=self.max_pixels,
            max_frames=self.max_frames,
            max_fps=self.max_fps,
        )
