"""What a report adds when a RUN_DIR is a pipeline run: stage order, gains, baselines and the data funnel.

A pipeline run directory holds ``recipe.yaml`` (written by ``medreasoner run``) and one directory per
stage. From it the report takes:

- the order of the stages, so evaluated models appear as the recipe runs them (base, CPT, SFT, RPO,
  GRPO, ...), not alphabetically;
- the gain of each evaluated model over the previous one in that order, paired item by item
  (:func:`medreasoner.eval.metrics.stability` of the two runs' per-item correctness: difference,
  paired-bootstrap CI, exact McNemar p);
- reference lines from the world stage's manifest: chance and the prior-only baseline (always the
  most prevalent condition of the differential) scored against the same gold as the models, and the
  Bayes-optimal ceiling;
- the data-engine funnel: every stage with a ``funnel.json`` (rows in, out, dropped by reason).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from medreasoner.data.funnel import read_funnel
from medreasoner.eval.metrics import BOOTSTRAP, stability


def recipe_stages(run_dir: Path) -> list[dict] | None:
    """``[{"name", "kind", ...}]`` of the pipeline run at ``run_dir`` in recipe order, or None."""
    path = Path(run_dir) / "recipe.yaml"
    if not path.is_file():
        return None
    recipe = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [s for s in recipe.get("stages", []) if isinstance(s, dict) and "name" in s]


def stage_order_key(run_dir: Path, group_dir: Path) -> tuple[int, str]:
    """Sort key of an eval output directory: its stage's index in the recipe (unknown stages last)."""
    stages = recipe_stages(run_dir) or []
    names = [s["name"] for s in stages]
    try:
        relative = Path(group_dir).resolve().relative_to(Path(run_dir).resolve())
    except ValueError:
        return (len(names), str(group_dir))
    top = relative.parts[0] if relative.parts else ""
    return (names.index(top) if top in names else len(names), str(relative))


def _per_item(body: dict) -> dict[str, bool] | None:
    path = Path(body.get("_dir", "")) / "predictions.jsonl"
    if not path.is_file():
        return None
    correct = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            correct[str(record["id"])] = bool(record["correct"])
    return correct


def gain_rows(runs: list[tuple[str, dict]]) -> tuple[list[str], list[list[str]]]:
    """Each run's paired gain over the run before it, per benchmark and mode (points, 95 % CI, McNemar p)."""
    header = ["run", "over", "benchmark", "mode", "n paired", "gain (points)", "95 % CI", "McNemar p"]
    rows = []
    for (previous_label, previous), (label, results) in zip(runs, runs[1:]):
        for key in sorted(set(previous) & set(results)):
            before, after = _per_item(previous[key]), _per_item(results[key])
            if before is None or after is None:
                continue
            s = stability(before, after, BOOTSTRAP)
            if s["n"] == 0:
                continue
            rows.append([label, previous_label, key[0], key[1], str(s["n"]), f"{100 * s['delta']:+.1f}",
                         f"[{100 * s['ci_low']:+.1f}, {100 * s['ci_high']:+.1f}]", f"{s['mcnemar_p']:.3g}"])
    return header, rows


def baseline_rows(run_dir: Path) -> tuple[list[str], list[list[str]]]:
    """Reference accuracies of the world's evaluation splits (from the world stage's manifest)."""
    header = ["split", "n", "chance %", "prior-only vs gold %", "Bayes-optimal (gold = truth) %"]
    rows = []
    for stage in recipe_stages(run_dir) or []:
        manifest = Path(run_dir) / stage["name"] / "manifest.json"
        if stage.get("kind") != "world" or not manifest.is_file():
            continue
        accuracy = json.loads(manifest.read_text(encoding="utf-8")).get("accuracy", {})
        for split in ("validation", "test"):
            figures = accuracy.get(split)
            if not figures or "prior_only_accuracy_vs_label" not in figures:
                continue
            rows.append([split, str(figures["num_cases"]), f"{100 * figures['chance_accuracy']:.1f}",
                         f"{100 * figures['prior_only_accuracy_vs_label']:.1f}",
                         f"{100 * figures['bayes_optimal_accuracy']:.1f}"])
    return header, rows


def funnel_rows(run_dir: Path) -> tuple[list[str], list[list[str]]]:
    """One row per data-engine stage of the run, in recipe order: rows in, out, dropped by reason."""
    header = ["stage", "step", "in", "out", "dropped (reason: rows)"]
    rows = []
    for stage in recipe_stages(run_dir) or []:
        funnel = read_funnel(Path(run_dir) / stage["name"])
        if funnel is None:
            continue
        dropped = ", ".join(f"{reason}: {count}" for reason, count in funnel["dropped"].items()) or "–"
        rows.append([stage["name"], funnel["step"], str(funnel["in"]), str(funnel["out"]), dropped])
    return header, rows
