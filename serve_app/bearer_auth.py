"""ASGI middleware: analysis routes need ``Authorization: Bearer <key>`` (RFC 6750)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from serve_app.access import is_analysis_request
from serve_app.api_keys import ApiKeys
from serve_app.http_errors import error_response

# The ASGI scope key naming the authenticated client (for the rate limit).
CLIENT_KEY = "dance.api_key_id"


class BearerAuth:
    """401 with ``WWW-Authenticate: Bearer`` unless an analysis request presents a known
    key; answered from the headers alone, before any of the body is read."""

    def __init__(self, app: ASGIApp, keys: ApiKeys, on_reject: Callable[[str], None]) -> None:
        self.app = app
        self.keys = keys
        self.on_reject = on_reject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_analysis_request(scope):
            await self.app(scope, receive, send)
            return
        presented = _bearer_token(scope)
        key_id = self.keys.match(presented) if presented else None
        if key_id is None:
            self.on_reject("unauthorized")
            if presented is None:
                message, challenge = "send an API key: Authorization: Bearer <key>", "Bearer"
            else:
                message, challenge = "the API key is not valid", 'Bearer error="invalid_token"'
            response = error_response("unauthorized", message, headers={"WWW-Authenticate": challenge})
            await response(scope, receive, send)
            return
        scope[CLIENT_KEY] = key_id
        await self.app(scope, receive, send)


def _bearer_token(scope: Scope) -> bytes | None:
    """The token of the first Authorization header if its scheme is Bearer (any case)."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.strip().partition(b" ")
            token = token.strip()
            return token if scheme.lower() == b"bearer" and token else None
    return None
