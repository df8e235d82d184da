"""DanceAnalyzer: the HTTP and Python-handle ingress.

For each video: validate the upload, probe its metadata, plan segments, fan them
out to PoseWorker replicas, stitch what comes back and aggregate it with posecore.
"""

import asyncio
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Annotated, Any, TypeVar

import numpy as np
import ray
from fastapi import FastAPI, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from ray import serve
from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError
from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError
from ray.serve.handle import DeploymentHandle
from starlette.exceptions import HTTPException

from posecore.errors import EmptyVideo, InvalidOptions, PoseCoreError
from posecore.landmarker import FrameDetections
from posecore.model_bundle import resolve_model_path
from posecore.options import AnalysisOptions
from posecore.pose_library import PoseLibrary
from posecore.result import RunInfo, build_result
from posecore.smoothing import Smoothing
from posecore.video import VideoInfo, VideoLimits, probe, sample_indices
from serve_app.access import AccessSettings
from serve_app.http_errors import ApiError, documented_errors, install_error_handlers
from serve_app.http_middleware import install_middleware
from serve_app.metrics import AnalyzerMetrics
from serve_app.segment_plan import PlanConfig, Segment, plan_segments

logger = logging.getLogger("ray.serve")

T = TypeVar("T")

# The error statuses of the /analyze routes, for the OpenAPI schema.
ANALYZE_ERRORS = documented_errors(400, 401, 408, 413, 415, 422, 429, 503)

# Replica losses a segment survives before the request fails with a 503.
SEGMENT_ATTEMPTS = 2

# (segments done, segments planned): called once the video is planned, then per segment.
Progress = Callable[[int, int], None]

# The web page's files (serve_app/page/), by URL name, with their content types.
PAGE_FILES = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}
# Everything the page loads comes from this app: no CDN, works offline.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "media-src 'self' blob:; connect-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class ServiceSettings:
    """Limits and planning knobs, from serve_config.yaml's application args (see app.py)."""

    max_upload_bytes: int
    upload_idle_timeout_s: float
    max_duration_s: float
    max_pixels: int
    # PoseWorker's max_replicas: an idle service splits a video over all of them, and
    # its queued segments are what makes the autoscaler start them.
    worker_replicas: int
    plan: PlanConfig
    access: AccessSettings = field(default_factory=AccessSettings)

    @property
    def limits(self) -> VideoLimits:
        return VideoLimits(max_duration_s=self.max_duration_s, max_pixels=self.max_pixels)


app = FastAPI(
    title="Dance pose analysis",
    version="1",
    description="Upload a dance video; get each dancer's named poses with timestamps, "
    "and optionally the per-frame body landmarks.",
)
install_error_handlers(app)


class OptionFields(BaseModel):
    """Analysis options of ``POST /analyze`` (ranges are checked by posecore)."""

    model_config = ConfigDict(extra="forbid")  # a misspelt option is an error, not ignored
    sample_fps: float | None = Field(None, description="Frames per second to analyse (default: every frame).")
    max_people: int | None = Field(None, description="People to track, 1-6 (default 1).")
    include_landmarks: bool | None = Field(None, description="Add per-frame landmarks (default false).")
    min_pose_duration_s: float | None = Field(None, description="Shortest pose segment reported (default 0.2).")
    smoothing: bool | None = Field(None, description="Jitter filter on landmarks (default true).")
    poses: str | None = Field(
        None, description="Pose definitions to add for this request: JSON or YAML text in the poses.yaml format."
    )


class UploadForm(OptionFields):
    video: UploadFile = Field(description="The video file: mp4, mov, mkv, webm or avi.")
    poses: UploadFile | str | None = Field(
        None, description="Pose definitions to add for this request: a JSON/YAML file or its text (poses.yaml format)."
    )


def _openapi() -> dict:
    """FastAPI documents a form *model* as urlencoded even when it holds a file."""
    if app.openapi_schema is None:
        paths = FastAPI.openapi(app)["paths"]
        for route in ("/analyze", "/analyze/stream"):
            body = paths[route]["post"]["requestBody"]
            body["content"] = {"multipart/form-data": body["content"].pop("application/x-www-form-urlencoded")}
    return app.openapi_schema


app.openapi = _openapi  # type: ignore[method-assign]


# Module helpers are defined before the deployment class: Serve serialises the class
# by value when it is decorated, capturing only the globals that exist by then.


async def _all_or_none(coroutines: list[Coroutine[Any, Any, T]]) -> list[T]:
    """Like ``asyncio.gather``, but the first failure cancels the others: a request that
    fails (or whose client left, which cancels this) stops holding pose replicas."""
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        return await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()  # a no-op for the finished ones


async def _reported(coroutine: Coroutine[Any, Any, T], report: Callable[[], None]) -> T:
    """``coroutine``'s result, calling ``report`` once it has succeeded."""
    result = await coroutine
    report()
    return result


def _options(options: dict[str, Any]) -> AnalysisOptions:
    known = OptionFields.model_fields
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise InvalidOptions(f"unknown option(s): {', '.join(unknown)}; known: {', '.join(known)}")
    options.pop("poses", None)  # not an analysis option: it picks the library (_pose_library)
    smoothing = options.pop("smoothing", True)
    if not isinstance(smoothing, bool):
        raise InvalidOptions(f"smoothing must be true or false, got {smoothing!r}")
    return AnalysisOptions(**options, smoothing=Smoothing(enabled=smoothing))


def _pose_library(base: PoseLibrary, poses: Any) -> PoseLibrary:
    """``base`` plus a request's own pose definitions: JSON/YAML text, or a mapping from a handle caller."""
    if poses is None or poses == "" or poses == {}:
        return base
    if isinstance(poses, (str, bytes)):
        return PoseLibrary.loads(poses, base=base)
    if isinstance(poses, Mapping):
        return PoseLibrary.load(poses, base=base)
    raise InvalidOptions(f"poses must be JSON/YAML text or a mapping, got {type(poses).__name__}")


def _ndjson(event: dict) -> bytes:
    return (json.dumps(event, separators=(",", ":")) + "\n").encode()


def _page_file(name: str) -> str:
    # Read from the installed package each time: small files, and edits show on reload.
    return resources.files("serve_app").joinpath("page", name).read_text(encoding="utf-8")


@serve.deployment  # replicas and timeouts live in serve_config.yaml
@serve.ingress(app)
class DanceAnalyzer:
    """The application's ingress: HTTP routes plus ``analyze`` for handle callers."""

    def __init__(self, worker: DeploymentHandle, settings: ServiceSettings) -> None:
        self.worker = worker
        self.settings = settings
        self.library = PoseLibrary.default()
        self.model_name = resolve_model_path(build=False).name  # what the workers load
        self.metrics = AnalyzerMetrics()
        self.segments_in_flight = 0  # across requests: how busy the PoseWorker replicas are
        install_middleware(app, settings.access, settings.max_upload_bytes, settings.upload_idle_timeout_s,
                           on_reject=self.metrics.reject)

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """Apply ``user_config.poses`` (custom pose definitions) without a restart."""
        poses = (user_config or {}).get("poses") or {}
        self.library = PoseLibrary.load(poses) if poses else PoseLibrary.default()

    # -- HTTP -------------------------------------------------------------------------

    @app.post("/analyze", summary="Analyse a dance video", responses=ANALYZE_ERRORS)
    async def analyze_upload(
        self, request: Request, form: Annotated[UploadForm, Form()], query: Annotated[OptionFields, Query()]
    ) -> dict:
        """Options may come as form fields or query parameters; form fields win."""
        data, options = await self._read_request(request, form, query)
        return await self.analyze(data, **options)

    @app.post(
        "/analyze/stream",
        summary="Analyse a dance video, streaming progress",
        response_class=StreamingResponse,
        responses={200: {"content": {"application/x-ndjson": {}},
                         "description": "NDJSON events: progress..., then one result or error."}}
        | ANALYZE_ERRORS,
    )
    async def analyze_upload_stream(
        self, request: Request, form: Annotated[UploadForm, Form()], query: Annotated[OptionFields, Query()]
    ) -> Response:
        """Like ``POST /analyze``, answered with one JSON object a line (NDJSON):
        ``{"event": "progress", "segments_done", "segments_total"}`` once the video is
        planned and as each segment finishes, then ``{"event": "result", "result": {...}}`` or
        ``{"event": "error", "error": {"code", "message"}}``. A request rejected before
        the analysis starts (bad options, not a video, over a limit) gets the usual
        4xx JSON error instead of a stream.
        """
        data, options = await self._read_request(request, form, query)
        events: asyncio.Queue[dict] = asyncio.Queue()

        def progress(done: int, total: int) -> None:
            events.put_nowait({"event": "progress", "segments_done": done, "segments_total": total})

        analysis = asyncio.ensure_future(self._analyze_counted(data, options, progress))
        first = asyncio.ensure_future(events.get())
        try:
            await asyncio.wait({analysis, first}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # the client left before the analysis was planned
            analysis.cancel()
            first.cancel()
            raise
        if not first.done():  # failed before planning (invalid input): the plain 4xx JSON error
            first.cancel()
            return await analysis
        return StreamingResponse(
            self._stream_events(analysis, events, first.result()), media_type="application/x-ndjson"
        )

    async def _read_request(
        self, request: Request, form: UploadForm, query: OptionFields
    ) -> tuple[bytes, dict[str, Any]]:
        """The upload's bytes and the options (form fields win over query parameters)."""
        started = time.perf_counter()
        if len((await request.form()).getlist("video")) > 1:  # parsed once already; cached
            raise ApiError("multiple_videos", 'send one file in the field "video" per request')
        data = await form.video.read()
        self.metrics.observe("upload", time.perf_counter() - started)
        options = query.model_dump(exclude_none=True) | form.model_dump(exclude_none=True, exclude={"video", "poses"})
        if isinstance(form.poses, str):
            options["poses"] = form.poses
        elif form.poses is not None:  # a file part (Starlette's UploadFile, not FastAPI's subclass)
            options["poses"] = await form.poses.read()
        return data, options

    async def _stream_events(self, analysis: asyncio.Future, events: asyncio.Queue, first: dict) -> AsyncIterator[bytes]:
        """Progress events until the analysis ends, then its result or error."""
        try:
            yield _ndjson(first)
            while not analysis.done() or not events.empty():
                waiter = asyncio.ensure_future(events.get())
                await asyncio.wait({analysis, waiter}, return_when=asyncio.FIRST_COMPLETED)
                if waiter.done():
                    yield _ndjson(waiter.result())
                else:
                    waiter.cancel()
            try:
                yield _ndjson({"event": "result", "result": analysis.result()})
            except (PoseCoreError, ApiError) as exc:
                yield _ndjson({"event": "error", "error": {"code": exc.code, "message": exc.message}})
            except Exception:
                logger.exception("unexpected error")
                yield _ndjson({"event": "error", "error": {
                    "code": "internal_error", "message": "the server failed to analyse this request"}})
        finally:
            analysis.cancel()  # the client went away: stop waiting for its segments

    @app.get("/", include_in_schema=False)
    async def page(self) -> HTMLResponse:
        """The web page: upload a video, watch the skeleton, read the timeline."""
        return HTMLResponse(
            _page_file("index.html"),
            headers={"Content-Security-Policy": PAGE_POLICY, "Cache-Control": "no-cache"},
        )

    @app.get("/page/{name}", include_in_schema=False)
    async def page_file(self, name: str) -> Response:
        if name not in PAGE_FILES:
            raise HTTPException(404, f"no page file {name!r}")
        return Response(_page_file(name), media_type=PAGE_FILES[name], headers={"Cache-Control": "no-cache"})

    @app.get("/healthz", summary="Liveness")
    async def healthz(self) -> dict:
        return {"status": "ok"}

    @app.get("/poses", summary="The pose vocabulary with its joint-angle definitions")
    async def poses(self) -> dict:
        return self.library.to_dict()

    # -- Python handle API ---------------------------------------------------------------

    async def analyze(self, video: bytes, **options: Any) -> dict:
        """Analyse ``video`` (the file's bytes); returns the same dict as ``POST /analyze``.

        Options: sample_fps, max_people, include_landmarks, min_pose_duration_s,
        smoothing (bool), poses (pose definitions to add: a mapping, or JSON/YAML text).
        Errors raise ``posecore`` errors (the HTTP API's codes).
        """
        return await self._analyze_counted(video, options)

    async def _analyze_counted(self, video: bytes, options: dict[str, Any], progress: Progress | None = None) -> dict:
        """``analyze`` with an optional progress callback; rejections are counted in the metrics."""
        try:
            library = _pose_library(self.library, options.get("poses"))
            return await self._analyze(video, _options(options), library, progress)
        except Exception as exc:
            self.metrics.reject(getattr(exc, "code", "internal_error"))
            raise

    async def _analyze(
        self, data: bytes, options: AnalysisOptions, library: PoseLibrary, progress: Progress | None = None
    ) -> dict:
        if not data:
            raise ApiError("empty_upload", "the uploaded file is empty")
        started = time.perf_counter()
        info = await asyncio.to_thread(probe, data, self.settings.limits)
        indices = sample_indices(info, options.sample_fps)
        probed = time.perf_counter()

        # Where each keyframe falls among the analysed frames: a warm-up may start there.
        keyframes = np.searchsorted(indices, info.keyframe_indices)
        # Split over the replicas not already busy: a lone video over all of them, but
        # under load a video stays whole, sparing the per-segment cost (seek, warm-up).
        idle = max(1, self.settings.worker_replicas - self.segments_in_flight)
        segments = plan_segments(len(indices), idle, self.settings.plan, keyframes)
        video_ref = ray.put(np.frombuffer(data, dtype=np.uint8))  # once; workers read it in place
        self._count_in_flight(len(segments))
        runs = [self._segment(video_ref, info, indices, s, options.max_people) for s in segments]
        if progress:  # segments done out of planned, for the streaming route
            progress(0, len(runs))
            finished = itertools.count(1)
            runs = [_reported(run, lambda: progress(next(finished), len(segments))) for run in runs]
        results = await _all_or_none(runs)
        detections = [d for segment in results for d in segment]
        if not detections:
            raise EmptyVideo("no frame of the video could be decoded")
        analysed = time.perf_counter()

        run = RunInfo(model=self.model_name, elapsed_s=analysed - started,
                      undecodable_frames=len(indices) - len(detections))
        result = await asyncio.to_thread(build_result, info, detections, options, library, run)
        done = time.perf_counter()
        timings = {"probe": probed - started, "segments": analysed - probed, "aggregation": done - analysed}
        for stage, seconds in timings.items():
            self.metrics.observe(stage, seconds)
        self.metrics.frames_analyzed.inc(len(detections))
        logger.info(
            "analysed video",
            extra={"video_duration_s": info.duration_s, "frame_count": info.frame_count,
                   "frames_analyzed": len(detections), "segments": len(segments),
                   "timings_s": {k: round(v, 4) for k, v in timings.items()}},
        )
        return result

    async def _segment(
        self, video_ref: ray.ObjectRef, info: VideoInfo, indices: np.ndarray, segment: Segment, max_people: int
    ) -> list[FrameDetections]:
        """One segment on some replica; retried once if that replica dies under it."""
        frames = indices[segment.warmup_start : segment.end]
        warmup = segment.start - segment.warmup_start
        try:
            for attempt in range(1, SEGMENT_ATTEMPTS + 1):
                response = self.worker.analyze_segment.remote([video_ref], info, frames, warmup, max_people)
                try:
                    return await response
                except asyncio.CancelledError:
                    response.cancel()  # the client left or a sibling failed: free the replica now
                    raise
                except BackPressureError as exc:
                    raise ApiError("overloaded", "the service is at capacity; retry shortly") from exc
                except (RayActorError, ActorDiedError, ActorUnavailableError, DeploymentUnavailableError) as exc:
                    logger.warning("segment lost with its replica (attempt %d): %s", attempt, exc)
            raise ApiError("worker_unavailable", "pose replicas kept failing; retry shortly")
        finally:
            self._count_in_flight(-1)

    def _count_in_flight(self, change: int) -> None:
        self.segments_in_flight += change
        self.metrics.segments_in_flight.set(self.segments_in_flight)
