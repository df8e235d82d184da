"""Fuzzing the upload path: damaged videos through ``probe`` and frame decoding.

Hypothesis mutates small real videos (mp4, mov, mkv, webm, avi; h264, vp9, mpeg4,
mjpeg): byte flips, truncation, splices of two files, junk headers, damaged mp4
``moov`` atoms, deleted or repeated chunks, and plain random bytes. Each mutant goes
through ``probe`` with tight limits and, if accepted, through ``iter_frames`` twice
(every frame, then a range from the middle, which seeks as a replica does).

The only allowed outcomes are success or a posecore error (``PoseCoreError`` with a
code): never another exception type, a hang or a crash. So each example runs in a
child process the test keeps alive across examples: a crash ends the child (and fails
the example, not the whole test run), a hang is cut at ``EXAMPLE_TIMEOUT_S``.

``FUZZ_EXAMPLES=5000 pytest tests/core/test_video_fuzz.py`` fuzzes longer, with
fresh random examples (by default the examples are derandomized, so the suite is
reproducible).
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from posecore.errors import PoseCoreError
from posecore.music import analyze_music
from posecore.video import VideoLimits, iter_frames, probe, sample_indices
from tests.fuzzing import fuzz_examples, long_run
from tests.video_mutations import Seeds, mutants, seed_videos

# Tight limits: a mutant that claims a long or huge video is rejected, not decoded.
LIMITS = VideoLimits(max_duration_s=4.0, max_pixels=320 * 240)
EXAMPLE_TIMEOUT_S = 20.0  # generous: a normal example takes milliseconds

@dataclass(frozen=True)
class Outcome:
    """What the child reports for one input."""

    kind: str  # "ok", "rejected" (a posecore error) or "unexpected" (any other exception)
    detail: str  # the error's code and message, or a traceback, or what was decoded
    problems: tuple[str, ...] = ()  # contract violations among the decoded frames


def analyse(data: bytes) -> Outcome:
    """Find the music, probe ``data`` and decode its frames as the service would; report what happened."""
    try:
        analyze_music(data)  # a damaged audio track is no music, never an error
    except Exception:
        return Outcome("unexpected", "analyze_music raised: " + traceback.format_exc())
    try:
        info = probe(data, LIMITS)
        problems = []
        indices = sample_indices(info, None)
        for wanted in (indices, indices[len(indices) // 2 :]):  # whole, then a seek to the middle
            problems += check_frames(iter_frames(data, info, wanted), info, wanted)
    except PoseCoreError as error:
        if not isinstance(error.code, str) or not error.code or not error.message:
            return Outcome("unexpected", f"{type(error).__name__} without a code or message: {error!r}")
        return Outcome("rejected", f"{error.code}: {error.message}")
    except Exception:
        return Outcome("unexpected", traceback.format_exc())
    return Outcome("ok", f"{info.frame_count} frames {info.width}x{info.height}", tuple(problems))


def check_frames(frames: Iterator, info, wanted: np.ndarray) -> list[str]:
    """The decoding contract: wanted frames only, in time order, upright RGB of the probed size."""
    problems, last = [], -1
    allowed = set(wanted.tolist())
    for frame in frames:
        if frame.index not in allowed or frame.index <= last:
            problems.append(f"frame {frame.index} not wanted or out of order (after {last})")
        last = frame.index
        if frame.t_s != float(info.frame_times[frame.index]):
            problems.append(f"frame {frame.index}: time {frame.t_s} is not the probed one")
        image = frame.image
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or not image.flags.c_contiguous:
            problems.append(f"frame {frame.index}: image {image.dtype} {image.shape} is not C-contiguous RGB")
        elif image.shape[0] * image.shape[1] > LIMITS.max_pixels:
            problems.append(f"frame {frame.index}: {image.shape[1]}x{image.shape[0]} is over the pixel limit")
    return problems


def serve_analyses(connection: Connection) -> None:
    """The child process: analyse each input the parent sends until it closes the pipe."""
    while True:
        try:
            data = connection.recv_bytes()
        except EOFError:
            return
        connection.send(analyse(data))


class AnalysisProcess:
    """A child process running ``analyse``, restarted after it crashes or hangs."""

    def __init__(self) -> None:
        self._context = multiprocessing.get_context("spawn")  # no inherited threads or FFmpeg state
        self._start()

    def _start(self) -> None:
        self._connection, child = self._context.Pipe()
        self._process = self._context.Process(target=serve_analyses, args=(child,), daemon=True)
        self._process.start()
        child.close()

    def run(self, data: bytes) -> Outcome:
        try:
            self._connection.send_bytes(data)
            if self._connection.poll(EXAMPLE_TIMEOUT_S):
                return self._connection.recv()
            outcome = Outcome("hang", f"no answer within {EXAMPLE_TIMEOUT_S} s")
        except (EOFError, ConnectionError):
            self._process.join(5)
            outcome = Outcome("crash", f"the process died (exit code {self._process.exitcode})")
        self.close()
        self._start()
        return outcome

    def close(self) -> None:
        self._connection.close()
        self._process.kill()
        self._process.join(5)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Seeds:
    return seed_videos(tmp_path_factory.mktemp("fuzz_seeds"))


@pytest.fixture(scope="module")
def analysis() -> Iterator[AnalysisProcess]:
    process = AnalysisProcess()
    yield process
    process.close()


# -- tests --------------------------------------------------------------------------------


def test_the_seeds_decode(seeds: Seeds, analysis: AnalysisProcess) -> None:
    """Every seed is a good video: mutants start from something the service accepts."""
    for data in seeds.values():
        outcome = analysis.run(data)
        assert outcome.kind == "ok" and not outcome.problems, outcome
        assert outcome.detail.startswith("12 frames")


def test_a_crash_or_hang_in_the_child_is_reported(analysis: AnalysisProcess) -> None:
    """The harness itself: a dead child is a "crash" outcome, and the next input still runs."""
    analysis._process.kill()
    analysis._process.join(5)
    assert analysis.run(b"anything").kind == "crash"
    assert analysis.run(b"not a video").kind == "rejected"


def avi_header_on_an_mp4(seeds: Seeds) -> bytes:
    """Found by this fuzzer: an AVI header whose stream format is an mp4 file. FFmpeg opens a
    video stream without a codec (``codec_context`` None); probe raised AttributeError."""
    avi = seeds["mpeg4.avi"]
    return avi[: avi.index(b"strf") + 8] + seeds["h264.mp4"][3:]


def webm_with_an_unknown_audio_codec(seeds: Seeds) -> bytes:
    """Found by the service's fuzz test: a webm whose audio track names no known codec
    (``codec_context`` None); the music step raised AttributeError, a 500."""
    return seeds["vp9.webm"].replace(b"A_OPUS", b"A_QQQQ")


# Inputs the fuzzer once failed on, each with the outcome it must give now ("ok", or an error code).
REGRESSIONS = {
    "avi_header_on_an_mp4": (avi_header_on_an_mp4, "not_a_video"),
    "webm_with_an_unknown_audio_codec": (webm_with_an_unknown_audio_codec, "ok"),
}


@pytest.mark.parametrize("name", REGRESSIONS)
def test_found_by_fuzzing(name: str, seeds: Seeds, analysis: AnalysisProcess) -> None:
    make, code = REGRESSIONS[name]
    outcome = analysis.run(make(seeds))
    if code == "ok":
        assert outcome.kind == "ok" and not outcome.problems, outcome
    else:
        assert outcome.kind == "rejected" and outcome.detail.startswith(f"{code}: "), outcome


@settings(max_examples=fuzz_examples(250), deadline=None, derandomize=not long_run(),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_damaged_uploads_give_a_result_or_a_posecore_error(
    data: st.DataObject, seeds: Seeds, analysis: AnalysisProcess
) -> None:
    upload = data.draw(mutants(seeds), label="upload")
    outcome = analysis.run(upload)
    event(f"outcome: {outcome.kind} {outcome.detail.split(':')[0] if outcome.kind == 'rejected' else ''}")
    assert outcome.kind in ("ok", "rejected"), f"{outcome.kind}: {outcome.detail}"
    assert not outcome.problems, outcome.problems
