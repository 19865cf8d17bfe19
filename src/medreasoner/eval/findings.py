"""Findings across seeds: paired contrasts between two evaluated cells of pipeline runs.

A finding is a contrast ``treatment - control`` of accuracy on the same items, where each side is a
(stage, mode) cell of a pipeline run: "GRPO answer-mode vs SFT answer-mode" (a training gain) or
"SFT explain vs SFT answer" (Preferred-MedLLM's explanation gap). A findings file lists them::

    findings:
      - name: "1. GRPO on select_rl candidates vs SFT"
        benchmark: items
        control: {stage: eval_sft, mode: answer}
        treatment: {stage: eval_grpo, mode: answer}
        target: "gain >= 5 points, CI excluding 0"
        check: {effect_at_least: 5, ci_low_above: 0}
        if_not_met: "what was tried, and where the curves are"

A side can also be a ``probe`` stage under a scoring (``{stage: probe_cpt, scoring: calibrated}``,
:mod:`medreasoner.eval.probe`): ``benchmark`` then names one of the stage's item groups (``all``, a
subset such as ``cpt_only``, or its complement ``not_cpt_only``), and the contrast compares what two
models know, read from the weights, on the same items. With ``net_of_lures: true`` and a subset as
``benchmark``, a probe contrast compares margins instead (:mod:`medreasoner.eval.probe`): name by name,
the change in accuracy on the subset's items of that name minus the change in how often the model picks
that name where it is a wrong option, weighted by the name's share of the subset, so that a model which
only learned to pick the subset's names gains nothing. The bootstrap resamples items within each seed,
name and item set (subset or lure items; disjoint, so independent). A side can also be an ``episodes`` stage
(``{stage: episodes_grpo, episodes: final_diagnosis}``, :mod:`medreasoner.eval.episodes`): each
episode of the WiNGPT-3.0 S4 environment is an item, right when its final diagnosis is, and
``benchmark`` is ``episodes``. A sampled episodes stage (each case played k times) is scored per case
instead: ``pass_at_1`` (the share of its episodes that were right; the contrast is the paired
difference of pass@1, with no McNemar test, which needs right/wrong items), ``pass_at_k`` (some
episode right) or ``majority`` (the answer most of its episodes gave is right: maj@k,
:func:`medreasoner.eval.episodes.majority_correct`; a tie scores the share of tied answers that are
right). Both sides of a contrast are of one kind and scored alike. An eval stage that sampled each item
k times (``num_samples``) gives each item's share of right samples, and its contrast is the paired
difference of pass@1 (no McNemar p); both of its cells must then be sampled stages.

``check`` (optional) states the target in numbers, in points, on the pooled effect and its CI; the
report then says "met" or "not met" in the pooled row instead of leaving the reader to compare, and
prints ``if_not_met`` under the table for a target that was missed. A contrast without ``check``
(an ablation to compare by eye) gets neither.

Each run directory (one per seed) gives a per-seed effect with a paired-bootstrap 95 % CI and the exact
McNemar p (:func:`medreasoner.eval.metrics.stability`). The pooled effect is the mean of the per-seed
effects; its CI resamples items within each seed (a stratified bootstrap: seeds are fixed, items are
the random sample), so it narrows with more seeds without treating one seed's items as another's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from medreasoner.errors import InputError
from medreasoner.eval.metrics import BOOTSTRAP, constant_difference_ci, right_or_wrong, stability
from medreasoner.eval.predictions import correct_by_id
from medreasoner.eval.probe import Scoring, in_group, name_strata
from medreasoner.files import read_jsonl


EPISODES_BENCHMARK = "episodes"


class Cell(BaseModel):
    """One evaluated cell: an eval stage in a prompt mode, a probe stage under a scoring, or an
    episodes stage scored on its final diagnosis."""

    model_config = ConfigDict(extra="forbid")
    stage: str = Field(min_length=1)
    mode: Literal["answer", "explain"] | None = None
    scoring: Scoring | None = None
    # final_diagnosis: one greedy episode per case, right or wrong; pass_at_1 / pass_at_k / majority: a
    # sampled stage's cases, each the share of its episodes that were right / whether any was / whether
    # the answer most of them gave is.
    episodes: Literal["final_diagnosis", "pass_at_1", "pass_at_k", "majority"] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "Cell":
        if sum(x is not None for x in (self.mode, self.scoring, self.episodes)) != 1:
            raise ValueError("give one of mode (an eval stage), scoring (a probe stage) or episodes (an episodes "
                             "stage)")
        return self

    @property
    def kind(self) -> str:
        """``eval``, ``probe`` or ``episodes``: the kind of stage the cell reads."""
        return "probe" if self.scoring is not None else "episodes" if self.episodes is not None else "eval"


class Check(BaseModel):
    """A target on the pooled effect, in points; it is met when every bound given holds."""

    model_config = ConfigDict(extra="forbid")
    effect_at_least: float | None = None
    effect_above: float | None = None
    ci_low_above: float | None = Field(None, description="the CI lies above this (excludes it)")
    ci_high_below: float | None = Field(None, description="the CI lies below this (excludes it)")
    ci_high_at_least: float | None = Field(None, description="the CI reaches this or above (includes it)")

    @model_validator(mode="after")
    def _some_bound(self) -> "Check":
        if all(v is None for v in self.model_dump().values()):
            raise ValueError("check names no bound; give at least one or leave check out")
        return self

    def met(self, effect: float, ci_low: float, ci_high: float) -> bool:
        """Whether the pooled effect and its CI (points) meet every bound; False when any is NaN.

        The figures are rounded to 1e-6 points first: a mean of per-seed effects that cancel is 0 up to
        float error (5.8e-19 is not a gain).
        """
        effect, ci_low, ci_high = (round(x, 6) for x in (effect, ci_low, ci_high))
        holds = {"effect_at_least": lambda bound: effect >= bound, "effect_above": lambda bound: effect > bound,
                 "ci_low_above": lambda bound: ci_low > bound, "ci_high_below": lambda bound: ci_high < bound,
                 "ci_high_at_least": lambda bound: ci_high >= bound}
        return all(holds[name](bound) for name, bound in self.model_dump().items() if bound is not None)


class Contrast(BaseModel):
    """``treatment - control`` accuracy on the items both cells answered."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    benchmark: str = Field(min_length=1)
    control: Cell
    treatment: Cell
    target: str
    check: Check | None = None
    if_not_met: str | None = None
    # Probe contrasts on a subset only: subtract the change in lure picks (module docstring).
    net_of_lures: bool = False

    @model_validator(mode="after")
    def _note_needs_check(self) -> "Contrast":
        if self.if_not_met is not None and self.check is None:
            raise ValueError("if_not_met needs a check (it is printed when the check fails)")
        if self.net_of_lures and (self.control.kind != "probe" or self.benchmark == "all"
                                  or self.benchmark.startswith("not_")):
            raise ValueError("net_of_lures needs probe cells and a subset as benchmark (not all or a not_ group)")
        if self.control.kind != self.treatment.kind:
            raise ValueError("control and treatment must be cells of one kind: both eval (mode), both probe "
                             "(scoring) or both episodes")
        if (self.control.kind == "episodes") != (self.benchmark == EPISODES_BENCHMARK):
            raise ValueError(f"benchmark {EPISODES_BENCHMARK!r} goes with episodes cells, and only with them")
        if self.control.episodes != self.treatment.episodes:
            raise ValueError("control and treatment episodes cells must be scored alike (both final_diagnosis, "
                             "pass_at_1, pass_at_k or majority)")
        return self


class FindingsSpec(BaseModel):
    """A findings file: the contrasts to report."""

    model_config = ConfigDict(extra="forbid")
    findings: list[Contrast] = Field(min_length=1)


def load_findings(path: str | Path) -> FindingsSpec:
    """Read and validate a findings YAML file (errors name the file, line and field)."""
    from medreasoner.recipe import parse_yaml
    from medreasoner.recipe_errors import Source, raise_validation_error

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(path, f"cannot read findings file: {error}") from None
    data, lines = parse_yaml(path, text)
    try:
        return FindingsSpec.model_validate(data)
    except ValidationError as error:
        raise_validation_error(Source(path, lines, {}), (), error, FindingsSpec)


def cell_correct(run_dir: Path, benchmark: str, cell: Cell) -> dict[str, bool] | dict[str, float]:
    """Per-item correctness of one cell: ``RUN_DIR/<stage>/<benchmark>_<mode>/predictions.jsonl`` for an
    eval cell; for a probe cell, the ``<scoring>_correct`` of the items of group ``benchmark`` in
    ``RUN_DIR/<stage>/predictions.jsonl``; for an episodes cell, each episode's ``correct`` in
    ``RUN_DIR/<stage>/predictions.jsonl`` (for ``pass_at_1``, each case's share of right episodes, and for
    ``majority`` a tied vote's share of right answers: fractions, not bools)."""
    if cell.kind == "probe":
        return _probe_correct(Path(run_dir) / cell.stage, benchmark, cell.scoring)
    if cell.kind == "episodes" and cell.episodes != "final_diagnosis":
        return _sampled_episodes(Path(run_dir) / cell.stage, cell.episodes)
    if cell.kind == "episodes":
        return _episodes_correct(Path(run_dir) / cell.stage)
    path = Path(run_dir) / cell.stage / f"{benchmark}_{cell.mode}" / "predictions.jsonl"
    if not path.is_file():
        raise InputError(path, f"no predictions for stage {cell.stage!r} in {cell.mode} mode (has the run finished?)")
    return correct_by_id(path)


def _probe_correct(stage_dir: Path, group: str, scoring: str) -> dict[str, bool]:
    summary, path = stage_dir / "probe.json", stage_dir / "predictions.jsonl"
    if not summary.is_file() or not path.is_file():
        raise InputError(stage_dir, "no probe.json and predictions.jsonl here (is it a finished probe stage?)")
    groups = json.loads(summary.read_text(encoding="utf-8"))["subsets"]
    if group not in groups:
        raise InputError(summary, f"benchmark {group!r} is not one of this probe's item groups: {', '.join(groups)}")
    return {row["id"]: bool(row[f"{scoring}_correct"]) for _, row in read_jsonl(path) if in_group(row["subsets"], group)}


def _probe_rows(stage_dir: Path) -> list[dict]:
    """A probe stage's prediction rows, refused when they predate lures."""
    rows = []
    for line, row in read_jsonl(stage_dir / "predictions.jsonl"):
        if "lures" not in row or "gold_name" not in row:
            raise InputError(stage_dir / "predictions.jsonl", "no lures or gold_name: the probe stage predates them "
                             "(rebuild it with --rerun)", line=line, field="lures")
        rows.append(row)
    return rows


def _episodes_correct(stage_dir: Path) -> dict[str, bool]:
    summary, path = stage_dir / "results.json", stage_dir / "predictions.jsonl"
    if not summary.is_file() or not path.is_file():
        raise InputError(stage_dir, "no results.json and predictions.jsonl here (is it a finished episodes stage?)")
    correct = {}
    for line, row in read_jsonl(path):
        if not isinstance(row.get("id"), str) or not isinstance(row.get("correct"), bool):
            raise InputError(path, "an episode needs a string 'id' and a boolean 'correct'", line=line)
        if row["id"] in correct:
            raise InputError(path, f"episode {row['id']!r} appears twice (a sampled episodes stage?): "
                             "final_diagnosis pairs greedy episodes, one per case; score a sampled stage "
                             "with pass_at_1, pass_at_k or majority", line=line, field="id")
        correct[row["id"]] = row["correct"]
    return correct


def episode_outcomes(predictions_path: Path) -> dict[str, list[bool]]:
    """Case id -> correctness of each of its episodes, in file order, from an ``episodes`` stage's
    ``predictions.jsonl`` (one per case when greedy, ``num_samples`` per case when sampled)."""
    outcomes: dict[str, list[bool]] = {}
    for line, row in read_jsonl(predictions_path):
        if not isinstance(row.get("id"), str) or not isinstance(row.get("correct"), bool):
            raise InputError(predictions_path, "an episode needs a string 'id' and a boolean 'correct'", line=line)
        outcomes.setdefault(row["id"], []).append(row["correct"])
    return outcomes


def sampled_episodes_stage(stage_dir: Path, greedy: str) -> tuple[dict, dict[str, list[bool]]]:
    """A finished sampled ``episodes`` stage: its ``results.json`` (a dict) and :func:`episode_outcomes` of its
    predictions; for the findings' pass@ cells and the ``select_episodes`` data step.

    Args:
        greedy: the error message when the stage is greedy (``sampling`` null), saying what its caller needs.

    Raises:
        InputError: no results or predictions here, results that are not a JSON object, a greedy stage.
    """
    summary, path = stage_dir / "results.json", stage_dir / "predictions.jsonl"
    if not summary.is_file() or not path.is_file():
        raise InputError(stage_dir, "no results.json and predictions.jsonl here (is it a finished episodes stage?)")
    try:
        results = json.loads(summary.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(summary, f"not valid JSON ({error.msg}, column {error.colno})", line=error.lineno) from None
    if not isinstance(results, dict):
        raise InputError(summary, "an episodes stage's results are a JSON object")
    if not results.get("sampling"):
        raise InputError(summary, greedy, field="sampling")
    return results, episode_outcomes(path)


def _sampled_episodes(stage_dir: Path, score: str) -> dict[str, bool] | dict[str, float]:
    """Case id -> share of its episodes that were right (``pass_at_1``), whether any was (``pass_at_k``) or
    its majority vote's score (``majority``), from a sampled episodes stage (each case played
    ``sampling.num_samples`` times)."""
    _, outcomes = sampled_episodes_stage(stage_dir, f"{score} needs a sampled episodes stage (sampling set); this "
                                                    "one is greedy: score it with final_diagnosis")
    if score == "pass_at_k":
        return {case: any(o) for case, o in outcomes.items()}
    if score == "majority":
        majorities = episode_majorities(stage_dir / "predictions.jsonl")
        if majorities is None:
            raise InputError(stage_dir / "predictions.jsonl", "a majority vote needs each episode's 'answer'; these "
                             "episodes were played before answers were recorded: run the stage again", field="answer")
        return majorities
    return {case: sum(o) / len(o) for case, o in outcomes.items()}


def episode_majorities(predictions_path: Path) -> dict[str, float] | None:
    """Case id -> :func:`medreasoner.eval.episodes.majority_correct` of its episodes, from a sampled ``episodes``
    stage's ``predictions.jsonl``; None when no episode records its ``answer`` (a stage played before
    answers were recorded).

    Raises:
        InputError: an episode without ``answer`` among episodes with one, or an answer that is neither a
            string nor null, naming its line.
    """
    from medreasoner.eval.episodes import majority_correct

    rows = list(read_jsonl(predictions_path))
    if not any("answer" in row for _, row in rows):
        return None
    episodes: dict[str, list[dict]] = {}
    for line, row in rows:
        if "answer" not in row or not (row["answer"] is None or isinstance(row["answer"], str)):
            raise InputError(predictions_path, "a majority vote needs each episode's 'answer' (a string or null)",
                             line=line, field="answer")
        episodes.setdefault(row["id"], []).append(row)
    return {case: majority_correct(rows) for case, rows in episodes.items()}


def _pooled(differences: list[np.ndarray], n_resamples: int, seed: int) -> tuple[float, float, float]:
    """Mean of per-seed mean differences and its stratified-bootstrap 95 % interval.

    This stays a percentile interval: scipy.stats.bootstrap has no strata, and BCa's acceleration
    for a mean over strata would need a custom jackknife (Efron & Tibshirani 1993, ch. 14); with
    several seeds of hundreds of items the pooled statistic is close to normal, where percentile
    and BCa agree. Degenerate cases are explicit: seeds without paired items are left out (NaN when
    none has any), and when no seed has within-seed variability (every item's difference equal
    within each seed, so every resample is the same point) the bounds are the mean of the per-seed
    :func:`medreasoner.eval.metrics.constant_difference_ci` bounds.
    """
    differences = [d for d in differences if d.size]
    if not differences:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    effect = float(np.mean([d.mean() for d in differences]))
    if all(np.all(d == d[0]) for d in differences):
        bounds = [constant_difference_ci(float(d[0]), d.size, 0.95) for d in differences]
        return effect, float(np.mean([b[0] for b in bounds])), float(np.mean([b[1] for b in bounds]))
    draws = np.zeros(n_resamples)
    for d in differences:
        draws += d[rng.integers(0, d.size, size=(n_resamples, d.size))].mean(axis=1)
    draws /= len(differences)
    low, high = np.quantile(draws, [0.025, 0.975])
    return effect, float(low), float(high)


# One seed of a net-of-lures contrast: per name, (weight, subset differences, lure-pick differences).
NetStrata = list[tuple[float, np.ndarray, np.ndarray]]


def _pooled_net(seeds: list[NetStrata], n_resamples: int, seed: int) -> tuple[float, float, float]:
    """Mean over seeds of the weighted sum over names of (mean subset difference - mean lure-pick
    difference), with a percentile bootstrap that resamples items within each seed, name and item set
    (as :func:`_pooled`). When every difference is constant within its set, the bounds combine the
    sets' :func:`medreasoner.eval.metrics.constant_difference_ci` bounds, lower with upper."""
    seeds = [strata for strata in seeds if strata]
    if not seeds:
        return float("nan"), float("nan"), float("nan")
    effect = float(np.mean([sum(w * (s.mean() - lure.mean()) for w, s, lure in strata) for strata in seeds]))
    if all(np.all(s == s[0]) and np.all(lure == lure[0]) for strata in seeds for _, s, lure in strata):
        bounds = [[(w, constant_difference_ci(float(s[0]), s.size, 0.95),
                    constant_difference_ci(float(lure[0]), lure.size, 0.95)) for w, s, lure in strata]
                  for strata in seeds]
        return (effect, float(np.mean([sum(w * (b_s[0] - b_l[1]) for w, b_s, b_l in seed) for seed in bounds])),
                float(np.mean([sum(w * (b_s[1] - b_l[0]) for w, b_s, b_l in seed) for seed in bounds])))
    rng = np.random.default_rng(seed)
    draws = np.zeros(n_resamples)
    for strata in seeds:
        for w, s, lure in strata:
            draws += w * s[rng.integers(0, s.size, size=(n_resamples, s.size))].mean(axis=1)
            draws -= w * lure[rng.integers(0, lure.size, size=(n_resamples, lure.size))].mean(axis=1)
    low, high = np.quantile(draws / len(seeds), [0.025, 0.975])
    return effect, float(low), float(high)


def _net_strata(control: dict, treatment: dict) -> tuple[NetStrata, float, float]:
    """Paired strata of two probes' :func:`medreasoner.eval.probe.name_strata`, on the names and items
    both hold, and the two margins (weights from the paired subset items)."""
    paired = {}
    for name in sorted(set(control) & set(treatment)):
        sides = [sorted(set(control[name][k]) & set(treatment[name][k])) for k in (0, 1)]
        if all(sides):
            paired[name] = [(np.array([float(control[name][k][i]) for i in ids]),
                             np.array([float(treatment[name][k][i]) for i in ids])) for k, ids in enumerate(sides)]
    total = sum(subset[0].size for subset, _ in paired.values())
    strata = [(subset[0].size / total, subset[1] - subset[0], lures[1] - lures[0]) for subset, lures in paired.values()]
    margins = [sum(subset[0].size / total * (subset[k].mean() - lures[k].mean()) for subset, lures in paired.values())
               if paired else float("nan") for k in (0, 1)]
    return strata, float(margins[0]), float(margins[1])


def _evaluate_net_of_lures(run_dirs: list[Path], contrast: Contrast) -> tuple[list[dict], tuple[float, float, float]]:
    """Per-seed rows and the pooled (effect, low, high) of a ``net_of_lures`` probe contrast: control and
    treatment are margins, the effect their difference (fractions)."""
    per_seed, seeds = [], []
    for run_dir in run_dirs:
        control, treatment = (name_strata(_probe_rows(Path(run_dir) / cell.stage), contrast.benchmark, cell.scoring)
                              for cell in (contrast.control, contrast.treatment))
        strata, control_margin, treatment_margin = _net_strata(control, treatment)
        effect, low, high = _pooled_net([strata], BOOTSTRAP.n_resamples, BOOTSTRAP.seed)
        per_seed.append({"run": str(run_dir), "n": sum(s.size for _, s, _ in strata),
                         "n_lures": sum(lure.size for _, _, lure in strata), "control": control_margin,
                         "treatment": treatment_margin, "effect": effect, "ci_low": low, "ci_high": high,
                         "mcnemar_p": None})
        seeds.append(strata)
    return per_seed, _pooled_net(seeds, BOOTSTRAP.n_resamples, BOOTSTRAP.seed)


def evaluate_contrast(run_dirs: list[Path], contrast: Contrast) -> dict:
    """Per-seed and pooled effect of one contrast (fractions, not points)."""
    if contrast.net_of_lures:
        per_seed, (effect, low, high) = _evaluate_net_of_lures(run_dirs, contrast)
        # the pooled row counts the seeds it pools: one without paired items is left out of it
        return _result(contrast, per_seed, effect, low, high, sum(1 for seed in per_seed if seed["n"]))
    per_seed, differences = [], []
    for run_dir in run_dirs:
        control = cell_correct(run_dir, contrast.benchmark, contrast.control)
        treatment = cell_correct(run_dir, contrast.benchmark, contrast.treatment)
        if contrast.control.kind == "eval" and right_or_wrong(control) != right_or_wrong(treatment):
            raise InputError(Path(run_dir), f"finding {contrast.name!r}: one of {contrast.control.stage!r} and "
                             f"{contrast.treatment.stage!r} sampled each item several times and the other did not; "
                             "compare stages that decoded alike")
        s = stability(control, treatment, BOOTSTRAP)  # shares (pass@1, tied votes) get no McNemar p
        ids = sorted(set(control) & set(treatment))
        differences.append(np.array([float(treatment[i]) - float(control[i]) for i in ids]))
        per_seed.append({"run": str(run_dir), "n": s["n"], "control": s["answer_accuracy"],
                         "treatment": s["explain_accuracy"], "effect": s["delta"], "ci_low": s["ci_low"],
                         "ci_high": s["ci_high"], "mcnemar_p": s["mcnemar_p"]})
    effect, low, high = _pooled(differences, BOOTSTRAP.n_resamples, BOOTSTRAP.seed)
    return _result(contrast, per_seed, effect, low, high, sum(1 for d in differences if d.size))


def _result(contrast: Contrast, per_seed: list[dict], effect: float, low: float, high: float, seeds: int) -> dict:
    met = None if contrast.check is None else contrast.check.met(100 * effect, 100 * low, 100 * high)
    return {"name": contrast.name, "target": contrast.target, "met": met,
            "if_not_met": contrast.if_not_met if met is False else None, "per_seed": per_seed,
            "pooled": {"seeds": seeds, "effect": effect, "ci_low": low, "ci_high": high}}


def verdict(result: dict) -> str:
    """The pooled row's last column: the target, then whether its check is met."""
    if result["met"] is None:
        return result["target"]
    return f"{result['target']}: **{'met' if result['met'] else 'not met'}**"


MISSED_TITLE = "Findings not met"


def missed_rows(results: list[dict]) -> tuple[list[str], list[list[str]]]:
    """The missed targets that carry an ``if_not_met`` note: what was tried, where the curves are."""
    return (["finding", "what was tried, and what the curves show"],
            [[r["name"], r["if_not_met"]] for r in results if r["if_not_met"]])


def findings_rows(results: list[dict]) -> tuple[list[str], list[list[str]]]:
    """Markdown rows: one per seed and one pooled per finding (points with 95 % CIs)."""
    header = ["finding", "run", "n", "control %", "treatment %", "effect (points)", "95 % CI", "McNemar p", "target"]
    rows = []
    for result in results:
        for seed in result["per_seed"]:
            n = f"{seed['n']} + {seed['n_lures']}" if "n_lures" in seed else str(seed["n"])
            rows.append([result["name"], Path(seed["run"]).name, n, f"{100 * seed['control']:.1f}",
                         f"{100 * seed['treatment']:.1f}", f"{100 * seed['effect']:+.1f}",
                         f"[{100 * seed['ci_low']:+.1f}, {100 * seed['ci_high']:+.1f}]",
                         "–" if seed["mcnemar_p"] is None else f"{seed['mcnemar_p']:.3g}", ""])
        pooled = result["pooled"]
        seeds = f"{pooled['seeds']} seed{'' if pooled['seeds'] == 1 else 's'}"
        rows.append([result["name"], f"pooled ({seeds})", "", "", "", f"{100 * pooled['effect']:+.1f}",
                     f"[{100 * pooled['ci_low']:+.1f}, {100 * pooled['ci_high']:+.1f}]", "", verdict(result)])
    return header, rows
