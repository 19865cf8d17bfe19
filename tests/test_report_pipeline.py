"""The report of a pipeline run: stages in recipe order, gains over the parent model, baselines, the data funnel,
findings of eval and probe cells (the S4 episodes' findings: test_report_episodes.py).

The runs are :func:`report_testing.pipeline_run`'s, so every figure is known.
"""

from __future__ import annotations

import json

import pytest
import yaml
from report_testing import pipeline_run, seed_runs

from medreasoner.cli import main
from medreasoner.files import write_json_atomic


def test_pipeline_report_orders_stages_and_pairs_gains(tmp_path):
    run = pipeline_run(tmp_path)
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
    run = pipeline_run(tmp_path)
    for stage in ("eval_z_sft", "eval_a_rpo"):
        import shutil

        shutil.rmtree(run / stage)
    assert main(["report", str(run), "--output", str(tmp_path / "report")]) == 0
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "## Data funnel (run)" in markdown and "## Accuracy" not in markdown


def _rpo_vs_sft_findings(tmp_path):
    """A findings file with one contrast, RPO vs SFT answer-mode, without a numeric check."""
    findings = tmp_path / "findings.yaml"
    findings.write_text("findings:\n  - name: rpo vs sft\n    benchmark: medqa\n"
                        "    control: {stage: eval_z_sft, mode: answer}\n"
                        "    treatment: {stage: eval_a_rpo, mode: answer}\n    target: gain > 0\n")
    return findings


def test_findings_per_seed_and_pooled(tmp_path):
    runs = seed_runs(tmp_path, 2)
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
    runs = seed_runs(tmp_path, 2)
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
    run = pipeline_run(tmp_path)
    findings = tmp_path / "findings.yaml"
    findings.write_text("findings:\n  - name: x\n    benchmark: medqa\n    control: {stage: eval_z_sft, mode: answr}\n"
                        "    treatment: {stage: eval_a_rpo, mode: answer}\n    target: t\n")
    assert main(["report", str(run), "--output", str(tmp_path / "r"), "--findings", str(findings)]) == 2
    err = capsys.readouterr().err
    assert f"{findings}:4" in err and "findings[0].control.mode" in err


def test_embed_writes_the_tables_between_the_markers_only(tmp_path, capsys):
    run = pipeline_run(tmp_path)
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
    ("rpo_grounded_validation.yaml", "rpo_grounded_validation.yaml"),
    ("cpt_japanese_validation.yaml", "cpt_japanese_validation.yaml"),
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
        runs.append(pipeline_run(tmp_path / f"s{seed}"))
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

    run = pipeline_run(tmp_path)
    before = correct_by_id(run / "eval_z_sft" / "medqa_answer" / "predictions.jsonl")
    after = correct_by_id(run / "eval_a_rpo" / "medqa_answer" / "predictions.jsonl")
    block = stability(before, after, BOOTSTRAP)
    assert block["interval_method"] == "BCa" and block["ci_low"] <= 0.25 <= block["ci_high"] and block["ci_high"] > 0


def test_probe_stages_get_one_table_across_seeds_quoted_with_the_findings(tmp_path):
    runs = seed_runs(tmp_path, 2)
    for index, run in enumerate(runs):
        recipe = yaml.safe_load((run / "recipe.yaml").read_text())
        recipe["stages"].append({"name": "probe_cpt", "kind": "probe", "config": {"model": {"path": str(run / "cpt")}}})
        (run / "recipe.yaml").write_text(yaml.safe_dump(recipe))
        score = lambda acc: {"n": 4, "accuracy": acc, "ci_low": acc / 2, "ci_high": 0.9, "chance": 0.2}  # noqa: E731
        lure = {"n": 6, "rate": 0.5, "ci_low": 0.2, "ci_high": 0.8, "margin": -0.25, "margin_ci_low": -0.6,
                "margin_ci_high": 0.125}
        write_json_atomic(run / "probe_cpt" / "probe.json", {"subsets": {
            "all": {"raw": score(0.5), "calibrated": score(0.25)},
            "rare": {"raw": score(0.75 + index / 8), "calibrated": score(0.25)},
            "not_rare": {"raw": score(0.25), "calibrated": score(0.5)}},
            "lures": {"rare": {"raw": {}, "calibrated": lure}}})
    findings = _rpo_vs_sft_findings(tmp_path)
    out = tmp_path / "report"
    assert main(["report", *map(str, runs), "--output", str(out), "--findings", str(findings)]) == 0
    table = (out / "report.md").read_text().split("## Knowledge probe")[1].split("##")[0]
    rows = [line for line in table.splitlines() if line.startswith("| run | probe_cpt")]  # each seed's run dir is named run
    # subsets and complements per seed, in seed order; "all" is left out when subsets cover it
    assert [r.split("|")[4].strip() for r in rows] == ["rare", "not_rare", "rare", "not_rare"]
    assert (f"| probe_cpt | {runs[1] / 'cpt'} | rare | 4 | 20.0 | 87.5 [43.8, 90.0] | 25.0 [12.5, 90.0] "
            "| 50.0 [20.0, 80.0] (6) | -25.0 [-60.0, +12.5] |") in rows[2]
    assert rows[3].endswith("| – | – |")  # a complement has no lure
    assert "**Knowledge probe.**" in (out / "summary.md").read_text()


def test_a_probe_only_run_reports_its_probe_table(tmp_path):
    run = tmp_path / "probe_run"
    stage = {"name": "probe_cpt", "kind": "probe", "config": {"model": {"path": "m"}}}
    (run).mkdir()
    (run / "recipe.yaml").write_text(yaml.safe_dump({"name": "p", "seed": 0, "stages": [stage]}))
    score = {"n": 3, "accuracy": 1 / 3, "ci_low": 0.06, "ci_high": 0.79, "chance": 0.25}
    write_json_atomic(run / "probe_cpt" / "probe.json", {"subsets": {"all": {"raw": score, "calibrated": score}}})
    assert main(["report", str(run), "--output", str(tmp_path / "report")]) == 0
    assert "| probe_run | probe_cpt | m | all | 3 | 25.0 | 33.3 [6.0, 79.0] | 33.3 [6.0, 79.0] | – | – |" in (
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
    runs = seed_runs(tmp_path, 2)
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


def test_stage_time_sums_the_manifests_per_run_and_over_runs(tmp_path):
    runs = seed_runs(tmp_path, 2)
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
