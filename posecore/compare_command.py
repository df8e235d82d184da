"""``python -m posecore compare REF PERF``: score a performance video against a reference.

REF is a video, or the JSON of an earlier ``analyze --landmarks``. Both videos are
analysed at once in this process. The comparison JSON goes to stdout (or ``--json``);
on a terminal (or with ``--table``) stderr shows the scores and the timeline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from posecore.cli_options import add_analysis_options, analysis_options, check_paths
from posecore.comparison import ComparisonResult, compare_sources, parse_result_json
from posecore.options import AnalysisOptions

MIRROR_CHOICES = {"auto": "auto", "true": True, "false": False}


def add_compare_parser(commands: Any) -> None:
    """The ``compare`` subcommand on ``commands`` (argparse's subparsers)."""
    compare = commands.add_parser("compare", help="score a performance video against a reference, print the JSON")
    compare.add_argument("reference", type=Path, metavar="REF", help="the reference video, or a result .json")
    compare.add_argument("performance", type=Path, metavar="PERF", help="the performance video")
    compare.add_argument("--json", type=Path, metavar="OUT", help="write the JSON here, not stdout")
    compare.add_argument(
        "--mirror",
        choices=list(MIRROR_CHOICES),
        default="auto",
        help="auto: try the performance mirrored too and keep the better (default)",
    )
    compare.add_argument("--reference-dancer", type=int, metavar="ID", help="default: the dancer seen most")
    compare.add_argument("--performance-dancer", type=int, metavar="ID", help="default: the dancer seen most")
    add_analysis_options(compare)
    compare.add_argument(
        "--table",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="print the scores and timeline on stderr (default: when stderr is a terminal)",
    )


def run_compare(args: argparse.Namespace) -> None:
    """Run ``compare`` as parsed; posecore errors propagate (the CLI prints them in one line)."""
    from posecore.comparison_table import comparison_table

    check_paths([args.reference, args.performance], args.json)
    options = {
        "mirror": MIRROR_CHOICES[args.mirror],
        "reference_dancer": args.reference_dancer,
        "performance_dancer": args.performance_dancer,
        **analysis_options(args),
    }
    is_result = args.reference.suffix.lower() == ".json"
    reference = parse_result_json(args.reference.read_bytes()) if is_result else args.reference
    result = asyncio.run(compare_here(reference, args.performance, options))
    if args.table if args.table is not None else sys.stderr.isatty():
        sys.stderr.write(comparison_table(result))
    text = json.dumps(result.to_dict(), indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    else:
        sys.stdout.write(text + "\n")


async def compare_here(
    reference: Path | dict[str, Any], performance: Path, options: dict[str, Any]
) -> ComparisonResult:
    """``compare_sources`` with both analyses in this process, each with its own pose model."""
    from posecore.model_path import model_path
    from posecore.pipeline import Analysis, Finished, local_detect, run_pipeline
    from posecore.pose_library import PoseLibrary

    model_file = model_path()
    library = PoseLibrary.default()

    async def analyse(source: Any, analysis_options: AnalysisOptions) -> Analysis:
        events = run_pipeline(
            source, analysis_options, local_detect(model_file), library=library, model=model_file.name
        )
        async for event in events:
            if isinstance(event, Finished):
                return event.analysis
        raise AssertionError("the pipeline ends with Finished")

    return await compare_sources(reference, performance, options, analyse)
