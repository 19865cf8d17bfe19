"""The ``heldout`` stage: more test cases for a built world, drawn after all of its splits, without touching it.

Run: .venv/bin/python -m pytest tests/test_heldout.py -q
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
import yaml
from sim_testing import small_world, tree_digest

from medreasoner.benchmarks.item import item_from_dict
from medreasoner.cli import main
from medreasoner.eval.report_pipeline import baseline_rows
from medreasoner.recipe import load_recipe
from medreasoner.sim import world as world_module
from medreasoner.sim.chain import probability_model
from medreasoner.sim.japanese import render_exam_ja
from medreasoner.sim.kb import load_knowledge_base
from medreasoner.sim.sampler import Case, render_exam, render_summary, sample_case
from medreasoner.sim.world import heldout_files
from medreasoner.sim.world_cases import world_config
from medreasoner.verify import grade

RECIPES = Path(__file__).resolve().parents[1] / "recipes" / "tiny"
WORLD = {**small_world(seed=6, train=40, validation=10, test=10), "num_cases": {"train": 40, "validation": 10,
                                                                               "test": 10, "rl": 20}}


def _recipe(path, stages: list[dict]) -> str:
    path.write_text(yaml.safe_dump({"name": "heldout_test", "seed": 0, "stages": stages}))
    return str(path)


def _heldout_only(root, world) -> str:
    """A recipe of one heldout stage reading the world at ``world`` (another run's, as reproduce_heldout does)."""
    return _recipe(root / "recipe.yaml", [{"name": "heldout", "kind": "heldout",
                                           "config": {"world": str(world), "num_cases": 30, "skip": 0, "japanese": False}}])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("heldout")
    out = root / "run"
    stages = [{"name": "world", "kind": "world", "config": WORLD},
              {"name": "heldout", "kind": "heldout", "config": {"world": "${world}", "num_cases": 30, "skip": 0, "japanese": True}}]
    assert main(["run", _recipe(root / "recipe.yaml", stages), "--output", str(out)]) == 0
    return out


def test_heldout_cases_are_new_rendered_like_test_items_and_leave_the_world_as_built(run, tmp_path):
    heldout, world = run / "heldout", run / "world"
    items = [json.loads(line) for line in (heldout / "eval/heldout_diagnosis.jsonl").read_text().splitlines()]
    assert [item["id"] for item in items] == [f"heldout-{i:06d}-diagnosis" for i in range(30)]
    assert {item["verifier"] for item in items} == {"diagnosis"} and all(item["gold"]["text"] for item in items)
    for task in ("mcq", "multiselect"):
        assert len((heldout / f"eval/heldout_{task}.jsonl").read_text().splitlines()) == 30
    assert len((heldout / "env/heldout.jsonl").read_text().splitlines()) == 30
    # no case (signature) of the training pool (train and rl cases) or of the world's own held-out items comes back
    world_items = [json.loads(line) for name in ("pool/train.jsonl", "pool/rl.jsonl", "eval/validation_diagnosis.jsonl",
                                                 "eval/test_diagnosis.jsonl")
                   for line in (world / name).read_text(encoding="utf-8").splitlines()]
    assert len({r["meta"]["case"] for r in world_items}) == 40 + 20 + 10 + 10
    assert not {r["meta"]["case"] for r in world_items} & {item["meta"]["case"] for item in items}
    assert not {r["question"] for r in world_items} & {item["question"] for item in items}
    manifest = json.loads((heldout / "manifest.json").read_text())
    assert manifest["counts"]["eval/heldout_diagnosis.jsonl"] == 30
    figures = manifest["accuracy"]["heldout"]
    assert figures["num_cases"] == 30 and 0 < figures["chance_accuracy"] < figures["bayes_optimal_accuracy"] <= 1
    # drawn from the world's manifest alone: the same cases again
    rows, again = heldout_files(world_config(world), 30, skip=0, japanese=False)
    assert rows["eval/heldout_diagnosis.jsonl"] == items and again["accuracy"] == manifest["accuracy"]
    copy = tmp_path / "world"
    shutil.copytree(world, copy)
    before = tree_digest(copy)
    assert main(["run", _heldout_only(tmp_path, copy), "--output", str(tmp_path / "out")]) == 0
    assert tree_digest(copy) == before  # the stage only reads the world
    assert (tmp_path / "out/heldout/eval/heldout_diagnosis.jsonl").read_bytes() == (
        heldout / "eval/heldout_diagnosis.jsonl").read_bytes()
    # the report's reference lines show the extra cases beside the world's splits
    rows = baseline_rows(run, episodes=False)[1]
    assert [row[:2] for row in rows] == [["validation", "10"], ["test", "10"], ["heldout", "30"]]


def test_japanese_items_are_the_english_items_of_the_same_cases_asked_in_japanese(run):
    kb = load_knowledge_base(None)
    english = [json.loads(line) for line in (run / "heldout/eval/heldout_diagnosis.jsonl").read_text().splitlines()]
    japanese = [json.loads(line) for line in
                (run / "heldout/eval/heldout_ja_diagnosis.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [item["id"] for item in japanese] == [item["id"] for item in english]
    by_en = {condition.en: condition for condition in kb.conditions}
    for en, ja in zip(english, japanese):
        # the same case, exams, label and gold: only the question's language differs
        assert ja["gold"] == en["gold"] and ja["verifier"] == "diagnosis" and ja["meta"]["language"] == "ja"
        assert {k: v for k, v in ja["meta"].items() if k != "language"} == en["meta"]
        presentation = kb.presentations[en["meta"]["presentation"]]
        assert f"主訴: {presentation.ja}。" in ja["question"] and presentation.en not in ja["question"]
        assert ja["question"].endswith("最も可能性の高い診断は何か。")
        for exam in en["meta"]["exams_revealed"]:  # every shown exam, by its Japanese name
            assert f"{kb.exams[exam].ja}: " in ja["question"]
            assert kb.exams[exam].en == kb.exams[exam].ja or kb.exams[exam].en not in ja["question"]
        # the verifier takes the Japanese name of the label as the answer
        item = item_from_dict(ja)
        assert grade(f"\\boxed{{{by_en[en['gold']['text']].ja}}}", item).correct
        assert not grade("\\boxed{該当なし}", item).correct
    manifest = json.loads((run / "heldout/manifest.json").read_text())
    assert manifest["counts"]["eval/heldout_ja_diagnosis.jsonl"] == 30
    # with CPT-only conditions the Japanese items of their cases get a subset file of their own, as the English do
    label = by_en[english[0]["gold"]["text"]].id
    config = world_config(run / "world").model_copy(update={"cpt_only_conditions": [label]})
    rows = heldout_files(config, 30, skip=0, japanese=True)[0]
    subset = rows["eval/heldout_ja_diagnosis_cpt_only.jsonl"]
    assert subset and [item["id"] for item in subset] == [
        item["id"] for item in rows["eval/heldout_diagnosis_cpt_only.jsonl"]]
    assert {item["gold"]["text"] for item in subset} == {english[0]["gold"]["text"]}


def _listed(summary: str, first_line: int) -> tuple[list[str], list[str]]:
    """The names on a Japanese summary's present-illness and history lines: (stated, denied)."""
    stated, denied = [], []
    for line in summary.splitlines()[first_line:]:
        listed, _, absent = line.split(": ", 1)[1].rstrip("。").partition("。否定: ")
        stated += [] if listed == "特記事項なし" else listed.split("、")
        denied += absent.split("、") if absent else []
    return stated, denied


@pytest.mark.parametrize("negatives", [False, True])
def test_a_case_in_japanese_states_every_finding_the_english_states_and_nothing_else(negatives):
    kb = load_knowledge_base(None)
    model = probability_model(kb, 0.0)
    rng = random.Random(3)
    for _ in range(40):
        case = sample_case(kb, model.present, rng, {"primary_care": 0.5, "emergency": 0.5})
        summary = render_summary(kb, case, negatives, "ja")
        assert summary.count("\n") == render_summary(kb, case, negatives, "en").count("\n")  # the same lines
        assert summary.startswith(f"受診の場: {kb.settings[case.setting].ja}。患者: {case.age}歳")
        assert summary.splitlines()[1] == f"主訴: {kb.presentations[case.presentation].ja}。"
        summary_findings = [(kb.findings[f], present) for f, present in case.findings if kb.findings[f].exam is None]
        stated, denied = _listed(summary, 2)
        assert stated == [f.ja for f, present in sorted(summary_findings, key=lambda x: x[0].kind == "history")
                          if present]
        assert denied == ([f.ja for f, present in sorted(summary_findings, key=lambda x: x[0].kind == "history")
                           if not present] if negatives else [])
        for exam_id in kb.presentation_exams(case.presentation):  # every finding the exam reveals, in order
            revealed = [(kb.findings[f], present) for f, present in case.findings if kb.findings[f].exam == exam_id]
            assert render_exam_ja(kb, case, exam_id).split("、") == [
                f.ja if present else f"{f.ja}なし" for f, present in revealed]
            assert len(revealed) == len(render_exam(kb, case, exam_id).split("; "))


def test_the_english_summary_reads_as_it_always_has():
    kb = load_knowledge_base(None)
    case = Case("emergency", "headache", 71, "female", "subarachnoid_hemorrhage",
                tuple((f, f in ("thunderclap_onset", "hypertension_history"))
                      for f in ("thunderclap_onset", "diaphoresis", "hypertension_history")))
    assert render_summary(kb, case, True, "en") == (
        "Setting: emergency department. Patient: 71-year-old woman.\nChief complaint: headache.\n"
        f"Present illness: {kb.findings['thunderclap_onset'].en}. Denies: {kb.findings['diaphoresis'].en}.\n"
        f"History: {kb.findings['hypertension_history'].en}.")
    assert render_summary(kb, case, False, "en").splitlines()[2] == f"Present illness: {kb.findings['thunderclap_onset'].en}."


def test_skip_cuts_the_one_draw_into_blocks_that_share_no_case_or_id(run):
    config = world_config(run / "world")
    first = [json.loads(line) for line in (run / "heldout/eval/heldout_diagnosis.jsonl").read_text().splitlines()]
    rows, manifest = heldout_files(config, 12, skip=18, japanese=False)
    block = rows["eval/heldout_diagnosis.jsonl"]
    assert [item["id"] for item in block] == [f"heldout-{i:06d}-diagnosis" for i in range(18, 30)]
    assert block == first[18:]  # the same draw, read from case 18 on
    both = heldout_files(config, 12, skip=30, japanese=False)[0]["eval/heldout_diagnosis.jsonl"]
    assert not {item["meta"]["case"] for item in both} & {item["meta"]["case"] for item in first}
    assert manifest["skip"] == 18 and manifest["accuracy"]["heldout"]["num_cases"] == 12


def test_a_draw_that_runs_out_before_skip_plus_num_cases_is_refused_naming_both(run, tmp_path, capsys, monkeypatch):
    real = world_module.draw_extra_cases
    # a knowledge base with only 8 unique cases left beyond the world's (its rl cases are drawn as before)
    monkeypatch.setattr(world_module, "draw_extra_cases",
                        lambda *args: real(*args)[:8] if args[-1] == "heldout" else real(*args))
    recipe = _recipe(tmp_path / "recipe.yaml", [{"name": "heldout", "kind": "heldout",
                                                 "config": {"world": str(run / "world"), "num_cases": 10, "skip": 3,
                                                                            "japanese": False}}])
    assert main(["run", recipe, "--output", str(tmp_path / "out")]) != 0
    err = capsys.readouterr().err
    assert "only 5 unique cases are left after the first 3" in err and "lower num_cases (10); a smaller skip would overlap" in err
    assert "heldout.config.num_cases" in err and not (tmp_path / "out/heldout/eval").exists()


@pytest.mark.parametrize("leak", ["case", "question"])
def test_a_world_whose_files_hold_a_heldout_case_or_question_is_refused_before_anything_is_written(
        run, tmp_path, capsys, leak):
    world = tmp_path / "world"
    shutil.copytree(run / "world", world)
    item = json.loads((run / "heldout/eval/heldout_diagnosis.jsonl").read_text().splitlines()[3])
    other = json.loads((world / "pool/train.jsonl").read_text().splitlines()[0])
    # the same case asked in other words, or another case that reads the same
    leaked = {**other, "meta": {**other["meta"], "case": item["meta"]["case"]}} if leak == "case" else \
        {**other, "question": item["question"]}
    with (world / "pool/train.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({**leaked, "id": "train-999999-diagnosis"}) + "\n")
    assert main(["run", _heldout_only(tmp_path, world), "--output", str(tmp_path / "out")]) != 0
    err = capsys.readouterr().err
    assert "manifest.json" in err and "1 held-out items (first heldout-000003-diagnosis) repeat a case or question" in err
    assert not (tmp_path / "out/heldout/eval").exists()


def test_reproduce_heldout_evaluates_as_reproduce_does_with_only_the_items_moved():
    reproduce = load_recipe(RECIPES / "reproduce.yaml").stages
    shipped, kinds = {s.name: s.config.model_dump() for s in reproduce}, {s.name: s.kind for s in reproduce}
    recipe = load_recipe(RECIPES / "reproduce_heldout.yaml")
    stages = {s.name: s.config.model_dump() for s in recipe.stages if s.kind in ("eval", "probe")}
    # every greedy eval and every probe of reproduce.yaml; the sampled evals are left out by the recipe's rule
    assert set(stages) == {n for n, k in kinds.items() if k in ("eval", "probe") and not n.endswith("_sampled")}
    for name, config in stages.items():
        ref = shipped[name]
        if kinds[name] == "eval":
            assert {k: v for k, v in config.items() if k not in ("model", "benchmarks")} == \
                {k: v for k, v in ref.items() if k not in ("model", "benchmarks")}, name
            assert [{**b, "data": b["data"].split("/eval/")[1]} for b in config["benchmarks"]] == \
                [{**b, "data": b["data"].split("/eval/")[1].replace("test_", "heldout_")} for b in ref["benchmarks"]]
            assert all(b["data"].startswith(str(recipe.run_dir / "heldout")) for b in config["benchmarks"])
            model, ref_model = config["model"], ref["model"]
        else:
            assert {k: v for k, v in config.items() if k not in ("model", "items", "subsets")} == \
                {k: v for k, v in ref.items() if k not in ("model", "items", "subsets")}, name
            assert config["items"].endswith("heldout/eval/heldout_mcq.jsonl")
            assert config["subsets"] == {"cpt_only": str(recipe.run_dir / "heldout/eval/heldout_diagnosis_cpt_only.jsonl")}
            assert {**config["model"], "path": None} == {**ref["model"], "path": None}
            model, ref_model = config["model"]["path"], ref["model"]["path"]
        assert Path(model).name == Path(ref_model).name, name  # the reproduce run's model of the same stage


def test_a_world_whose_episodes_its_manifest_does_not_draw_is_refused(run, tmp_path, capsys):
    world = tmp_path / "world"
    shutil.copytree(run / "world", world)
    lines = (world / "env/test.jsonl").read_text(encoding="utf-8").splitlines()
    row = json.loads(lines[2])
    hidden = json.loads(row["case"])
    hidden["label"]["name"] = "Influenza" if hidden["label"]["name"] != "Influenza" else "Acute bronchitis"
    lines[2] = json.dumps({**row, "case": json.dumps(hidden)})
    (world / "env/test.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["run", _heldout_only(tmp_path, world), "--output", str(tmp_path / "out")]) != 0
    assert "case test-000002: the redrawn case's label is" in capsys.readouterr().err
    assert not (tmp_path / "out/heldout/eval").exists()


def test_a_world_without_rl_cases_gets_its_heldout_cases_and_a_heldout_output_is_no_world(tmp_path, capsys):
    stages = [{"name": "world", "kind": "world", "config": small_world(seed=2, train=20, validation=5, test=5)},
              {"name": "heldout", "kind": "heldout", "config": {"world": "${world}", "num_cases": 8, "skip": 0,
                                                                           "japanese": False}}]
    assert main(["run", _recipe(tmp_path / "recipe.yaml", stages), "--output", str(tmp_path / "run")]) == 0
    assert (tmp_path / "run/world/pool/rl.jsonl").stat().st_size == 0  # rl: 0 leaves the file empty
    assert len((tmp_path / "run/heldout/eval/heldout_mcq.jsonl").read_text().splitlines()) == 8
    (tmp_path / "again").mkdir()
    assert main(["run", _heldout_only(tmp_path / "again", tmp_path / "run/heldout"), "--output",
                 str(tmp_path / "again/out")]) != 0
    assert "not a world's manifest: generator 'medreasoner.sim.world.heldout_files'" in capsys.readouterr().err


def test_heldout_findings_are_the_reproduce_findings_on_the_new_items():
    configs = RECIPES.parents[1] / "configs" / "findings"
    shipped = yaml.safe_load((configs / "tiny.yaml").read_text())["findings"]
    heldout = yaml.safe_load((configs / "heldout.yaml").read_text())["findings"]
    expected = [{**{k: v for k, v in row.items() if k != "if_not_met"},
                 "name": row["name"].replace("all test items", "all held-out items")}
                for row in shipped if not row["name"].startswith("1b.")]  # the recipe does not sample
    assert heldout == expected
