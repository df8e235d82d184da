"""Damaged videos for fuzzing: small real videos and Hypothesis strategies that break them.

``mutants(seed_videos(folder))`` draws uploads made from real mp4, mov, mkv, webm and avi
files (h264, vp9, mpeg4, mjpeg) by byte flips, truncation, splices of two files, junk
headers, damaged mp4 boxes (``moov`` and its children), deleted or repeated chunks, or
plain random bytes. Used by the core fuzz test (probe and decoding) and the HTTP one.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import event
from hypothesis import strategies as st

from testbed.media import pattern_frames, write_video

W, H = 64, 48

# (file name, codec, extra write_video arguments)
SEEDS = [
    ("h264.mp4", "h264", {"gop": 4}),
    ("rotated.mp4", "h264", {"gop": 4, "rotation": 90}),
    ("audio.mov", "h264", {"gop": 4, "with_audio": True}),
    ("h264.mkv", "h264", {"gop": 4}),
    ("vp9.webm", "vp9", {"gop": 4, "with_audio": True}),
    ("mpeg4.avi", "mpeg4", {"gop": 4}),
    ("mjpeg.avi", "mjpeg", {}),
]


class Seeds(dict):
    """The seed videos' bytes by file name, with a short repr (Hypothesis prints arguments on failure)."""

    def __repr__(self) -> str:
        return f"<{len(self)} seed videos>"


def seed_videos(folder: Path) -> Seeds:
    """Write the seed videos into ``folder``; 12 frames each."""
    frames = pattern_frames(12, W, H)
    return Seeds({name: write_video(folder / name, frames, codec=codec, **extra).read_bytes()
                  for name, codec, extra in SEEDS})


# -- mutations ----------------------------------------------------------------------------


@st.composite
def flipped(draw: st.DrawFn, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 16))):
        position = draw(st.integers(0, len(out) - 1))
        out[position] ^= draw(st.integers(1, 255))
    return bytes(out)


@st.composite
def truncated(draw: st.DrawFn, data: bytes) -> bytes:
    return data[: draw(st.integers(0, len(data) - 1))]


@st.composite
def spliced(draw: st.DrawFn, first: bytes, second: bytes) -> bytes:
    """The start of one file, the rest of another (e.g. two uploads mixed up)."""
    return first[: draw(st.integers(0, len(first)))] + second[draw(st.integers(0, len(second))) :]


@st.composite
def junk_header(draw: st.DrawFn, data: bytes) -> bytes:
    junk = draw(st.binary(min_size=1, max_size=64))
    if draw(st.booleans()):
        return junk + data  # junk in front
    return junk + data[len(junk) :]  # the real header overwritten


@st.composite
def damaged_atom(draw: st.DrawFn, data: bytes) -> bytes:
    """An mp4/mov box damaged where it hurts: its size field or its first bytes of content."""
    boxes = [b"moov", b"mvhd", b"trak", b"tkhd", b"mdia", b"stbl", b"stsz", b"stco", b"stts", b"stss", b"mdat"]
    positions = [i for box in boxes if (i := data.find(box)) >= 4]
    if not positions:
        return draw(flipped(data))
    at = draw(st.sampled_from(positions))
    out = bytearray(data)
    if draw(st.booleans()):
        size = draw(st.sampled_from([0, 1, 7, 8, 2**31 - 1, 2**32 - 1]) | st.integers(0, 2**32 - 1))
        out[at - 4 : at] = size.to_bytes(4, "big")
    else:
        replacement = draw(st.binary(min_size=1, max_size=32))
        out[at + 4 : at + 4 + len(replacement)] = replacement
    return bytes(out)


@st.composite
def chunk_edit(draw: st.DrawFn, data: bytes) -> bytes:
    """A chunk deleted or repeated in the middle: lost or duplicated packets."""
    start = draw(st.integers(0, len(data) - 1))
    end = draw(st.integers(start, min(len(data), start + 4096)))
    if draw(st.booleans()):
        return data[:start] + data[end:]
    return data[:end] + data[start:end] + data[end:]


@st.composite
def mutants(draw: st.DrawFn, seeds: Seeds) -> bytes:
    data = draw(st.sampled_from(list(seeds.values())))
    mutation = draw(st.sampled_from(["flip", "truncate", "splice", "header", "atom", "chunk", "random"]))
    event(f"mutation: {mutation}")
    if mutation == "flip":
        return draw(flipped(data))
    if mutation == "truncate":
        return draw(truncated(data))
    if mutation == "splice":
        return draw(spliced(data, draw(st.sampled_from(list(seeds.values())))))
    if mutation == "header":
        return draw(junk_header(data))
    if mutation == "atom":
        return draw(damaged_atom(data))
    if mutation == "chunk":
        return draw(chunk_edit(data))
    return draw(st.binary(max_size=4096))
