"""Analysis options shared by the CLI, the HTTP API and the Python handle."""

from __future__ import annotations

from dataclasses import dataclass, field

from posecore.errors import InvalidOptions
from posecore.landmarker import MAX_PEOPLE
from posecore.smoothing import Smoothing


@dataclass(frozen=True)
class AnalysisOptions:
    """What to analyse and what to return."""

    sample_fps: float | None = None  # None: every frame
    max_people: int = 1
    include_landmarks: bool = False
    min_pose_duration_s: float = 0.2
    smoothing: Smoothing = field(default_factory=Smoothing)

    def __post_init__(self) -> None:
        for name in ("sample_fps", "min_pose_duration_s"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise InvalidOptions(f"{name} must be a number, got {value!r}")
        if not isinstance(self.include_landmarks, bool):
            raise InvalidOptions(f"include_landmarks must be true or false, got {self.include_landmarks!r}")
        if self.sample_fps is not None and not (0 < self.sample_fps <= 240):
            raise InvalidOptions(f"sample_fps must be in (0, 240], got {self.sample_fps}")
        if isinstance(self.max_people, bool) or not isinstance(self.max_people, int):
            raise InvalidOptions(f"max_people must be an integer, got {self.max_people!r}")
        if not 1 <= self.max_people <= MAX_PEOPLE:
            raise InvalidOptions(f"max_people must be between 1 and {MAX_PEOPLE}, got {self.max_people}")
        if not 0 <= self.min_pose_duration_s <= 60:
            raise InvalidOptions(
                f"min_pose_duration_s must be between 0 and 60, got {self.min_pose_duration_s}"
            )

    def frame_step_s(self, native_fps: float) -> float:
        """Time between two analysed frames."""
        if self.sample_fps is None or self.sample_fps >= native_fps:
            return 1.0 / native_fps
        return 1.0 / self.sample_fps
