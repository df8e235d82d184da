"""The bad-upload corpus: generated files, each with the answer the service must give.

Shared by the HTTP tests (tests/serve/test_http_errors.py) and the soak benchmark
(benchmarks/soak.py). Limits assumed: 30 s and 1920x1080 pixels at most.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from testbed.media import pattern_frames, write_video
from testbed.photos import real_photo


@dataclass(frozen=True)
class BadUpload:
    data: bytes
    status: int
    code: str


def audio_only_mp4() -> bytes:
    """One second of silence in an mp4 (AAC): a container with no video stream."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 16000), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buffer.getvalue()


def wav() -> bytes:
    audio = io.BytesIO()
    with wave.open(audio, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000), w.writeframes(b"\0\0" * 8000)
    return audio.getvalue()


def zero_frame_video(container: str, codec: str) -> bytes:
    """A container with a video stream and not one frame in it."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as out:
        stream = out.add_stream(codec, rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        out.start_encoding()  # the header, with the stream; then no packet
    return buffer.getvalue()


BAD_UPLOAD_NAMES = [
    "empty",
    "text",
    "random",
    "wav",
    "png",
    "jpeg",
    "truncated",
    "moov_cut",
    "audio_only",
    "zero_frames_avi",
    "zero_frames_mp4",
    "long",
    "two_hours",
    "huge",
    "8192x8192",
]


def bad_uploads(tmp: Path) -> dict[str, BadUpload]:
    """Every bad file, by name, with the status and error code it must get."""
    tiny = write_video(tmp / "tiny.mp4", pattern_frames(10, 64, 48), fps=10).read_bytes()
    moov_last = write_video(tmp / "moov_last.mp4", pattern_frames(30, 64, 48), fps=10).read_bytes()
    assert moov_last.index(b"mdat") < moov_last.index(b"moov")  # the index is written last...
    photo = real_photo("bus.jpg")
    return {
        "empty": BadUpload(b"", 400, "empty_upload"),
        "text": BadUpload(b"hello, this is not a video\n" * 10, 415, "not_a_video"),
        "random": BadUpload(np.random.default_rng(1).bytes(50_000), 415, "not_a_video"),
        "wav": BadUpload(wav(), 415, "not_a_video"),
        "png": BadUpload(cv2.imencode(".png", photo)[1].tobytes(), 415, "not_a_video"),
        "jpeg": BadUpload(cv2.imencode(".jpg", photo)[1].tobytes(), 415, "not_a_video"),
        "truncated": BadUpload(tiny[: len(tiny) // 2], 415, "not_a_video"),
        "moov_cut": BadUpload(moov_last[: moov_last.index(b"moov") + 16], 415, "not_a_video"),  # ...and cut
        "audio_only": BadUpload(audio_only_mp4(), 422, "no_video_stream"),
        "zero_frames_avi": BadUpload(zero_frame_video("avi", "mpeg4"), 422, "no_frames"),
        # FFmpeg finds no stream at all in an mp4 without frames.
        "zero_frames_mp4": BadUpload(zero_frame_video("mp4", "libx264"), 415, "not_a_video"),
        "long": BadUpload(
            write_video(tmp / "long.mp4", pattern_frames(32, 32, 32), fps=1).read_bytes(), 413, "video_too_long"
        ),
        "two_hours": BadUpload(
            write_video(tmp / "2h.mp4", pattern_frames(1, 16, 16) * 7200, fps=1).read_bytes(), 413, "video_too_long"
        ),
        "huge": BadUpload(
            write_video(tmp / "huge.mp4", [np.zeros((1088, 1928, 3), np.uint8)], fps=1).read_bytes(),
            413,
            "too_many_pixels",
        ),
        "8192x8192": BadUpload(
            write_video(tmp / "8k.mp4", [np.zeros((8192, 8192, 3), np.uint8)], fps=1).read_bytes(),
            413,
            "too_many_pixels",
        ),
    }
