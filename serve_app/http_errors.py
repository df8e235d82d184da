"""Every error as ``{"error": {"code", "message"}}`` with the right HTTP status.

The analysis core raises typed errors with stable codes; this module is the one
place that maps them to statuses.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from posecore.errors import PoseCoreError

logger = logging.getLogger("ray.serve")

STATUS_BY_CODE = {
    "malformed_request": 400,
    "cors_rejected": 400,
    "missing_video": 400,
    "multiple_videos": 400,
    "missing_performance": 400,
    "missing_reference": 400,
    "two_references": 400,
    "empty_upload": 400,
    "unauthorized": 401,
    "upload_too_large": 413,
    "video_too_long": 413,
    "too_many_pixels": 413,
    "too_many_frames": 413,
    "poses_too_large": 413,
    "not_a_video": 415,
    "invalid_video": 415,
    "invalid_options": 422,
    "invalid_pose_library": 422,
    "no_video_stream": 422,
    "no_frames": 422,
    "no_dancer": 422,
    "unknown_dancer": 422,
    "invalid_reference_result": 422,
    "not_comparable": 422,
    "request_timeout": 408,
    "rate_limited": 429,
    "too_many_in_progress": 429,
    "overloaded": 503,
    "model_unavailable": 503,
    "worker_unavailable": 503,
}
# Errors FastAPI/Starlette raise themselves, by status.
HTTP_CODES = {
    400: "malformed_request",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "upload_too_large",
}
_HTTP_CODE_STATUS = {code: status for status, code in HTTP_CODES.items()}
# The forms' file parts: one missing (or text in its place) is a 400 that says what to send.
FILE_PARTS = {
    "video": ("missing_video", 'send the video as multipart/form-data in the field "video"'),
    "performance": (
        "missing_performance",
        'send the performance video as multipart/form-data in the field "performance"',
    ),
    "reference": (
        "missing_reference",
        'send the reference video as a file in the field "reference", or an earlier result in "reference_result"',
    ),
}
RETRY_AFTER_S = 5  # for 503s: long enough for a replica to start or a queue to drain


class ErrorDetail(BaseModel):
    code: str  # stable, machine-readable: a key of STATUS_BY_CODE or HTTP_CODES
    message: str


class ErrorBody(BaseModel):
    """Every error response: ``{"error": {"code", "message"}}``."""

    error: ErrorDetail


def documented_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """FastAPI ``responses=`` for these statuses, all with the error body (OpenAPI docs)."""
    codes = {
        status: sorted(c for c, s in (STATUS_BY_CODE | _HTTP_CODE_STATUS).items() if s == status) for status in statuses
    }
    return {status: {"model": ErrorBody, "description": "Error: " + ", ".join(codes[status])} for status in statuses}


class ApiError(Exception):
    """An error raised by the HTTP layer itself (not by the analysis core)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def error_response(code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON error body with its status (and ``Retry-After`` on 503), plus ``headers``."""
    status = STATUS_BY_CODE.get(code, 500)
    all_headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else {}
    all_headers.update(headers or {})
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=all_headers)


def install_error_handlers(app: FastAPI) -> None:
    """Route every exception FastAPI can meet to a JSON error, never a traceback."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.code, exc.message)

    @app.exception_handler(PoseCoreError)
    async def _core_error(request: Request, exc: PoseCoreError) -> JSONResponse:
        return error_response(exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = exc.errors()
        for name, (code, message) in FILE_PARTS.items():
            if any(_field(p) == name and p.get("type") != "extra_forbidden" for p in problems):
                return error_response(code, message)
        if any(p.get("type") == "model_attributes_type" or _field(p) is None for p in problems):
            return error_response("malformed_request", "the request body could not be parsed")
        return error_response("invalid_options", "; ".join(_describe(p) for p in problems))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        return JSONResponse({"error": {"code": code, "message": str(exc.detail)}}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error")
        return JSONResponse(
            {"error": {"code": "internal_error", "message": "the server failed to analyse this request"}},
            status_code=500,
        )


def _field(problem: dict) -> str | None:
    loc = [part for part in problem.get("loc", ()) if part not in ("body", "query")]
    return str(loc[0]) if loc else None


def _describe(problem: dict) -> str:
    return f"{_field(problem)}: {problem.get('msg', 'invalid value')}"
