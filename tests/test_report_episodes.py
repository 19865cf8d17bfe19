"""The report of S4 episodes stages: findings that pair greedy episodes or sampled cases (pass@1, pass@k,
majority vote), and the episode tables.
"""

from __future__ import annotations

import json

import pytest
import yaml
from report_testing import seed_runs

from medreasoner.cli import main
from medreasoner.files import write_json_atomic


def _episodes_stage(run, stage: str, correct: list[bool]) -> None:
    """A finished episodes stage of the run's recipe whose episode ``k`` is right when ``correct[k]`` is."""
    rows = [{"id": f"test-{k:06d}", "correct": right, "num_exams": 2} for k, right in enumerate(correct)]
    (run / stage).mkdir()
    (run / stage / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    accuracy = sum(correct) / len(correct)
    write_json_atomic(run / stage / "results.json", {"metrics": {
        "num_episodes": len(rows), "accuracy": accuracy, "accuracy_ci95": [0.0, 1.0], "mean_exams": 2.0,
        "mean_key_exam_coverage": 0.5, "mean_exam_cost": 3.0, "answered_rate": 1.0}})
    recipe = yaml.safe_load((run / "recipe.yaml").read_text())
    recipe["stages"].append({"name": stage, "kind": "episodes",
                             "config": {"model": str(run / "sft"), "cases": "/data/env/test.jsonl"}})
    (run / "recipe.yaml").write_text(yaml.safe_dump(recipe))


def test_findings_contrast_episodes_stages_episode_by_episode(tmp_path, capsys):
    runs = seed_runs(tmp_path, 2)
    for run, grpo in zip(runs, ([True, True, True, False], [True, False, False, False])):
        _episodes_stage(run, "episodes_sft", [True, False, False, False])
        _episodes_stage(run, "episodes_grpo", grpo)
    findings = tmp_path / "findings.yaml"
    findings.write_text("findings:\n  - name: s4\n    benchmark: episodes\n"
                        "    control: {stage: episodes_sft, episodes: final_diagnosis}\n"
                        "    treatment: {stage: episodes_grpo, episodes: final_diagnosis}\n"
                        "    target: t\n    check: {ci_low_above: 0}\n")
    out = tmp_path / "report"
    assert main(["report", *map(str, runs), "--output", str(out), "--findings", str(findings)]) == 0
    (result,) = json.loads((out / "findings.json").read_text())
    assert [s["effect"] for s in result["per_seed"]] == [0.5, 0.0] and result["pooled"]["effect"] == 0.25
    assert result["met"] is False  # 4 episodes a seed: some resamples of seed 0 gain nothing, so the CI reaches 0
    # What --embed quotes holds each run's episode table (exams requested), naming the run's own model by stage.
    summary = (out / "summary.md").read_text()
    assert "**Diagnostic-chain episodes (run).**" in summary and "**Reference lines (run).**" in summary
    assert "| test | 8 | 25.0 | 50.0 | 80.0 | 90.0 | 87.5 (1.25) |" in summary  # a run with episodes: the S4 columns
    assert "| episodes_grpo | sft | /data/env/test.jsonl | 4 | 75.0 [0.0, 100.0] | – | – | 2.00 | 50.0 | 3.00 | 100.0 |" in summary
    # An episodes cell is paired only with an episodes cell, under the benchmark that names them.
    findings.write_text(findings.read_text().replace("benchmark: episodes", "benchmark: medqa"))
    assert main(["report", *map(str, runs), "--output", str(out), "--findings", str(findings)]) == 2
    assert "benchmark 'episodes' goes with episodes cells, and only with them" in capsys.readouterr().err
    (runs[0] / "episodes_grpo" / "predictions.jsonl").write_text('{"id": "test-000000", "correct": "yes"}\n')
    findings.write_text(findings.read_text().replace("benchmark: medqa", "benchmark: episodes"))
    assert main(["report", *map(str, runs), "--output", str(out), "--findings", str(findings)]) == 2
    assert "predictions.jsonl:1: an episode needs a string 'id' and a boolean 'correct'" in capsys.readouterr().err
    # a sampled episodes stage (a case played several times) pairs with nothing: refused, naming the line
    (runs[0] / "episodes_grpo" / "predictions.jsonl").write_text(
        '{"id": "test-000000", "correct": true}\n{"id": "test-000000", "correct": false}\n')
    assert main(["report", *map(str, runs), "--output", str(out), "--findings", str(findings)]) == 2
    assert "predictions.jsonl:2: field 'id': episode 'test-000000' appears twice (a sampled episodes stage?)" in capsys.readouterr().err


def test_findings_contrast_sampled_episodes_per_case(tmp_path, capsys):
    """Sampled episodes stages pair per case: pass_at_1 the share of right episodes (no McNemar: shares are
    not right/wrong), pass_at_k whether any was right; a greedy stage is refused for them, and a contrast
    must score both sides alike."""
    (run,) = seed_runs(tmp_path, 1)
    sampled = {"episodes_sft_t1": [[True, False], [False, False], [True, True]],
               "episodes_grpo_t1": [[True, True], [False, False], [False, True]]}
    recipe = yaml.safe_load((run / "recipe.yaml").read_text())
    for stage, cases in sampled.items():
        rows = [{"id": f"test-{k:06d}", "correct": right, "num_exams": 1, "sample": s}
                for k, outcomes in enumerate(cases) for s, right in enumerate(outcomes)]
        (run / stage).mkdir()
        (run / stage / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        sampling = {"num_samples": 2, "temperature": 1.0, "top_p": 1.0}
        write_json_atomic(run / stage / "results.json", {"sampling": sampling, "metrics": {
            "num_episodes": 6, "accuracy": 0.5, "accuracy_ci95": [0.0, 1.0], "mean_exams": 1.0,
            "mean_key_exam_coverage": 0.5, "mean_exam_cost": 3.0, "answered_rate": 1.0}})
        recipe["stages"].append({"name": stage, "kind": "episodes", "config": {"model": "m", "cases": "c"}})
    (run / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    contrast = ("  - name: {score}\n    benchmark: episodes\n    control: {{stage: episodes_sft_t1, episodes: {score}}}\n"
                "    treatment: {{stage: episodes_grpo_t1, episodes: {score}}}\n    target: t\n")
    findings = tmp_path / "findings.yaml"
    findings.write_text("findings:\n" + contrast.format(score="pass_at_1") + contrast.format(score="pass_at_k"))
    out = tmp_path / "report"
    assert main(["report", str(run), "--output", str(out), "--findings", str(findings)]) == 0
    at1, atk = json.loads((out / "findings.json").read_text())
    # pass@1: control (0.5 + 0 + 1) / 3, treatment (1 + 0 + 0.5) / 3; per case +0.5, 0, -0.5
    assert at1["per_seed"][0]["control"] == pytest.approx(0.5) and at1["per_seed"][0]["treatment"] == pytest.approx(0.5)
    assert at1["pooled"]["effect"] == pytest.approx(0.0) and at1["per_seed"][0]["mcnemar_p"] is None
    assert atk["per_seed"][0]["control"] == pytest.approx(2 / 3) and atk["per_seed"][0]["mcnemar_p"] is not None
    summary = (out / "summary.md").read_text()
    assert "| pass_at_1 | run | 3 | 50.0 | 50.0 | +0.0 |" in summary
    assert "columns are mean pass@1" in summary  # the caption says what a sampled row's columns hold
    findings.write_text("findings:\n" + contrast.format(score="pass_at_1").replace(
        "{stage: episodes_grpo_t1, episodes: pass_at_1}", "{stage: episodes_grpo_t1, episodes: pass_at_k}"))
    assert main(["report", str(run), "--output", str(out), "--findings", str(findings)]) == 2
    assert "must be scored alike" in capsys.readouterr().err
    _episodes_stage(run, "episodes_sft", [True, False, True])  # greedy: no sampling in its results.json
    findings.write_text("findings:\n" + contrast.format(score="pass_at_1").replace("episodes_sft_t1", "episodes_sft"))
    assert main(["report", str(run), "--output", str(out), "--findings", str(findings)]) == 2
    assert "pass_at_1 needs a sampled episodes stage (sampling set); this one is greedy" in capsys.readouterr().err
    _episodes_stage(run, "episodes_grpo", [True, True, False])  # greedy rows only: the caption stays plain
    findings.write_text(contrast.format(score="final_diagnosis").replace("episodes_sft_t1", "episodes_sft")
                        .replace("episodes_grpo_t1", "episodes_grpo").replace("  - name", "findings:\n  - name"))
    assert main(["report", str(run), "--output", str(out), "--findings", str(findings)]) == 0
    summary = (out / "summary.md").read_text()
    assert "Effect = treatment − control accuracy" in summary and "pass@1" not in summary.split("| finding |")[0]


def test_findings_majority_pairs_each_case_by_its_vote(tmp_path, capsys):
    """episodes: majority scores a case by the answer most of its sampled episodes gave (maj@3 differs from
    pass@1 here): wordings of one wrong answer vote together, silence is a wrong vote, a three-way tie scores
    the share of tied answers that are right; no McNemar p; episodes without answers are refused."""
    (run,) = seed_runs(tmp_path, 1)
    right, wrong = (True, "Asthma"), (False, "Croup")
    sampled = {"episodes_sft_s": [[right, wrong, (False, "croup.")],  # Croup twice: 0 (pass@1 1/3)
                                  [right, (True, "asthma"), wrong],  # 1
                                  [(False, None), (False, None), right]],  # silence twice: 0
               "episodes_grpo_s": [[right, right, wrong], [right, right, right],
                                   [right, wrong, (False, None)]]}  # 1, 1, a three-way tie: 1/3
    recipe = yaml.safe_load((run / "recipe.yaml").read_text())
    for stage, cases in sampled.items():
        rows = [{"id": f"test-{k:06d}", "correct": c, "answer": answer, "num_exams": 1, "sample": s}
                for k, episodes in enumerate(cases) for s, (c, answer) in enumerate(episodes)]
        (run / stage).mkdir()
        (run / stage / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        write_json_atomic(run / stage / "results.json", {"sampling": {"num_samples": 3, "temperature": 0.6,
                                                                      "top_p": 0.95}, "metrics": {
            "num_episodes": 9, "accuracy": 0.5, "accuracy_ci95": [0.0, 1.0], "mean_exams": 1.0,
            "mean_key_exam_coverage": 0.5, "mean_exam_cost": 3.0, "answered_rate": 1.0}})
        recipe["stages"].append({"name": stage, "kind": "episodes", "config": {"model": "m", "cases": "c"}})
    (run / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    findings = tmp_path / "findings.yaml"
    findings.write_text("findings:\n  - name: maj\n    benchmark: episodes\n"
                        "    control: {stage: episodes_sft_s, episodes: majority}\n"
                        "    treatment: {stage: episodes_grpo_s, episodes: majority}\n    target: t\n")
    out = tmp_path / "report"
    assert main(["report", str(run), "--output", str(out), "--findings", str(findings)]) == 0
    (majority,) = json.loads((out / "findings.json").read_text())
    seed = majority["per_seed"][0]
    assert seed["control"] == pytest.approx(1 / 3) and seed["treatment"] == pytest.approx(7 / 9)
    assert seed["mcnemar_p"] is None and majority["pooled"]["effect"] == pytest.approx(4 / 9)
    # an episode without its answer (played before answers were recorded) cannot vote: its line is named
    rows = (run / "episodes_sft_s" / "predictions.jsonl").read_text().splitlines()
    rows[3] = json.dumps({k: v for k, v in json.loads(rows[3]).items() if k != "answer"})
    (run / "episodes_sft_s" / "predictions.jsonl").write_text("\n".join(rows) + "\n")
    assert main(["report", str(run), "--output", str(out), "--findings", str(findings)]) == 2
    error = capsys.readouterr().err
    assert "predictions.jsonl:4: field 'answer': a majority vote needs each episode's 'answer'" in error


def test_episodes_are_split_by_the_exams_ordered(tmp_path, capsys):
    (run,) = seed_runs(tmp_path, 1)
    _episodes_stage(run, "episodes_sft", [True, False, True, False])
    # episodes with 0, 1, 1 and 3 exams; a perfect reader of the same exams gets all but the first right
    rows = [{"id": f"test-{k:06d}", "correct": right, "num_exams": exams, "exam_choice_correct": k > 0}
            for k, (right, exams) in enumerate(zip([True, False, True, False], [0, 1, 1, 3]))]
    (run / "episodes_sft" / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "report"
    assert main(["report", str(run), "--output", str(out)]) == 0
    report = (out / "report.md").read_text()
    assert "| stage | 0 exams: accuracy / read by Bayes % (episodes) | 1 exam: accuracy / read by Bayes % (episodes) " \
           "| 3 exams: accuracy / read by Bayes % (episodes) |" in report
    assert "| episodes_sft | 100.0 / 0.0 (1) | 50.0 / 100.0 (2) | 0.0 / 100.0 (1) |" in report
    (run / "episodes_sft" / "predictions.jsonl").write_text('{"id": "test-000000", "correct": true}\n')
    assert main(["report", str(run), "--output", str(out)]) == 2
    assert "predictions.jsonl:1: an episode needs an integer 'num_exams'" in capsys.readouterr().err
