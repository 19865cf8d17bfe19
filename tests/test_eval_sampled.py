"""Sampled evaluation (``num_samples`` k > 1): k answers per item, pass@1 as the mean share of right
samples, pass@k, resume per (item, sample), and paired comparisons of shares without McNemar.

Run: .venv/bin/python -m pytest tests/test_eval_sampled.py -q   (seconds; a scripted backend, no model)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from medreasoner.errors import InputError
from medreasoner.eval.findings import Cell, Contrast, evaluate_contrast
from medreasoner.eval.report import write_report
from medreasoner.eval.report_pipeline import trained_from
from medreasoner.eval.generation import Completion, GenerationSettings
from medreasoner.benchmarks.item import Item
from medreasoner.eval.metrics import BOOTSTRAP, majority_score, sampled_accuracy_block, stability
from medreasoner.eval.predictions import correct_by_id
from medreasoner.eval.runner import EvalRequest, run_eval
from medreasoner.stages import load_stage
from medreasoner.stages.evaluate import headline_metrics
from medreasoner.verify import grade
from medreasoner.verify.result import vote_key

IDS = ["q1", "q2", "q3", "q4"]
SAMPLED = GenerationSettings(max_new_tokens=8, temperature=0.6, top_p=0.95, seed=10, thinking_budget=None,
                             batch_size=3)
# The scripted answer of each item in each generation pass, by the pass's seed (10 + sample): q1 is
# always right, q2 right in one sample of three, q3 never, q4 right in two.
SCRIPT = {10: "AABA", 11: "ABBA", 12: "ABBB"}
EXPECTED_SHARE = {"q1": 1.0, "q2": 1 / 3, "q3": 0.0, "q4": 2 / 3}


class ScriptedBackend:
    """Answers item i of the prompts with the letter ``script[seed][i]``; logs (seed, question) per prompt."""

    def __init__(self, script: dict[int, str] = SCRIPT):
        self.script = script
        self.calls: list[tuple[int, str]] = []

    def describe(self) -> dict:
        return {"backend": "scripted", "model": "m"}

    def generate(self, prompts, settings, on_batch=None):
        completions = []
        for prompt in prompts:
            question = prompt.messages[-1]["content"]
            index = next(i for i, item in enumerate(IDS) if f"Question {item}?" in question)
            self.calls.append((settings.seed, IDS[index]))
            completions.append(Completion(f"Answer: {self.script[settings.seed][index]}", 10, 3, 0.01, "stop"))
        on_batch(list(range(len(prompts))), completions)
        return completions


def write_mcq(path: Path) -> Path:
    rows = [{"id": i, "question": f"Question {i}?", "options": {"A": "yes", "B": "no"}, "answer": "A"} for i in IDS]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def request(data: Path, output: Path, **changes) -> EvalRequest:
    fields = dict(benchmark="mcq", data=data, mode="answer", limit=None, output=output, prompt_style="chat",
                  igakuqa_prompts=None, grading="normalized", settings=SAMPLED, num_samples=3)
    return EvalRequest(**{**fields, **changes})


def test_each_item_is_answered_k_times_and_scored_by_its_share_of_right_samples(tmp_path):
    backend = ScriptedBackend()
    results = run_eval(request(write_mcq(tmp_path / "mcq.jsonl"), tmp_path / "out"), backend, show_progress=False)
    body = results["answer"]
    lines = [json.loads(x) for x in (tmp_path / "out" / "mcq_answer" / "predictions.jsonl").read_text().splitlines()]
    assert sorted((line["id"], line["sample"]) for line in lines) == [(i, s) for i in IDS for s in range(3)]
    assert sorted(backend.calls) == sorted((10 + s, i) for i in IDS for s in range(3))  # a pass per sample, seeded
    assert body["correct_by_id"] == pytest.approx(EXPECTED_SHARE)
    metrics = body["metrics"]
    assert metrics["accuracy"] == pytest.approx(sum(EXPECTED_SHARE.values()) / 4)  # pass@1 = 0.5
    assert metrics["pass_at_k"] == 0.75 and metrics["num_samples"] == 3 and metrics["n"] == 4
    assert metrics["maj_at_k"] == 0.5  # q1 AAA and q4 AAB vote right; q2 ABB and q3 BBB vote wrong
    assert metrics["n_correct"] == 6 and metrics["ci_low"] < metrics["accuracy"] < metrics["ci_high"]
    assert body["generation"]["num_samples"] == 3 and body["generation"]["top_p"] == 0.95
    assert [s["n"] for s in body["summary"]["per_sample"]] == [4, 4, 4]
    assert correct_by_id(tmp_path / "out" / "mcq_answer" / "predictions.jsonl") == pytest.approx(EXPECTED_SHARE)
    assert headline_metrics("mcq", results) == {"mcq/answer/accuracy": 0.5, "mcq/answer/no_answer_rate": 0.0,
                                                "mcq/answer/pass_at_k": 0.75, "mcq/answer/maj_at_k": 0.5}


def test_a_resumed_run_generates_only_the_missing_samples(tmp_path):
    data, output = write_mcq(tmp_path / "mcq.jsonl"), tmp_path / "out"
    first = run_eval(request(data, output), ScriptedBackend(), show_progress=False)["answer"]
    path = output / "mcq_answer" / "predictions.jsonl"
    lines = path.read_text().splitlines()
    kept = [x for x in lines if not (json.loads(x)["sample"] == 2 and json.loads(x)["id"] in ("q2", "q4"))]
    path.write_text("".join(x + "\n" for x in kept))
    backend = ScriptedBackend()
    again = run_eval(request(data, output), backend, show_progress=False)["answer"]
    assert sorted(backend.calls) == [(12, "q2"), (12, "q4")]
    assert again["metrics"] == first["metrics"] and again["correct_by_id"] == first["correct_by_id"]


def test_a_resume_with_another_sample_count_or_greedy_sampling_is_refused(tmp_path):
    data, output = write_mcq(tmp_path / "mcq.jsonl"), tmp_path / "out"
    run_eval(request(data, output), ScriptedBackend(), show_progress=False)
    with pytest.raises(InputError, match="other settings"):
        run_eval(request(data, output, num_samples=2), ScriptedBackend(), show_progress=False)
    greedy = GenerationSettings(max_new_tokens=8, temperature=0.0, top_p=1.0, seed=10, thinking_budget=None,
                                batch_size=3)
    with pytest.raises(ValueError, match="num_samples 3: give 1, or more with a temperature above 0"):
        run_eval(request(data, tmp_path / "greedy", settings=greedy), ScriptedBackend(), show_progress=False)


def test_a_subset_resumed_after_its_superset_reuses_the_superset_answers(tmp_path):
    data = write_mcq(tmp_path / "mcq.jsonl")
    subset = tmp_path / "subset.jsonl"
    subset.write_text("".join(data.read_text().splitlines(keepends=True)[1:3]))  # q2, q3
    run_eval(request(data, tmp_path / "out", name="all"), ScriptedBackend(), show_progress=False)
    backend, shared = ScriptedBackend(), {}  # a new stage process: nothing in memory
    run_eval(request(data, tmp_path / "out", name="all"), backend, show_progress=False, shared=shared)
    part = run_eval(request(subset, tmp_path / "out", name="part"), backend, show_progress=False, shared=shared)
    assert backend.calls == [] and part["answer"]["correct_by_id"] == pytest.approx({"q2": 1 / 3, "q3": 0.0})


def test_every_item_the_same_share_gets_a_wilson_interval_not_a_point():
    block = sampled_accuracy_block([[True, True]] * 10, [[1.0, 1.0]] * 10, [[True, True]] * 10, [["A", "A"]] * 10,
                                   BOOTSTRAP)
    assert block["accuracy"] == 1.0 and block["ci_high"] == 1.0 and 0.6 < block["ci_low"] < 0.8
    assert block["interval"]["method"].startswith("wilson")


def test_shares_are_compared_without_mcnemar_and_right_or_wrong_with_it():
    shares = stability({"a": 0.5, "b": 1.0}, {"a": 1.0, "b": 1.0}, BOOTSTRAP)
    assert shares["delta"] == pytest.approx(0.25) and shares["mcnemar_p"] is None and shares["flips_to_right"] is None
    binary = stability({"a": False, "b": True}, {"a": True, "b": True}, BOOTSTRAP)
    assert binary["mcnemar_p"] == 1.0 and binary["flips_to_right"] == 1


def test_the_eval_stage_requires_sampling_for_several_samples():
    config = load_stage("eval").Config
    base = {"model": "m", "backend": "hf", "dtype": "auto", "mode": "answer", "prompt_style": "chat",
            "grading": "normalized", "benchmarks": [{"name": "mcq", "data": "d.jsonl", "limit": None,
                                                     "igakuqa_prompts": None}]}
    generation = {"max_new_tokens": 4, "temperature": 0.6, "top_p": 0.95, "num_samples": 8, "batch_size": 4,
                  "thinking_budget": None}
    assert config.model_validate({**base, "generation": generation}).generation.num_samples == 8
    with pytest.raises(ValueError, match="num_samples above 1 needs a temperature above 0"):
        config.model_validate({**base, "generation": {**generation, "temperature": 0.0}})
    with pytest.raises(ValueError, match="top_p"):
        config.model_validate({**base, "generation": {**generation, "top_p": 0.0}})


def sampled_run(tmp_path: Path) -> Path:
    """A pipeline run whose SFT and GRPO models are each evaluated greedily and sampled 3 times."""
    run = tmp_path / "run"
    sampled = {"temperature": 0.6, "top_p": 0.95, "num_samples": 3}
    greedy = {"temperature": 0.0, "top_p": 1.0, "num_samples": 1}
    evals = [(name, model, protocol) for model in ("sft", "grpo")
             for name, protocol in ((f"eval_{model}", greedy), (f"eval_{model}_sampled", sampled))]
    stages = [{"name": "sft", "kind": "sft", "config": {"model": {"path": "base"}}},
              {"name": "grpo", "kind": "grpo", "config": {"model": {"path": str(run / "sft")}}},
              *({"name": name, "kind": "eval", "config": {"model": str(run / model), "generation": protocol}}
                for name, model, protocol in evals)]
    run.mkdir()
    (run / "recipe.yaml").write_text(yaml.safe_dump({"name": "t", "seed": 0, "stages": stages}))
    data = write_mcq(tmp_path / "mcq.jsonl")
    # SFT's samples: the shares of SCRIPT (pass@1 0.5); GRPO's: q2 now right in every sample (pass@1 2/3)
    scripts = {"sft": SCRIPT, "grpo": {10: "AABA", 11: "AABA", 12: "AABB"}}
    for name, model, protocol in evals:
        settings = GenerationSettings(max_new_tokens=8, temperature=protocol["temperature"], top_p=protocol["top_p"],
                                      seed=10, thinking_budget=None, batch_size=3)
        run_eval(request(data, run / name, settings=settings, num_samples=protocol["num_samples"]),
                 ScriptedBackend(scripts[model]), show_progress=False)
    return run


def test_gains_and_findings_pair_stages_that_decoded_alike(tmp_path):
    run = sampled_run(tmp_path)
    assert trained_from(run, "eval_grpo") == ["eval_sft"]
    assert trained_from(run, "eval_grpo_sampled") == ["eval_sft_sampled"]
    contrast = Contrast(name="GRPO vs SFT, sampled", benchmark="mcq", target="> 0",
                        control=Cell(stage="eval_sft_sampled", mode="answer"),
                        treatment=Cell(stage="eval_grpo_sampled", mode="answer"))
    seed = evaluate_contrast([run], contrast)["per_seed"][0]
    assert seed["control"] == pytest.approx(0.5) and seed["treatment"] == pytest.approx(2 / 3)
    assert seed["effect"] == pytest.approx(1 / 6) and seed["mcnemar_p"] is None
    write_report([run], tmp_path / "report", labels=None)
    text = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "50.0 [" in text and "] pass@1 of 3" in text and "A cell marked pass@1" in text
    gains = [line for line in text.splitlines() if line.startswith("| run/eval_grpo_sampled | run/")]
    assert len(gains) == 1 and gains[0].startswith("| run/eval_grpo_sampled | run/eval_sft_sampled |")
    assert "| +16.7 |" in gains[0] and gains[0].endswith("| – |")
    mixed = contrast.model_copy(update={"control": Cell(stage="eval_sft", mode="answer")})
    with pytest.raises(InputError, match="sampled each item several times and the other did not"):
        evaluate_contrast([run], mixed)



def test_majority_vote_counts_right_samples_as_one_answer_and_scores_ties_by_expected_value():
    """maj@k: synonyms of the gold (all accepted by the check) vote together, a wrong name's spellings vote
    together by the name key, a tie scores the share of tied answers that are right, and no answer is a
    wrong vote (the rule the S4 episodes' maj@k uses)."""
    item = Item("d", "Diagnosis?", {}, "Myocardial infarction", "diagnosis", {"synonyms": ["MI"]})
    texts = [r"\boxed{MI}", r"\boxed{Myocardial infarction}", r"\boxed{Angina}", r"\boxed{angina.}", r"\boxed{Angina}"]
    grades = [grade(text, item) for text in texts]
    assert [vote_key(g) for g in grades] == [("<gold>",)] * 2 + ["angina"] * 3
    block = sampled_accuracy_block([[g.correct for g in grades[:4]], [g.correct for g in grades]],
                                   [[g.score for g in grades[:4]], [g.score for g in grades]],
                                   [[True] * 4, [True] * 5], [[vote_key(g) for g in grades[:4]], [vote_key(g) for g in grades]],
                                   BOOTSTRAP)
    assert block["maj_at_k"] == 0.25  # two right vs two Angina scores 1/2 whichever came first; then 3 Angina win
    reordered = [grades[2], grades[3], grades[0], grades[1]]
    assert majority_score([vote_key(g) for g in reordered], [g.correct for g in reordered]) == 0.5
    silent = grade("I cannot tell.", item)
    assert vote_key(silent) is None and not silent.correct
    empty = grade(r"\boxed{.}", item)  # extracted, but names nothing: no answer, as in an S4 episode
    assert empty.extracted is not None and vote_key(empty) is None
    # three silent samples outvote two right ones: answering less must not raise maj@k
    assert majority_score([None, None, None, ("<gold>",), ("<gold>",)], [False] * 3 + [True] * 2) == 0.0
    assert majority_score([None, ("<gold>",)], [False, True]) == 0.5


def test_item_and_episode_majorities_are_one_rule():
    from medreasoner.eval.episodes import majority_correct as episode_majority

    episodes = [{"correct": True, "answer": "Croup", "answer_condition": "c1"},
                {"correct": False, "answer": "Asthma", "answer_condition": "c2"},
                {"correct": False, "answer": None, "answer_condition": None},
                {"correct": False, "answer": None, "answer_condition": None}]
    assert episode_majority(episodes) == majority_score(["c1", "c2", None, None], [True, False, False, False]) == 0.0
    assert episode_majority(episodes[:2]) == 0.5


def test_a_gestational_age_votes_as_weeks_then_days():
    from medreasoner.benchmarks.item import GestationalAge
    from medreasoner.verify.result import all_or_nothing

    assert vote_key(all_or_nothing(GestationalAge(5, 3), False)) != vote_key(all_or_nothing(GestationalAge(3, 5), False))
