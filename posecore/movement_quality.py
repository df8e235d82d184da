"""Movement quality of one dancer: energy, smoothness, symmetry, range of motion, timing.

* **energy**: the mean body speed (``posecore.hits.body_speed``: main joints, torso
  lengths per second) over the frames where it is known.
* **smoothness**: spectral arc length, SPARC (Balasubramanian, Melendez-Calderon,
  Roby-Brami & Burdet 2015, "On the analysis of movement smoothness", J NeuroEng
  Rehabil 12:112): the arc length of the normalised Fourier magnitude spectrum of
  the speed profile, up to an adaptive cutoff (the last frequency above
  ``SPARC_AMPLITUDE`` of the peak, at most ``SPARC_MAX_HZ``). It is negative; closer
  to 0 is smoother. A dance is one long, many-stroke movement, and SPARC grows with
  the number of strokes, so it is taken on windows of ``SPARC_WINDOW_S`` (unseen
  stretches excluded, windows at least ``SPARC_MIN_S`` long) and the median is
  reported: comparable across videos of any length. The cutoff cannot exceed the
  Nyquist frequency, so compare clips analysed at 20 fps or more.
* **symmetry**: 1 - |L - R| / (L + R), where L and R are the path lengths of the left
  and right elbow, wrist, knee and ankle relative to the hip centre (so walking
  across the floor, which moves both sides equally, does not count), in torso
  lengths, over steps where a joint and its mirror are both visible. 1 = both sides
  move equally, 0 = one side only.
* **range_of_motion**: per joint flexion measure (elbows, shoulders, knees, hips), the
  5th-95th percentile span of the angle in degrees over confident frames, and their
  ``mean``.
* **on_beat** (when beat times are given): each hit's signed offset to the nearest
  beat (negative = early); ``share`` is the fraction of hits within the tolerance,
  the smaller of ``ON_BEAT_TOLERANCE_S`` and a quarter of the median beat period
  (the beat's own ``ON_BEAT_PERIOD_SHARE``); ``mean_offset_s`` the mean offset over all
  hits. Hits more than half a period outside the beat range are not counted.
* **timeline**: energy per second of the track, for plots (None where unseen).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from posecore.angles import joint_confidences
from posecore.hits import MIN_VISIBILITY, frame_step_s, torso_scale
from posecore.timeline import split_at_gaps
from posecore.tracks import Track

SPARC_WINDOW_S = 4.0
SPARC_MIN_S = 2.0
SPARC_MAX_HZ = 10.0
SPARC_AMPLITUDE = 0.05
SPARC_PAD = 4  # zero padding: FFT length = next power of 2 above the window, times 2**PAD
ROM_MEASURES = (
    "elbow_left", "elbow_right", "shoulder_left", "shoulder_right",
    "knee_left", "knee_right", "hip_left", "hip_right",
)  # fmt: skip
SYMMETRY_PAIRS = ((13, 14), (15, 16), (25, 26), (27, 28))  # (left, right) elbows, wrists, knees, ankles
ON_BEAT_TOLERANCE_S = 0.1
ON_BEAT_PERIOD_SHARE = 0.25


def movement_metrics(
    track: Track,
    angles: Mapping[str, np.ndarray],
    speed: np.ndarray,
    hits_s: Sequence[float],
    beats_s: Sequence[float] | None,
    width: int,
    height: int,
    *,
    frame_duration_s: float | None = None,
) -> dict:
    """The ``metrics`` block of one dancer (see the module docstring)."""
    step = frame_duration_s or frame_step_s(track.times_s)
    speed = np.asarray(speed, dtype=np.float64)
    known = np.isfinite(speed)
    return {
        "energy": round(float(speed[known].mean()), 3) if known.any() else None,
        "smoothness": _round(sparc_windows(speed, track.times_s, step)),
        "symmetry": _round(symmetry(track, width, height, step)),
        "range_of_motion": range_of_motion(track, angles),
        "on_beat": on_beat(hits_s, beats_s) if beats_s is not None and len(beats_s) else None,
        "timeline": energy_timeline(speed, track.times_s),
    }


def sparc(speed: np.ndarray, fs: float) -> float:
    """Spectral arc length of one evenly sampled speed profile (Balasubramanian et al. 2015)."""
    n = len(speed)
    nfft = int(2 ** (np.ceil(np.log2(n)) + SPARC_PAD))
    freqs = np.arange(nfft // 2 + 1) * fs / nfft
    magnitude = np.abs(np.fft.rfft(speed, nfft))
    if magnitude.max() <= 0:
        return 0.0
    magnitude = magnitude / magnitude.max()
    within = freqs <= SPARC_MAX_HZ
    freqs, magnitude = freqs[within], magnitude[within]
    above = np.flatnonzero(magnitude >= SPARC_AMPLITUDE)
    last = above[-1] + 1 if len(above) else len(freqs)
    freqs, magnitude = freqs[:last], magnitude[:last]
    if len(freqs) < 2:
        return 0.0
    d_freq = np.diff(freqs) / (freqs[-1] - freqs[0])
    d_mag = np.diff(magnitude)
    return float(-np.sum(np.sqrt(d_freq**2 + d_mag**2)))


def sparc_windows(speed: np.ndarray, times_s: np.ndarray, step: float) -> float | None:
    """Median SPARC over windows of ``SPARC_WINDOW_S`` of seen, contiguous speed."""
    times = np.asarray(times_s, dtype=np.float64)
    values = []
    for block in split_at_gaps(times, step):
        t, v = times[block], speed[block]
        ok = np.isfinite(v)
        if ok.sum() < 2:
            continue
        t, v = t[ok], v[ok]
        start = t[0]
        while t[-1] - start >= SPARC_MIN_S - 1e-9:
            end = min(start + SPARC_WINDOW_S, t[-1] + step / 2)
            grid = np.arange(start, end, step)
            values.append(sparc(np.interp(grid, t, v), 1.0 / step))
            start += SPARC_WINDOW_S
    return float(np.median(values)) if values else None


def symmetry(track: Track, width: int, height: int, step: float) -> float | None:
    """1 - |L - R| / (L + R) of the limbs' body-relative path lengths (1 = balanced)."""
    px = track.landmarks[..., :2].astype(np.float64) * [float(width), float(height)]
    hips = (px[:, 23] + px[:, 24]) / 2
    scale = torso_scale(track, width, height, step)
    visible = track.landmarks[..., 3] >= MIN_VISIBILITY
    same_block = np.zeros(max(len(track) - 1, 0), dtype=bool)
    for block in split_at_gaps(track.times_s, step):
        same_block[block.start : block.stop - 1] = True
    totals = np.zeros(2)
    for pair in SYMMETRY_PAIRS:
        relative = (px[:, pair] - hips[:, None]) / scale[:, None, None]  # (n, 2, 2)
        moved = np.linalg.norm(np.diff(relative, axis=0), axis=2)  # (n-1, 2)
        both = np.all(visible[:, [*pair, 23, 24]], axis=1)
        usable = same_block & both[1:] & both[:-1] & np.isfinite(moved).all(axis=1)
        totals += moved[usable].sum(axis=0)
    if totals.sum() <= 0:
        return None
    return float(1.0 - abs(totals[0] - totals[1]) / totals.sum())


def range_of_motion(track: Track, angles: Mapping[str, np.ndarray]) -> dict[str, float | None]:
    """Per flexion measure, the p5-p95 span in degrees over confident frames, and the ``mean``."""
    confidences = joint_confidences(track.landmarks)
    spans: dict[str, float | None] = {}
    for name in ROM_MEASURES:
        values = np.asarray(angles[name], dtype=np.float64)
        values = values[np.isfinite(values) & (confidences[name] >= MIN_VISIBILITY)]
        spans[name] = round(float(np.subtract(*np.percentile(values, [95, 5]))), 1) if len(values) >= 2 else None
    known = [v for v in spans.values() if v is not None]
    spans["mean"] = round(float(np.mean(known)), 1) if known else None
    return spans


def on_beat(hits_s: Sequence[float], beats_s: Sequence[float]) -> dict:
    """How the hits fall on the beats: ``share`` within tolerance, ``mean_offset_s``, ``hits``."""
    beats = np.sort(np.asarray(beats_s, dtype=np.float64))
    period = float(np.median(np.diff(beats))) if len(beats) > 1 else 2 * ON_BEAT_TOLERANCE_S / ON_BEAT_PERIOD_SHARE
    tolerance = min(ON_BEAT_TOLERANCE_S, ON_BEAT_PERIOD_SHARE * period)
    hits = np.asarray(hits_s, dtype=np.float64)
    hits = hits[(hits >= beats[0] - period / 2) & (hits <= beats[-1] + period / 2)]
    if not len(hits):
        return {"share": None, "mean_offset_s": None, "hits": 0, "tolerance_s": round(tolerance, 3)}
    nearest = np.clip(np.searchsorted(beats, hits), 1, max(len(beats) - 1, 1))
    candidates = np.stack([beats[nearest - 1], beats[np.minimum(nearest, len(beats) - 1)]])
    offsets = hits - candidates[np.argmin(np.abs(hits - candidates), axis=0), np.arange(len(hits))]
    return {
        "share": round(float(np.mean(np.abs(offsets) <= tolerance + 1e-9)), 3),
        "mean_offset_s": round(float(offsets.mean()), 3),
        "hits": len(hits),
        "tolerance_s": round(tolerance, 3),
    }


def energy_timeline(speed: np.ndarray, times_s: np.ndarray) -> list[dict]:
    """Mean body speed per whole second of the track: ``[{"t_s", "energy"}]`` (None where unseen)."""
    times = np.asarray(times_s, dtype=np.float64)
    if not len(times):
        return []
    seconds = np.floor(times).astype(np.int64)
    out = []
    for second in range(int(seconds[0]), int(seconds[-1]) + 1):
        values = speed[(seconds == second) & np.isfinite(speed)]
        out.append({"t_s": float(second), "energy": round(float(values.mean()), 3) if len(values) else None})
    return out


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)
