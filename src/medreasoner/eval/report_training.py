"""What a report shows of how a pipeline run trained: logged curves and sampling headroom.

A finding that does not appear must be reported with what the curves show (issue 9), so the report
reads, for every training stage of a pipeline run (in recipe order):

- the logged metrics of ``metrics.jsonl`` (written by the stage's ``MetricsCallback``), averaged over
  the first and the last quarter of the logged steps: loss for every stage; reward, per-reward means,
  KL (only logged when ``beta`` > 0), entropy and completion length for GRPO; reward accuracy,
  margins and chosen/rejected log-probabilities for preference training;
- for every ``generate`` stage that drew several samples per question, pass@1 (the mean per-question
  share of correct samples, at the sampling temperature) and pass@k (some sample correct), graded with
  :func:`medreasoner.verify.grade`, the same check as rewards and evaluation. pass@k far above pass@1
  is the headroom RL can take; a GRPO run that learns moves pass@1 towards it. Stages that sampled
  the same input file are compared on the questions all of them asked (the SFT model's rollouts may
  cover more questions than the GRPO model's), so their rows differ by the model, not the questions;
- the same for every sampled ``episodes`` stage (S4: each case played several times at a
  temperature), graded by the environment as the episode's reward is; the questions are the cases,
  and maj@k (:func:`medreasoner.eval.episodes.majority_correct`: the answer most of a case's episodes
  gave) is added where the episodes record their answers.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from medreasoner.data.pool import pool_item
from medreasoner.eval.findings import episode_majorities, episode_outcomes
from medreasoner.eval.report_pipeline import recipe_stages, sampling_label
from medreasoner.files import read_jsonl
from medreasoner.verify import grade

MAJORITY_COLUMN = "maj@k %"  # the Sampling headroom column that only S4 episodes with answers fill

# stage kind -> logged metrics worth a row (those a run did not log are skipped)
CURVES = {
    "cpt": ("loss", "mean_token_accuracy"),
    "sft": ("loss", "mean_token_accuracy"),
    "grpo": ("reward", "rewards/correctness_reward/mean", "rewards/diagnostic_env_reward/mean", "kl", "entropy",
             "completions/mean_length", "frac_reward_zero_std"),
    "preference": ("loss", "rewards/accuracies", "rewards/margins", "logps/chosen", "logps/rejected"),
    "reward_model": ("loss", "accuracy"),
}


def _logged(path: Path) -> list[dict]:
    """The per-step log entries of a ``metrics.jsonl`` (the closing summary line has no ``loss``)."""
    entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [e for e in entries if "step" in e and "train_runtime" not in e]


def _window_mean(entries: list[dict], key: str) -> float | None:
    values = [e[key] for e in entries if isinstance(e.get(key), (int, float))]
    return sum(values) / len(values) if values else None


def curve_rows(run_dir: Path) -> tuple[list[str], list[list[str]]]:
    """One row per (training stage, metric): logged steps, mean of the first and last quarter of the log."""
    header = ["stage", "metric", "logged steps", "first quarter", "last quarter"]
    rows = []
    for stage in recipe_stages(run_dir) or []:
        keys = CURVES.get(stage.get("kind", ""))
        path = Path(run_dir) / stage["name"] / "metrics.jsonl"
        if keys is None or not path.is_file():
            continue
        entries = _logged(path)
        if not entries:
            continue
        quarter = max(1, len(entries) // 4)
        head, tail = entries[:quarter], entries[-quarter:]
        for key in keys:
            first, last = _window_mean(head, key), _window_mean(tail, key)
            if first is None or last is None:
                continue
            steps = f"{entries[0]['step']}–{entries[-1]['step']}"
            rows.append([stage["name"], key, steps, f"{first:.4g}", f"{last:.4g}"])
    return header, rows


def _outcomes(samples_path: Path, mode: str) -> dict[str, list[bool]]:
    """Question id -> graded samples of a ``generate`` output (questions without a verifier left out)."""
    outcomes: dict[str, list[bool]] = defaultdict(list)
    for _, row in read_jsonl(samples_path):
        item = pool_item(row)
        if item is not None:
            outcomes[row["id"]].append(grade(row.get("response", ""), item, mode).correct)
    return outcomes


def pass_at_k(samples_path: Path, mode: str = "normalized") -> dict | None:
    """pass@1 and pass@k of a ``generate`` output (questions with a verifier and >= 2 samples).

    Returns:
        ``{"questions", "k", "pass@1", "pass@k"}`` (fractions), or None when no question qualifies.
    """
    return _figures(_outcomes(samples_path, mode), None, None)


def _figures(outcomes: dict[str, list[bool]], questions: set[str] | None,
             majorities: dict[str, float] | None) -> dict | None:
    """pass@ figures (and maj@k from ``majorities``, case id -> vote score, when given) of the questions (all
    when None) with >= 2 graded samples."""
    asked = [q for q, o in outcomes.items() if len(o) >= 2 and (questions is None or q in questions)]
    if not asked:
        return None
    scored = [outcomes[q] for q in asked]
    figures = {
        "questions": len(scored),
        "k": min(len(o) for o in scored),
        "pass@1": sum(sum(o) / len(o) for o in scored) / len(scored),
        "pass@k": sum(any(o) for o in scored) / len(scored),
    }
    if majorities is not None:
        figures["maj@k"] = sum(majorities[q] for q in asked) / len(asked)
    return figures


def sampling_rows(run_dir: Path) -> tuple[list[str], list[list[str]]]:
    """pass@1 and pass@k of every multi-sample ``generate`` stage and every sampled ``episodes`` stage of
    the run, in recipe order, and maj@k of the episodes stages whose episodes record their answers (– for
    the others; no column when no stage has it); stages that sampled the same input are scored on the
    questions they share."""
    header = ["stage", "model", "prompt", "questions", "k", "pass@1 %", "pass@k %", MAJORITY_COLUMN]
    stages = []
    for stage in recipe_stages(run_dir) or []:
        config = stage.get("config") or {}
        path = Path(run_dir) / stage["name"] / "data.jsonl"
        if stage.get("kind") == "generate" and config.get("num_samples", 1) >= 2 and path.is_file():
            stages.append((stage["name"], str(config.get("input")), config, _outcomes(path, "normalized"), None))
        predictions = Path(run_dir) / stage["name"] / "predictions.jsonl"
        if stage.get("kind") == "episodes" and config.get("sampling") and predictions.is_file():
            config = {**config, "prompt": f"episodes at {sampling_label(config['sampling'])}"}
            stages.append((stage["name"], str(config.get("cases")), config, episode_outcomes(predictions),
                           episode_majorities(predictions)))
    shared: dict[str, set[str]] = {}  # input file -> question ids every stage reading it asked
    for _, source, _, outcomes, _ in stages:
        shared[source] = shared.get(source, set(outcomes)) & set(outcomes)
    rows = []
    for name, source, config, outcomes, majorities in stages:
        figures = _figures(outcomes, shared[source], majorities)
        if figures is None:
            continue
        model = str(config.get("model") or (config.get("endpoint") or {}).get("model", "?"))
        rows.append([name, model, str(config.get("prompt", "?")), str(figures["questions"]),
                     str(figures["k"]), f"{100 * figures['pass@1']:.1f}", f"{100 * figures['pass@k']:.1f}",
                     f"{100 * figures['maj@k']:.1f}" if "maj@k" in figures else "–"])
    if all(row[-1] == "–" for row in rows):
        return header[:-1], [row[:-1] for row in rows]
    return header, rows
