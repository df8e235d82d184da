"""Single-process throughput on the real dance clip: decode-only, model-only, end-to-end.

    python benchmarks/single_process.py [--repeats 3] [--model-frames 150]

- decode-only: ``posecore.video.iter_frames`` over every frame, to upright RGB.
- model-only: ``PoseModel.detect`` (VIDEO mode, one person, increasing timestamps) on
  the first ``--model-frames`` frames, decoded beforehand and held in memory.
- end-to-end: ``analyze_video`` with max_people=1 on every frame: probe, model load,
  decode, inference and aggregation, as the CLI runs it.

Each is run ``--repeats`` times; the median frames/s and ms/frame are printed and
written, with the machine's details, to benchmarks/results/single_process.{json,md}.
Run it on a quiet machine: the load average at the start is recorded.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere, without installing posecore

from benchmarks.report import header, new_report, write  # noqa: E402
from posecore import AnalysisOptions, analyze_video, probe  # noqa: E402
from posecore.landmarker import PoseModel, native_stderr_discarded  # noqa: E402
from posecore.model_path import model_path as locate_model  # noqa: E402
from posecore.video import Frame, VideoInfo, iter_frames  # noqa: E402

VIDEO = ROOT.parent / "shared" / "data" / "group_dance.mp4"
NOTES = (
    "decode-only: iter_frames over every frame to upright RGB, one decoder thread (probe not timed). "
    "model-only: PoseModel.detect, VIDEO mode, max_people=1, on frames decoded beforehand "
    "(model load not timed). end-to-end: analyze_video(max_people=1) on every frame, wall time "
    "including probe, model load, decoding, inference and aggregation."
)


def timed(run: Callable[[], tuple[int, float]], repeats: int) -> dict:
    """Run ``run`` (returns frames processed and seconds taken) ``repeats`` times; median throughput."""
    runs = []
    for _ in range(repeats):
        frames, seconds = run()
        runs.append({"frames": frames, "seconds": round(seconds, 4)})
    fps = statistics.median(r["frames"] / r["seconds"] for r in runs)
    return {"frames_per_s": round(fps, 2), "ms_per_frame": round(1000 / fps, 2), "runs": runs}


def decode_only(video: Path, info: VideoInfo) -> tuple[int, float]:
    """Decode every frame to upright RGB (the probe is done once, beforehand)."""
    started = time.perf_counter()
    frames = sum(1 for _ in iter_frames(video, info))
    return frames, time.perf_counter() - started


def model_only(frames: list[Frame], model_path: Path) -> tuple[int, float]:
    """One pass of a fresh model over the held frames (VIDEO mode restarts at t=0).

    Only the detect loop is timed; loading the model is part of end-to-end.
    """
    with PoseModel(model_path, max_people=1) as model:
        started = time.perf_counter()
        for frame in frames:
            model.detect(frame.image, frame.index, frame.t_s)
        return len(frames), time.perf_counter() - started


def end_to_end(video: Path, model_path: Path) -> tuple[int, float]:
    """The whole in-process analysis of every frame, as the CLI runs it."""
    started = time.perf_counter()
    result = analyze_video(video, AnalysisOptions(max_people=1), model_path=model_path).result.to_dict()
    return result["analysis"]["frames_analyzed"], time.perf_counter() - started


def markdown(report: dict) -> str:
    lines = header("Single-process throughput", report)[:-1] + [
        f"- video: {report['video']['name']} ({report['video']['width']}x{report['video']['height']}, "
        f"{report['video']['frame_count']} frames, {report['video']['fps']:.2f} fps, {report['video']['codec']})",
        f"- repeats: {report['repeats']} (median shown)",
        "",
        "| stage | frames | median frames/s | median ms/frame |",
        "|---|---:|---:|---:|",
    ]
    for name, stage in report["stages"].items():
        frames = stage["runs"][0]["frames"]
        lines.append(f"| {name} | {frames} | {stage['frames_per_s']:.1f} | {stage['ms_per_frame']:.2f} |")
    lines += ["", report["notes"], ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per stage (median reported)")
    parser.add_argument("--model-frames", type=int, default=150, help="frames held in memory for model-only")
    args = parser.parse_args()
    if not VIDEO.is_file():
        sys.exit(f"error: benchmark video not found: {VIDEO}")
    if args.repeats < 1 or args.model_frames < 1:
        sys.exit("error: --repeats and --model-frames must be at least 1")

    report = new_report("single_process.py", video={"name": VIDEO.name}, repeats=args.repeats, notes=NOTES)
    info = probe(VIDEO)
    model_path = locate_model()
    held = list(itertools.islice(iter_frames(VIDEO, info), args.model_frames))

    stages = {}
    runs = {
        "decode-only": lambda: decode_only(VIDEO, info),
        "model-only": lambda: model_only(held, model_path),
        "end-to-end": lambda: end_to_end(VIDEO, model_path),
    }
    with native_stderr_discarded():  # MediaPipe's native log lines
        for name, run in runs.items():
            stages[name] = timed(run, args.repeats)
            print(f"{name}: {stages[name]['frames_per_s']} frames/s", file=sys.stderr)

    report["video"].update(info.to_dict())
    report["stages"] = stages
    write("single_process", report, markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
