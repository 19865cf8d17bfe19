"""The report's training sections: logged curves per training stage and pass@1 / pass@k of sampling stages.

A hand-written pipeline run: a GRPO stage with 8 logged steps whose reward rises from 0.2 to 0.9, and a
``generate`` stage with 3 questions x 4 samples whose correct counts are 4, 1 and 0 (pass@1 = 5/12,
pass@k = 2/3), graded by the real diagnosis verifier.
"""

from __future__ import annotations

import json

import pytest
import yaml
from eval_support import ScriptedBackend, write_medqa

from medreasoner.cli import main
from medreasoner.errors import InputError
from medreasoner.eval.generation import GenerationSettings
from medreasoner.eval.runner import EvalRequest, run_eval
from medreasoner.eval.report import SAMPLED_EPISODES_NOTE
from medreasoner.eval.report_pipeline import episode_rows
from medreasoner.eval.report_training import curve_rows, pass_at_k, sampling_rows


def _pool_row(index: int) -> dict:
    return {"id": f"q{index}", "question": f"Case {index}: what is the most likely diagnosis?", "options": {},
            "gold": {"text": "Influenza"}, "verifier": "diagnosis", "meta": {"synonyms": ["flu"]},
            "domain": "medical", "language": "en", "reference": "\\boxed{Influenza}", "source": "world"}


def _run(tmp_path):
    run = tmp_path / "run"
    stages = [{"name": "grpo", "kind": "grpo", "config": {}},
              {"name": "rollouts", "kind": "generate", "config": {"num_samples": 4, "prompt": "answer", "model": "m"}}]
    (run / "grpo").mkdir(parents=True)
    (run / "rollouts").mkdir()
    (run / "recipe.yaml").write_text(yaml.safe_dump({"name": "t", "seed": 0, "stages": stages}))
    log = [{"step": s, "reward": 0.2 + 0.1 * s, "entropy": 1.0 - 0.05 * s, "loss": 0.0} for s in range(8)]
    log.append({"step": 8, "train_runtime": 3.0, "train_loss": 0.0})  # the closing summary is not a step
    (run / "grpo" / "metrics.jsonl").write_text("".join(json.dumps(e) + "\n" for e in log))
    answers = {0: ["\\boxed{Influenza}"] * 4, 1: ["\\boxed{flu}", "\\boxed{Migraine}", "", "The answer is not influenza."],
               2: ["\\boxed{Asthma}"] * 4}
    rows = [{**_pool_row(q), "sample": s, "response": text} for q, texts in answers.items() for s, text in enumerate(texts)]
    (run / "rollouts" / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return run


def test_curve_rows_average_first_and_last_quarter_of_logged_steps(tmp_path):
    header, rows = curve_rows(_run(tmp_path))
    by_metric = {row[1]: row for row in rows if row[0] == "grpo"}
    assert set(by_metric) == {"reward", "entropy"}  # metrics the run did not log are skipped
    assert by_metric["reward"][2] == "0–7"
    assert float(by_metric["reward"][3]) == pytest.approx(0.25)  # steps 0, 1
    assert float(by_metric["reward"][4]) == pytest.approx(0.85)  # steps 6, 7


def test_pass_at_k_grades_every_sample_with_the_verifier(tmp_path):
    figures = pass_at_k(_run(tmp_path) / "rollouts" / "data.jsonl")
    assert figures == {"questions": 3, "k": 4, "pass@1": pytest.approx(5 / 12), "pass@k": pytest.approx(2 / 3)}


def test_stages_sampling_the_same_input_are_scored_on_the_questions_they_share(tmp_path):
    """The SFT model's rollouts cover 3 questions, the GRPO model's only the first 2 (all correct):
    both rows are on those 2, so they differ by the model alone."""
    run = _run(tmp_path)
    recipe = yaml.safe_load((run / "recipe.yaml").read_text())
    recipe["stages"][1]["config"]["input"] = "pool.jsonl"
    recipe["stages"].append({"name": "rollouts_grpo", "kind": "generate",
                             "config": {"num_samples": 4, "prompt": "answer", "model": "g", "input": "pool.jsonl"}})
    (run / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    (run / "rollouts_grpo").mkdir()
    rows = [{**_pool_row(q), "sample": s, "response": "\\boxed{Influenza}"} for q in (0, 1) for s in range(4)]
    (run / "rollouts_grpo" / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert sampling_rows(run)[1] == [["rollouts", "m", "answer", "2", "4", "62.5", "100.0"],
                                     ["rollouts_grpo", "g", "answer", "2", "4", "100.0", "100.0"]]


def test_sampled_episodes_stages_get_pass_at_k_rows(tmp_path):
    """A sampled S4 episodes stage is a sampling row (cases are its questions, the environment's grade its
    outcome); a greedy one is not; a malformed episode is refused with its line."""
    run = _run(tmp_path)
    recipe = yaml.safe_load((run / "recipe.yaml").read_text())
    episodes = {"model": "sft", "cases": "w/env/validation.jsonl"}
    recipe["stages"] += [{"name": "episodes_sampled", "kind": "episodes",
                          "config": {**episodes, "sampling": {"num_samples": 2, "temperature": 1.0, "top_p": 1.0}}},
                         {"name": "episodes_greedy", "kind": "episodes", "config": {**episodes, "sampling": None}}]
    (run / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    outcomes = {"a": [True, True], "b": [False, True], "c": [False, False]}
    for stage in ("episodes_sampled", "episodes_greedy"):
        (run / stage).mkdir()
        rows = [{"id": case, "correct": c, "sample": s, "num_exams": 1}
                for case, cs in outcomes.items() for s, c in enumerate(cs)]
        (run / stage / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    # episodes played before answers were recorded: no maj@k, and no column for it
    assert sampling_rows(run) == (["stage", "model", "prompt", "questions", "k", "pass@1 %", "pass@k %"],
                                  [["rollouts", "m", "answer", "3", "4", "41.7", "66.7"],
                                   ["episodes_sampled", "sft", "episodes at T 1.0", "3", "2", "50.0", "66.7"]])
    # with answers (3 per case): maj@3 is a wrong (Croup in two wordings), b right, c wrong (silent twice),
    # unlike pass@1 (4/9) and pass@3 (3/3); a nucleus below 1 is named
    voted = {"a": [(True, "Asthma"), (False, "Croup"), (False, "croup.")],
             "b": [(True, "Asthma"), (True, "asthma"), (False, "Croup")],
             "c": [(False, None), (False, None), (True, "Asthma")]}
    rows = [{"id": case, "correct": c, "sample": s, "num_exams": 1, "answer": answer}
            for case, episodes in voted.items() for s, (c, answer) in enumerate(episodes)]
    (run / "episodes_sampled" / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    recipe["stages"][-2]["config"]["sampling"]["top_p"] = 0.95
    (run / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    header, rows = sampling_rows(run)
    assert header[-1] == "maj@k %" and rows[0][-1] == "–"  # the rollouts have no vote
    assert rows[1] == ["episodes_sampled", "sft", "episodes at T 1.0, top-p 0.95", "3", "3", "44.4", "100.0", "33.3"]
    # its row in the episodes table says how it was played, and the report says what its accuracy is
    metrics = {"num_episodes": 6, "accuracy": 0.5, "accuracy_ci95": [0.0, 1.0], "mean_exams": 1.0,
               "mean_key_exam_coverage": 0.5, "mean_exam_cost": 2.0, "answered_rate": 1.0}
    for stage in ("episodes_sampled", "episodes_greedy"):
        (run / stage / "results.json").write_text(json.dumps({"metrics": metrics}))
    assert [row[3] for row in episode_rows(run)[1]] == ["6 (2 per case at T 1.0, top-p 0.95)", "6"]
    assert main(["report", str(run), "--output", str(tmp_path / "report")]) == 0
    assert SAMPLED_EPISODES_NOTE in (tmp_path / "report" / "summary.md").read_text()
    assert "maj@k = the answer most samples gave is right" in (tmp_path / "report" / "report.md").read_text()
    (run / "episodes_sampled" / "predictions.jsonl").write_text('{"id": "a", "correct": 1}\n')
    with pytest.raises(InputError, match="an episode needs a string 'id' and a boolean 'correct'"):
        sampling_rows(run)


def test_report_shows_training_sections(tmp_path):
    run = _run(tmp_path)
    assert sampling_rows(run)[1] == [["rollouts", "m", "answer", "3", "4", "41.7", "66.7"]]
    settings = GenerationSettings(max_new_tokens=8, temperature=0.0, top_p=1.0,
                                  seed=0, thinking_budget=None, batch_size=2)
    request = EvalRequest(benchmark="medqa", data=write_medqa(tmp_path / "medqa.jsonl", 2), mode="answer", limit=None,
                          output=run / "eval", prompt_style="chat", igakuqa_prompts=None, grading="normalized",
                          settings=settings, num_samples=1)
    run_eval(request, ScriptedBackend({}), show_progress=False)  # a report needs one evaluated model
    assert main(["report", str(run), "--output", str(tmp_path / "report")]) == 0
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "## Training curves (run)" in markdown and "## Sampling headroom (run)" in markdown
    assert "maj@k" not in markdown  # rollouts alone: no vote column, and no caption for one


def test_environment_run_reports_its_episodes(tmp_path):
    """A run whose only evaluation is an ``episodes`` stage (S4) is reportable: accuracy with its CI, what
    its exams were worth read by the world's Bayes decision (when scored), and the exams requested per
    episode, in recipe order."""
    run = tmp_path / "run"
    cases = str(run / "world/env/validation.jsonl")  # a file of the run: named relative to it in the table
    stages = [{"name": "episodes_sft", "kind": "episodes", "config": {"model": "sft", "cases": cases}},
              {"name": "episodes_grpo", "kind": "episodes", "config": {"model": "grpo", "cases": cases}}]
    run.mkdir()
    (run / "recipe.yaml").write_text(yaml.safe_dump({"name": "t", "seed": 0, "stages": stages}))
    for name, correct, exams in (("episodes_grpo", 30, 2.5), ("episodes_sft", 20, 1.25)):
        (run / name).mkdir()
        metrics = {"num_episodes": 40, "accuracy": correct / 40, "accuracy_ci95": [0.1, 0.9], "mean_exams": exams,
                   "mean_key_exam_coverage": 0.5, "mean_exam_cost": 3.0, "answered_rate": 1.0}
        if name == "episodes_sft":  # scored against its world; the GRPO stage was not
            metrics.update(exam_choice_accuracy=0.875, expert_path_rate=0.5, accuracy_on_expert_path=0.75,
                           accuracy_off_expert_path=0.25)
        (run / name / "results.json").write_text(json.dumps({"metrics": metrics}))
    assert main(["report", str(run), "--output", str(tmp_path / "report")]) == 0
    section = (tmp_path / "report" / "report.md").read_text().split("## Diagnostic-chain episodes (run)")[1]
    rows = [line for line in section.splitlines() if line.startswith("| episodes_")]
    assert rows[0].startswith("| episodes_sft | sft | world/env/validation.jsonl | 40 | 50.0 [10.0, 90.0] | 87.5 | 50.0 (75.0 / 25.0) | 1.25 |")
    assert rows[1].startswith("| episodes_grpo | grpo | world/env/validation.jsonl | 40 | 75.0 [10.0, 90.0] | – | – | 2.50 |")
