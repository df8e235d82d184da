"""DanceAnalyzer: the HTTP and Python-handle ingress.

Routes and fan-out only: each analysis is ``posecore.pipeline.run_pipeline`` with the
detect step fanned out to PoseWorker replicas (``SegmentFanout``); ``/analyze`` waits
for its result, ``/analyze/stream`` relays its events as NDJSON, ``/compare`` runs two
at once and scores one against the other (``posecore.comparison``).
"""

import json
import logging
import time
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from typing import Annotated, Any

from fastapi import Form, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from ray import serve
from ray.serve.handle import DeploymentHandle

from posecore.comparison import ComparisonResult, compare_sources
from posecore.errors import PoseCoreError
from posecore.model_path import model_path
from posecore.options import AnalysisOptions
from posecore.pipeline import Analysis, Event, Finished, Progress, run_pipeline
from posecore.pose_library import MAX_POSE_FILE_BYTES, PoseLibrary
from posecore.result import AnalysisResult
from serve_app.api import ANALYZE_ERRORS, UploadForm, app, page_files
from serve_app.compare_form import CompareForm, CompareQuery, read_compare_form
from serve_app.http_errors import ApiError
from serve_app.http_middleware import install_middleware
from serve_app.metrics import AnalyzerMetrics
from serve_app.multipart_form import upload_contents
from serve_app.segment_fanout import SegmentFanout
from serve_app.settings import AppArgs

logger = logging.getLogger("ray.serve")

INTERNAL_ERROR = {"code": "internal_error", "message": "the server failed to analyse this request"}


def _ndjson_line(event: dict[str, Any]) -> bytes:
    return (json.dumps(event, separators=(",", ":")) + "\n").encode()


def _event_json(event: Event) -> dict[str, Any]:
    """A pipeline event as the stream's NDJSON object."""
    if isinstance(event, Progress):
        return {"event": "progress", "segments_done": event.done, "segments_total": event.total}
    return {"event": "result", "result": event.analysis.result.to_dict()}


async def _ndjson_stream(first: Event, events: AsyncGenerator[Event, None]) -> AsyncGenerator[bytes, None]:
    """The stream's body: the events as NDJSON, ending with the result or an error event."""
    async with aclosing(events):  # closing stops the analysis (the client left)
        try:
            yield _ndjson_line(_event_json(first))
            async for event in events:
                yield _ndjson_line(_event_json(event))
        except (PoseCoreError, ApiError) as exc:
            yield _ndjson_line({"event": "error", "error": {"code": exc.code, "message": exc.message}})
        except Exception:
            logger.exception("unexpected error")
            yield _ndjson_line({"event": "error", "error": INTERNAL_ERROR})


@serve.deployment  # replicas and timeouts live in serve_config.yaml
@serve.ingress(app)
class DanceAnalyzer:
    """The application's ingress: HTTP routes plus ``analyze`` for handle callers."""

    def __init__(self, worker: DeploymentHandle, args: AppArgs) -> None:
        self.args = args
        self.library = PoseLibrary.default()
        self.model_name = model_path().name  # what the workers load
        self.metrics = AnalyzerMetrics()
        self.fanout = SegmentFanout(worker, args, args.worker_replicas, self.metrics.segments_in_flight.set)
        install_middleware(app, args, on_reject=self.metrics.reject)

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """Apply ``user_config.poses`` (custom pose definitions) without a restart."""
        poses = (user_config or {}).get("poses") or {}
        self.library = PoseLibrary.load(poses) if poses else PoseLibrary.default()

    # -- HTTP -------------------------------------------------------------------------

    @app.post("/analyze", summary="Analyse a dance video", response_model=AnalysisResult, responses=ANALYZE_ERRORS)
    async def analyze_upload(
        self, request: Request, form: Annotated[UploadForm, Form()], query: Annotated[AnalysisOptions, Query()]
    ) -> Response:
        """Options may come as form fields or query parameters; form fields win."""
        video, options = await self._read_request(request, form, query)
        analysis = await self._analysis(self._run(video, options))
        return JSONResponse(analysis.result.to_dict())

    @app.post(
        "/compare",
        summary="Score a dance against a reference",
        response_model=ComparisonResult,
        responses=ANALYZE_ERRORS,
    )
    async def compare_upload(
        self, request: Request, form: Annotated[CompareForm, Form()], query: Annotated[CompareQuery, Query()]
    ) -> Response:
        """``performance`` scored against ``reference`` (a video) or ``reference_result`` (an earlier
        /analyze's JSON with include_landmarks); both videos are analysed at once. Options may come
        as form fields or query parameters; form fields win."""
        reference, performance, options = await read_compare_form(request, form, query)
        return JSONResponse(await self.compare(reference, performance, **options))

    @app.post(
        "/analyze/stream",
        summary="Analyse a dance video, streaming progress",
        response_class=StreamingResponse,
        responses={
            200: {
                "content": {"application/x-ndjson": {"schema": {"type": "object"}}},
                "description": "NDJSON events: progress..., then one result or error.",
            },
            **ANALYZE_ERRORS,
        },
    )
    async def analyze_upload_stream(
        self, request: Request, form: Annotated[UploadForm, Form()], query: Annotated[AnalysisOptions, Query()]
    ) -> Response:
        """Like ``POST /analyze``, answered with one JSON object a line (NDJSON):
        ``{"event": "progress", "segments_done", "segments_total"}`` once the video is
        planned and as each segment finishes, then ``{"event": "result", "result": {...}}`` or
        ``{"event": "error", "error": {"code", "message"}}``. A request rejected before
        the analysis starts (bad options, not a video, over a limit) gets the usual
        4xx JSON error instead of a stream.
        """
        video, options = await self._read_request(request, form, query)
        events = self._run(video, options)
        try:
            first = await anext(events)  # planned, or the plain 4xx error
        except BaseException:
            await events.aclose()
            raise
        return StreamingResponse(_ndjson_stream(first, events), media_type="application/x-ndjson")

    async def _read_request(
        self, request: Request, form: UploadForm, query: AnalysisOptions
    ) -> tuple[bytes | memoryview, dict[str, Any]]:
        """The upload's contents (mapped, not read, when large) and the options (form fields win)."""
        started = time.perf_counter()
        if len((await request.form()).getlist("video")) > 1:  # parsed once already; cached
            raise ApiError("multiple_videos", 'send one file in the field "video" per request')
        video = await upload_contents(form.video)
        self.metrics.observe("upload", time.perf_counter() - started)
        options = query.model_dump(exclude_unset=True) | form.model_dump(exclude_unset=True, exclude={"video", "poses"})
        if isinstance(form.poses, str):
            options["poses"] = form.poses
        elif form.poses is not None:  # a file part: past the cap it is refused unread (poses_too_large)
            options["poses"] = await form.poses.read(MAX_POSE_FILE_BYTES + 1)
        return video, options

    @app.get("/", include_in_schema=False)
    async def page(self, request: Request) -> Response:
        """The web page: upload a video, watch the skeleton, read the timeline."""
        return await page_files.get_response("index.html", request.scope)

    @app.get("/healthz", summary="Liveness")
    @app.head("/healthz", include_in_schema=False)  # load balancers may probe with HEAD
    async def healthz(self) -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/poses", summary="The pose vocabulary with its joint-angle definitions")
    async def poses(self) -> dict[str, Any]:
        return self.library.to_dict()

    # -- Python handle API ---------------------------------------------------------------

    async def analyze(self, video: bytes, **options: Any) -> dict[str, Any]:
        """Analyse ``video`` (the file's bytes); returns the same dict as ``POST /analyze``.

        Options: those of ``posecore.options.AnalysisOptions`` (``poses`` may be a
        mapping, or JSON/YAML text). Errors raise ``posecore`` errors (the HTTP API's codes).
        """
        return (await self._analysis(self._run(video, options))).result.to_dict()

    async def compare(self, reference: bytes | Mapping[str, Any], performance: bytes, **options: Any) -> dict[str, Any]:
        """Score ``performance`` (a video's bytes) against ``reference``: a video's bytes, or the dict of an
        earlier analysis with ``include_landmarks``. Returns the same dict as ``POST /compare``.

        Options: ``mirror`` ("auto", True, False), ``reference_dancer``, ``performance_dancer`` and those
        of ``AnalysisOptions`` (for both videos). Errors raise ``posecore`` errors, naming the part.
        """
        result = await compare_sources(
            reference, performance, options, lambda video, opts: self._analysis(self._run(video, opts))
        )
        return result.to_dict()

    # -- one analysis ---------------------------------------------------------------------

    async def _run(
        self, video: bytes | memoryview, options: Mapping[str, Any] | AnalysisOptions
    ) -> AsyncGenerator[Event, None]:
        """The pipeline's events for one analysis; each rejection is counted in the metrics."""
        try:
            parsed = options if isinstance(options, AnalysisOptions) else AnalysisOptions.parse(options)
            events = run_pipeline(
                video, parsed, self.fanout.detect, library=self.library, model=self.model_name, limits=self.args.limits
            )
            async with aclosing(events):
                async for event in events:
                    if isinstance(event, Finished):
                        self._observe(event)
                    yield event
        except Exception as exc:
            self.metrics.reject(getattr(exc, "code", "internal_error"))
            raise

    async def _analysis(self, events: AsyncGenerator[Event, None]) -> Analysis:
        async with aclosing(events):
            async for event in events:
                if isinstance(event, Finished):
                    return event.analysis
        raise AssertionError("the pipeline ends with Finished")

    def _observe(self, finished: Finished) -> None:
        result = finished.analysis.result
        for stage, seconds in finished.timings_s.items():
            self.metrics.observe(stage, seconds)
        self.metrics.frames_analyzed.inc(result.analysis.frames_analyzed)
        logger.info(
            "analysed video",
            extra={
                "video_duration_s": result.video.duration_s,
                "frame_count": result.video.frame_count,
                "frames_analyzed": result.analysis.frames_analyzed,
                "timings_s": {k: round(v, 4) for k, v in finished.timings_s.items()},
            },
        )
