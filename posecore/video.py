"""Video decoding: probe a video, choose frames to analyse, stream them as upright RGB.

Works on a file path or on the upload's bytes (a Serve replica decodes its own range of
the shared bytes). Three steps::

    info = probe(source)                        # demux only: exact frame times, limits
    indices = sample_indices(info, sample_fps)  # which frames to analyse
    for frame in iter_frames(source, info, indices[a:b]):  # seeks, then streams
        ...

Timestamps are the container's presentation times (variable frame rate safe), frames are
turned upright according to the stream's display matrix, and memory does not grow with
the video's length: frames are decoded one at a time and never collected.
"""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal, cast

import av
import av.error
import numpy as np

from posecore.errors import EmptyVideo, NotAVideo, NoVideoStream, TooManyFrames, TooManyPixels, VideoTooLong

# A path, or the file's contents: bytes, or a memoryview of shared memory (e.g. a numpy
# view of Ray's object store), read in place.
Source = str | os.PathLike | bytes | memoryview

# FFmpeg demuxers we accept: mp4/mov, mkv/webm, avi. Anything else (PNG/JPEG "pipes",
# text shown as ANSI art, ...) is rejected even though FFmpeg could open it.
SUPPORTED_DEMUXERS = frozenset({"mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "avi"})

# Decoder threads. Each Serve replica reserves one CPU. On group_dance.mp4 (720x1280
# H.264, decode + RGB) one thread does ~280 frames/s and FFmpeg's auto threading gains
# nothing consistent even with 2 free cores (the RGB conversion is single-threaded).
# Ray's num_cpus does not pin CPU affinity, so "auto" would start one thread per host
# core in every replica. 0 = FFmpeg's choice, for local runs on a many-core machine.
DEFAULT_THREADS = 1

SkipFrame = Literal["DEFAULT", "NONREF"]  # what FFmpeg decodes: every frame, or the references only


@dataclass(frozen=True)
class VideoLimits:
    """What the service agrees to analyse."""

    max_duration_s: float = 600.0
    max_pixels: int = 3840 * 2160
    # The work a video may ask for: each frame is a pose inference (~10 ms of a core).
    max_frames: int = 36_000  # 10 min at 60 fps
    max_fps: float = 240.0  # average frame rate; slow-motion phone video is 240 fps


@dataclass
class VideoInfo:
    """What ``probe`` learnt about the video stream; input to sampling and decoding."""

    frame_count: int
    fps: float  # average rate: (frame_count - 1) / span, or the stream's average_rate
    duration_s: float  # last frame time + its duration (the typical frame step, at most)
    width: int  # upright
    height: int  # upright
    rotation: int  # degrees clockwise the stored frame is turned to display upright: 0/90/180/270
    codec: str  # e.g. "h264"
    container: str  # e.g. "mp4"
    frame_times: np.ndarray  # (frame_count,) float64 s, sorted presentation times, first = 0.0
    keyframe_indices: np.ndarray  # indices into frame_times of keyframes (for segment planning)
    # Decoding bookkeeping: the stream's exact timestamps, to map decoded frames to indices.
    pts: np.ndarray | None = field(default=None, repr=False)  # (frame_count,) int64, sorted
    time_base: Fraction | None = field(default=None, repr=False)
    stream_index: int = field(default=0, repr=False)
    # AVI stores no presentation times: with B-frames the demuxer's pts follow decode
    # order, so decoded frames are numbered by their output order instead.
    number_by_order: bool = field(default=False, repr=False)

    def to_dict(self) -> dict:
        """Summary with plain JSON types."""
        return {
            "frame_count": int(self.frame_count),
            "fps": round(float(self.fps), 3),  # an average of PTS steps: 29.999999999999996 -> 30.0
            "duration_s": round(float(self.duration_s), 4),
            "width": int(self.width),
            "height": int(self.height),
            "rotation": int(self.rotation),
            "codec": str(self.codec),
        }


@dataclass
class Frame:
    """One decoded frame."""

    index: int  # global index into info.frame_times
    t_s: float
    image: np.ndarray  # (H, W, 3) uint8 RGB, upright, C-contiguous


def probe(source: Source, limits: VideoLimits = VideoLimits()) -> VideoInfo:
    """Demux packets (no decoding) to get exact presentation times of every frame; validate limits.

    Only the first decodable frame is decoded, for the display rotation and true size.

    Raises:
        NotAVideo: unreadable, or not an mp4/mov/mkv/webm/avi container.
        NoVideoStream: a container without a video stream (e.g. audio only).
        EmptyVideo: a video stream without frames, or none of them decode.
        VideoTooLong, TooManyPixels, TooManyFrames: above ``limits``. The frame count is
            checked from the header, then while demuxing (before any frame is decoded past
            the first); the frame rate once every frame time is known.
    """
    with _open(source) as container:
        stream = video_stream(container)
        ctx = stream.codec_context
        if ctx is None:  # FFmpeg has no decoder for it: e.g. a damaged header naming no codec
            raise NotAVideo("The video stream's codec is unknown or unsupported; the file may be corrupt.")
        _check_pixels(ctx.width, ctx.height, limits)  # early, from the header
        _check_header_duration(container, limits)
        _check_frames(stream.frames, limits)  # mp4 counts its frames in the header; others say 0
        _set_threads(stream, 1)

        time_base = stream.time_base
        if time_base is None:  # FFmpeg sets one for every demuxed stream
            raise NotAVideo("The video stream has no time base; the file may be corrupt.")
        max_ticks = (limits.max_duration_s + 1) / time_base  # early stop, in stream ticks
        pts: list[int] = []
        keyframe: list[bool] = []
        durations: list[int] = []
        first: av.VideoFrame | None = None
        for packet in _packets(container, stream):
            if packet.size == 0:  # end-of-stream marker: flush the decoder
                if first is None and pts:
                    first = next(iter(_decode(stream, None)), None)
                continue
            if packet.is_discard:  # before the start of an edit list: never shown
                continue
            # No pts (AVI): dts is the presentation time; neither: next tick.
            ts = packet.pts if packet.pts is not None else packet.dts
            if ts is None:
                ts = pts[-1] + max(durations[-1], 1) if pts else 0
            pts.append(ts)
            keyframe.append(packet.is_keyframe)
            durations.append(packet.duration or 0)
            if ts - pts[0] > max_ticks:
                # Stop early on a huge file whose header did not say its length.
                raise VideoTooLong(_too_long_message(float((ts - pts[0]) * time_base), limits))
            _check_frames(len(pts), limits)
            if first is None:
                first = next(iter(_decode(stream, packet)), None)

        if not pts:
            raise EmptyVideo("The video stream has no frames.")
        if first is None:
            raise EmptyVideo(f"None of the video's {len(pts)} frames could be decoded.")
        # Read everything needed from the stream now: it is invalid once closed.
        codec = ctx.name
        container_name = _container_name(container, source)
        stream_index = stream.index
        number_by_order = container.format.name == "avi" and bool(ctx.has_b_frames)
        average_rate = float(stream.average_rate or 0.0)
        rotation = _rotation(first)
        width, height = first.width, first.height

    # Packets come in decode order; B-frames make that differ from presentation order.
    order = np.argsort(np.asarray(pts, dtype=np.int64), kind="stable")
    pts_sorted = np.asarray(pts, dtype=np.int64)[order]
    frame_times = (pts_sorted - pts_sorted[0]).astype(np.float64) * float(time_base)
    keyframe_indices = np.flatnonzero(np.asarray(keyframe, dtype=bool)[order])
    n = len(pts_sorted)

    span = float(frame_times[-1])
    if n > 1 and span > 0:
        fps = (n - 1) / span
    else:
        fps = average_rate
    # A burst shorter than a second at the limit is cheap, whatever its rate.
    if n > limits.max_fps and fps > limits.max_fps:
        raise TooManyFrames(
            f"The video has {n} frames in {span:.3f} s ({fps:.0f} frames/s); the limit is {limits.max_fps:g} frames/s."
        )
    duration_s = span + _last_frame_duration(frame_times, durations[-1] * float(time_base), fps)

    _check_pixels(width, height, limits)
    if rotation in (90, 270):
        width, height = height, width
    if duration_s > limits.max_duration_s:
        raise VideoTooLong(_too_long_message(duration_s, limits))

    return VideoInfo(
        frame_count=n,
        fps=fps,
        duration_s=duration_s,
        width=width,
        height=height,
        rotation=rotation,
        codec=codec,
        container=container_name,
        frame_times=frame_times,
        keyframe_indices=keyframe_indices,
        pts=pts_sorted,
        time_base=Fraction(time_base),
        stream_index=stream_index,
        number_by_order=number_by_order,
    )


def _last_frame_duration(frame_times: np.ndarray, stored_s: float, fps: float) -> float:
    """How long the last frame is shown: the duration its container stored, at most the typical step.

    mp4 stores durations in decode order, so the last frame's is the last packet's; a
    muxer that knows none repeats the last gap, which for a slide show (frames at 0, 299
    and 598 s) would count the last frame as 299 s. The typical step (the median gap)
    bounds it, and stands in when nothing is stored.
    """
    steps = np.diff(frame_times)
    steps = steps[steps > 0]
    typical = float(np.median(steps)) if steps.size else (1.0 / fps if fps > 0 else 0.0)
    if stored_s <= 0:
        return typical
    return min(stored_s, typical)


def sample_indices(info: VideoInfo, sample_fps: float | None) -> np.ndarray:
    """Frame indices to analyse: all frames, or the frame nearest each even time k/sample_fps (unique, sorted).

    sample_fps >= native fps => all frames.
    """
    n = info.frame_count
    if sample_fps is None or sample_fps >= info.fps:
        return np.arange(n, dtype=np.int64)
    if sample_fps <= 0:
        raise ValueError(f"sample_fps must be positive, got {sample_fps}")
    times = info.frame_times
    # Small epsilon so a target landing exactly on the last frame is not lost to rounding.
    targets = np.arange(int(np.floor(times[-1] * sample_fps + 1e-9)) + 1) / sample_fps
    after = np.clip(np.searchsorted(times, targets), 0, n - 1)
    before = np.clip(after - 1, 0, n - 1)
    # Ties go to the earlier frame.
    nearest = np.where(np.abs(times[after] - targets) < np.abs(times[before] - targets), after, before)
    return np.unique(nearest).astype(np.int64)


def iter_frames(
    source: Source,
    info: VideoInfo,
    indices: np.ndarray | None = None,
    *,
    threads: int = DEFAULT_THREADS,
) -> Iterator[Frame]:
    """Yield the requested frames in time order.

    Seeks to the keyframe at/before the first requested frame (so a range from the middle
    does not decode from the start), decodes forward, stops after the last requested one.
    Frames that fail to decode are skipped (the caller counts undecodable = requested -
    yielded).

    Args:
        indices: global frame indices (any order, duplicates ignored); None = all frames.
        threads: decoder threads; 1 (default) is fastest on the one CPU a replica has,
            0 lets FFmpeg choose.
    """
    if info.pts is None or info.time_base is None:
        raise ValueError("info must come from probe()")
    n = info.frame_count
    wanted = np.arange(n) if indices is None else np.unique(np.asarray(indices, dtype=np.int64))
    if wanted.size == 0:
        return
    if wanted[0] < 0 or wanted[-1] >= n:
        raise ValueError(f"frame indices must be in [0, {n}), got {wanted[0]}..{wanted[-1]}")

    # Keyframes to start from, nearest first. If seeking lands after the chosen keyframe
    # (a demuxer indexing by dts, a corrupt keyframe), retry from the one before, then
    # from the start.
    keys = info.keyframe_indices[info.keyframe_indices <= wanted[0]]
    starts = list(dict.fromkeys([int(k) for k in keys[::-1][:2]] + [0]))
    for start in starts:
        decoded = _decode_from(source, info, start, threads, wanted)
        try:
            head = next(decoded, None)
            if start > 0 and (head is None or head[0] > wanted[0]):
                continue  # requested frames were skipped over: start earlier
            if head is not None:
                yield from _select(itertools.chain([head], decoded), wanted, info)
            return
        finally:
            decoded.close()  # type: ignore[attr-defined]  # a generator: stop decoding (and close the file) once we have what we need


def _select(decoded: Iterator[tuple[int, av.VideoFrame]], indices: np.ndarray, info: VideoInfo) -> Iterator[Frame]:
    """Convert the wanted frames among the decoded ones; stop after the last wanted one."""
    wanted = indices.tolist()  # plain ints: cheaper to compare per frame
    pos = 0  # next position in `wanted`
    for index, frame in decoded:
        while pos < len(wanted) and wanted[pos] < index:
            pos += 1  # requested but never decoded (corrupt): skip it
        if pos == len(wanted):
            return
        if wanted[pos] == index:
            # Only wanted frames pay for the RGB conversion.
            yield Frame(index=index, t_s=float(info.frame_times[index]), image=_to_rgb(frame, info.rotation))
            pos += 1
            if pos == len(wanted):
                return


def _decode_from(
    source: Source, info: VideoInfo, start: int, threads: int, wanted: np.ndarray
) -> Iterator[tuple[int, av.VideoFrame]]:
    """(index, frame) of each frame decoded from keyframe ``start`` on, in presentation order.

    Yields nothing if the seek fails or, numbering frames by output order, misses the keyframe.
    Frames not in ``wanted`` that no other frame refers to (most B-frames) may be left
    undecoded.
    """
    assert info.pts is not None  # set by probe
    pts = info.pts
    with _open(source) as container:
        stream = cast(av.video.stream.VideoStream, container.streams[info.stream_index])
        _set_threads(stream, threads)
        if start > 0:
            try:
                container.seek(int(pts[start]), backward=True, any_frame=False, stream=stream)
            except av.error.FFmpegError:
                return  # unseekable: the caller starts earlier, finally from the beginning
        packets = _packets(container, stream)
        if info.number_by_order:
            first = next(packets, None)
            if first is None or (start > 0 and first.pts != pts[start]):
                return  # counting from the wrong frame would mislabel every frame
            index = start
            for packet in itertools.chain([first], packets):
                for frame in _decode(stream, packet):
                    if index >= info.frame_count:
                        return
                    yield index, frame
                    index += 1
            return
        # A segment starting mid-video decodes from the keyframe before it, and a sampled
        # video only needs some frames: FFmpeg skips the unwanted ones that are not
        # references, e.g. about half the work of a seek into group_dance.mp4 (H.264 with
        # B-frames). Only here: counting frames by output order needs every one decoded.
        wanted_pts = set(pts[wanted].tolist())
        skipping: SkipFrame = "DEFAULT"
        last = -1
        for packet in packets:
            skip: SkipFrame = "DEFAULT" if packet.pts is None or packet.pts in wanted_pts else "NONREF"
            if skip != skipping:  # per packet: FFmpeg reads it as each frame is decoded
                stream.codec_context.skip_frame = skipping = skip
            for frame in _decode(stream, packet):
                found = _frame_index(pts, frame, last)
                if found is None:
                    continue
                index = found
                last = index
                yield index, frame


def _frame_index(pts: np.ndarray, frame: av.VideoFrame, last: int) -> int | None:
    """Global index of a decoded frame from its timestamp; None if it matches no frame."""
    ts = frame.pts if frame.pts is not None else frame.dts
    if ts is None:  # no timestamp at all: assume it follows the previous frame
        return last + 1 if last + 1 < len(pts) else None
    index = int(np.searchsorted(pts, ts))
    if index < len(pts) and pts[index] == ts:
        # Duplicate timestamps in a broken file: take the next unused one.
        if index <= last and last + 1 < len(pts) and pts[last + 1] == ts:
            index = last + 1
        return index
    return None


def _decode(stream: av.video.stream.VideoStream, packet: av.Packet | None) -> list[av.VideoFrame]:
    """Decode one packet; a corrupt packet yields no frames instead of raising."""
    try:
        return stream.decode(packet)
    except av.error.FFmpegError:
        return []


def _packets(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> Iterator[av.Packet]:
    """The stream's packets, ending with the empty flush packet when the end is reached.

    A demuxer error ends the stream early instead of raising: what was read so far is
    still analysed. (FFmpeg's demuxers resync over corrupt data themselves; an error
    here means the rest is unreadable, e.g. an mkv that is only a header.)
    """
    try:
        yield from container.demux(stream)
    except av.error.FFmpegError:
        yield av.Packet()  # empty packet: drains the frames the decoder still holds


def _to_rgb(frame: av.VideoFrame, rotation: int) -> np.ndarray:
    """Upright (H, W, 3) uint8 RGB, C-contiguous."""
    image = frame.to_ndarray(format="rgb24")
    if rotation:
        image = np.rot90(image, k=-(rotation // 90))  # np.rot90 turns counter-clockwise for k > 0
    return np.ascontiguousarray(image)


def _rotation(frame: av.VideoFrame) -> int:
    """Clockwise degrees (0/90/180/270) to turn the stored frame upright.

    FFmpeg's display matrix (``frame.rotation``) gives the counter-clockwise angle, in
    [-180, 180]; a portrait phone video reads -90 and needs a 90 degree clockwise turn.
    Odd angles are rounded to the nearest quarter turn; flips are ignored.
    """
    clockwise = -frame.rotation % 360
    return int(round(clockwise / 90)) % 4 * 90


def open_container(source: Source) -> av.container.InputContainer:
    """Open a path or in-memory contents (bytes or memoryview, read without copying) with PyAV.

    For other readers of the same upload (e.g. its audio track). Close it (``with``) after use.

    Raises:
        NotAVideo: unreadable, or not an mp4/mov/mkv/webm/avi container.
    """
    return _open(source)


def _open(source: Source) -> av.container.InputContainer:
    """Open a path or in-memory contents as one of the supported containers, else NotAVideo."""
    file: io.BytesIO | _BufferReader | str
    if isinstance(source, bytes):
        file = io.BytesIO(source)  # shares the bytes object's memory, no copy
    elif isinstance(source, (bytearray, memoryview)):
        file = _BufferReader(source)  # BytesIO would copy these
    else:
        file = str(os.fspath(source))
    try:
        container = av.open(file, mode="r")
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise  # the caller's path is wrong, not the video
    except (av.error.FFmpegError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise NotAVideo(
            f"Could not read the file as a video ({reason}). It may be corrupt, truncated, or not a video."
        ) from error
    if container.format.name not in SUPPORTED_DEMUXERS:
        kind = container.format.long_name or container.format.name
        container.close()
        raise NotAVideo(f"Unsupported file type ({kind}); expected an mp4, mov, mkv, webm or avi video.")
    return container


class _BufferReader:
    """Read-only, seekable file over a buffer, without copying the buffer."""

    def __init__(self, buffer: bytearray | memoryview) -> None:
        self._view = memoryview(buffer).cast("B")
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._view) if size < 0 else min(self._pos + size, len(self._view))
        data = self._view[self._pos : end].tobytes()
        self._pos = max(self._pos, end)
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos


def video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream:
    """The video stream with the largest frames; among equals the "default" one, then the first.

    Like the ffmpeg command line's automatic choice (largest width x height), without its
    strong preference for the default disposition: mp4 marks the first track default, which
    may be a tiny test pattern before the real picture (FFmpeg's av_find_best_stream
    takes that first one too).
    """
    # Cover art in an audio file is a one-picture "video" stream marked attached_pic.
    streams = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if streams:
        return max(streams, key=_stream_score)  # the first of equals
    if container.streams.audio:
        raise NoVideoStream("The file has no video stream, only audio.")
    # E.g. an mp4 cut inside its index: it opens, but no track survived.
    raise NotAVideo("The file has no video stream; it may be truncated or corrupt.")


def _stream_score(stream: av.video.stream.VideoStream) -> tuple[int, bool]:
    ctx = stream.codec_context
    pixels = ctx.width * ctx.height if ctx is not None else 0
    return pixels, bool(stream.disposition & av.stream.Disposition.default)


def _set_threads(stream: av.video.stream.VideoStream, threads: int) -> None:
    ctx = stream.codec_context
    if threads == 1:
        ctx.thread_type = "NONE"
        ctx.thread_count = 1
    else:
        ctx.thread_type = "AUTO"
        ctx.thread_count = threads  # 0 = one per core


def _check_pixels(width: int, height: int, limits: VideoLimits) -> None:
    if width * height > limits.max_pixels:
        raise TooManyPixels(
            f"Frames are {width}x{height} = {width * height} pixels; the limit is {limits.max_pixels} pixels."
        )


def _check_frames(frames: int, limits: VideoLimits) -> None:
    if frames > limits.max_frames:
        raise TooManyFrames(f"The video has more than {limits.max_frames} frames, the limit.")


def _check_header_duration(container: av.container.InputContainer, limits: VideoLimits) -> None:
    """Reject a clearly too long video before demuxing it all (the header may lie a little)."""
    if container.duration is not None:
        seconds = container.duration / av.time_base
        if seconds > limits.max_duration_s + 1:
            raise VideoTooLong(_too_long_message(seconds, limits))


def _too_long_message(seconds: float, limits: VideoLimits) -> str:
    return f"The video is {seconds:.1f} s long; the limit is {limits.max_duration_s:g} s."


def _container_name(container: av.container.InputContainer, source: Source) -> str:
    """Name the container "mp4", "mov", "mkv", "webm" or "avi" (FFmpeg has one demuxer per family)."""
    name = container.format.name
    if name == "avi":
        return "avi"
    if name.startswith("mov"):
        return "mov" if container.metadata.get("major_brand", "").strip() == "qt" else "mp4"
    # Matroska: the EBML header at the start names the DocType.
    if isinstance(source, (bytes, bytearray, memoryview)):
        head = bytes(source[:64])
    else:
        with open(source, "rb") as file:
            head = file.read(64)
    return "webm" if b"webm" in head else "mkv"
