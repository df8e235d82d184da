"""Command line: ``python -m posecore analyze VIDEO``, ``compare REF PERF`` and ``model``.

``analyze`` prints the result JSON on stdout (or writes it with ``--json``). On a
terminal, stderr shows a progress bar, then each dancer's pose timeline as a table.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from pathlib import Path
from typing import NoReturn

from posecore.cli_options import add_analysis_options, analysis_options, check_paths
from posecore.compare_command import add_compare_parser, run_compare
from posecore.errors import PoseCoreError
from posecore.landmarker import native_stderr_discarded
from posecore.options import AnalysisOptions
from posecore.result import AnalysisResult


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one ``error:`` line, like every other CLI error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: usage: {self.prog}: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m posecore", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("model", help="provision the pose model if needed (a set-up step) and print its path")
    analyze = commands.add_parser("analyze", help="analyse a dance video, print the result JSON")
    analyze.add_argument("video", type=Path)
    analyze.add_argument("--json", type=Path, metavar="OUT", help="write the JSON here, not stdout")
    add_analysis_options(analyze)
    analyze.add_argument("--landmarks", action="store_true", help="include per-frame landmarks")
    analyze.add_argument("--poses", type=Path, metavar="FILE", help="JSON/YAML pose definitions to add")
    analyze.add_argument(
        "--table",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="print each dancer's pose timeline on stderr (default: when stderr is a terminal)",
    )
    analyze.add_argument("--thumbnails", type=Path, metavar="DIR", help="write each key pose's thumbnail JPEG into DIR")
    analyze.add_argument(
        "--overlay",
        type=Path,
        metavar="OUT.mp4",
        help="also write the video with each dancer's skeleton drawn on (H.264 where available)",
    )
    add_compare_parser(commands)
    return parser


class _ProgressBar:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, what: str = "frames") -> None:
        self.enabled = sys.stderr.isatty()
        self.what = what

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or (done % 5 and done != total):
            return
        width = 30
        filled = width * done // max(total, 1)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {self.what}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _analyze(args: argparse.Namespace) -> None:
    from posecore.overlay import check_overlay_path, write_overlay
    from posecore.pipeline import analyze_video
    from posecore.pose_library import PoseLibrary
    from posecore.timeline_table import timeline_table

    options = AnalysisOptions.parse(
        {
            **analysis_options(args),
            "include_landmarks": args.landmarks or args.overlay is not None,  # the overlay is drawn from them
            "include_thumbnails": args.thumbnails is not None,
        }
    )
    library = PoseLibrary.load(args.poses) if args.poses else PoseLibrary.default()
    check_paths([args.video], args.json)  # a bad path should fail now, not after the whole analysis
    if args.overlay:
        check_overlay_path(args.overlay)
    if args.thumbnails and not (args.thumbnails.is_dir() and os.access(args.thumbnails, os.W_OK)):
        raise PoseCoreError(f"--thumbnails must name a writable directory, got {args.thumbnails}")
    bar = _ProgressBar()
    result = analyze_video(args.video, options, library=library, on_progress=lambda p: bar(p.done, p.total)).result
    if args.table if args.table is not None else sys.stderr.isatty():
        sys.stderr.write(timeline_table(result))
    if args.thumbnails:
        _write_thumbnails(result, args.thumbnails)
    if args.overlay:
        write_overlay(args.video, result, args.overlay, progress=_ProgressBar("frames drawn"))
        if not args.landmarks:
            result = result.model_copy(update={"frames": None})
    text = json.dumps(result.to_dict(), indent=None if args.landmarks else 2)
    if args.json:
        args.json.write_text(text + "\n")
    else:
        sys.stdout.write(text + "\n")


def _write_thumbnails(result: AnalysisResult, folder: Path) -> None:
    """Each key pose's JPEG as ``dancer<id>_key_pose<id>.jpg`` (the result keeps its data URI too)."""
    for dancer in result.dancers:
        for pose in dancer.key_poses:
            if pose.thumbnail:
                jpeg = base64.b64decode(pose.thumbnail.split(",", 1)[1])
                (folder / f"dancer{dancer.id}_key_pose{pose.id}.jpg").write_bytes(jpeg)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # MediaPipe's native log lines would otherwise surround our one-line messages.
    with native_stderr_discarded():
        try:
            if args.command == "model":
                from posecore.model_bundle import provision_model

                print(provision_model())
            elif args.command == "compare":
                run_compare(args)
            else:
                _analyze(args)
        except PoseCoreError as exc:
            print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
            return 2
        except OSError as exc:  # e.g. an unwritable --json path
            print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
