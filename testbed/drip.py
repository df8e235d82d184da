"""A dripping upload: a client that sends an upload's headers and multipart preamble, then
one byte a second (issue 15: such clients once held every upload slot)."""

from __future__ import annotations

import socket
import time

import httpx

BOUNDARY = "abuse0boundary"


def drip_preamble(url: httpx.URL) -> bytes:
    """The request line, headers (a 1 MB Content-Length) and the video part's preamble."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="video"; filename="v.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    return (
        f"POST /analyze HTTP/1.1\r\nHost: {url.host}\r\nContent-Length: 1000000\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\r\n"
    ).encode() + head


def drip(url: httpx.URL, source: str, limit_s: float) -> tuple[bytes, float]:
    """A dripping upload from the address ``source`` until answered (or ``limit_s``); the
    reply and the seconds it took."""
    started = time.monotonic()
    reply = b""
    with socket.create_connection((url.host, url.port), timeout=1, source_address=(source, 0)) as conn:
        conn.sendall(drip_preamble(url))
        while time.monotonic() - started < limit_s and not reply.endswith(b"}}"):
            try:
                chunk = conn.recv(65536)
            except TimeoutError:  # a second without an answer: one more byte
                try:
                    conn.sendall(b"\0")
                except OSError:
                    break
                continue
            if not chunk:
                break
            reply += chunk
    return reply, time.monotonic() - started
