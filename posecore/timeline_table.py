"""The result as text for a terminal (the CLI prints it): the music, then per dancer the
pose timeline as a table, the key poses and the movement quality."""

from __future__ import annotations

from posecore.result import AnalysisResult, Dancer, Music


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
        lines += _movement_lines(dancer)
        blocks.append("\n".join(lines) + "\n")
    return _music_line(result.music) + "\n".join(blocks)


def _music_line(music: Music | None) -> str:
    if music is None:
        return "Music: no beat found (no audio, silence or no steady pulse)\n\n"
    return f"Music: {music.tempo_bpm:.1f} BPM, {len(music.beats_s)} beats\n\n"


def _movement_lines(dancer: Dancer) -> list[str]:
    """Key poses with their times, then energy, smoothness, symmetry and how the hits fall on the beat."""
    lines = []
    for pose in dancer.key_poses:
        times = ", ".join(f"{o.start_s:.2f}" for o in pose.occurrences)
        lines.append(f"  key pose {pose.id}: {pose.name or '(unnamed shape)'} x{len(pose.occurrences)} at {times} s")
    metrics = dancer.metrics
    if metrics is None:
        return lines
    parts = [f"{len(dancer.hits_s)} hits"]
    if metrics.energy is not None:
        parts.append(f"energy {metrics.energy:.2f}")
    if metrics.smoothness is not None:
        parts.append(f"smoothness {metrics.smoothness:.2f}")
    if metrics.symmetry is not None:
        parts.append(f"symmetry {metrics.symmetry:.2f}")
    beat = metrics.on_beat
    if beat is not None and beat.share is not None and beat.mean_offset_s is not None:
        parts.append(f"on beat {beat.share:.0%} (mean {beat.mean_offset_s * 1000:+.0f} ms)")
    lines.append("  movement: " + ", ".join(parts))
    return lines
