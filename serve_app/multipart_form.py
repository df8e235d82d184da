"""The upload form's parsing: file parts named only by ``filename*=`` are files, and an
uploaded file is handed on without reading it into memory.

python-multipart ignores RFC 5987 parameters (``filename*=UTF-8''clip.mp4``) in form
data, as RFC 7578 asks senders not to use them, and Starlette then takes a part with no
plain ``filename`` for a text field: the video went missing (``missing_video``), or, past
1 MB, the form failed to parse. Some clients send only ``filename*`` for non-ASCII names,
so such a part is taken for the file it is. ``FormRoute`` makes the routes of an app parse
their forms that way (``app.router.route_class = FormRoute`` before the routes are added).

The parser works on whole part headers (python-multipart reassembles a header split
across chunks), so where the body's chunks fall does not matter.
"""

from __future__ import annotations

import codecs
import mmap
import re
from collections.abc import Callable, Coroutine
from contextlib import aclosing
from typing import Any
from urllib.parse import unquote

from fastapi import Request, Response
from fastapi.routing import APIRoute
from python_multipart.multipart import parse_options_header
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser

# RFC 5987 ext-value: charset'language'percent-encoded.
EXTENDED_VALUE = re.compile(r"(?P<charset>[A-Za-z0-9!#$%&+^_`{}~-]+)'[A-Za-z0-9-]*'(?P<value>.*)", re.DOTALL)
# Uploads up to this size are read into memory; larger ones are mapped from their spooled file.
READ_UNDER_BYTES = 1024 * 1024
EXTENDED_FILENAME = re.compile(rb"(?:^|;)\s*filename\*\s*=\s*([^;]*)", re.IGNORECASE)
PLAIN_FILENAME = re.compile(rb"(?:^|;)\s*filename\s*=", re.IGNORECASE)


def extended_filename(content_disposition: bytes) -> str | None:
    """The decoded ``filename*`` of a Content-Disposition header; None when absent or unreadable."""
    found = EXTENDED_FILENAME.search(content_disposition)
    if found is None:
        return None
    match = EXTENDED_VALUE.fullmatch(found.group(1).strip().decode("latin-1").strip('"'))
    if match is None:
        return None
    try:
        return unquote(match["value"], encoding=codecs.lookup(match["charset"]).name, errors="strict")
    except (LookupError, UnicodeDecodeError):
        return None


class ExtendedFilenameParser(MultiPartParser):
    """Starlette's multipart parser, also taking a part with only ``filename*=`` for a file."""

    def on_headers_finished(self) -> None:
        disposition = self._current_part.content_disposition or b""
        name = extended_filename(disposition)
        if name is None or PLAIN_FILENAME.search(disposition):
            super().on_headers_finished()
            return
        # A plain (empty) filename makes the parent create the file part; then its real name.
        self._current_part.content_disposition = disposition + b'; filename=""'
        super().on_headers_finished()
        assert self._current_part.file is not None
        self._current_part.file.filename = name


class FormRequest(Request):
    """A request whose multipart form is parsed by ``ExtendedFilenameParser``."""

    async def _get_form(
        self, *, max_files: int | float = 1000, max_fields: int | float = 1000, max_part_size: int = 1024 * 1024
    ) -> FormData:
        content_type, _ = parse_options_header(self.headers.get("Content-Type"))
        if self._form is None and content_type == b"multipart/form-data":
            try:
                async with aclosing(self.stream()) as stream:
                    parser = ExtendedFilenameParser(
                        self.headers, stream, max_files=max_files, max_fields=max_fields, max_part_size=max_part_size
                    )
                    self._form = await parser.parse()
            except MultiPartException as exc:  # as Starlette does
                raise HTTPException(status_code=400, detail=exc.message) from exc
        return await super()._get_form(max_files=max_files, max_fields=max_fields, max_part_size=max_part_size)


class FormRoute(APIRoute):
    """An API route whose handler sees a ``FormRequest``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def form_handler(request: Request) -> Response:
            return await handler(FormRequest(request.scope, request.receive))

        return form_handler


async def upload_contents(upload: UploadFile) -> bytes | memoryview:
    """An uploaded file's contents: a small one read, a larger one mapped read-only from the
    file it was spooled to, so it is not copied into the heap (a non-video is then rejected
    having read only what the probe needs). The map lives as long as the returned view."""
    size = upload.size if upload.size is not None else READ_UNDER_BYTES
    if size < READ_UNDER_BYTES:
        return await upload.read()
    await upload.seek(0)
    return memoryview(mmap.mmap(upload.file.fileno(), 0, access=mmap.ACCESS_READ))
