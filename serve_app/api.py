"""The FastAPI app of the ingress: its upload form, documented errors and the page's files.

Routes are defined on ``app`` by the DanceAnalyzer deployment (serve_app/ingress.py).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import FastAPI, UploadFile
from pydantic import Field
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from posecore.options import AnalysisOptions
from serve_app.http_errors import documented_errors, install_error_handlers
from serve_app.multipart_form import FormRoute

# The error statuses of the /analyze and /compare routes, for the OpenAPI schema.
ANALYZE_ERRORS = documented_errors(400, 401, 408, 413, 415, 422, 429, 503)

# Everything the page loads comes from this app: no CDN, works offline.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "media-src 'self' blob:; connect-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
# By suffix: the system's MIME table may say application/javascript (or nothing).
PAGE_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}

app = FastAPI(
    title="Dance pose analysis",
    version="1",
    description="Upload a dance video; get each dancer's named poses with timestamps, "
    "and optionally the per-frame body landmarks.",
)
install_error_handlers(app)
app.router.route_class = FormRoute  # forms whose file part is named by filename* only (RFC 5987)


class UploadForm(AnalysisOptions):
    """``POST /analyze``'s multipart form: the video and the analysis options."""

    model_config = {**AnalysisOptions.model_config, "frozen": False}
    video: UploadFile = Field(description="The video file: mp4, mov, mkv, webm or avi.")
    # A form may carry the pose file as a file part as well as text.
    poses: UploadFile | str | None = Field(  # type: ignore[assignment]
        None, description="Pose definitions to add for this request: a JSON/YAML file or its text (poses.yaml format)."
    )


class PageFiles(StaticFiles):
    """The web page's files (serve_app/page/), with its security policy; ETag and 304 come from StaticFiles."""

    def file_response(self, full_path: Any, stat_result: Any, scope: Scope, status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Content-Security-Policy"] = PAGE_POLICY
        response.headers["Cache-Control"] = "no-cache"  # revalidate (cheap: ETag) so edits show on reload
        suffix = str(full_path)[str(full_path).rfind(".") :]
        if suffix in PAGE_TYPES:
            response.headers["Content-Type"] = PAGE_TYPES[suffix]
        return response


page_files = PageFiles(directory=str(resources.files("serve_app").joinpath("page")))
app.mount("/page", page_files, name="page")


def _openapi() -> dict[str, Any]:
    """FastAPI documents a form *model* as urlencoded even when it holds a file."""
    if app.openapi_schema is None:
        paths = FastAPI.openapi(app)["paths"]
        for route in ("/analyze", "/analyze/stream", "/compare"):
            body = paths[route]["post"]["requestBody"]
            body["content"] = {"multipart/form-data": body["content"].pop("application/x-www-form-urlencoded")}
    assert app.openapi_schema is not None
    return app.openapi_schema


app.openapi = _openapi  # type: ignore[method-assign]
