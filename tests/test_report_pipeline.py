"""The report of a pipeline run: stages in recipe order, gains over the parent model, baselines, the data funnel.

Two eval stages answer 8 MedQA-format items through a scripted backend, so every figure is known:
``eval_z_sft`` gets items 0-3 right, ``eval_a_rpo`` (later in the recipe, earlier alphabetically) gets
items 0-5 right: a paired gain of +25 points with 2 flips to right and none to wrong.
"""

from __future__ import annotations

import json

import pytest
import yaml
from eval_support import ScriptedBackend, write_medqa

from medreasoner.cli import main
from medreasoner.data.funnel import drop, write_step
from medreasoner.eval.generation import GenerationSettings
from medreasoner.eval.runner import EvalRequest, run_eval
from medreasoner.files import write_json_atomic

SETTINGS = GenerationSettings(max_new_tokens=8, temperature=0.0, seed=0, thinking_budget=None, batch_size=2)
GOLD = "ABCD"


def _script(right: range) -> dict:
    return {f"A {20 + 3 * k}-year-old": f"Answer: {GOLD[k % 4] if k in right else GOLD[(k + 1) % 4]}" for k in range(8)}


def _pipeline_run(tmp_path):
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
                              prompt_style="chat", igakuqa_prompts=None, grading="normalized", settings=SETTINGS)
        run_eval(request, ScriptedBackend(_script(right)), show_progress=False)
    return run


def test_pipeline_report_orders_stages_and_pairs_gains(tmp_path):
    run = _pipeline_run(tmp_path)
    assert main(["report", str(run), "--output", str(tmp_path / "report")]) == 0
    markdown = (tmp_path / "report" / "report.md").read_text()
    accuracy = markdown.split("## Accuracy")[1].split("##")[0]
    assert accuracy.index("run/eval_z_sft") < accuracy.index("run/eval_a_rpo")  # recipe order, not alphabetical
    gains = markdown.split("## Gain over the model it was trained from")[1].split("##")[0]
    row = next(line for line in gains.splitlines() if line.startswith("| run/eval_a_rpo"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "run/eval_z_sft" and cells[4] == "8" and cells[5] == "+25.0"
    assert float(cells[7]) == 0.5  # exact McNemar: 2 discordant pairs, both to right
    baselines = markdown.split("## Reference lines (run)")[1].split("##")[0]
    assert "| test | 8 | 25.0 | 50.0 | 80.0 |" in baselines and "every exam" not in baselines  # no episodes here
    funnel = markdown.split("## Data funnel (run)")[1]
    assert "| dedup | dedup | 5 | 3 | near_duplicate: 2 |" in funnel


def test_data_only_run_reports_its_funnel(tmp_path):
    run = _pipeline_run(tmp_path)
    for stage in ("eval_z_sft", "eval_a_rpo"):
        import shutil

        shutil.rmtree(run / stage)
    assert main(["report", str(run), "--output", str(tmp_path / "report")]) == 0
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "## Data funnel (run)" in markdown and "## Accuracy" not in markdown


def _seed_runs(tmp_path, n: int) -> list:
    """``n`` identical pipeline runs, one per seed directory."""
    for seed in range(n):
        (tmp_path / f"s{seed}").mkdir()
    return [_pipeline_run(tmp_path / f"s{seed}") for seed in range(n)]


def _rpo_vs_sft_findings(tmp_path):
    """A findings file with one contrast, RPO vs SFT answer-mode, without a numeric check."""
    findings = tmp_path / "findings.yaml"
    findings.write_text("findings:\n  - name: rpo vs sft\n    benchmark: medqa\n"
                        "    control: {stage: eval_z_sft, mode: answer}\n"
                        "    treatment: {stage: eval_a_rpo, mode: answer}\n    target: gain > 0\n")
    return findings


def test_findings_per_seed_and_pooled(tmp_path):
    runs = _seed_runs(tmp_path, 2)
    findings = _rpo_vs_sft_findings(tmp_path)
    out = tmp_path / "report"
    assert main(["report", *map(str, runs), "--output", str(out), "--findings", str(findings)]) == 0
    (result,) = __import__("json").loads((out / "findings.json").read_text())
    assert [round(s["effect"], 3) for s in result["per_seed"]] == [0.25, 0.25]
    assert round(result["pooled"]["effect"], 3) == 0.25 and 0 < result["pooled"]["ci_low"] <= 0.25 <= result["pooled"]["ci_high"]
    assert (out / "findings.png").is_file() and "## Findings" in (out / "report.md").read_text()
    summary = (out / "summary.md").read_text()  # what --embed quotes: the findings alone
    assert summary.startswith("**Findings.**") and "**Accuracy.**" not in summary
    assert "Reference lines" not in summary  # quoted only beside episode tables (the S4 findings)


def test_findings_checks_say_met_or_not_met_with_the_note(tmp_path, capsys):
    runs = _seed_runs(tmp_path, 2)
    contrast = ("  - name: {name}\n    benchmark: medqa\n    control: {{stage: eval_z_sft, mode: answer}}\n"
                "    treatment: {{stage: eval_a_rpo, mode: answer}}\n    target: t\n    check: {check}\n"
                "    if_not_met: {note}\n")
    findings = tmp_path / "findings.yaml"  # the pooled gain is +25 points, its CI above 0 and below 40
    findings.write_text("findings:\n"
                        + contrast.format(name="small", check="{effect_at_least: 20, ci_low_above: 0}", note="never shown")
                        + contrast.format(name="big", check="{effect_at_least: 40}", note="tried more steps"))
    out = tmp_path / "report"
    assert main(["report", *map(str, runs), "--output", str(out), "--findings", str(findings)]) == 0
    small, big = __import__("json").loads((out / "findings.json").read_text())
    assert small["met"] is True and small["if_not_met"] is None
    assert big["met"] is False and big["if_not_met"] == "tried more steps"
    summary = (out / "summary.md").read_text()
    assert "t: **met**" in summary and "t: **not met**" in summary
    assert "**Findings not met.**" in summary and "| big | tried more steps |" in summary and "never shown" not in summary
    from medreasoner.eval.findings import Check

    assert not Check(effect_above=0).met(5.8e-17, -1.0, 1.0)  # seeds that cancel are no gain
    findings.write_text("findings:\n" + contrast.format(name="x", check="{}", note="n"))
    assert main(["report", *map(str, runs), "--output", str(out), "--findings", str(findings)]) == 2
    assert "check names no bound" in capsys.readouterr().err


def test_findings_file_errors_name_line_and_field(tmp_path, capsys):
    run = _pipeline_run(tmp_path)
    findings = tmp_path / "findings.yaml"
    findings.write_text("findings:\n  - name: x\n    benchmark: medqa\n    control: {stage: eval_z_sft, mode: answr}\n"
                        "    treatment: {stage: eval_a_rpo, mode: answer}\n    target: t\n")
    assert main(["report", str(run), "--output", str(tmp_path / "r"), "--findings", str(findings)]) == 2
    err = capsys.readouterr().err
    assert f"{findings}:4" in err and "findings[0].control.mode" in err


def test_embed_writes_the_tables_between_the_markers_only(tmp_path, capsys):
    run = _pipeline_run(tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- medreasoner-report:demo:begin -->\nold figures\n<!-- medreasoner-report:demo:end -->\noutro\n")
    assert main(["report", str(run), "--output", str(tmp_path / "r"), "--embed", f"{readme}#demo"]) == 0
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("<!-- medreasoner-report:demo:end -->\noutro\n")
    assert "old figures" not in text and "| run/eval_a_rpo |" in text and "**Gain over the model it was trained from.**" in text
    bare = tmp_path / "bare.md"
    bare.write_text("no markers\n")
    assert main(["report", str(run), "--output", str(tmp_path / "r"), "--embed", str(bare)]) == 2
    assert "medreasoner-report:begin" in capsys.readouterr().err and bare.read_text() == "no markers\n"


@pytest.mark.parametrize("findings, recipe", [
    ("tiny.yaml", "reproduce.yaml"),
    ("grpo_budget_validation.yaml", "grpo_budget_validation.yaml"),
    ("rpo_variants_validation.yaml", "rpo_variants_validation.yaml"),
    ("sft_sampler_validation.yaml", "sft_sampler_validation.yaml"),
    ("grpo_lr_validation.yaml", "grpo_lr_validation.yaml"),
    ("grpo_temperature_validation.yaml", "grpo_temperature_validation.yaml"),
    ("s4.yaml", "s4.yaml"),
    ("s4_validation.yaml", "s4_validation.yaml"),
    ("s4_temperature_validation.yaml", "s4_temperature_validation.yaml"),
    ("s4_kl_validation.yaml", "s4_kl_validation.yaml"),
    ("s4_sft_validation.yaml", "s4_sft_validation.yaml"),
    ("s4_dagger_validation.yaml", "s4_dagger_validation.yaml"),
    ("s4_passk_validation.yaml", "s4_passk_validation.yaml"),
    ("s4_correct_kl_validation.yaml", "s4_correct_kl_validation.yaml"),
    ("s4_correct_kl_long_validation.yaml", "s4_correct_kl_long_validation.yaml"),
    ("s4_select_validation.yaml", "s4_select_validation.yaml"),
])
def test_shipped_findings_name_eval_stages_of_their_recipe(findings, recipe):
    from pathlib import Path

    from medreasoner.eval.findings import load_findings
    from medreasoner.recipe import load_recipe

    repo = Path(__file__).resolve().parents[1]
    stages = {s.name: s for s in load_recipe(repo / "recipes/tiny" / recipe).stages}
    for finding in load_findings(repo / "configs/findings" / findings).findings:
        for cell in (finding.control, finding.treatment):
            stage = stages[cell.stage]
            if cell.kind == "eval":  # the stage evaluates the benchmark in the cell's mode
                assert stage.kind == "eval" and stage.config.mode in (cell.mode, "both"), cell
                assert finding.benchmark in {b.name for b in stage.config.benchmarks}, cell
            elif cell.kind == "episodes":  # sampled (pass_at_*) cells read sampled stages, final_diagnosis greedy ones
                assert stage.kind == "episodes", cell
                assert (stage.config.sampling is not None) == (cell.episodes != "final_diagnosis"), cell
            else:  # a probe cell: benchmark is one of the stage's item groups
                groups = {"all", *stage.config.subsets, *(f"not_{name}" for name in stage.config.subsets)}
                assert stage.kind == "probe" and finding.benchmark in groups, cell


@pytest.mark.parametrize("recipe", ["grpo_budget_validation.yaml", "grpo_lr_validation.yaml",
                                    "grpo_temperature_validation.yaml", "rpo_variants_validation.yaml",
                                    "sft_sampler_validation.yaml", "grpo_validation.yaml", "rpo_validation.yaml"])
def test_validation_recipes_never_read_the_test_split(recipe):
    # Hyperparameters are chosen on these runs; the test items are read by the reproduce run's evals only.
    from pathlib import Path

    from medreasoner.recipe import load_recipe

    repo = Path(__file__).resolve().parents[1]
    evals = [s for s in load_recipe(repo / "recipes/tiny" / recipe).stages if s.kind == "eval"]
    assert evals
    for stage in evals:
        for benchmark in stage.config.benchmarks:
            assert "/eval/validation_" in benchmark.data and "test" not in Path(benchmark.data).name, (stage.name, benchmark)


def test_s4_reads_the_test_episodes_only_after_its_last_training_stage():
    # The S4 recipe checks its settings on the validation episodes; the test episodes are its final report.
    from pathlib import Path

    from medreasoner.recipe import load_recipe

    stages = load_recipe(Path(__file__).resolve().parents[1] / "recipes/tiny/s4.yaml").stages
    reads_test = [i for i, s in enumerate(stages) if "env/test.jsonl" in str(s.config.model_dump())]
    trains = [i for i, s in enumerate(stages) if s.kind in ("sft", "grpo")]
    assert reads_test and min(reads_test) > max(trains)
    assert all(stages[i].kind == "episodes" for i in reads_test)
    # its validation checks never read the test episodes (the SFT check's diagnostics replay training episodes)
    for recipe, allowed in (("s4_validation.yaml", ("env/validation.jsonl",)),
                            ("s4_sft_validation.yaml", ("env/validation.jsonl", "env/train.jsonl")),
                            ("s4_dagger_validation.yaml", ("env/validation.jsonl", "env/train.jsonl"))):
        checks = load_recipe(Path(__file__).resolve().parents[1] / "recipes/tiny" / recipe).stages
        assert not [s.name for s in checks if "test.jsonl" in str(s.config.model_dump())], recipe
        assert all(s.config.cases.endswith(allowed) for s in checks if s.kind == "episodes"), recipe


def test_trained_from_follows_model_paths_past_unevaluated_stages(tmp_path):
    from medreasoner.eval.report_pipeline import trained_from

    run = tmp_path / "run"
    run.mkdir()
    at = lambda name: str(run / name)  # noqa: E731
    stages = [{"name": "base", "kind": "tiny_model", "config": {}},
              {"name": "cpt", "kind": "cpt", "config": {"model": {"path": at("base")}}},
              {"name": "sft", "kind": "sft", "config": {"model": {"path": at("cpt")}}},
              {"name": "rpo", "kind": "preference", "config": {"model": {"path": at("sft")}}},
              {"name": "grpo", "kind": "grpo", "config": {"model": {"path": at("sft")}}},
              {"name": "merge", "kind": "merge", "config": {"models": [{"path": at("grpo")}, {"path": at("rpo")}]}},
              *[{"name": f"eval_{m}", "kind": "eval", "config": {"model": at(m)}} for m in ("base", "sft", "rpo", "grpo", "merge")]]
    (run / "recipe.yaml").write_text(yaml.safe_dump({"name": "t", "seed": 0, "stages": stages}))
    assert trained_from(run, "eval_sft") == ["eval_base"]  # through the unevaluated cpt stage
    assert trained_from(run, "eval_grpo") == ["eval_sft"] and trained_from(run, "eval_rpo") == ["eval_sft"]
    assert trained_from(run, "eval_merge") == ["eval_grpo", "eval_rpo"]
    assert trained_from(run, "eval_base") == []


def test_findings_with_no_discordant_items_do_not_collapse(tmp_path):
    # Control and treatment answer every item alike: per-seed and pooled effects are 0 with a
    # non-degenerate interval (no discordant pair of 8: +-Wilson upper bound of 0/8), not [0, 0].
    runs = []
    for seed in range(2):
        (tmp_path / f"s{seed}").mkdir()
        runs.append(_pipeline_run(tmp_path / f"s{seed}"))
    findings = tmp_path / "findings.yaml"
    findings.write_text("findings:\n  - name: sft vs itself\n    benchmark: medqa\n"
                        "    control: {stage: eval_z_sft, mode: answer}\n"
                        "    treatment: {stage: eval_z_sft, mode: answer}\n    target: none\n")
    out = tmp_path / "report"
    assert main(["report", *map(str, runs), "--output", str(out), "--findings", str(findings)]) == 0
    (result,) = __import__("json").loads((out / "findings.json").read_text())
    bound = 1.959964 ** 2 / (8 + 1.959964 ** 2)
    for cell in [*result["per_seed"], result["pooled"]]:
        assert cell["effect"] == 0.0
        assert abs(cell["ci_low"] + bound) < 1e-5 and abs(cell["ci_high"] - bound) < 1e-5
    assert result["per_seed"][0]["mcnemar_p"] == 1.0


def test_gain_interval_is_paired_bca(tmp_path):
    from medreasoner.eval.metrics import BOOTSTRAP, stability
    from medreasoner.eval.predictions import correct_by_id

    run = _pipeline_run(tmp_path)
    before = correct_by_id(run / "eval_z_sft" / "medqa_answer" / "predictions.jsonl")
    after = correct_by_id(run / "eval_a_rpo" / "medqa_answer" / "predictions.jsonl")
    block = stability(before, after, BOOTSTRAP)
    assert block["interval_method"] == "BCa" and block["ci_low"] <= 0.25 <= block["ci_high"] and block["ci_high"] > 0


def test_probe_stages_get_one_table_across_seeds_quoted_with_the_findings(tmp_path):
    runs = _seed_runs(tmp_path, 2)
    for index, run in enumerate(runs):
        recipe = yaml.safe_load((run / "recipe.yaml").read_text())
        recipe["stages"].append({"name": "probe_cpt", "kind": "probe", "config": {"model": {"path": str(run / "cpt")}}})
        (run / "recipe.yaml").write_text(yaml.safe_dump(recipe))
        score = lambda acc: {"n": 4, "accuracy": acc, "ci_low": acc / 2, "ci_high": 0.9, "chance": 0.2}  # noqa: E731
        write_json_atomic(run / "probe_cpt" / "probe.json", {"subsets": {
            "all": {"raw": score(0.5), "calibrated": score(0.25)},
            "rare": {"raw": score(0.75 + index / 8), "calibrated": score(0.25)},
            "not_rare": {"raw": score(0.25), "calibrated": score(0.5)}}})
    findings = _rpo_vs_sft_findings(tmp_path)
    out = tmp_path / "report"
    assert main(["report", *map(str, runs), "--output", str(out), "--findings", str(findings)]) == 0
    table = (out / "report.md").read_text().split("## Knowledge probe")[1].split("##")[0]
    rows = [line for line in table.splitlines() if line.startswith("| run | probe_cpt")]  # each seed's run dir is named run
    # subsets and complements per seed, in seed order; "all" is left out when subsets cover it
    assert [r.split("|")[4].strip() for r in rows] == ["rare", "not_rare", "rare", "not_rare"]
    assert f"| probe_cpt | {runs[1] / 'cpt'} | rare | 4 | 20.0 | 87.5 [43.8, 90.0] | 25.0 [12.5, 90.0] |" in rows[2]
    assert "**Knowledge probe.**" in (out / "summary.md").read_text()


def test_a_probe_only_run_reports_its_probe_table(tmp_path):
    run = tmp_path / "probe_run"
    stage = {"name": "probe_cpt", "kind": "probe", "config": {"model": {"path": "m"}}}
    (run).mkdir()
    (run / "recipe.yaml").write_text(yaml.safe_dump({"name": "p", "seed": 0, "stages": [stage]}))
    score = {"n": 3, "accuracy": 1 / 3, "ci_low": 0.06, "ci_high": 0.79, "chance": 0.25}
    write_json_atomic(run / "probe_cpt" / "probe.json", {"subsets": {"all": {"raw": score, "calibrated": score}}})
    assert main(["report", str(run), "--output", str(tmp_path / "report")]) == 0
    assert "| probe_run | probe_cpt | m | all | 3 | 25.0 | 33.3 [6.0, 79.0] | 33.3 [6.0, 79.0] |" in (
        tmp_path / "report" / "report.md").read_text()


def _probe_stage(run, name: str, calibrated_correct: list[bool]) -> None:
    """A finished probe stage over 4 items, the first two in subset ``rare``."""
    rows = [{"id": f"q{i}", "gold": "A", "num_options": 4, "subsets": ["rare"] if i < 2 else [],
             "raw_choice": "B", "calibrated_choice": "A" if right else "B", "raw_correct": False,
             "calibrated_correct": right} for i, right in enumerate(calibrated_correct)]
    (run / name).mkdir(parents=True)
    (run / name / "predictions.jsonl").write_text("".join(__import__("json").dumps(r) + "\n" for r in rows))
    write_json_atomic(run / name / "probe.json", {"subsets": {"all": {}, "rare": {}, "not_rare": {}}})


def test_findings_contrast_probe_stages_on_their_item_groups(tmp_path, capsys):
    runs = _seed_runs(tmp_path, 2)
    for run in runs:
        _probe_stage(run, "probe_base", [False, False, True, False])
        _probe_stage(run, "probe_cpt", [True, True, False, False])
    contrast = ("  - name: {group}\n    benchmark: {group}\n    control: {{stage: probe_base, scoring: calibrated}}\n"
                "    treatment: {{stage: probe_cpt, scoring: {scoring}}}\n    target: t\n")
    findings = tmp_path / "findings.yaml"
    findings.write_text("findings:\n" + "".join(contrast.format(group=g, scoring="calibrated")
                                                for g in ("rare", "not_rare", "all")))
    out = tmp_path / "report"
    assert main(["report", *map(str, runs), "--output", str(out), "--findings", str(findings)]) == 0
    results = __import__("json").loads((out / "findings.json").read_text())
    assert [(r["per_seed"][0]["n"], round(r["pooled"]["effect"], 3)) for r in results] == [(2, 1.0), (2, -0.5), (4, 0.25)]
    findings.write_text("findings:\n" + contrast.format(group="common", scoring="calibrated"))
    assert main(["report", *map(str, runs), "--output", str(out), "--findings", str(findings)]) == 2
    assert "'common' is not one of this probe's item groups: all, rare, not_rare" in capsys.readouterr().err
    findings.write_text("findings:\n" + contrast.format(group="rare", scoring="calibrated").replace(
        "{stage: probe_base, scoring: calibrated}", "{stage: eval_z_sft, mode: answer}"))
    assert main(["report", *map(str, runs), "--output", str(out), "--findings", str(findings)]) == 2
    assert "cells of one kind: both eval (mode), both probe (scoring) or both episodes" in capsys.readouterr().err


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
    runs = _seed_runs(tmp_path, 2)
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
    (run,) = _seed_runs(tmp_path, 1)
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
    (run,) = _seed_runs(tmp_path, 1)
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
    (run,) = _seed_runs(tmp_path, 1)
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


def test_stage_time_sums_the_manifests_per_run_and_over_runs(tmp_path):
    runs = _seed_runs(tmp_path, 2)
    for run, seconds in zip(runs, ({"sft": 90.0, "rpo": 30.0, "cpt": 6.0}, {"sft": 120.0, "rpo": 60.0})):
        for stage, wall in seconds.items():
            write_json_atomic(run / stage / "stage_manifest.json", {"stage": stage, "wall_time_s": wall})
    # The process's memory high-water mark, as later manifests record it: a run's peak is the largest.
    for stage, peak in (("sft", 2048.0), ("rpo", 3072.0), ("cpt", 1024.0)):
        manifest = json.loads((runs[0] / stage / "stage_manifest.json").read_text())
        write_json_atomic(runs[0] / stage / "stage_manifest.json", {**manifest, "peak_rss_mib": peak})
    out = tmp_path / "report"
    assert main(["report", *map(str, runs), "--output", str(out), "--findings",
                 str(_rpo_vs_sft_findings(tmp_path))]) == 0
    table = (out / "report.md").read_text().split("## Stage time")[1].split("##")[0]
    assert "| run | 3 | 2.1 | 3.00 | sft 90, rpo 30, cpt 6 |" in table  # 126 s; stages without a manifest are left out
    assert "| run | 2 | 3.0 | – | sft 120, rpo 60 |" in table  # manifests written before peaks were recorded
    assert "| all runs | 5 | 5.1 | 3.00 |  |" in table
    assert "**Stage time.**" in (out / "summary.md").read_text()  # the README quotes the time from the runs
