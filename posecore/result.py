"""The result contract as typed models: what the CLI, the HTTP API and the handle return.

``AnalysisResult.to_dict()`` is the JSON every caller gets. Field names may gain
siblings but never change; ``tests/core/test_result_contract.py`` holds the README's
fields to that.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

SCHEMA_VERSION = "1"


class VideoSummary(BaseModel):
    """The video as probed (upright size, container times)."""

    frame_count: int
    fps: float
    duration_s: float
    width: int
    height: int
    rotation: int = Field(description="Degrees the stored frames are turned to display upright.")
    codec: str


class AnalysisSummary(BaseModel):
    """How the analysis ran."""

    frames_analyzed: int
    sample_fps: float | None
    max_people: int = Field(description="The most people looked for (max_people 'auto' is the cap, 10).")
    model: str
    elapsed_s: float = Field(description="Seconds from the start to the end of pose detection.")
    undecodable_frames: int
    min_confidence: float = Field(0.0, description="The confidence floor: no pose segment is reported below it.")


class PoseSegment(BaseModel):
    """A held pose, or a movement (``jump``, ``turn``), from ``start_s`` to ``end_s``."""

    name: str
    start_s: float
    end_s: float
    duration_s: float
    frames: int
    confidence: float
    facing: str | None = Field(
        None, description="front, side or back: how the dancer faced the camera for most of the segment."
    )


class PoseTotal(BaseModel):
    """One pose's total over the video."""

    count: int
    total_s: float
    share: float = Field(description="total_s over the analysed duration.")


class Occurrence(BaseModel):
    start_s: float
    end_s: float


class FrameRef(BaseModel):
    t_s: float
    frame_index: int


class KeyPose(BaseModel):
    """A body shape the choreography hits or holds, grouped where it recurs (found from the movement)."""

    id: int
    name: str | None = Field(description="The vocabulary's name for the shape when one matches, else null.")
    occurrences: list[Occurrence]
    angles: dict[str, float | None] = Field(description="The shape: median of every measure of GET /poses.")
    clearest: FrameRef = Field(description="The occurrence's frame that shows the shape best.")
    thumbnail: str | None = Field(None, description="With include_thumbnails: a JPEG data URI (at most 15 KB).")


class OnBeat(BaseModel):
    """How the dancer's hits fall on the music's beats."""

    share: float | None = Field(description="Share of hits within tolerance_s of a beat.")
    mean_offset_s: float | None = Field(description="Mean hit time minus nearest beat: negative is early.")
    hits: int
    tolerance_s: float


class EnergyPoint(BaseModel):
    t_s: float
    energy: float | None


class MovementMetrics(BaseModel):
    """Movement quality over the whole video (definitions in posecore/movement_quality.py)."""

    energy: float | None = Field(description="Mean body speed, torso lengths per second.")
    smoothness: float | None = Field(description="Spectral arc length (SPARC) of the body speed: nearer 0 is smoother.")
    symmetry: float | None = Field(description="Left/right balance of limb movement, 0..1 (1 = balanced).")
    range_of_motion: dict[str, float | None] = Field(description="Per joint, the p5-p95 span in degrees; and mean.")
    on_beat: OnBeat | None = Field(description="Null without music.")
    timeline: list[EnergyPoint] = Field(description="Energy per second, for plots.")


class Dancer(BaseModel):
    """One person with a stable id, and what they did."""

    id: int
    frames_detected: int
    coverage: float = Field(description="Share of the analysed frames in which the dancer was seen.")
    poses: list[PoseSegment]
    summary: dict[str, PoseTotal] = Field(description="Per pose name, ordered by total time.")
    key_poses: list[KeyPose] = Field(default_factory=list)
    hits_s: list[float] = Field(default_factory=list, description="Times of the hits: sharp stops after motion.")
    metrics: MovementMetrics | None = None


class Music(BaseModel):
    """The beat of the video's music; null in the result when there is no audio or no beat."""

    tempo_bpm: float
    beats_s: list[float] = Field(description="Beat times on the video's clock.")


class PersonFrame(BaseModel):
    """One dancer in one analysed frame."""

    id: int
    landmarks: list[list[float]] = Field(description="33 BlazePose points [x, y, z, visibility].")
    pose: str | None
    angles: dict[str, float | None] = Field(description="Every measure of GET /poses, null where undefined.")


class FrameResult(BaseModel):
    """One analysed frame."""

    index: int
    t_s: float
    people: list[PersonFrame]


class PeopleCount(BaseModel):
    """People found in the analysed frames from ``start_s`` to ``end_s`` (a run of equal counts)."""

    start_s: float
    end_s: float
    count: int


class AnalysisResult(BaseModel):
    """The result of one analysis. ``frames`` only with ``include_landmarks``."""

    schema_version: str = SCHEMA_VERSION
    video: VideoSummary
    analysis: AnalysisSummary
    dancers: list[Dancer]
    music: Music | None = None
    people: list[PeopleCount] = Field(default_factory=list, description="People found per analysed frame, as runs.")
    frames: list[FrameResult] | None = Field(None, description="Only with include_landmarks.")

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract as plain data (``frames`` left out when not asked for)."""
        return self.model_dump(mode="json", exclude={"frames"} if self.frames is None else None)
