"""The analysis options on the command line: one set of flags for ``analyze`` and ``compare``.

Defaults and ranges come from ``posecore.options.AnalysisOptions``; the flags only map
argparse's names onto its fields, and the model checks the values.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from posecore.errors import PoseCoreError
from posecore.options import MAX_PEOPLE, AnalysisOptions

DEFAULTS = AnalysisOptions()


def add_analysis_options(parser: argparse.ArgumentParser) -> None:
    """The flags of the analysis options every video command takes."""
    parser.add_argument("--sample-fps", type=float, metavar="F", help="analyse F frames/s (default: all)")
    parser.add_argument(
        "--max-people",
        type=_max_people,
        default=DEFAULTS.max_people,
        metavar="N",
        help=f"people to track, 1-{MAX_PEOPLE}, or 'auto' (everyone found, up to {MAX_PEOPLE})",
    )
    parser.add_argument("--min-pose-duration", type=float, default=DEFAULTS.min_pose_duration_s, metavar="S")
    parser.add_argument(
        "--min-confidence",
        type=float,
        default=DEFAULTS.min_confidence,
        metavar="C",
        help=f"confidence floor of a reported pose, 0-1 (default {DEFAULTS.min_confidence})",
    )
    parser.add_argument(
        "--min-dancer",
        type=float,
        default=DEFAULTS.min_dancer_s,
        metavar="S",
        help=f"shortest time a person must be seen to count as a dancer (default {DEFAULTS.min_dancer_s} s)",
    )
    parser.add_argument("--no-smoothing", action="store_true", help="turn the jitter filter off")


def analysis_options(args: argparse.Namespace) -> dict[str, Any]:
    """The parsed flags of ``add_analysis_options`` as ``AnalysisOptions`` fields."""
    return {
        "sample_fps": args.sample_fps,
        "max_people": args.max_people,
        "min_pose_duration_s": args.min_pose_duration,
        "min_confidence": args.min_confidence,
        "min_dancer_s": args.min_dancer,
        "smoothing": not args.no_smoothing,
    }


def check_paths(inputs: list[Path], json_out: Path | None) -> None:
    """Fail now, not after the analysis, on a missing input or an unwritable ``--json`` path."""
    for path in inputs:
        if not path.is_file():
            raise PoseCoreError(f"no such file: {path}")
    if json_out and (json_out.is_dir() or not os.access(json_out.parent, os.W_OK)):
        raise PoseCoreError(f"cannot write the result to {json_out}")


def _max_people(text: str) -> int | str:
    """``--max-people``: a number, or "auto" (the options model checks the range)."""
    return text if text == "auto" else int(text)
