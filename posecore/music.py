"""The music's beat from a video's audio track: tempo and beat times in the video's clock.

::

    music = analyze_music(source)       # path, bytes or memoryview, like posecore.video
    if music is not None:
        music.tempo_bpm, music.beats_s  # 128.02, [0.071, 0.54, ...]

Steps: PyAV decodes the audio stream FFmpeg would pick (``streams.best("audio")``),
resampled to mono 22050 Hz, at most ``max_duration_s`` of it; a log-mel spectral-flux
onset envelope (hop 256 = 11.6 ms); the tempo from the envelope's autocorrelation weighted
by a prior centred on 120 BPM, 60-200 BPM, then an octave check (T vs T/2 vs 2T) on how
strongly the envelope pulses at each candidate; beats by dynamic programming (Ellis 2007,
"Beat tracking by dynamic programming", the algorithm librosa's ``beat_track`` uses);
the reported tempo is the slope of the tracked beats, so it is not quantised to the
autocorrelation's whole-frame lags.

Times are in the video's clock: seconds from the first video frame's presentation time,
the clock of ``posecore.video``'s ``Frame.t_s`` (``first = 0.0``). The audio stream may
start before or after the video; ``analyze_music`` reads the first video timestamp from
the same container itself (same rule as ``video.probe``), so a beat and the frame shown
at that moment have the same t.

Why a small numpy implementation rather than librosa 0.11.0 (ISC). Measured on this
2-core machine (shared with other jobs, so +-30%):

- Size: librosa pulls numba + llvmlite (173 MB installed), scipy (143 MB), scikit-learn
  (51 MB), soxr (LGPL-2.1), soundfile, audioread, pooch, joblib, lazy_loader, narwhals,
  cloudpickle: ~420 MB installed from ~110 MB of wheels; the venv has none of them today.
- First call: numba compiles librosa's beat tracker in every new process: 54.6 s on the
  first ``beat_track`` with no cache, 6.7 s with a warm on-disk numba cache (which a
  read-only container may not allow). Import (lazy) 0.15-0.3 s.
- Per call afterwards: 120-260 ms for the 9-29 s tracks of /work/shared/data, 407 ms for 60 s.
- This module: numpy only (already a dependency), no JIT, so the first call costs what
  any call does: 25-110 ms of beat tracking per shared video (9-29 s; 230 ms for 60 s,
  1.6 s for 600 s) after 40-150 ms of audio decoding: about 1% of pose detection
  (~20 ms per frame, ~10 s for a 17 s video).
- Results on the shared videos (ours / librosa's BPM): same_routine_a/b/c 128.0, 128.4,
  128.4 / 129.2 x3 (one song: ours agree within 0.3%); duo_studio 145.5 / 143.6;
  group_3_office 66.1 / 66.3; group_dance 94.8 / 95.7; solo_kpop 107.7 / 103.4;
  group_3_studio 67.0 / 136.0 (an octave apart: ours follows the autocorrelation's
  stronger peak); solo_contemporary None (periodicity just under the floor) / 129.2.

Returns None (never raises for the audio: the video must still analyse) when there is no
audio stream, the audio cannot be decoded, it is silent (RMS below -50 dBFS), it has no
beat (noise: the envelope's autocorrelation at the chosen tempo below
``MIN_PERIODICITY``), or fewer than ``MIN_BEATS`` beats are found. The result is the
contract's ``posecore.result.Music``. Downbeats are not estimated (nothing here to check
them against credibly).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import av
import av.error
import numpy as np

from posecore.errors import NotAVideo, VideoError
from posecore.result import Music
from posecore.video import Source, open_container, video_stream

log = logging.getLogger(__name__)

SAMPLE_RATE = 22050  # Hz, mono
HOP = 256  # samples between onset-envelope frames: 11.6 ms
N_FFT = 1024  # 46 ms analysis window
N_MELS = 64
FRAME_RATE = SAMPLE_RATE / HOP  # onset-envelope frames per second
MIN_BPM, MAX_BPM = 60.0, 200.0  # real dance music
PRIOR_BPM = 120.0  # centre of the log-normal tempo prior
PRIOR_OCTAVES = 1.0  # its standard deviation, in octaves
# The faster octave (T/2) wins when the envelope between the beats pulses at least this
# strongly relative to on the beats.
DOUBLE_RATIO = 0.7
TIGHTNESS = 100.0  # Ellis's alpha: how strictly beats keep the period
SILENCE_RMS = 10 ** (-50 / 20)  # -50 dBFS of full scale
MIN_PERIODICITY = 0.1  # normalised autocorrelation at the beat period; white noise ~0.02
MIN_BEATS = 4
_MIN_SPAN, _MAX_SPAN = 4, 16  # beats between the two beats of a tempo estimate
_BLOCK = 4096  # STFT frames per block: bounds memory on a long track


@dataclass(frozen=True)
class DecodedAudio:
    """Mono float32 samples at ``SAMPLE_RATE``; ``start_s``: the first sample's time in the video's clock."""

    samples: np.ndarray
    start_s: float


def analyze_music(source: Source, *, start_s: float = 0.0, max_duration_s: float = 600.0) -> Music | None:
    """Tempo and beat times of the video's music, or None (no audio, undecodable, silent, no beat).

    Args:
        source: the video, as for ``posecore.video.probe``.
        start_s: ignore the audio before this time (video clock).
        max_duration_s: analyse at most this much audio from ``start_s`` (bounds memory and time).

    Never raises for a bad or missing audio track.
    """
    audio = decode_audio(source, start_s=start_s, max_duration_s=max_duration_s)
    if audio is None:
        return None
    return track_music(audio.samples, audio.start_s)


def decode_audio(source: Source, *, start_s: float = 0.0, max_duration_s: float = 600.0) -> DecodedAudio | None:
    """The best audio stream as mono float32 at ``SAMPLE_RATE`` in the video's clock; None if absent/undecodable."""
    try:
        with open_container(source) as container:
            return _decode(container, start_s, max_duration_s)
    except (NotAVideo, av.error.FFmpegError, OSError, ValueError) as error:
        log.debug("no music: cannot read the audio (%s)", error)
        return None


def track_music(samples: np.ndarray, start_s: float = 0.0) -> Music | None:
    """Tempo and beats of mono ``SAMPLE_RATE`` audio starting at ``start_s``; None if silent or beatless."""
    samples = np.asarray(samples, dtype=np.float32)
    if samples.size < N_FFT or float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) < SILENCE_RMS:
        log.debug("no music: silent or too short")
        return None
    envelope = onset_envelope(samples)
    period, periodicity = estimate_period(envelope)
    if periodicity < MIN_PERIODICITY:
        log.debug("no music: no beat (periodicity %.3f)", periodicity)
        return None
    frames = track_beats(envelope, period)
    if frames.size < MIN_BEATS:
        log.debug("no music: %d beats", frames.size)
        return None
    times = start_s + frames / FRAME_RATE
    return Music(tempo_bpm=round(_tempo_from_beats(times), 2), beats_s=[round(float(t), 3) for t in times])


def onset_envelope(samples: np.ndarray) -> np.ndarray:
    """Onset strength per frame (frame k at k * HOP / SAMPLE_RATE s): mean rise of log-mel energy."""
    window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)  # periodic Hann
    padded = np.pad(samples, N_FFT // 2)  # centred frames
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]  # a view: no copy
    bank = _mel_filterbank()
    mel = np.empty((len(frames), N_MELS), np.float32)
    for start in range(0, len(frames), _BLOCK):
        block = frames[start : start + _BLOCK] * window
        power = np.square(np.abs(np.fft.rfft(block, axis=1)))
        mel[start : start + _BLOCK] = power @ bank.T
    db = 10 * np.log10(np.maximum(mel, 1e-10))
    db = np.maximum(db, db.max() - 80.0)  # an 80 dB range: silence is not an onset
    rise = np.maximum(np.diff(db, axis=0), 0.0).mean(axis=1)
    return np.concatenate([[0.0], rise]).astype(np.float64)


def estimate_period(envelope: np.ndarray) -> tuple[float, float]:
    """(beat period in envelope frames, periodicity 0..1) from the autocorrelation, with the octave check."""
    detrended = envelope - _moving_average(envelope, int(FRAME_RATE))  # loudness swells are no beat
    acf = _autocorrelation(detrended)
    lags = np.arange(len(acf), dtype=np.float64)
    lo, hi = int(np.floor(60 * FRAME_RATE / MAX_BPM)), int(np.ceil(60 * FRAME_RATE / MIN_BPM))
    hi = min(hi, len(acf) - 2)
    if hi <= lo:
        return float(lo), 0.0
    bpm = 60 * FRAME_RATE / lags[lo : hi + 1]
    prior = np.exp(-0.5 * (np.log2(bpm / PRIOR_BPM) / PRIOR_OCTAVES) ** 2)
    best = lo + int(np.argmax(np.maximum(acf[lo : hi + 1], 0) * prior))
    period = _refine_peak(acf, best)
    periodicity = float(acf[best])
    normalised = (envelope - envelope.mean()) / (envelope.std() or 1.0)
    return _check_octave(normalised, period, lo), periodicity


def track_beats(envelope: np.ndarray, period: float) -> np.ndarray:
    """Beat frames by dynamic programming (Ellis 2007): onsets that keep the period."""
    std = envelope.std()
    if std == 0:
        return np.empty(0, np.int64)
    # Local score: the envelope smoothed over a small part of the period.
    width = np.arange(-int(period), int(period) + 1)
    kernel = np.exp(-0.5 * (width * 32.0 / period) ** 2)
    local = np.convolve(envelope / std, kernel, mode="same")

    n = len(local)
    offsets = np.arange(-round(2 * period), -round(period / 2) + 1)  # where the previous beat may be
    penalty = -TIGHTNESS * np.log(-offsets / period) ** 2
    cumulative = local.copy()
    backlink = np.full(n, -1, np.int64)
    for i in range(n):
        previous = i + offsets
        valid = previous >= 0
        if not valid.any():
            continue
        candidates = cumulative[previous[valid]] + penalty[valid]
        j = int(np.argmax(candidates))
        if candidates[j] > 0:  # a chain worth continuing; else a new chain starts here
            cumulative[i] = local[i] + candidates[j]
            backlink[i] = previous[valid][j]

    # The last beat: the last local maximum of the cumulative score that is a real one.
    peaks = np.flatnonzero((cumulative[1:-1] >= cumulative[:-2]) & (cumulative[1:-1] > cumulative[2:])) + 1
    if peaks.size == 0:
        return np.empty(0, np.int64)
    last = int(peaks[cumulative[peaks] >= 0.5 * np.median(cumulative[peaks])][-1])
    beats = [last]
    while backlink[beats[-1]] >= 0:
        beats.append(int(backlink[beats[-1]]))
    return _trim_weak_ends(np.asarray(beats[::-1], np.int64), local)


def _trim_weak_ends(beats: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Drop leading/trailing beats on no onset (the DP extrapolates the period into silence)."""
    strength = local[beats]
    threshold = 0.5 * np.sqrt(np.mean(strength**2))
    strong = np.flatnonzero(strength >= threshold)
    if strong.size == 0:
        return beats[:0]
    return beats[strong[0] : strong[-1] + 1]


def _check_octave(normalised: np.ndarray, period: float, lo: int) -> float:
    """The period, or half of it when the envelope pulses as strongly between the beats as on them.

    The slower octave (2T) needs no check here: its lag is among those the prior-weighted
    autocorrelation already compared whenever it is in range. A rule preferring 2T when
    every other beat is weak was tried and dropped: it halved duo_studio.mp4 to 72 BPM
    (librosa: 144) with beats alternating 0.70/0.85 s apart.
    """
    on, between = _pulse_support(normalised, period)
    if period / 2 >= lo and on > 0 and between >= DOUBLE_RATIO * on:
        return period / 2  # as strong between the beats as on them: the beat is twice as fast
    return period


def _pulse_support(normalised: np.ndarray, period: float) -> tuple[float, float]:
    """Mean envelope on a grid of ``period`` at its best phase, and half a period later."""
    n_beats = int((len(normalised) - 1) // period)
    if n_beats < 2:
        return 0.0, 0.0
    grid = np.arange(n_beats) * period
    phases = np.arange(int(np.ceil(period)))
    on = np.array([normalised[np.round(grid + p).astype(np.int64)].mean() for p in phases])
    best = int(np.argmax(on))
    between = np.round(grid + best + period / 2).astype(np.int64)
    between = between[between < len(normalised)]
    return float(on[best]), float(normalised[between].mean())


def _tempo_from_beats(times: np.ndarray) -> float:
    """BPM from the median slope of beat time against beat number over spans of 4-16 beats.

    A median of slopes (Theil-Sen) rather than one line fit: a cut in the music (the
    beat grid jumps, as in two of the shared TikTok videos) would tilt a fit by ~2%.
    A skipped beat counts as two.
    """
    intervals = np.diff(times)
    counts = np.maximum(np.round(intervals / np.median(intervals)), 1)
    numbers = np.concatenate([[0.0], np.cumsum(counts)])
    slopes = [
        (times[k:] - times[:-k]) / (numbers[k:] - numbers[:-k]) for k in range(1, min(_MAX_SPAN, len(times) - 1) + 1)
    ]
    spans = [numbers[k:] - numbers[:-k] for k in range(1, len(slopes) + 1)]
    slope, span = np.concatenate(slopes), np.concatenate(spans)
    long = span >= _MIN_SPAN
    return float(60.0 / np.median(slope[long] if long.any() else slope))


def _refine_peak(values: np.ndarray, index: int) -> float:
    """Sub-sample position of a peak by a parabola through it and its neighbours."""
    if not 0 < index < len(values) - 1:
        return float(index)
    left, centre, right = values[index - 1], values[index], values[index + 1]
    curvature = left - 2 * centre + right
    if curvature >= 0:
        return float(index)
    return float(index + 0.5 * (left - right) / curvature)


def _autocorrelation(x: np.ndarray) -> np.ndarray:
    """Autocorrelation normalised to 1 at lag 0 (0 everywhere for a constant)."""
    n = len(x)
    spectrum = np.fft.rfft(x - x.mean(), 2 * n)
    acf = np.fft.irfft(np.abs(spectrum) ** 2)[:n]
    return acf / acf[0] if acf[0] > 0 else np.zeros(n)


def _moving_average(x: np.ndarray, width: int) -> np.ndarray:
    kernel = np.ones(width) / width
    return np.convolve(np.pad(x, width // 2, mode="edge"), kernel, mode="same")[width // 2 : width // 2 + len(x)]


def _mel_filterbank() -> np.ndarray:
    """(N_MELS, N_FFT // 2 + 1) triangular filters evenly spaced on the mel scale, 30 Hz to Nyquist."""
    freqs = np.fft.rfftfreq(N_FFT, 1 / SAMPLE_RATE)
    mels = np.linspace(_mel(30.0), _mel(SAMPLE_RATE / 2), N_MELS + 2)
    edges = 700.0 * (10 ** (mels / 2595.0) - 1)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs - lower) / (centre - lower)
    falling = (upper - freqs) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)


def _mel(hz: float) -> float:
    return float(2595.0 * np.log10(1 + hz / 700.0))


def _decode(container: av.container.InputContainer, start_s: float, max_duration_s: float) -> DecodedAudio | None:
    """Decode and resample the best audio stream; read the video's first timestamp from the same demux pass."""
    audio = container.streams.best("audio")
    if not isinstance(audio, av.audio.stream.AudioStream) or audio.codec_context is None:
        log.debug("no music: no decodable audio stream")
        return None
    try:  # the stream probe analyses: its first frame is t = 0 of the video clock
        video: av.video.stream.VideoStream | None = video_stream(container)
    except VideoError:
        video = None
    streams = [audio] if video is None else [audio, video]
    audio.codec_context.thread_type = "NONE"  # one replica, one core (see posecore.video.DEFAULT_THREADS)

    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    video_first: int | None = None  # smallest shown video timestamp, in video.time_base
    audio_first: float | None = None  # stream time of the first resampled sample
    chunks: list[np.ndarray] = []
    n_samples = 0
    limit = int(max_duration_s * SAMPLE_RATE)
    try:
        for packet in container.demux(streams):
            if video is not None and packet.stream_index == video.index:
                ts = packet.pts if packet.pts is not None else packet.dts
                if ts is not None and packet.size and not packet.is_discard:
                    video_first = ts if video_first is None else min(video_first, ts)
                continue
            for frame in _decode_packet(audio, packet):
                for out in resampler.resample(frame):
                    if audio_first is None:
                        audio_first = _frame_time(out, frame)
                    chunks.append(out.to_ndarray()[0])
                    n_samples += out.samples
            if audio_first is not None:
                # Enough to cover [start_s, start_s + max_duration_s], +1 s as the video's first
                # timestamp may still drop (B-frames come out of order).
                needed = (start_s + _seconds(video_first, video) - audio_first + 1.0) * SAMPLE_RATE + limit
                if n_samples > needed:
                    break
        else:
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray()[0])
    except av.error.FFmpegError as error:  # demuxing failed part way: use what was read
        log.debug("audio demuxing stopped early (%s)", error)
    if audio_first is None or not chunks:
        log.debug("no music: no audio frame decoded")
        return None

    first_s = audio_first - _seconds(video_first, video)  # the first sample, in the video's clock
    samples = np.concatenate(chunks)
    skip = max(0, round((start_s - first_s) * SAMPLE_RATE))
    samples = samples[skip : skip + limit]
    return DecodedAudio(samples=np.ascontiguousarray(samples, np.float32), start_s=first_s + skip / SAMPLE_RATE)


def _seconds(timestamp: int | None, stream: av.video.stream.VideoStream | None) -> float:
    """A stream timestamp in seconds; 0 when unknown (no video stream: the audio's own clock)."""
    if timestamp is None or stream is None or stream.time_base is None:
        return 0.0
    return float(timestamp * stream.time_base)


def _frame_time(resampled: av.AudioFrame, decoded: av.AudioFrame) -> float:
    """Stream time (s) of a resampled frame's first sample, from whichever frame carries a timestamp."""
    for frame in (resampled, decoded):
        if frame.pts is not None and frame.time_base is not None:
            return float(frame.pts * frame.time_base)
    return 0.0


def _decode_packet(stream: av.audio.stream.AudioStream, packet: av.Packet) -> list[av.AudioFrame]:
    """Decode one packet; a corrupt packet yields nothing instead of raising."""
    try:
        return stream.decode(packet)
    except av.error.FFmpegError:
        return []
