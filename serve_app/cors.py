"""CORS for browser clients on other origins, off unless origins are configured."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp

from serve_app.http_errors import error_response


class Cors(CORSMiddleware):
    """Starlette's CORS middleware for exactly ``origins``, with the headers our API
    uses, and a refused preflight answered as our JSON error instead of plain text."""

    def __init__(self, app: ASGIApp, origins: Sequence[str]) -> None:
        super().__init__(
            app,
            allow_origins=list(origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization"],  # Content-Type and the rest of the safelist are always allowed
            expose_headers=["Retry-After", "X-Request-Id"],  # readable by the page's script
        )

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 200:
            return response
        cors_headers = {
            name: value
            for name, value in response.headers.items()
            if name.startswith("access-control-") or name == "vary"
        }
        return error_response("cors_rejected", bytes(response.body).decode(), headers=cors_headers)
