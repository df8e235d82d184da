"""The command line, run as a user runs it: ``python -m posecore ...`` in a subprocess.

Each run costs about a second (interpreter, MediaPipe import, model load).
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import av
import pytest

from testbed.media import write_video
from testbed.photos import real_photo

ROOT = Path(__file__).resolve().parents[2]
N_FRAMES = 8
TIMEOUT_S = 120

# What MediaPipe/TFLite print natively when left alone (see landmarker.native_stderr_discarded).
NATIVE_NOISE = ("W0000", "I0000", "E0000", "inference_feedback_manager", "TensorFlow Lite", "InitGoogle")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with a short video of a person and assorted bad inputs."""
    root = tmp_path_factory.mktemp("cli")
    bus = real_photo("bus.jpg")
    frames = [bus[330:930, 10 + 2 * i : 290 + 2 * i] for i in range(N_FRAMES)]  # the man on the left
    write_video(root / "person.mp4", frames, fps=30)
    (root / "notes.txt").write_text("not a video\n")
    (root / "noise.mp4").write_bytes(os.urandom(20_000))
    (root / "broken.yaml").write_text("arms_up: {rules: [1, 2\n")  # unclosed bracket
    (root / "wrong.yaml").write_text("arms_up: {colour: red}\n")  # valid YAML, not a pose
    (root / "out_dir").mkdir()
    return root


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run the CLI with stdout and stderr captured (so stderr is not a terminal)."""
    command = [sys.executable, "-m", "posecore", *map(str, args)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S)


def test_analyze_prints_the_result_json(files: Path) -> None:
    done = run_cli("analyze", files / "person.mp4")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {"schema_version", "video", "analysis", "dancers"} <= set(result)
    assert "frames" not in result
    assert result["video"]["frame_count"] == N_FRAMES
    assert len(result["dancers"]) == 1
    # Not a terminal: no progress bar ("\r[###...] n/N frames"), and no native log noise.
    assert "\r[" not in done.stderr
    assert not any(noise in done.stderr for noise in NATIVE_NOISE), done.stderr
    assert done.stderr == ""


def test_json_option_writes_the_file_and_nothing_to_stdout(files: Path, tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    done = run_cli(
        "analyze", files / "person.mp4", "--json", out, "--landmarks", "--sample-fps", "15", "--min-confidence", "0.7"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""
    result = json.loads(out.read_text())
    assert result["analysis"]["frames_analyzed"] == N_FRAMES // 2  # the options reached the analysis
    assert result["analysis"]["min_confidence"] == 0.7
    assert len(result["frames"]) == N_FRAMES // 2


def test_progress_bar_on_a_terminal(files: Path) -> None:
    """With stderr a terminal, the bar is drawn there, still without native log lines."""
    master, slave = pty.openpty()
    command = [sys.executable, "-m", "posecore", "analyze", str(files / "person.mp4")]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    terminal = b""
    try:
        while select.select([master], [], [], TIMEOUT_S)[0]:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the child has closed its end
                break
            if not data:
                break
            terminal += data
        stdout = proc.communicate(timeout=TIMEOUT_S)[0]
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, terminal
    assert json.loads(stdout)["analysis"]["frames_analyzed"] == N_FRAMES
    text = terminal.decode()
    assert "\r[" in text and f"] {N_FRAMES}/{N_FRAMES} frames" in text
    assert not any(noise in text for noise in NATIVE_NOISE), text
    # Then the timeline table, after the bar.
    assert text.index(f"{N_FRAMES}/{N_FRAMES} frames") < text.index("Dancer 1: seen in 100%")


def test_table_and_overlay(files: Path, tmp_path: Path) -> None:
    """``--table`` prints each dancer's segments on stderr; ``--overlay`` writes the skeleton video."""
    overlay = tmp_path / "overlay.mp4"
    done = run_cli("analyze", files / "person.mp4", "--table", "--overlay", overlay)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert "frames" not in result  # drawn from the landmarks, returned only with --landmarks
    lines = done.stderr.splitlines()
    (dancer,) = result["dancers"]
    assert lines[0].startswith("Music: no beat found") and lines[1] == ""  # the clip has no audio
    assert lines[2] == (
        f"Dancer 1: seen in 100% of {N_FRAMES} analysed frames; poses below confidence 0.50 are not reported"
    )
    assert lines[3].split() == ["start", "end", "length", "pose", "confidence", "facing"]
    rows = [line.split() for line in lines[4 : 4 + len(dancer["poses"])]]
    assert lines[-1].startswith(f"  movement: {len(dancer['hits_s'])} hits, energy ")
    assert rows == [
        [f"{s['start_s']:.2f}", "s", f"{s['end_s']:.2f}", "s", f"{s['duration_s']:.2f}", "s", s["name"],
         f"{s['confidence']:.2f}", s["facing"] or "-"]
        for s in dancer["poses"]
    ]  # fmt: skip
    with av.open(str(overlay)) as video:
        stream = video.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert sum(1 for _ in video.decode(stream)) == N_FRAMES


# case -> (arguments given the files directory, text the error line must contain)
BAD_INPUTS: dict[str, tuple[Callable[[Path], list], str]] = {
    "missing file": (lambda d: ["analyze", d / "missing.mp4"], "no such file"),
    "text file": (lambda d: ["analyze", d / "notes.txt"], "not_a_video"),
    "random bytes as mp4": (lambda d: ["analyze", d / "noise.mp4"], "not_a_video"),
    "too many people": (lambda d: ["analyze", d / "person.mp4", "--max-people", "11"], "max_people"),
    "negative sample fps": (lambda d: ["analyze", d / "person.mp4", "--sample-fps", "-1"], "sample_fps"),
    "unparsable poses file": (lambda d: ["analyze", d / "person.mp4", "--poses", d / "broken.yaml"],
                              "invalid_pose_library"),
    "invalid pose definition": (lambda d: ["analyze", d / "person.mp4", "--poses", d / "wrong.yaml"],
                                "invalid_pose_library"),
    "json path is a directory": (lambda d: ["analyze", d / "person.mp4", "--json", d / "out_dir"],
                                 "out_dir"),
    "confidence above 1": (lambda d: ["analyze", d / "person.mp4", "--min-confidence", "2"], "min_confidence"),
    "compare with a missing video": (lambda d: ["compare", d / "person.mp4", d / "missing.mp4"], "no such file"),
    "not a number": (lambda d: ["analyze", d / "person.mp4", "--sample-fps", "abc"], "--sample-fps"),
    "no video argument": (lambda d: ["analyze"], "video"),
    "overlay not a video file": (lambda d: ["analyze", d / "person.mp4", "--overlay", d / "out.gif"], "out.gif"),
    "overlay in a missing folder": (lambda d: ["analyze", d / "person.mp4", "--overlay", d / "no" / "o.mp4"],
                                    "o.mp4"),
    "thumbnails not a folder": (lambda d: ["analyze", d / "person.mp4", "--thumbnails", d / "notes.txt"],
                                "--thumbnails"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_gives_a_one_line_error(files: Path, case: str) -> None:
    arguments, expected = BAD_INPUTS[case]
    done = run_cli(*arguments(files))
    assert done.returncode != 0
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error:") and expected in lines[0]


def test_model_command_prints_the_bundle_path() -> None:
    done = run_cli("model")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    path = Path(lines[0])
    assert path.suffix == ".task" and path.is_file()


SOLO = ROOT.parent / "shared" / "data" / "solo_kpop_1080p.mp4"


@pytest.mark.skipif(not SOLO.is_file(), reason=f"optional real video not present: {SOLO}")
def test_a_real_solo_gives_tempo_key_poses_and_thumbnails(tmp_path: Path) -> None:
    """On a real dance with music: the table names the tempo and key poses; JPEGs are written."""
    done = run_cli("analyze", SOLO, "--sample-fps", "12", "--table", "--thumbnails", tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert 60 <= result["music"]["tempo_bpm"] <= 200
    assert re.match(r"Music: \d+\.\d BPM, \d+ beats$", done.stderr.splitlines()[0])
    (dancer,) = result["dancers"]
    assert dancer["key_poses"] and "key pose 1:" in done.stderr
    written = sorted(tmp_path.glob("dancer1_key_pose*.jpg"))
    assert len(written) == len(dancer["key_poses"])
    for jpeg in written:
        assert jpeg.read_bytes()[:3] == b"\xff\xd8\xff" and jpeg.stat().st_size <= 15_000
    assert all(pose["thumbnail"].startswith("data:image/jpeg;base64,") for pose in dancer["key_poses"])
