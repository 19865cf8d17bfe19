"""What a pipeline run cost: the wall time of its stages, per run and in all.

Issue 9 bounds the demo (10 minutes) and the reproduce run (60 minutes for its three seeds) on 2 cores, so
the report states the time from the runs themselves rather than from a stopwatch typed into the docs. Each
finished stage's ``stage_manifest.json`` records ``wall_time_s``, the seconds its last build took; a run's
time is their sum over the recipe's stages. A stage rebuilt later (``--force``) counts with its last build,
so the sum is what building the run as it stands costs, less a few seconds of start-up per stage. The
issue also bounds the demo's memory (4 GB): manifests record their process's resident-memory high-water
mark, and a run's peak is the largest of them.
"""

from __future__ import annotations

from pathlib import Path

from medreasoner.eval.report_pipeline import recipe_stages
from medreasoner.pipeline import read_manifest

NOTE = ("Sum of the stages' wall times in minutes, from each stage's manifest (its last build), and the three "
        "longest stages in seconds; a fresh run adds a few seconds of start-up per stage. Peak memory: the "
        "largest resident-memory high-water mark the stages' processes recorded (– before manifests held it).")


def stage_manifests(run_dir: Path) -> dict[str, dict] | None:
    """``{stage: manifest}`` of a pipeline run's finished stages in recipe order, or None if not a pipeline run."""
    stages = recipe_stages(run_dir)
    if stages is None:
        return None
    manifests = {stage["name"]: read_manifest(Path(run_dir) / stage["name"]) for stage in stages}
    return {name: manifest for name, manifest in manifests.items() if manifest is not None}


def _peak_gib(manifests: list[dict]) -> float | None:
    peaks = [m["peak_rss_mib"] for m in manifests if m.get("peak_rss_mib") is not None]
    return max(peaks) / 1024 if peaks else None


def stage_time_rows(run_dirs: list[Path]) -> tuple[list[str], list[list[str]]]:
    """One row per pipeline run (stages, minutes, peak memory, longest stages), and a total row when there are
    several."""
    header = ["run", "stages", "wall time (min)", "peak memory (GiB)", "longest stages (s)"]
    rows, total, every = [], 0.0, []
    for run_dir in run_dirs:
        manifests = stage_manifests(run_dir)
        if not manifests:
            continue
        seconds = {name: float(m["wall_time_s"]) for name, m in manifests.items()}
        longest = sorted(seconds.items(), key=lambda item: -item[1])[:3]
        peak = _peak_gib(list(manifests.values()))
        run_total = sum(seconds.values())
        rows.append([Path(run_dir).name, str(len(seconds)), f"{run_total / 60:.1f}",
                     "–" if peak is None else f"{peak:.2f}",
                     ", ".join(f"{name} {value:.0f}" for name, value in longest)])
        total += run_total
        every += manifests.values()
    if len(rows) > 1:
        peak = _peak_gib(every)
        rows.append(["all runs", str(sum(int(row[1]) for row in rows)), f"{total / 60:.1f}",
                     "–" if peak is None else f"{peak:.2f}", ""])
    return header, rows
