"""A fake pipeline run for the report tests: a recipe, a world manifest, a data step and two eval stages.

Two eval stages answer 8 MedQA-format items through a scripted backend, so every figure is known:
``eval_z_sft`` gets items 0-3 right, ``eval_a_rpo`` (later in the recipe, earlier alphabetically) gets
items 0-5 right: a paired gain of +25 points with 2 flips to right and none to wrong.
"""

from __future__ import annotations

import yaml
from eval_support import ScriptedBackend, write_medqa

from medreasoner.data.funnel import drop, write_step
from medreasoner.eval.generation import GenerationSettings
from medreasoner.eval.runner import EvalRequest, run_eval
from medreasoner.files import write_json_atomic

SETTINGS = GenerationSettings(max_new_tokens=8, temperature=0.0, top_p=1.0, seed=0, thinking_budget=None, batch_size=2)
GOLD = "ABCD"


def _script(right: range) -> dict:
    return {f"A {20 + 3 * k}-year-old": f"Answer: {GOLD[k % 4] if k in right else GOLD[(k + 1) % 4]}" for k in range(8)}


def pipeline_run(tmp_path):
    """The run directory ``tmp_path/run``, its stages and eval outputs written."""
    run = tmp_path / "run"
    run.mkdir()
    at = lambda name: str(run / name)  # noqa: E731 (resolved ${stage} paths, as recipe.yaml holds them)
    stages = [{"name": "world", "kind": "world"}, {"name": "dedup", "kind": "dedup"},
              {"name": "base", "kind": "tiny_model", "config": {}},
              {"name": "cpt", "kind": "cpt", "config": {"model": {"path": at("base")}}},
              {"name": "sft", "kind": "sft", "config": {"model": {"path": at("cpt")}}},
              {"name": "rpo", "kind": "preference", "config": {"model": {"path": at("sft")}}},
              {"name": "eval_z_sft", "kind": "eval", "config": {"model": at("sft")}},
              {"name": "eval_a_rpo", "kind": "eval", "config": {"model": at("rpo")}}]
    (run / "recipe.yaml").write_text(yaml.safe_dump({"name": "t", "seed": 0, "stages": stages}))
    write_json_atomic(run / "world/manifest.json", {"accuracy": {"test": {
        "num_cases": 8, "chance_accuracy": 0.25, "prior_only_accuracy_vs_label": 0.5, "bayes_optimal_accuracy": 0.8,
        "bayes_optimal_accuracy_all_exams": 0.9, "expert_episode_accuracy": 0.875, "expert_episode_exams": 1.25}}})
    rows = [{"id": str(i), "question": "q"} for i in range(5)]
    write_step(run / "dedup", "dedup", rows_in=5, kept=rows[:3],
               dropped=[drop(rows[3], "near_duplicate", "0"), drop(rows[4], "near_duplicate", "1")], input_path="p")
    data = write_medqa(tmp_path / "medqa.jsonl", 8)
    for stage, right in (("eval_z_sft", range(4)), ("eval_a_rpo", range(6))):
        request = EvalRequest(benchmark="medqa", data=data, mode="answer", limit=None, output=run / stage,
                              prompt_style="chat", igakuqa_prompts=None, grading="normalized", settings=SETTINGS,
                              num_samples=1)
        run_eval(request, ScriptedBackend(_script(right)), show_progress=False)
    return run



def seed_runs(tmp_path, n: int) -> list:
    """``n`` identical pipeline runs, one per seed directory."""
    for seed in range(n):
        (tmp_path / f"s{seed}").mkdir()
    return [pipeline_run(tmp_path / f"s{seed}") for seed in range(n)]
