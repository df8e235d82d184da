"""The result's pose timeline as a text table, one block per dancer (the CLI prints it)."""

from __future__ import annotations

from posecore.result import AnalysisResult


def timeline_table(result: AnalysisResult) -> str:
    """Each dancer's pose and movement segments in time order, as aligned text lines."""
    analysed = result.analysis.frames_analyzed
    if not result.dancers:
        return f"No dancer detected in {analysed} analysed frames.\n"
    blocks = []
    for dancer in result.dancers:
        rows = [("start", "end", "length", "pose", "confidence", "facing")]
        rows += [
            (f"{s.start_s:.2f} s", f"{s.end_s:.2f} s", f"{s.duration_s:.2f} s", s.name, f"{s.confidence:.2f}",
             s.facing or "-")
            for s in dancer.poses
        ]  # fmt: skip
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = [
            f"Dancer {dancer.id}: seen in {dancer.coverage:.0%} of {analysed} analysed frames; "
            f"poses below confidence {result.analysis.min_confidence:.2f} are not reported"
        ]
        if not dancer.poses:
            lines.append("  (no pose held long enough to report)")
            rows = []
        for row in rows:
            # Times and numbers right-aligned, the pose name left-aligned.
            cells = [cell.ljust(w) if i in (3, 5) else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))]
            lines.append("  " + "  ".join(cells).rstrip())
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)
