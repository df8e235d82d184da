"""The analysis pipeline, in named steps::

    plan = make_plan(source, options, limits)       # probe the video, choose the frames, the poses
    async for batch in detect(plan): ...            # the pose model over the frames
    analysis = assemble(plan, detections, run)      # tracks -> angles -> labels -> segments -> result

``run_pipeline`` runs the steps as one stream of events: ``Progress`` once the video
is planned and as detection advances, then ``Finished``. The CLI runs it with
``local_detect`` (one pose model, in this process); the Serve ingress plans and
assembles, and its detect step fans segments out to PoseWorker replicas.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from posecore.dancers import DancerAnalysis, analyse_dancer
from posecore.detection import detect_frames
from posecore.errors import EmptyUpload, EmptyVideo
from posecore.group_landmarker import GroupPoseModel
from posecore.landmarker import FrameDetections
from posecore.model_path import model_path as locate_model
from posecore.music import analyze_music
from posecore.options import AnalysisOptions, people_cap
from posecore.pose_library import PoseLibrary
from posecore.result import (
    AnalysisResult,
    AnalysisSummary,
    FrameResult,
    Music,
    PeopleCount,
    PersonFrame,
    VideoSummary,
)
from posecore.smoothing import Smoothing, smooth_track
from posecore.thumbnails import frame_thumbnails
from posecore.track_cleanup import clean_tracks
from posecore.tracking import build_tracks
from posecore.video import Source, VideoInfo, VideoLimits, probe, sample_indices

# The CLI's detect step reports progress every this many frames.
LOCAL_BATCH_FRAMES = 10


@dataclass(frozen=True)
class Plan:
    """What to analyse: the video, the frames to run the model on, the options and poses."""

    source: Source
    info: VideoInfo
    indices: np.ndarray  # frame indices to analyse, increasing
    options: AnalysisOptions
    library: PoseLibrary


@dataclass(frozen=True)
class Batch:
    """Detection's progress: ``done`` of ``total`` units (frames or segments), with new detections."""

    done: int
    total: int
    detections: Sequence[FrameDetections] = ()


# The detect step: a plan's frames through the pose model, as batches in any order.
Detect = Callable[[Plan], AsyncGenerator[Batch, None]]


@dataclass(frozen=True)
class Analysis:
    """The result plus the per-dancer arrays it came from (for drawing, or further analysis)."""

    result: AnalysisResult
    dancers: list[DancerAnalysis]


@dataclass(frozen=True)
class Progress:
    """Event: ``done`` of ``total`` units of detection finished."""

    done: int
    total: int


@dataclass(frozen=True)
class Finished:
    """Event: the analysis, and how long each step took."""

    analysis: Analysis
    timings_s: dict[str, float] = field(default_factory=dict)


Event = Progress | Finished


def make_plan(source: Source, options: AnalysisOptions, library: PoseLibrary, limits: VideoLimits) -> Plan:
    """Probe the video (limits checked, no decoding), choose its frames, add the request's poses."""
    if isinstance(source, (bytes, memoryview)) and not len(source):
        raise EmptyUpload("the uploaded file is empty")
    library = library.extended(options.poses)
    info = probe(source, limits)
    return Plan(source, info, sample_indices(info, options.sample_fps), options, library)


def assemble(
    plan: Plan, detections: Sequence[FrameDetections], model: str, elapsed_s: float, music: Music | None = None
) -> Analysis:
    """Time-ordered tracks with stable ids -> smoothed -> each dancer's poses and movement -> the result."""
    if not detections:
        raise EmptyVideo("no frame of the video could be decoded")
    detections = sorted(detections, key=lambda d: d.index)
    info, options = plan.info, plan.options
    smoothing = Smoothing(enabled=options.smoothing)
    aspect = info.width / info.height
    tracked = clean_tracks(
        build_tracks(detections, aspect=aspect),
        min_dancer_s=options.min_dancer_s,
        max_people=people_cap(options.max_people),
        aspect=aspect,
        analysed_s=len(detections) * options.frame_step_s(info.fps),
    )
    tracks = [smooth_track(t, smoothing) for t in tracked]
    dancers = [
        analyse_dancer(
            track,
            frames_analyzed=len(detections),
            frame_duration_s=options.frame_step_s(info.fps),
            width=info.width,
            height=info.height,
            library=plan.library,
            min_pose_duration_s=options.min_pose_duration_s,
            min_confidence=options.min_confidence,
            beats_s=music.beats_s if music else None,
        )
        for track in tracks
    ]
    thumbnails = [
        frame_thumbnails(plan.source, info, d.track, [p.best_row for p in d.key_poses])
        if options.include_thumbnails
        else {}
        for d in dancers
    ]
    result = AnalysisResult(
        video=VideoSummary(**info.to_dict()),
        analysis=AnalysisSummary(
            frames_analyzed=len(detections),
            sample_fps=options.sample_fps,
            max_people=people_cap(options.max_people),
            model=model,
            elapsed_s=round(elapsed_s, 3),
            undecodable_frames=len(plan.indices) - len(detections),
            min_confidence=options.min_confidence,
        ),
        dancers=[dancer.to_dancer(uris) for dancer, uris in zip(dancers, thumbnails)],
        music=music,
        people=people_counts(detections, options.frame_step_s(info.fps)),
        frames=_frames(detections, dancers) if options.include_landmarks else None,
    )
    return Analysis(result, dancers)


async def run_pipeline(
    source: Source,
    options: AnalysisOptions,
    detect: Detect,
    *,
    library: PoseLibrary,
    model: str,
    limits: VideoLimits = VideoLimits(),
) -> AsyncGenerator[Event, None]:
    """Plan, detect and assemble ``source``, as events: ``Progress``..., then ``Finished``.

    Errors (posecore's, with their codes) are raised from the iteration. Closing the
    iterator early closes the detect step, which stops its work.
    """
    started = time.perf_counter()
    plan = await asyncio.to_thread(make_plan, source, options, library, limits)
    planned = time.perf_counter()
    # The music's beat is found beside detection, in a thread: it never adds to an idle service's time.
    music_task = asyncio.ensure_future(asyncio.to_thread(find_music, plan))
    detections: list[FrameDetections] = []
    batches = detect(plan)
    try:
        async for batch in batches:
            detections += batch.detections
            yield Progress(batch.done, batch.total)
    finally:
        await batches.aclose()
    detected = time.perf_counter()
    music = await music_task
    analysis = await asyncio.to_thread(assemble, plan, detections, model, detected - started, music)
    assembled = time.perf_counter()
    timings = {"probe": planned - started, "segments": detected - planned, "aggregation": assembled - detected}
    yield Finished(analysis, timings)


def find_music(plan: Plan) -> Music | None:
    """The beat of the video's audio track (None without audio or beat), on the video's clock."""
    return analyze_music(plan.source, max_duration_s=plan.info.duration_s)


def local_detect(model_file: Path) -> Detect:
    """The detect step in this process: one pose model over every frame, in batches."""

    async def detect(plan: Plan) -> AsyncGenerator[Batch, None]:
        model = await asyncio.to_thread(GroupPoseModel, model_file, max_people=plan.options.max_people)
        try:
            frames = detect_frames(plan.source, plan.info, plan.indices, model)
            total, done = len(plan.indices), 0
            yield Batch(0, total)
            while batch := await asyncio.to_thread(list, itertools.islice(frames, LOCAL_BATCH_FRAMES)):
                done += len(batch)
                yield Batch(done, total, batch)
        finally:
            model.close()

    return detect


def analyze_video(
    source: Source,
    options: AnalysisOptions = AnalysisOptions(),
    *,
    model_path: str | Path | None = None,
    library: PoseLibrary | None = None,
    limits: VideoLimits = VideoLimits(),
    on_progress: Callable[[Progress], None] | None = None,
) -> Analysis:
    """The whole pipeline in this process (the CLI's way); ``on_progress`` sees each Progress event."""
    model_file = Path(model_path) if model_path else locate_model()

    async def run() -> Analysis:
        events = run_pipeline(
            source,
            options,
            local_detect(model_file),
            library=library or PoseLibrary.default(),
            model=model_file.name,
            limits=limits,
        )
        async for event in events:
            if isinstance(event, Finished):
                return event.analysis
            if on_progress:
                on_progress(event)
        raise AssertionError("the pipeline ends with Finished")

    return asyncio.run(run())


def people_counts(detections: Sequence[FrameDetections], frame_step_s: float) -> list[PeopleCount]:
    """How many people the model found in each analysed frame, as runs of equal counts (time-ordered)."""
    runs: list[PeopleCount] = []
    for d in detections:
        end_s = round(d.t_s + frame_step_s, 3)
        if runs and runs[-1].count == d.people:
            runs[-1].end_s = end_s
        else:
            runs.append(PeopleCount(start_s=round(d.t_s, 3), end_s=end_s, count=d.people))
    return runs


def _frames(detections: Sequence[FrameDetections], dancers: list[DancerAnalysis]) -> list[FrameResult]:
    """Per analysed frame, each dancer seen with their (smoothed) landmarks, pose label and angles."""
    frames = {d.index: FrameResult(index=d.index, t_s=round(d.t_s, 4), people=[]) for d in detections}
    for dancer in dancers:
        track = dancer.track
        landmarks = np.round(track.landmarks.astype(np.float64), 5).tolist()
        angles = _angle_rows(dancer.angles)
        for row, index in enumerate(track.frame_indices.tolist()):
            frames[index].people.append(
                PersonFrame.model_construct(
                    id=track.id, landmarks=landmarks[row], pose=dancer.labels[row], angles=angles[row]
                )
            )
    return [frames[d.index] for d in detections]


def _angle_rows(angles: dict[str, np.ndarray]) -> list[dict[str, float | None]]:
    """Per frame, each measure rounded to 0.1 (degrees or %); ``None`` where undefined (NaN)."""
    columns = {name: np.round(values, 1) for name, values in angles.items()}
    names = list(columns)
    table = np.column_stack([columns[name] for name in names]) if names else np.empty((0, 0))
    return [
        {name: (None if v != v else v) for name, v in zip(names, row)}  # v != v: NaN
        for row in table.tolist()
    ]
