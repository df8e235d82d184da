"""posecore.music on generated click tracks (alone and muxed into videos) and, when present, the shared videos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from posecore import music
from posecore.music import analyze_music, track_music
from posecore.result import Music
from posecore.video import probe
from testbed.media import AudioTrack, pattern_frames, write_video

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
TOLERANCE_S = 0.05


def click_track(
    bpm: float, seconds: float, rate: int, *, first_s: float = 0.3, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Kick-drum thumps with a hi-hat on each beat, a soft hi-hat between beats, over faint noise.

    Returns (samples in [-1, 1], true beat times from the first sample).
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    samples = rng.normal(0.0, 0.01, n)
    beats = np.arange(first_s, seconds - 0.2, 60.0 / bpm)
    t = np.arange(int(0.15 * rate)) / rate
    kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-t * 40)) * t) * np.exp(-t * 25)  # pitch drops like a kick
    t_hat = np.arange(int(0.04 * rate)) / rate
    for beat in beats:
        for at, level in ((beat, 0.15), (beat + 30.0 / bpm, 0.04)):
            i = round(at * rate)
            if i >= n:
                continue
            hat = level * rng.normal(0.0, 1.0, len(t_hat)) * np.exp(-t_hat * 120)
            samples[i : i + len(hat)] += hat[: n - i]
        i = round(beat * rate)
        samples[i : i + len(kick)] += 0.6 * kick[: n - i]
    return samples.astype(np.float32), beats


def assert_beats_match(found: Music, truth: np.ndarray, bpm: float, span: tuple[float, float]) -> None:
    """Tempo within 1 BPM; each true beat in ``span`` found within 50 ms (the first and last may be missing);
    no beat found far from a true one."""
    assert found.tempo_bpm == pytest.approx(bpm, abs=1.0)
    beats = np.asarray(found.beats_s)
    inside = truth[(truth >= span[0]) & (truth <= span[1])]
    for t in inside[1:-1]:
        assert np.min(np.abs(beats - t)) <= TOLERANCE_S, f"no beat near {t:.3f}: {beats}"
    for b in beats:
        assert np.min(np.abs(truth - b)) <= TOLERANCE_S, f"beat {b:.3f} is on no true beat"
    assert np.all(np.diff(beats) > 0)


@pytest.mark.parametrize("bpm", [60, 70, 96, 120, 128, 150, 174, 200])
def test_click_track_tempo_and_beats(bpm: float) -> None:
    samples, truth = click_track(bpm, 17.0, music.SAMPLE_RATE)
    found = track_music(samples)
    assert found is not None
    assert_beats_match(found, truth, bpm, (0.0, 17.0))
    assert found.beats_s == [round(b, 3) for b in found.beats_s]


def test_tempo_is_not_quantised_to_whole_frames() -> None:
    # 127 and 128 BPM are the same autocorrelation lag (hop 11.6 ms): the beats tell them apart.
    for bpm in (127.0, 128.0, 128.5):
        found = track_music(click_track(bpm, 30.0, music.SAMPLE_RATE)[0])
        assert found is not None and found.tempo_bpm == pytest.approx(bpm, abs=0.25)


@pytest.mark.parametrize(
    ("suffix", "audio_start_s", "video_start_s"),
    [
        (".mp4", 0.0, 0.0),
        (".mp4", 0.5, 0.0),  # audio starts after the video
        (".mp4", 0.0, 0.4),  # the video starts after the audio
        (".mkv", 0.5, 0.0),
        (".mkv", 0.0, 0.4),
        (".webm", 0.3, 0.0),
    ],
)
def test_beats_are_in_the_video_clock(tmp_path: Path, suffix: str, audio_start_s: float, video_start_s: float) -> None:
    bpm, seconds, rate = 120.0, 8.0, 48_000
    samples, truth = click_track(bpm, seconds, rate)
    times = [video_start_s + i / 30 for i in range(240)]
    path = write_video(
        tmp_path / f"clip{suffix}",
        pattern_frames(240, 64, 48),
        codec="vp9" if suffix == ".webm" else "h264",
        times_s=times,
        audio_track=AudioTrack(samples, rate, audio_start_s),
    )
    data = path.read_bytes()
    assert probe(data).frame_times[0] == 0.0  # the clock beats must share
    truth_video_clock = truth + audio_start_s - video_start_s
    for source in (data, memoryview(data), path):
        found = analyze_music(source)
        assert found is not None
        assert_beats_match(found, truth_video_clock, bpm, (0.0, seconds))


def test_start_and_max_duration_bound_the_analysed_audio(tmp_path: Path) -> None:
    samples, truth = click_track(96.0, 10.0, 48_000)
    path = write_video(tmp_path / "clip.mkv", pattern_frames(300, 64, 48), audio_track=AudioTrack(samples))
    found = analyze_music(path, start_s=2.0, max_duration_s=5.0)
    assert found is not None
    assert min(found.beats_s) >= 2.0 and max(found.beats_s) <= 7.0
    assert_beats_match(found, truth, 96.0, (2.0, 7.0))


def test_no_audio_stream_gives_none(tmp_path: Path) -> None:
    assert analyze_music(write_video(tmp_path / "clip.mp4", pattern_frames(30, 64, 48))) is None


@pytest.mark.parametrize("suffix", [".mp4", ".webm", ".avi"])
def test_silent_audio_gives_none(tmp_path: Path, suffix: str) -> None:
    codec = {".webm": "vp9", ".avi": "mpeg4"}.get(suffix, "h264")
    path = write_video(tmp_path / f"clip{suffix}", pattern_frames(60, 64, 48), codec=codec, with_audio=True)
    assert analyze_music(path.read_bytes()) is None


def test_noise_without_a_beat_gives_none(tmp_path: Path) -> None:
    # Decision: no beat is None, not a low-confidence tempo (the periodicity floor).
    for seed in range(3):
        noise = np.random.default_rng(seed).normal(0.0, 0.1, 17 * music.SAMPLE_RATE)
        assert track_music(noise) is None
    loud_noise = np.random.default_rng(3).uniform(-0.5, 0.5, 8 * 48_000)
    path = write_video(tmp_path / "clip.mp4", pattern_frames(240, 64, 48), audio_track=AudioTrack(loud_noise))
    assert analyze_music(path) is None


def test_bad_input_never_raises(tmp_path: Path) -> None:
    samples, _ = click_track(120.0, 4.0, 48_000)
    data = write_video(tmp_path / "clip.mp4", pattern_frames(120, 64, 48), audio_track=AudioTrack(samples)).read_bytes()
    assert analyze_music(b"not a video at all") is None
    analyze_music(data[: len(data) // 3])  # truncated mid-file: any result, but no exception
    assert analyze_music(data[:1000]) is None
    assert track_music(np.zeros(10, np.float32)) is None


def test_music_is_the_result_contract_with_plain_types() -> None:
    found = track_music(click_track(120.0, 10.0, music.SAMPLE_RATE)[0])
    assert isinstance(found, Music)
    out = found.model_dump()
    assert set(out) == {"tempo_bpm", "beats_s"}
    assert isinstance(out["tempo_bpm"], float) and all(isinstance(b, float) for b in out["beats_s"])


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data (real dance videos) is absent")
def test_shared_same_routine_videos_share_a_tempo() -> None:
    # One song danced three times: the tempo must agree within 2%.
    tempos = []
    for name in ("same_routine_a.mp4", "same_routine_b.mp4", "same_routine_c.mp4"):
        found = analyze_music(SHARED / name)
        assert found is not None, name
        assert len(found.beats_s) >= 25, name  # ~16-19 s at ~128 BPM
        tempos.append(found.tempo_bpm)
    assert max(tempos) / min(tempos) < 1.02, tempos


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data (real dance videos) is absent")
def test_shared_videos_have_beats_inside_the_video() -> None:
    for path in sorted(SHARED.glob("*.mp4")):
        found = analyze_music(path)
        if found is None:
            continue
        duration = probe(path).duration_s
        assert 60.0 <= found.tempo_bpm <= 200.0, path.name
        assert 0.0 <= found.beats_s[0] and found.beats_s[-1] <= duration, path.name
