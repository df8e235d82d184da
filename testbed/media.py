"""Generate small test videos with PyAV (no ffmpeg binary needed).

Reusable by any test that needs a real video file::

    frames = pattern_frames(30, 64, 48)
    path = write_video(tmp_path / "clip.mp4", frames, codec="h264", rotation=90)
    assert pattern_number(decoded_rgb) == 7

``pattern_frames`` draws an asymmetric picture (a red block in the top-left corner) with
the frame number written as black/white bit blocks in the lower half, so a test can
tell which frame it got (``pattern_number``) and which way is up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

# File suffix -> FFmpeg muxer name.
_MUXERS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}

# Friendly codec name -> PyAV encoder (all present in the av 18 wheels).
_ENCODERS = {
    "h264": "libx264",
    "hevc": "libx265",
    "vp9": "libvpx-vp9",
    "mpeg4": "mpeg4",
    "mjpeg": "mjpeg",
}

# Muxer -> audio encoder it accepts, for ``with_audio``.
_AUDIO_ENCODERS = {"webm": "libopus", "avi": "pcm_s16le"}

# Bit grid in the lower half of a pattern frame: 2 rows x 6 columns = 12 bits.
_BIT_ROWS, _BIT_COLS = 2, 6
MAX_PATTERN_FRAMES = 2 ** (_BIT_ROWS * _BIT_COLS)

_RED = (220, 30, 30)
_BACKGROUND = 110


@dataclass(frozen=True)
class AudioTrack:
    """Sound for ``write_video``: mono samples in [-1, 1] and where they start."""

    samples: np.ndarray  # (n,) float
    rate: int = 48_000
    start_s: float = 0.0  # presentation time of the first sample (the first video frame is at times_s[0] or 0)


def pattern_frames(n: int, width: int, height: int) -> list[np.ndarray]:
    """``n`` upright RGB frames (height, width, 3) uint8 with the frame number encoded.

    Top-left: a red block (so a rotated or flipped decode is obvious). Lower half: the
    frame number in binary, most significant bit first, as black (0) / white (1) blocks
    on a 2x6 grid; blocks are large so lossy codecs keep them readable.
    """
    if not 0 < n <= MAX_PATTERN_FRAMES:
        raise ValueError(f"n must be in 1..{MAX_PATTERN_FRAMES}")
    if width < 2 * _BIT_COLS or height < 4 * _BIT_ROWS:
        raise ValueError("frame too small for the bit grid")
    frames = []
    for i in range(n):
        img = np.full((height, width, 3), _BACKGROUND, np.uint8)
        img[: height // 4, : width // 4] = _RED
        for bit, (y0, y1, x0, x1) in enumerate(_bit_cells(width, height)):
            on = (i >> (_BIT_ROWS * _BIT_COLS - 1 - bit)) & 1
            img[y0:y1, x0:x1] = 255 if on else 0
        frames.append(img)
    return frames


def pattern_number(image: np.ndarray) -> int:
    """Read back the frame number drawn by ``pattern_frames`` (image must be upright)."""
    height, width = image.shape[:2]
    gray = image.astype(np.float32).mean(axis=2)
    number = 0
    for y0, y1, x0, x1 in _bit_cells(width, height):
        # Sample the cell's inner half: block edges blur under lossy compression.
        cy, cx, hy, hx = (y0 + y1) // 2, (x0 + x1) // 2, max((y1 - y0) // 4, 1), max((x1 - x0) // 4, 1)
        number = (number << 1) | int(gray[cy - hy : cy + hy, cx - hx : cx + hx].mean() > 128)
    return number


def _bit_cells(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """(y0, y1, x0, x1) of each bit block, MSB first, in the lower half of the frame."""
    ys = np.linspace(height // 2, height, _BIT_ROWS + 1).astype(int)
    xs = np.linspace(0, width, _BIT_COLS + 1).astype(int)
    return [(ys[r], ys[r + 1], xs[c], xs[c + 1]) for r in range(_BIT_ROWS) for c in range(_BIT_COLS)]


def write_video(
    path: Path,
    frames: Iterable[np.ndarray] | Sequence[np.ndarray],
    *,
    fps: float = 30,
    codec: str = "h264",
    container: str | None = None,
    times_s: Sequence[float] | None = None,
    rotation: int = 0,
    pix_fmt: str | None = None,
    with_audio: bool = False,
    gop: int | None = None,
    audio_track: AudioTrack | None = None,
) -> Path:
    """Encode RGB uint8 frames into ``path`` and return it.

    Args:
        frames: *upright* (H, W, 3) uint8 RGB images, i.e. what a player should show.
        fps: nominal rate; frame i is at i / fps unless ``times_s`` is given.
        codec: "h264", "hevc", "vp9", "mpeg4" or "mjpeg" (or any PyAV encoder name).
        container: FFmpeg muxer name ("mp4", "mov", "matroska", "webm", "avi");
            default from the file suffix.
        times_s: explicit presentation time of each frame (variable frame rate).
        rotation: 0/90/180/270, degrees *clockwise* a player must turn the stored
            picture to show it upright (like a phone filming in portrait, ``rotation=90``).
            The frames are stored turned the other way with a display-matrix flag, so a
            rotation-aware decoder returns ``frames`` unchanged. Not for AVI (no such flag).
        pix_fmt: encoder pixel format (default: yuv420p; yuvj420p for MJPEG).
        with_audio: add a silent audio track of the same length.
        gop: keyframe interval in frames (encoder default when None).
        audio_track: add this sound as the audio track (instead of ``with_audio``'s silence).
    """
    path = Path(path)
    muxer = container or _MUXERS.get(path.suffix.lower())
    if muxer is None:
        raise ValueError(f"cannot infer the container from {path.name!r}; pass container=")
    if rotation % 90:
        raise ValueError("rotation must be a multiple of 90")
    if rotation % 360 and muxer == "avi":
        raise ValueError("AVI cannot store rotation metadata")

    rate = Fraction(fps).limit_denominator(1001)
    # CFR: one tick per frame. VFR: a fine clock so explicit times survive rounding.
    time_base = 1 / rate if times_s is None else Fraction(1, 90_000)
    encoder = _ENCODERS.get(codec, codec)
    options = {"x265-params": "log-level=error"} if encoder == "libx265" else {}

    with av.open(str(path), "w", format=muxer) as out:
        video = audio = None
        n_frames = 0
        for i, image in enumerate(frames):
            stored = np.ascontiguousarray(np.rot90(image, k=rotation // 90 % 4))
            if video is None:
                video = out.add_stream(encoder, rate=rate, options=options)
                video.height, video.width = stored.shape[:2]
                video.pix_fmt = pix_fmt or ("yuvj420p" if encoder == "mjpeg" else "yuv420p")
                video.codec_context.time_base = time_base
                if gop is not None:
                    video.codec_context.gop_size = gop
                if rotation % 360:
                    # PyAV's angle is counter-clockwise (FFmpeg's display-matrix convention).
                    video.set_display_rotation(-(rotation % 360))
                if with_audio or audio_track is not None:
                    audio = _add_audio(out, muxer, audio_track.rate if audio_track else 48_000)
            frame = av.VideoFrame.from_ndarray(stored, format="rgb24")
            frame.time_base = time_base
            frame.pts = i if times_s is None else round(times_s[i] * 90_000)
            out.mux(video.encode(frame))
            n_frames += 1
        if video is None:
            raise ValueError("no frames given")
        out.mux(video.encode(None))
        if audio is not None and audio_track is not None:
            _write_samples(out, audio, audio_track)
        elif audio is not None:
            duration = (n_frames / fps) if times_s is None else times_s[n_frames - 1] + 1 / fps
            _write_silence(out, audio, duration)
    return path


def _add_audio(out: av.container.OutputContainer, muxer: str, rate: int = 48_000) -> av.audio.stream.AudioStream:
    audio = out.add_stream(_AUDIO_ENCODERS.get(muxer, "aac"), rate=rate)
    audio.layout = "mono"
    return audio


def _write_silence(out: av.container.OutputContainer, audio: av.audio.stream.AudioStream, seconds: float) -> None:
    ctx = audio.codec_context
    fmt = ctx.codec.audio_formats[0].name
    samples_per_frame = ctx.frame_size or 1024
    dtype = {"s16": np.int16, "s16p": np.int16, "s32p": np.int32}.get(fmt, np.float32)
    total = int(seconds * ctx.sample_rate)
    for pts in range(0, total, samples_per_frame):
        frame = av.AudioFrame.from_ndarray(np.zeros((1, samples_per_frame), dtype), format=fmt, layout="mono")
        frame.sample_rate = ctx.sample_rate
        frame.pts = pts
        out.mux(audio.encode(frame))
    out.mux(audio.encode(None))


def _write_samples(out: av.container.OutputContainer, audio: av.audio.stream.AudioStream, track: AudioTrack) -> None:
    ctx = audio.codec_context
    fmt = ctx.codec.audio_formats[0].name
    samples_per_frame = ctx.frame_size or 1024
    samples = np.clip(np.asarray(track.samples, np.float64), -1, 1)
    dtype = {"s16": np.int16, "s16p": np.int16, "s32p": np.int32}.get(fmt, np.float32)
    if dtype is not np.float32:
        samples = samples * np.iinfo(dtype).max
    samples = samples.astype(dtype)
    first = round(track.start_s * ctx.sample_rate)
    for start in range(0, len(samples), samples_per_frame):
        chunk = np.zeros((1, samples_per_frame), dtype)
        part = samples[start : start + samples_per_frame]
        chunk[0, : len(part)] = part
        frame = av.AudioFrame.from_ndarray(chunk, format=fmt, layout="mono")
        frame.sample_rate = ctx.sample_rate
        frame.pts = first + start
        out.mux(audio.encode(frame))
    out.mux(audio.encode(None))


def corrupt_frames(path: Path, frames: slice = slice(20, 23), seed: int = 2) -> bytes:
    """The file with the payload of ``frames`` (in time order) overwritten with noise,
    the container structure intact."""
    data = bytearray(path.read_bytes())
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = sorted((p.pts, p.pos, p.size) for p in container.demux(stream) if p.size)
    noise = np.random.default_rng(seed)
    for _, pos, size in packets[frames]:
        data[pos : pos + size] = noise.integers(0, 256, size, dtype=np.uint8).tobytes()
    return bytes(data)
