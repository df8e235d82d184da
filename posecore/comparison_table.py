"""A comparison as text: the scores, then the timeline with a bar per half second (the CLI prints it)."""

from __future__ import annotations

from posecore.comparison import ComparisonResult

BAR_WIDTH = 20  # characters for a score of 100


def comparison_table(result: ComparisonResult) -> str:
    """Score, timing, offset, tempo and limbs on top; the timeline; then the worst moments."""
    limbs = ", ".join(f"{limb} {'-' if score is None else f'{score:.0f}'}" for limb, score in result.limbs.items())
    lines = [
        f"Score {result.score:.1f}  timing {result.timing:.1f}  offset {result.offset_s:+.2f} s  "
        f"tempo {result.tempo_ratio:.2f}x{'  (mirrored)' if result.mirrored else ''}",
        f"Limbs: {limbs}",
        "",
        "     time  reference  score",
    ]
    for point in result.timeline:
        reference = "-" if point.reference_t_s is None else f"{point.reference_t_s:.2f} s"
        score = "-" if point.score is None else f"{point.score:.0f}"
        bar = "" if point.score is None else "#" * round(point.score * BAR_WIDTH / 100)
        lines.append(f"  {point.t_s:5.2f} s  {reference:>9}  {score:>5}  {bar}")
    if result.worst_moments:
        lines += ["", "Worst moments:"]
        lines += [
            f"  {m.t_s:5.2f} s (reference {m.reference_t_s:.2f} s): {m.score:.0f}, {m.limb} furthest off"
            for m in result.worst_moments
        ]
    return "\n".join(lines) + "\n"
