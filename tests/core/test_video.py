"""Decoding tests for posecore.video on small generated videos (see tests/media.py)."""

from __future__ import annotations

import io
import json
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest

import posecore.video as video
from posecore.errors import EmptyVideo, NotAVideo, NoVideoStream, TooManyFrames, TooManyPixels, VideoTooLong
from posecore.video import Frame, VideoInfo, VideoLimits, iter_frames, probe, sample_indices
from testbed.media import corrupt_frames, pattern_frames, pattern_number, write_video

W, H = 64, 48


def assert_pattern(frame: Frame, number: int | None = None) -> None:
    """The frame is upright, RGB, and shows pattern frame ``number`` (default: its index)."""
    number = frame.index if number is None else number
    expected = pattern_frames(number + 1, frame.image.shape[1], frame.image.shape[0])[number]
    assert frame.image.dtype == np.uint8 and frame.image.flags.c_contiguous
    assert pattern_number(frame.image) == number
    # Whole-picture check: catches colour-range or channel-order mistakes, and rotations.
    assert np.abs(frame.image.astype(int) - expected).mean() < 8


def stored_shape(path: Path) -> tuple[int, int]:
    """(height, width) of the picture as stored in the file, ignoring rotation metadata."""
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return frame.height, frame.width


def demuxed_times(path: Path) -> np.ndarray:
    """Sorted packet presentation times relative to the first, read independently with PyAV."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        pts = sorted(p.pts for p in container.demux(stream) if p.size)
        return np.array([(t - pts[0]) * stream.time_base for t in pts], dtype=np.float64)


class DecodeCounter:
    """Wraps posecore.video._decode to count packets sent to the decoder and frames out."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.packets = 0
        self.frames: list[int] = []  # pts of every decoded frame, in output order
        original = video._decode

        def counting(stream, packet):
            frames = original(stream, packet)
            self.packets += packet is not None and packet.size > 0
            self.frames.extend(f.pts for f in frames)
            return frames

        monkeypatch.setattr(video, "_decode", counting)


# --- containers and codecs ---------------------------------------------------------

COMBOS = [
    ("mp4", "h264"),
    ("mp4", "hevc"),
    ("mp4", "mpeg4"),
    ("mp4", "mjpeg"),
    ("mov", "h264"),
    ("mov", "mjpeg"),
    ("mkv", "h264"),
    ("mkv", "hevc"),
    ("mkv", "vp9"),
    ("mkv", "mjpeg"),
    ("webm", "vp9"),
    ("avi", "mpeg4"),
    ("avi", "mjpeg"),
    ("avi", "h264"),
]


@pytest.mark.parametrize(("suffix", "codec"), COMBOS)
def test_decodes_every_container_and_codec(tmp_path: Path, suffix: str, codec: str) -> None:
    n = 12
    path = write_video(tmp_path / f"clip.{suffix}", pattern_frames(n, W, H), codec=codec)

    info = probe(path)

    assert (info.frame_count, info.width, info.height, info.rotation) == (n, W, H, 0)
    assert info.codec == codec
    assert info.container == suffix
    assert info.fps == pytest.approx(30, rel=0.01)  # mkv/webm store milliseconds
    assert info.duration_s == pytest.approx(n / 30, abs=0.002)
    np.testing.assert_allclose(info.frame_times, np.arange(n) / 30, atol=0.001)
    assert info.keyframe_indices[0] == 0
    frames = list(iter_frames(path, info))
    assert [f.index for f in frames] == list(range(n))
    for f in frames:
        assert f.image.shape == (H, W, 3)
        assert f.t_s == info.frame_times[f.index]
        assert_pattern(f)


@pytest.mark.parametrize("suffix", ["mp4", "webm", "mkv", "avi"])
def test_audio_track_is_ignored(tmp_path: Path, suffix: str) -> None:
    codec = {"webm": "vp9", "avi": "mjpeg"}.get(suffix, "h264")
    path = write_video(tmp_path / f"av.{suffix}", pattern_frames(10, W, H), codec=codec, with_audio=True)
    with av.open(str(path)) as container:
        assert [s.type for s in container.streams] == ["video", "audio"]

    info = probe(path)

    assert info.frame_count == 10
    frames = list(iter_frames(path, info))
    assert [f.index for f in frames] == list(range(10))
    for f in frames:
        assert_pattern(f)


@pytest.mark.parametrize(
    ("codec", "suffix", "pix_fmt", "size"),
    [
        ("mjpeg", "mkv", "yuvj422p", (W, H)),
        ("mjpeg", "avi", "yuvj444p", (65, 49)),
        ("mjpeg", "mov", "yuvj420p", (65, 49)),
        ("h264", "mp4", "yuv444p", (65, 49)),
        ("vp9", "webm", "yuv444p", (W, H)),
    ],
)
def test_pixel_formats_and_odd_sizes(tmp_path: Path, codec: str, suffix: str, pix_fmt: str, size) -> None:
    width, height = size
    path = write_video(tmp_path / f"f.{suffix}", pattern_frames(4, width, height), codec=codec, pix_fmt=pix_fmt)

    info = probe(path)
    frames = list(iter_frames(path, info))

    assert (info.width, info.height) == (width, height)
    assert len(frames) == 4
    for f in frames:
        assert f.image.shape == (height, width, 3)
        assert_pattern(f)


# --- rotation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "rotation"), [("mp4", 90), ("mp4", 180), ("mp4", 270), ("mov", 90), ("mkv", 270)]
)
def test_rotation_metadata_gives_upright_frames(tmp_path: Path, suffix: str, rotation: int) -> None:
    path = write_video(tmp_path / f"phone.{suffix}", pattern_frames(6, W, H), rotation=rotation)
    # The file really is stored sideways: without the metadata the picture is turned.
    assert stored_shape(path) == ((W, H) if rotation in (90, 270) else (H, W))

    info = probe(path)
    frames = list(iter_frames(path, info))

    assert info.rotation == rotation
    assert (info.width, info.height) == (W, H)
    assert len(frames) == 6
    for f in frames:
        assert f.image.shape == (H, W, 3)
        assert_pattern(f)


@pytest.mark.parametrize("rotation", [90, 270])
def test_rotation_agrees_with_opencv(tmp_path: Path, rotation: int) -> None:
    """An independent FFmpeg-based reader (OpenCV auto-rotation) shows the same picture.

    This pins the direction convention to FFmpeg's, not just to our own writer.
    """
    cv2 = pytest.importorskip("cv2")
    path = write_video(tmp_path / "phone.mp4", pattern_frames(3, W, H), rotation=rotation)
    info = probe(path)
    ours = next(iter_frames(path, info)).image

    capture = cv2.VideoCapture(str(path))
    try:
        assert capture.get(cv2.CAP_PROP_ORIENTATION_META) == rotation  # same clockwise convention
        ok, bgr = capture.read()
    finally:
        capture.release()

    assert ok
    assert bgr.shape == ours.shape
    assert np.abs(bgr[..., ::-1].astype(int) - ours).mean() < 3


# --- timestamps ----------------------------------------------------------------------

VFR_STEPS = [0.02, 0.05, 0.1, 0.033, 0.2, 0.017, 0.04, 0.06, 0.3, 0.025, 0.05]


@pytest.mark.parametrize(("suffix", "codec"), [("mp4", "h264"), ("mkv", "hevc"), ("webm", "vp9"), ("mov", "mjpeg")])
def test_variable_frame_rate_uses_container_times(tmp_path: Path, suffix: str, codec: str) -> None:
    times = np.concatenate([[0.0], np.cumsum(VFR_STEPS)])
    n = len(times)
    path = write_video(tmp_path / f"vfr.{suffix}", pattern_frames(n, W, H), codec=codec, times_s=times)

    info = probe(path)

    assert info.frame_count == n
    np.testing.assert_allclose(info.frame_times, times, atol=0.001)
    np.testing.assert_allclose(info.frame_times, demuxed_times(path), atol=1e-9)
    assert info.fps == pytest.approx((n - 1) / times[-1], rel=0.01)
    # index / fps would be off by far more than a millisecond here.
    assert np.abs(np.arange(n) / info.fps - times).max() > 0.05
    frames = list(iter_frames(path, info))
    assert [f.t_s for f in frames] == info.frame_times.tolist()
    for f in frames:
        assert_pattern(f)


def test_start_offset_and_b_frames(tmp_path: Path) -> None:
    """First frame at 0.5 s in the container: times are relative to it; B-frames reorder packets."""
    times = 0.5 + np.arange(20) / 25
    path = write_video(tmp_path / "late.mp4", pattern_frames(20, W, H), times_s=times)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packet_pts = [p.pts for p in container.demux(stream) if p.size]
    assert packet_pts != sorted(packet_pts)  # decode order differs from presentation order

    info = probe(path)

    np.testing.assert_allclose(info.frame_times, np.arange(20) / 25, atol=0.001)
    assert info.fps == pytest.approx(25, rel=1e-6)
    frames = list(iter_frames(path, info))
    assert [f.index for f in frames] == list(range(20))
    for f in frames:
        assert_pattern(f)


# --- sampling ------------------------------------------------------------------------


def fake_info(frame_times) -> VideoInfo:
    times = np.asarray(frame_times, dtype=np.float64)
    n = len(times)
    return VideoInfo(
        frame_count=n,
        fps=(n - 1) / times[-1],
        duration_s=float(times[-1]),
        width=W,
        height=H,
        rotation=0,
        codec="h264",
        container="mp4",
        frame_times=times,
        keyframe_indices=np.array([0]),
    )


def test_sampling_picks_even_times() -> None:
    info = fake_info(np.arange(60) / 30)  # 2 s at 30 fps

    assert sample_indices(info, 10).tolist() == list(range(0, 60, 3))
    assert sample_indices(info, 1).tolist() == [0, 30]
    assert sample_indices(info, 7.5).tolist() == [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56]


@pytest.mark.parametrize("sample_fps", [None, 30, 30.0001, 60, 240])
def test_sampling_at_or_above_native_rate_keeps_every_frame(sample_fps) -> None:
    info = fake_info(np.arange(60) / 30)

    assert sample_indices(info, sample_fps).tolist() == list(range(60))


@pytest.mark.parametrize("sample_fps", [3, 7, 10.5])
def test_sampling_vfr_takes_nearest_frame(sample_fps: float) -> None:
    times = np.concatenate([[0.0], np.cumsum(np.tile(VFR_STEPS, 4))])
    info = fake_info(times)
    assert sample_fps < info.fps  # ~12.3 on average

    picked = sample_indices(info, sample_fps)

    targets = np.arange(int(times[-1] * sample_fps) + 1) / sample_fps
    nearest = [int(np.argmin(np.abs(times - t))) for t in targets]
    assert picked.tolist() == sorted(set(nearest))
    assert picked.dtype == np.int64


def test_sampling_rejects_non_positive_rate() -> None:
    with pytest.raises(ValueError):
        sample_indices(fake_info(np.arange(60) / 30), 0)


def test_sampled_frames_decode(tmp_path: Path) -> None:
    path = write_video(tmp_path / "s.mp4", pattern_frames(30, W, H))
    info = probe(path)
    wanted = sample_indices(info, 5)

    frames = list(iter_frames(path, info, wanted))

    assert [f.index for f in frames] == list(range(0, 30, 6))
    for f in frames:
        assert f.t_s == pytest.approx(f.index / 30)
        assert_pattern(f)


# --- ranges and seeking --------------------------------------------------------------


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """90 frames, a keyframe at least every 15 (x264 may add more at scene cuts), B-frames."""
    path = tmp_path_factory.mktemp("range") / "long.mp4"
    return write_video(path, pattern_frames(90, W, H), gop=15)


def test_range_in_the_middle_seeks_to_keyframe(long_clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = probe(long_clip)
    assert len(info.keyframe_indices) >= 6
    wanted = np.arange(62, 70)
    keyframe = int(info.keyframe_indices[info.keyframe_indices <= 62].max())
    counter = DecodeCounter(monkeypatch)

    frames = list(iter_frames(long_clip, info, wanted))

    assert [f.index for f in frames] == wanted.tolist()
    for f in frames:
        assert_pattern(f)
    # Decoding started at the keyframe before the range and stopped soon after it.
    assert counter.frames[0] == info.pts[keyframe]
    assert counter.packets <= (70 - keyframe) + 8  # + decoder reorder delay
    assert counter.packets < 40

    from_start = DecodeCounter(monkeypatch)
    assert [f.index for f in iter_frames(long_clip, info, np.arange(0, 70))] == list(range(70))
    assert from_start.packets >= 70


@pytest.mark.parametrize(("suffix", "codec"), [("webm", "vp9"), ("mkv", "hevc"), ("avi", "mpeg4")])
def test_range_in_other_containers(tmp_path: Path, suffix: str, codec: str, monkeypatch) -> None:
    path = write_video(tmp_path / f"r.{suffix}", pattern_frames(60, W, H), codec=codec, gop=10)
    info = probe(path)
    assert len(info.keyframe_indices) >= 5
    counter = DecodeCounter(monkeypatch)

    frames = list(iter_frames(path, info, [41, 43, 47]))

    assert [f.index for f in frames] == [41, 43, 47]
    for f in frames:
        assert_pattern(f)
    assert counter.packets < 30


def test_unwanted_frames_are_skipped_without_changing_the_wanted_ones(
    long_clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Frames before a segment's start, or between sampled ones, need decoding only if
    others refer to them: the rest are skipped, and the wanted frames stay bit-identical."""
    info = probe(long_clip)
    full = {f.index: f.image for f in iter_frames(long_clip, info)}
    # The end of the longest run between keyframes: a stretch of unwanted frames before it.
    keys = np.append(info.keyframe_indices, info.frame_count)
    longest = int(np.argmax(np.diff(keys)))
    assert keys[longest + 1] - keys[longest] >= 8
    end = int(keys[longest + 1])

    for wanted in (np.arange(end - 3, end), np.arange(0, 90, 3)):
        counter = DecodeCounter(monkeypatch)
        frames = list(iter_frames(long_clip, info, wanted))

        assert [f.index for f in frames] == wanted.tolist()
        for f in frames:
            np.testing.assert_array_equal(f.image, full[f.index])
        # Decoding ran from a keyframe to the last wanted frame; some frames in between
        # that were not wanted (non-reference B-frames) were never decoded.
        decoded = np.searchsorted(info.pts, counter.frames)
        passed = np.arange(decoded.min(), wanted[-1] + 1)
        unwanted = np.setdiff1d(passed, wanted)
        assert len(np.intersect1d(decoded, unwanted)) < len(unwanted)


def test_segments_cover_the_video_exactly_once(long_clip: Path) -> None:
    """What the Serve app does: replicas decode disjoint keyframe-aligned segments of the bytes."""
    data = long_clip.read_bytes()
    info = probe(data)
    bounds = [0, 25, 50, 90]

    seen = []
    for a, b in zip(bounds, bounds[1:]):
        seen += [(f.index, pattern_number(f.image)) for f in iter_frames(data, info, np.arange(a, b))]

    assert seen == [(i, i) for i in range(90)]


def test_indices_unsorted_and_duplicated(long_clip: Path) -> None:
    info = probe(long_clip)

    frames = list(iter_frames(long_clip, info, [33, 5, 33, 80, 6]))

    assert [f.index for f in frames] == [5, 6, 33, 80]
    for f in frames:
        assert_pattern(f)


def test_indices_out_of_range(long_clip: Path) -> None:
    info = probe(long_clip)
    with pytest.raises(ValueError):
        list(iter_frames(long_clip, info, [89, 90]))
    assert list(iter_frames(long_clip, info, [])) == []


def test_stops_decoding_after_last_wanted_frame(long_clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = probe(long_clip)
    counter = DecodeCounter(monkeypatch)

    first = next(iter(iter_frames(long_clip, info)))

    assert first.index == 0
    assert counter.packets < 10  # a lazy stream, not a decode of the whole file


def test_seek_overshoot_falls_back_to_earlier_start(long_clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If a demuxer lands after the keyframe we asked for, we retry earlier rather than lose frames."""
    info = probe(long_clip)
    real_decode_from = video._decode_from

    def overshooting(source, info, start, threads, wanted):
        frames = real_decode_from(source, info, start, threads, wanted)
        if start > 0:  # pretend the seek skipped 20 frames past the keyframe
            frames = ((i, f) for i, f in frames if i >= start + 20)
        return frames

    monkeypatch.setattr(video, "_decode_from", overshooting)

    frames = list(iter_frames(long_clip, info, np.arange(70, 75)))

    assert [f.index for f in frames] == list(range(70, 75))


@pytest.mark.parametrize("threads", [0, 2])
def test_threaded_decoding_gives_same_frames(long_clip: Path, threads: int) -> None:
    info = probe(long_clip)
    wanted = np.arange(20, 50, 3)

    single = list(iter_frames(long_clip, info, wanted, threads=1))
    multi = list(iter_frames(long_clip, info, wanted, threads=threads))

    assert [f.index for f in multi] == [f.index for f in single] == wanted.tolist()
    for a, b in zip(single, multi):
        np.testing.assert_array_equal(a.image, b.image)


# --- bytes vs path -------------------------------------------------------------------


@pytest.mark.parametrize(("suffix", "codec", "rotation"), [("mp4", "h264", 90), ("webm", "vp9", 0), ("avi", "mjpeg", 0)])
def test_bytes_and_path_give_identical_results(tmp_path: Path, suffix: str, codec: str, rotation: int) -> None:
    path = write_video(tmp_path / f"b.{suffix}", pattern_frames(20, W, H), codec=codec, rotation=rotation, gop=5)
    data = path.read_bytes()

    from_path, from_bytes = probe(str(path)), probe(data)

    assert from_path.to_dict() == from_bytes.to_dict()
    assert from_path.container == from_bytes.container == suffix
    np.testing.assert_array_equal(from_path.frame_times, from_bytes.frame_times)
    np.testing.assert_array_equal(from_path.keyframe_indices, from_bytes.keyframe_indices)
    for a, b in zip(iter_frames(path, from_path, [3, 11, 19]), iter_frames(data, from_bytes, [3, 11, 19]), strict=True):
        assert (a.index, a.t_s) == (b.index, b.t_s)
        np.testing.assert_array_equal(a.image, b.image)


def test_shared_memory_buffer_reads_like_bytes(long_clip: Path) -> None:
    """The Serve worker passes a memoryview of a numpy array in Ray's object store."""
    data = long_clip.read_bytes()
    shared = memoryview(np.frombuffer(data, dtype=np.uint8))

    info = probe(shared)

    assert info.to_dict() == probe(data).to_dict()
    np.testing.assert_array_equal(info.frame_times, probe(data).frame_times)
    frames = list(iter_frames(shared, info, [47, 48, 70]))
    assert [f.index for f in frames] == [47, 48, 70]
    for f in frames:
        assert_pattern(f)
    with pytest.raises(NotAVideo):
        probe(memoryview(b"not a video" * 100))


def test_to_dict_is_plain_json(tmp_path: Path) -> None:
    info = probe(write_video(tmp_path / "j.mp4", pattern_frames(5, W, H), rotation=270))

    summary = info.to_dict()

    assert set(summary) == {"frame_count", "fps", "duration_s", "width", "height", "rotation", "codec"}
    assert json.loads(json.dumps(summary)) == summary
    assert [type(summary[k]) for k in ("frame_count", "fps", "width", "rotation", "codec")] == [int, float, int, int, str]
    assert summary["rotation"] == 270 and (summary["width"], summary["height"]) == (W, H)


# --- errors --------------------------------------------------------------------------


def png_bytes() -> bytes:
    ctx = av.CodecContext.create("png", "w")
    ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = 16, 16, "rgb24", Fraction(1, 1)
    frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24")
    return b"".join(bytes(p) for p in ctx.encode(frame) + ctx.encode(None))


def audio_only_bytes() -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=16_000)
        stream.layout = "mono"
        for i in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16_000, i * 1024
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buffer.getvalue()


def zero_frame_video(path: Path) -> Path:
    """A container with a video stream header and no frames."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mjpeg", rate=30)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuvj420p"
        out.start_encoding()  # write the header although no frame ever comes
    return path


@pytest.mark.parametrize(
    "data",
    [
        np.random.default_rng(0).integers(0, 256, 20_000, dtype=np.uint8).tobytes(),
        b"",
        b"This is a text file, not a video.\n" * 100,
        b'{"frames": []}',
        png_bytes(),
    ],
    ids=["random", "empty", "text", "json", "png"],
)
def test_not_a_video(data: bytes) -> None:
    with pytest.raises(NotAVideo) as caught:
        probe(data)
    assert caught.value.code == "not_a_video"
    assert "video" in str(caught.value)


def test_png_really_is_a_png() -> None:
    assert png_bytes().startswith(b"\x89PNG")  # so the test above rejects an image, not garbage


@pytest.mark.parametrize("name", ["notes.txt", "picture.png", "random.mp4"])
def test_not_a_video_from_path(tmp_path: Path, name: str) -> None:
    contents = {
        "notes.txt": b"Hello\n" * 500,  # FFmpeg would open this as ANSI art "video"
        "picture.png": png_bytes(),
        "random.mp4": np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes(),
    }
    path = tmp_path / name
    path.write_bytes(contents[name])
    with pytest.raises(NotAVideo):
        probe(path)


def test_missing_file_is_not_hidden(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        probe(tmp_path / "nope.mp4")


def test_audio_only() -> None:
    data = audio_only_bytes()
    with pytest.raises(NoVideoStream) as caught:
        probe(data)
    assert caught.value.code == "no_video_stream"
    assert "audio" in str(caught.value)


def test_zero_frames(tmp_path: Path) -> None:
    # AVI is the container whose header survives without frames (mkv/mp4 do not open).
    path = zero_frame_video(tmp_path / "zero.avi")
    with av.open(str(path)) as container:
        assert len(container.streams.video) == 1  # a real video stream, just empty

    with pytest.raises(EmptyVideo) as caught:
        probe(path)
    assert caught.value.code == "no_frames"


def test_no_frame_decodes(tmp_path: Path) -> None:
    path = write_video(tmp_path / "garbage.avi", pattern_frames(5, W, H), codec="mjpeg")
    data = bytearray(path.read_bytes())
    with av.open(str(path)) as container:
        for packet in container.demux(video=0):
            if packet.size:
                data[packet.pos : packet.pos + packet.size] = bytes(packet.size)  # zeros: not JPEG

    with pytest.raises(EmptyVideo, match="None of the video's 5 frames"):
        probe(bytes(data))


def test_too_long(tmp_path: Path) -> None:
    path = write_video(tmp_path / "two_seconds.mp4", pattern_frames(60, W, H))
    assert probe(path, VideoLimits(max_duration_s=2.5)).duration_s == pytest.approx(2.0)

    with pytest.raises(VideoTooLong) as caught:
        probe(path, VideoLimits(max_duration_s=1.5))
    assert caught.value.code == "video_too_long"
    assert "2.0 s" in str(caught.value) and "1.5 s" in str(caught.value)


def test_too_long_stops_before_reading_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_video(tmp_path / "long.webm", pattern_frames(90, W, H), codec="vp9")
    # Hide the header's duration so only the packet times can tell.
    monkeypatch.setattr(video, "_check_header_duration", lambda container, limits: None)
    seen = []
    real_packets = video._packets

    def spy(container, stream):
        for packet in real_packets(container, stream):
            seen.append(packet)
            yield packet

    monkeypatch.setattr(video, "_packets", spy)
    with pytest.raises(VideoTooLong):
        probe(path, VideoLimits(max_duration_s=0.5))
    assert len(seen) < 60  # stopped at 0.5 + 1 s, not at the end of 3 s


def test_too_many_pixels(tmp_path: Path) -> None:
    path = write_video(tmp_path / "big.mp4", pattern_frames(3, W, H), rotation=90)
    assert probe(path, VideoLimits(max_pixels=W * H)).frame_count == 3

    with pytest.raises(TooManyPixels) as caught:
        probe(path, VideoLimits(max_pixels=W * H - 1))
    assert caught.value.code == "too_many_pixels"
    assert str(W * H) in str(caught.value)


def test_truncated_mp4_with_index_at_the_end(tmp_path: Path) -> None:
    """Default mp4: the moov index is written last, so a cut file has no index."""
    data = write_video(tmp_path / "t.mp4", pattern_frames(60, W, H)).read_bytes()
    moov = data.index(b"moov") - 4
    assert moov > len(data) // 2

    for cut in (len(data) // 2, moov + 8, moov + 100, len(data) - 200):
        with pytest.raises(NotAVideo, match="truncated"):
            probe(data[:cut])


def test_truncated_mp4_with_index_at_the_front(tmp_path: Path) -> None:
    """A 'faststart' mp4 cut short: analyse the frames that are there."""
    source = write_video(tmp_path / "t.mp4", pattern_frames(60, W, H), gop=10)
    faststart = tmp_path / "fs.mp4"
    with av.open(str(source)) as src, av.open(str(faststart), "w", options={"movflags": "faststart"}) as dst:
        in_stream = src.streams.video[0]
        out_stream = dst.add_stream_from_template(in_stream)
        for packet in src.demux(in_stream):
            if packet.dts is not None:
                packet.stream = out_stream
                dst.mux(packet)
    data = faststart.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")

    truncated = data[: int(len(data) * 0.8)]
    info = probe(truncated)
    frames = list(iter_frames(truncated, info))

    assert 30 < info.frame_count < 60
    assert len(frames) >= info.frame_count - 1  # at most the cut frame fails
    for f in frames:
        # B-frames whose packets were cut are missing, so index != frame number near the end;
        # the time tells which frame it is.
        assert_pattern(f, number=round(f.t_s * 30))


@pytest.mark.parametrize(("suffix", "codec"), [("avi", "mjpeg"), ("mp4", "h264"), ("mov", "mpeg4")])
def test_corrupt_middle_skips_bad_frames(tmp_path: Path, suffix: str, codec: str) -> None:
    data = corrupt_frames(write_video(tmp_path / f"c.{suffix}", pattern_frames(60, W, H), codec=codec, gop=10))

    info = probe(data)
    frames = list(iter_frames(data, info))

    assert info.frame_count == 60
    decoded = {f.index for f in frames}
    undecodable = 60 - len(frames)
    assert 1 <= undecodable <= 10
    assert decoded >= set(range(20)) | set(range(30, 60))  # before, and after the next keyframe
    for f in frames:
        if f.index not in range(20, 30):  # frames referencing garbage may be smeared
            assert_pattern(f)


class FailingDemux:
    """Wraps an input container so demuxing raises after ``after`` packets."""

    def __init__(self, container, after: int) -> None:
        self._container, self._after = container, after

    def __getattr__(self, name):
        return getattr(self._container, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._container.close()

    def demux(self, *args, **kwargs):
        for i, packet in enumerate(self._container.demux(*args, **kwargs)):
            if i == self._after:
                raise av.error.InvalidDataError(-1094995529, "Invalid data found when processing input")
            yield packet


def test_demuxer_error_keeps_what_was_read(long_clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = video._open
    monkeypatch.setattr(video, "_open", lambda source: FailingDemux(real_open(source), after=30))

    info = probe(long_clip)
    frames = list(iter_frames(long_clip, info))

    assert info.frame_count == 30
    # All 30 come out, including those still inside the decoder's B-frame delay.
    assert len(frames) == 30
    for f in frames:
        assert_pattern(f, number=round(f.t_s * 30))


# --- real video ----------------------------------------------------------------------


def test_group_dance_sample(shared_video: Path) -> None:
    """The real clip (../shared/data/group_dance.mp4; the conftest fixture skips if absent)."""
    info = probe(shared_video)

    assert info.frame_count == 514
    assert (info.width, info.height) == (720, 1280)
    assert info.duration_s == pytest.approx(17.13, abs=0.05)
    assert info.fps == pytest.approx(30, rel=0.01)
    assert info.codec == "h264" and info.container == "mp4"
    assert info.keyframe_indices.tolist() == [0, 150, 300, 450]
    frames = list(iter_frames(shared_video, info, [0, 300, 513]))
    assert [f.index for f in frames] == [0, 300, 513]
    assert all(f.image.shape == (1280, 720, 3) for f in frames)


# --- internals worth pinning ---------------------------------------------------------


def test_frame_index_without_timestamps_follows_previous() -> None:
    pts = np.array([0, 1, 2, 3], dtype=np.int64)

    assert video._frame_index(pts, SimpleNamespace(pts=None, dts=None), last=1) == 2
    assert video._frame_index(pts, SimpleNamespace(pts=None, dts=3), last=1) == 3
    assert video._frame_index(pts, SimpleNamespace(pts=7, dts=None), last=1) is None
    assert video._frame_index(pts, SimpleNamespace(pts=None, dts=None), last=3) is None


# -- Limits on work, stream choice, duration (issue 15) ----------------------------------


def count_decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Patch the decoder: the returned list grows by one per packet decoded."""
    calls: list[int] = []
    real_decode = video._decode

    def spy(stream, packet):
        calls.append(1)
        return real_decode(stream, packet)

    monkeypatch.setattr(video, "_decode", spy)
    return calls


@pytest.mark.parametrize(("suffix", "codec", "decodes"), [(".mp4", "h264", 0), (".mkv", "h264", 41), (".webm", "vp9", 41)])
def test_too_many_frames_is_refused_before_decoding_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str, codec: str, decodes: int
) -> None:
    path = write_video(tmp_path / f"fifty{suffix}", pattern_frames(50, W, H), codec=codec)
    assert probe(path, VideoLimits(max_frames=50)).frame_count == 50
    calls = count_decodes(monkeypatch)
    with pytest.raises(TooManyFrames) as caught:
        probe(path, VideoLimits(max_frames=40))
    assert caught.value.code == "too_many_frames" and "40" in caught.value.message
    # mp4 counts its frames in the header: refused unread; the others stop at frame 41, having
    # fed the decoder only until the first frame came out (for the size and rotation).
    assert len(calls) <= min(decodes, 5)


def test_a_thousand_frames_a_second_is_refused(tmp_path: Path) -> None:
    # The issue's case: 16x16 at 1000 fps for 1 s, 28 KB, was 8 s of two cores' work.
    path = write_video(tmp_path / "fast.mp4", pattern_frames(1000, 16, 16), fps=1000)
    assert path.stat().st_size < 100_000
    with pytest.raises(TooManyFrames, match="1000 frames/s"):
        probe(path)
    assert probe(path, VideoLimits(max_fps=1000)).frame_count == 1000
    # A burst of fewer frames than a second's worth at the limit is cheap: allowed.
    short = write_video(tmp_path / "burst.mp4", pattern_frames(100, 16, 16), fps=1000)
    assert probe(short).frame_count == 100


def two_stream_video(path: Path, sizes: list[tuple[int, int]], frames: int = 10) -> Path:
    """One container, one h264 stream per size, each showing the pattern numbers."""
    patterns = {size: pattern_frames(frames, *size) for size in sizes}
    with av.open(str(path), "w") as out:
        streams = []
        for width, height in sizes:
            stream = out.add_stream("h264", rate=10)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            streams.append(stream)
        for i in range(frames):
            for stream, size in zip(streams, sizes):
                frame = av.VideoFrame.from_ndarray(patterns[size][i], format="rgb24")
                frame.pts = i
                out.mux(stream.encode(frame))
        for stream in streams:
            out.mux(stream.encode())
    return path


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_the_best_video_stream_is_analysed_not_the_first(tmp_path: Path, suffix: str) -> None:
    # A tiny test pattern first, the dancer's picture second.
    path = two_stream_video(tmp_path / f"two{suffix}", [(16, 16), (W, H)])
    info = probe(path)
    assert (info.width, info.height, info.stream_index) == (W, H, 1)
    frames = list(iter_frames(path, info))
    assert [f.image.shape for f in frames] == [(H, W, 3)] * 10
    assert_pattern(frames[7], 7)
    assert probe(two_stream_video(tmp_path / f"first{suffix}", [(W, H), (16, 16)])).stream_index == 0


@pytest.mark.parametrize(("suffix", "codec"), [(".mp4", "h264"), (".mkv", "h264"), (".webm", "vp9")])
def test_a_slide_show_lasts_until_its_last_frame_not_one_more_gap(tmp_path: Path, suffix: str, codec: str) -> None:
    path = write_video(tmp_path / f"slides{suffix}", pattern_frames(3, W, H), codec=codec, times_s=[0, 299, 598])
    info = probe(path)  # the default limit is 600 s: 598 s and a frame fit, 897 s would not
    assert info.frame_times.tolist() == pytest.approx([0, 299, 598])
    assert 598 < info.duration_s < 598.1


def test_last_frame_lasts_the_typical_step_when_the_container_stores_none() -> None:
    times = np.array([0.0, 0.04, 0.08, 0.12, 5.0])  # 25 fps, then one long gap
    assert video._last_frame_duration(times, 0.0, fps=1.0) == pytest.approx(0.04)
    assert video._last_frame_duration(times, 0.02, fps=1.0) == pytest.approx(0.02)
    assert video._last_frame_duration(times, 4.88, fps=1.0) == pytest.approx(0.04)
    assert video._last_frame_duration(np.array([0.0]), 0.0, fps=30.0) == pytest.approx(1 / 30)
