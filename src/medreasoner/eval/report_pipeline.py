"""What a report adds when a RUN_DIR is a pipeline run: stage order, gains, baselines and the data funnel.

A pipeline run directory holds ``recipe.yaml`` (written by ``medreasoner run``) and one directory per
stage. From it the report takes:

- the order of the stages, so evaluated models appear as the recipe runs them (base, CPT, SFT, RPO,
  GRPO, ...), not alphabetically;
- the gain of each evaluated model over the evaluated model it was trained from (GRPO over SFT, RPO
  over SFT, a merge over each of its inputs), found through the recipe's ``model`` paths, paired item
  by item (:func:`medreasoner.eval.metrics.stability` of the two cells' per-item correctness:
  difference, paired-bootstrap CI, exact McNemar p);
- reference lines from the world stage's manifest (and a heldout stage's, for its extra test cases):
  chance and the prior-only baseline (always the most prevalent condition of the differential) scored
  against the same gold as the models, and the Bayes-optimal ceiling;
- the data-engine funnel: every stage with a ``funnel.json`` (rows in, out, dropped by reason).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from medreasoner.data.funnel import read_funnel
from medreasoner.eval.metrics import BOOTSTRAP, stability
from medreasoner.eval.predictions import correct_by_id
from medreasoner.errors import InputError
from medreasoner.files import read_jsonl, read_text_utf8
from medreasoner.recipe import parse_yaml


def recipe_stages(run_dir: Path) -> list[dict] | None:
    """``[{"name", "kind", ...}]`` of the pipeline run at ``run_dir`` in recipe order, or None."""
    path = Path(run_dir) / "recipe.yaml"
    if not path.is_file():
        return None
    recipe = parse_yaml(path, read_text_utf8(path), yaml.SafeLoader)[0] or {}  # bounded, as every recipe read
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
    return correct_by_id(path) if path.is_file() else None


def _model_sources(stage: dict) -> list[str]:
    """The model paths a stage starts from: eval ``model``, training ``model.path``, merge ``models[*].path``."""
    config = stage.get("config") or {}
    if stage.get("kind") == "eval":
        return [config.get("model")]
    if isinstance(config.get("models"), list):
        return [m.get("path") for m in config["models"] if isinstance(m, dict)]
    if isinstance(config.get("model"), dict):
        return [config["model"].get("path")]
    return []


def lineage(run_dir: Path, stages: list[dict] | None = None) -> dict[str, list[str]]:
    """Stage -> the stages of the same run whose output it starts from (by the resolved model paths)."""
    stages = (recipe_stages(run_dir) or []) if stages is None else stages
    names = {s["name"] for s in stages}
    root = Path(run_dir).resolve()

    def stage_of(path: object) -> str | None:
        candidate = Path(str(path))
        return candidate.name if candidate.name in names and candidate.parent.resolve() == root else None

    return {s["name"]: [n for n in map(stage_of, _model_sources(s)) if n] for s in stages}


def _decoding(stage: dict) -> tuple:
    """An eval stage's decoding protocol (greedy, or sampled at a temperature and nucleus k times): a gain
    is only measured between two stages that decoded alike. Recipes from before top_p and num_samples
    existed decoded with the whole distribution, once per item."""
    generation = (stage.get("config") or {}).get("generation") or {}
    if not generation.get("temperature"):  # greedy: the nucleus does not apply
        return (0, 1.0, 1)
    return (generation.get("temperature"), generation.get("top_p", 1.0), generation.get("num_samples", 1))


def trained_from(run_dir: Path, eval_stage: str) -> list[str]:
    """The eval stages that evaluated the models ``eval_stage``'s model was trained from, decoding as it
    does: the nearest evaluated ancestors (an SFT model started from an unevaluated CPT model compares
    with the base). A greedy evaluation of GRPO compares with the greedy one of SFT, a sampled with the
    sampled."""
    stages = recipe_stages(run_dir) or []
    parents = lineage(run_dir, stages)
    by_name = {s["name"]: s for s in stages}
    protocol = _decoding(by_name.get(eval_stage, {}))
    evaluators = {parents[s["name"]][0]: s["name"] for s in stages
                  if s.get("kind") == "eval" and parents[s["name"]] and _decoding(s) == protocol}
    evaluated = (parents.get(eval_stage) or [None])[0]
    found, frontier, seen = [], list(parents.get(evaluated, [])), set()
    while frontier:
        stage = frontier.pop(0)
        if stage in seen:
            continue
        seen.add(stage)
        if stage in evaluators:
            found.append(evaluators[stage])
        else:
            frontier.extend(parents.get(stage, []))
    return found


def gain_rows(runs: list[tuple[str, dict]]) -> tuple[list[str], list[list[str]]]:
    """Each evaluated model's paired gain over the evaluated model it was trained from, per benchmark
    and mode (points, 95 % CI, McNemar p); runs outside a pipeline run have no lineage and no row."""
    header = ["run", "trained from", "benchmark", "mode", "n paired", "gain (points)", "95 % CI", "McNemar p"]
    cells = {}
    for label, results in runs:
        body = next(iter(results.values()))
        stage_dir = Path(body.get("_dir", "")).parent
        cells[(stage_dir.parent.resolve(), stage_dir.name)] = (label, results)
    rows = []
    for (run_dir, stage), (label, results) in cells.items():
        for parent in trained_from(run_dir, stage):
            if (run_dir, parent) not in cells:
                continue
            parent_label, parent_results = cells[(run_dir, parent)]
            for key in sorted(set(parent_results) & set(results)):
                before, after = _per_item(parent_results[key]), _per_item(results[key])
                if before is None or after is None:
                    continue
                s = stability(before, after, BOOTSTRAP)
                if s["n"] == 0:
                    continue
                rows.append([label, parent_label, key[0], key[1], str(s["n"]), f"{100 * s['delta']:+.1f}",
                             f"[{100 * s['ci_low']:+.1f}, {100 * s['ci_high']:+.1f}]",
                             "–" if s["mcnemar_p"] is None else f"{s['mcnemar_p']:.3g}"])
    return header, rows


def baseline_rows(run_dir: Path, *, episodes: bool) -> tuple[list[str], list[list[str]]]:
    """Reference accuracies of the world's evaluation splits (from the manifest of a ``world`` stage, and of a
    ``heldout`` stage's extra test cases); with
    ``episodes`` (the run plays S4 episodes) also the episode gold's: how often it is the true condition,
    and the accuracy of the expert that ``env/sft_train.jsonl`` demonstrates, with its exams per episode."""
    header = ["split", "n", "chance %", "prior-only vs gold %", "Bayes-optimal (gold = truth) %"]
    if episodes:
        header += ["with every exam (episode gold = truth) %", "S4 expert vs episode gold % (exams / episode)"]
    rows = []
    for stage in recipe_stages(run_dir) or []:
        manifest = Path(run_dir) / stage["name"] / "manifest.json"
        if stage.get("kind") not in ("world", "heldout") or not manifest.is_file():
            continue
        accuracy = json.loads(manifest.read_text(encoding="utf-8")).get("accuracy", {})
        for split in ("validation", "test", "heldout"):
            figures = accuracy.get(split)
            if not figures or "prior_only_accuracy_vs_label" not in figures:
                continue
            row = [split, str(figures["num_cases"]), f"{100 * figures['chance_accuracy']:.1f}",
                   f"{100 * figures['prior_only_accuracy_vs_label']:.1f}", f"{100 * figures['bayes_optimal_accuracy']:.1f}"]
            if episodes:  # worlds built before the manifest recorded a figure show a dash
                row += [f"{100 * figures['bayes_optimal_accuracy_all_exams']:.1f}"
                        if "bayes_optimal_accuracy_all_exams" in figures else "–",
                        f"{100 * figures['expert_episode_accuracy']:.1f} ({figures['expert_episode_exams']:.2f})"
                        if "expert_episode_accuracy" in figures else "–"]
            rows.append(row)
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


def _in_run(path: str, run_dir: Path) -> str:
    """``path`` relative to the run when it lies inside it (a stage's output), else as given: a table quoted
    in the docs names the run's own files by stage, not by a machine-local path."""
    run, resolved = Path(run_dir).resolve(), Path(path).resolve()  # a relative path is relative to where the run ran
    return str(resolved.relative_to(run)) if resolved.is_relative_to(run) else str(path)


def _expert_path_cell(metrics: dict) -> str:
    """"share (on / off)" in percent, – for a stage without a world."""
    if "expert_path_rate" not in metrics:
        return "–"
    pct = lambda v: "–" if v is None else f"{100 * v:.1f}"  # noqa: E731
    return (f"{pct(metrics['expert_path_rate'])} ({pct(metrics['accuracy_on_expert_path'])} / "
            f"{pct(metrics['accuracy_off_expert_path'])})")


def sampling_label(sampling: dict) -> str:
    """How an episodes stage sampled, for a table cell: ``T 1.0``, with ``, top-p 0.95`` when its nucleus is
    not the whole distribution (stages recorded before ``top_p`` existed sampled all of it)."""
    nucleus = "" if sampling.get("top_p", 1.0) == 1.0 else f", top-p {sampling['top_p']}"
    return f"T {sampling.get('temperature')}{nucleus}"


def episode_rows(run_dir: Path) -> tuple[list[str], list[list[str]]]:
    """One row per ``episodes`` stage (WiNGPT-3.0 S4 environment evaluation), in recipe order. "its exams
    read by Bayes" is the accuracy a perfect reader of the results of the exams the model ordered would
    reach (``exam_choice_accuracy``; – when the stage had no ``world``); then how often it ordered the
    label-blind expert's exams, with its accuracy on those episodes and on the rest. A sampled stage's
    accuracy is pass@1 at its temperature (its CI a bootstrap over cases), and its episode count says how
    many per case."""
    header = ["stage", "model", "cases", "episodes", "accuracy % [95 % CI]", "its exams read by Bayes %",
              "expert's exams % (accuracy on / off them)", "exams / episode", "key-exam coverage %",
              "exam cost / episode", "answered %"]
    rows = []
    for stage in recipe_stages(run_dir) or []:
        path = Path(run_dir) / stage["name"] / "results.json"
        if stage.get("kind") != "episodes" or not path.is_file():
            continue
        m = json.loads(path.read_text(encoding="utf-8"))["metrics"]
        low, high = m["accuracy_ci95"]
        config = stage.get("config") or {}
        sampling = config.get("sampling")
        per_case = f" ({sampling.get('num_samples')} per case at {sampling_label(sampling)})" if sampling else ""
        episodes = f"{m['num_episodes']}{per_case}"
        rows.append([stage["name"], _in_run(config.get("model", "?"), run_dir), _in_run(config.get("cases", "?"), run_dir),
                     episodes,
                     f"{100 * m['accuracy']:.1f} [{100 * low:.1f}, {100 * high:.1f}]",
                     f"{100 * m['exam_choice_accuracy']:.1f}" if "exam_choice_accuracy" in m else "–",
                     _expert_path_cell(m),
                     f"{m['mean_exams']:.2f}",
                     f"{100 * m['mean_key_exam_coverage']:.1f}", f"{m['mean_exam_cost']:.2f}",
                     f"{100 * m['answered_rate']:.1f}"])
    return header, rows


def episode_exam_rows(run_dir: Path) -> tuple[list[str], list[list[str]]]:
    """One row per ``episodes`` stage, in recipe order, splitting its episodes by the number of exams ordered:
    per count, the accuracy, the accuracy a perfect reader of those exams would reach (``exam_choice_correct``;
    – when the stage had no ``world``) and the number of episodes. Where the two part, the model loses results
    it asked for; read from each stage's ``predictions.jsonl``."""
    per_stage = []
    for stage in recipe_stages(run_dir) or []:
        path = Path(run_dir) / stage["name"] / "predictions.jsonl"
        if stage.get("kind") != "episodes" or not path.is_file():
            continue
        groups: dict[int, list[dict]] = {}
        for line, record in read_jsonl(path):
            if not isinstance(record.get("num_exams"), int) or not isinstance(record.get("correct"), bool):
                raise InputError(path, "an episode needs an integer 'num_exams' and a boolean 'correct'", line=line)
            groups.setdefault(record["num_exams"], []).append(record)
        per_stage.append((stage["name"], groups))
    counts = sorted({count for _, groups in per_stage for count in groups})
    header = ["stage", *(f"{count} exam{'' if count == 1 else 's'}: accuracy / read by Bayes % (episodes)"
                         for count in counts)]
    rows = []
    for name, groups in per_stage:
        cells = []
        for count in counts:
            group = groups.get(count, [])
            if not group:
                cells.append("–")
                continue
            share = lambda key: f"{100 * sum(bool(r[key]) for r in group) / len(group):.1f}"  # noqa: E731
            bayes = share("exam_choice_correct") if all("exam_choice_correct" in r for r in group) else "–"
            cells.append(f"{share('correct')} / {bayes} ({len(group)})")
        rows.append([name, *cells])
    return header, rows


def probe_rows(run_dirs: list[Path]) -> tuple[list[str], list[list[str]]]:
    """One row per ``probe`` stage per run, in recipe order: accuracy by option log-likelihood, raw and
    calibrated (:mod:`medreasoner.eval.probe`), over each subset the stage names and its complement; on
    a subset's row, its calibrated lure rate and margin (:func:`medreasoner.eval.probe.lure_summary`)."""
    header = ["run", "stage", "model", "subset", "n", "chance %", "raw % [95 % CI]", "calibrated % [95 % CI]",
              "lure % [95 % CI] (n)", "margin [95 % CI]"]
    rows = []
    for run_dir in run_dirs:
        for stage in recipe_stages(run_dir) or []:
            path = Path(run_dir) / stage["name"] / "probe.json"
            if stage.get("kind") != "probe" or not path.is_file():
                continue
            body = json.loads(path.read_text(encoding="utf-8"))
            model = str(((stage.get("config") or {}).get("model") or {}).get("path", "?"))
            for subset, scores in body["subsets"].items():
                if subset == "all" and len(body["subsets"]) > 1:
                    continue  # the subsets and their complements already cover every item
                cells = [f"{100 * s['accuracy']:.1f} [{100 * s['ci_low']:.1f}, {100 * s['ci_high']:.1f}]"
                         for s in (scores["raw"], scores["calibrated"])]
                lure = (body.get("lures") or {}).get(subset, {}).get("calibrated")
                lure_cells = ["–", "–"] if lure is None or not lure["n"] else [
                    f"{100 * lure['rate']:.1f} [{100 * lure['ci_low']:.1f}, {100 * lure['ci_high']:.1f}] ({lure['n']})",
                    f"{100 * lure['margin']:+.1f} [{100 * lure['margin_ci_low']:+.1f}, {100 * lure['margin_ci_high']:+.1f}]"]
                rows.append([Path(run_dir).name, stage["name"], model, subset, str(scores["raw"]["n"]),
                             f"{100 * scores['raw']['chance']:.1f}", *cells, *lure_cells])
    return header, rows
