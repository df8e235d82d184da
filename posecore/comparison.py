"""Compare two dance videos end to end: the orchestration around ``posecore.compare``.

Both videos are analysed at once by the caller's ``analyse`` (the CLI's in-process
pipeline, or the Serve ingress's fan-out over PoseWorkers); a reference may instead be
the JSON of an earlier analysis with landmarks, so an app analyses a teacher once and
the service stays stateless. Then each side's dancer is picked (by id, default the one
seen in most frames) and the performance is scored against the reference::

    result = await compare_sources(reference, performance, {"mirror": "auto"}, analyse)
    result.to_dict()  # the JSON of POST /compare
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from posecore.compare import compare_tracks
from posecore.errors import InvalidOptions, PoseCoreError
from posecore.options import AnalysisOptions, describe_problems
from posecore.result import SCHEMA_VERSION, AnalysisResult, VideoSummary
from posecore.tracks import NUM_LANDMARKS, Track

if TYPE_CHECKING:
    from posecore.pipeline import Analysis

VideoT = TypeVar("VideoT")  # a video as the caller's ``analyse`` takes it: a path, bytes...
# What compare needs of the analysis options: the response never carries landmarks or thumbnails.
ANALYSIS_OVERRIDES = {"include_landmarks": False, "include_thumbnails": False}


class NoDancer(PoseCoreError):
    """A video in which nobody was detected: there is no dance to compare."""

    code = "no_dancer"


class UnknownDancer(PoseCoreError):
    """A ``reference_dancer`` / ``performance_dancer`` id that is not in the video."""

    code = "unknown_dancer"


class InvalidReferenceResult(PoseCoreError):
    """A ``reference_result`` that is not the JSON of an analysis with landmarks."""

    code = "invalid_reference_result"


class CompareOptions(BaseModel):
    """The comparison's own options (the analysis options of both videos come beside them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mirror: Literal["auto"] | bool = Field(
        "auto", description="auto: try the performance as filmed and mirrored, keep the better; true/false: force it."
    )
    reference_dancer: int | None = Field(None, description="Dancer id in the reference (default: seen in most frames).")
    performance_dancer: int | None = Field(
        None, description="Dancer id in the performance (default: seen in most frames)."
    )


class ScorePoint(BaseModel):
    """Mean score over half a second of the performance, from ``t_s``."""

    t_s: float
    reference_t_s: float | None = Field(description="The matched reference time; null outside the alignment.")
    score: float | None = Field(description="0-100; null where the dancer was not seen.")


class WorstMoment(BaseModel):
    """A low point of the performance and the limb furthest off there."""

    t_s: float
    reference_t_s: float
    score: float
    limb: str


class ComparisonResult(BaseModel):
    """How well a performance matches a reference dance (``POST /compare``'s body)."""

    schema_version: str = SCHEMA_VERSION
    score: float = Field(description="0-100: pose similarity after alignment.")
    timing: float = Field(description="0-100: how steadily the performance keeps to the reference's timing.")
    offset_s: float = Field(description="Reference time minus performance time at matched moments (median).")
    tempo_ratio: float = Field(description="Reference seconds per performance second: 0.8 = performance at 0.8x.")
    limbs: dict[str, float | None] = Field(description="left_arm, right_arm, left_leg, right_leg, torso, head: 0-100.")
    timeline: list[ScorePoint]
    worst_moments: list[WorstMoment]
    mirrored: bool = Field(description="Whether the performance was scored mirrored.")
    reference: VideoSummary
    performance: VideoSummary
    reference_dancer: int = Field(description="The reference's dancer id that was compared.")
    performance_dancer: int = Field(description="The performance's dancer id that was compared.")

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract as plain data."""
        return self.model_dump(mode="json")


@dataclass(frozen=True)
class ComparedVideo:
    """One side of a comparison: the video as probed and its dancers' tracks."""

    video: VideoSummary
    tracks: list[Track]

    @classmethod
    def from_analysis(cls, analysis: Analysis) -> ComparedVideo:
        """From a finished analysis (its tracks, world landmarks included)."""
        return cls(analysis.result.video, [dancer.track for dancer in analysis.dancers])

    @classmethod
    def from_result(cls, result: Mapping[str, Any]) -> ComparedVideo:
        """From the dict of an earlier analysis with ``include_landmarks``: tracks rebuilt from ``frames``.

        World landmarks are not in the JSON (zeros here): the comparison uses image landmarks only.
        """
        try:
            parsed = AnalysisResult.model_validate(result)
        except ValidationError as err:
            problem = err.errors(include_input=False, include_url=False)[0]
            where = ".".join(str(part) for part in problem["loc"]) or "result"
            raise InvalidReferenceResult(
                f"reference_result is not the JSON of an analysis ({where}: {problem['msg']})"
            ) from None
        if parsed.frames is None:
            raise InvalidReferenceResult("reference_result has no frames: analyse the reference with include_landmarks")
        rows: dict[int, list[tuple[int, float, list[list[float]]]]] = {}
        for frame in parsed.frames:
            for person in frame.people:
                rows.setdefault(person.id, []).append((frame.index, frame.t_s, person.landmarks))
        tracks = [_track(dancer_id, sorted(seen, key=lambda row: row[1])) for dancer_id, seen in rows.items()]
        return cls(parsed.video, tracks)

    @property
    def size(self) -> tuple[int, int]:
        return self.video.width, self.video.height

    def dancer(self, dancer_id: int | None, part: str) -> Track:
        """The track of ``dancer_id``, or (None) of the dancer seen in the most frames."""
        if not self.tracks:
            raise NoDancer(f"{part}: no dancer was detected in the video")
        if dancer_id is None:
            return max(self.tracks, key=lambda t: (len(t), -t.id))
        for track in self.tracks:
            if track.id == dancer_id:
                return track
        known = ", ".join(str(t.id) for t in sorted(self.tracks, key=lambda t: t.id))
        raise UnknownDancer(f"{part}: no dancer {dancer_id} in the video (dancers: {known})")


def parse_result_json(text: str | bytes) -> dict[str, Any]:
    """The dict of a ``reference_result`` sent as JSON text; ``InvalidReferenceResult`` if it is not JSON."""
    try:
        data = json.loads(text)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        raise InvalidReferenceResult("reference_result is not JSON (send the JSON of an earlier /analyze)") from None
    if not isinstance(data, dict):
        raise InvalidReferenceResult("reference_result must be a JSON object (the result of an earlier /analyze)")
    return data


def split_options(options: Mapping[str, Any]) -> tuple[CompareOptions, AnalysisOptions]:
    """The comparison's options and the analysis options of both videos, validated strictly.

    Landmarks and thumbnails are never asked of the analyses: the tracks come with
    every analysis and the response carries neither.
    """
    own = {name: value for name, value in options.items() if name in CompareOptions.model_fields}
    rest = {name: value for name, value in options.items() if name not in CompareOptions.model_fields}
    try:
        compare = CompareOptions.model_validate(own, strict=True)
    except ValidationError as err:
        raise InvalidOptions(describe_problems(err)) from None
    return compare, AnalysisOptions.parse(rest).model_copy(update=ANALYSIS_OVERRIDES)


@contextmanager
def part_errors(part: str) -> Iterator[None]:
    """A posecore error raised inside says which part it is about: ``performance: ...``."""
    try:
        yield
    except PoseCoreError as exc:
        exc.message = f"{part}: {exc.message}"
        exc.args = (exc.message,)
        raise


def compare_videos(reference: ComparedVideo, performance: ComparedVideo, options: CompareOptions) -> ComparisonResult:
    """Score the chosen performance dancer against the chosen reference dancer."""
    reference_track = reference.dancer(options.reference_dancer, "reference")
    performance_track = performance.dancer(options.performance_dancer, "performance")
    comparison = compare_tracks(
        performance_track, reference_track,
        performance_size=performance.size, reference_size=reference.size, mirror=options.mirror,
    )  # fmt: skip
    return ComparisonResult.model_validate(
        comparison.to_dict()
        | {
            "reference": reference.video,
            "performance": performance.video,
            "reference_dancer": reference_track.id,
            "performance_dancer": performance_track.id,
        }
    )


async def compare_sources(
    reference: VideoT | Mapping[str, Any],
    performance: VideoT,
    options: Mapping[str, Any],
    analyse: Callable[[VideoT, AnalysisOptions], Awaitable[Analysis]],
) -> ComparisonResult:
    """Analyse both videos at once with ``analyse`` (a reference result dict is used as it is), then compare.

    ``options``: those of ``CompareOptions`` and ``AnalysisOptions`` together. If one
    analysis fails the other is cancelled; errors of an analysis name its part.
    """
    compare_options, analysis_options = split_options(options)

    async def side(part: str, source: VideoT | Mapping[str, Any]) -> ComparedVideo:
        if isinstance(source, Mapping):
            return ComparedVideo.from_result(source)
        with part_errors(part):
            return ComparedVideo.from_analysis(await analyse(source, analysis_options))

    tasks = [
        asyncio.ensure_future(side(part, source))
        for part, source in (("reference", reference), ("performance", performance))
    ]
    try:
        reference_video, performance_video = await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()  # a no-op once finished; stops the other analysis when one failed
        await asyncio.gather(*tasks, return_exceptions=True)
    return await asyncio.to_thread(compare_videos, reference_video, performance_video, compare_options)


def _track(dancer_id: int, rows: list[tuple[int, float, list[list[float]]]]) -> Track:
    """A track from (frame index, time, landmarks) rows in time order; world landmarks zero."""
    indices, times, landmarks = zip(*rows, strict=True)
    try:
        points = np.array(landmarks, dtype=np.float32)
    except ValueError:  # ragged lists
        points = np.empty(0, np.float32)
    if points.shape != (len(rows), NUM_LANDMARKS, 4):
        raise InvalidReferenceResult(
            f"reference_result: dancer {dancer_id} needs {NUM_LANDMARKS} landmarks [x, y, z, visibility] a frame"
        )
    return Track(
        dancer_id,
        np.array(indices, np.int64),
        np.array(times, np.float64),
        points,
        np.zeros((len(rows), NUM_LANDMARKS, 3), np.float32),
    )
