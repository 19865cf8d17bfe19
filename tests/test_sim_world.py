"""World builder: layout, determinism, disjoint splits, Bayes-optimal accuracy, CLI and stage.

Run: .venv/bin/python -m pytest tests/test_sim_world.py -q
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml
from sim_testing import tree_digest

from medreasoner.benchmarks.item import item_from_dict, item_from_json
from medreasoner.cli import main
from medreasoner.errors import InputError
from medreasoner.sim.config import WorldConfig, load_world_config
from medreasoner.sim.kb import load_knowledge_base
from medreasoner.sim.items import answer_text
from medreasoner.sim import world as world_module
from medreasoner.sim.world import build_world
from medreasoner.stages import load_stage
from medreasoner.stages.context import StageContext
from medreasoner.verify import grade

REPO = Path(__file__).resolve().parents[1]
SMALL = {
    "seed": 11, "knowledge_base": None, "setting_weights": {"primary_care": 0.4, "emergency": 0.4, "inpatient": 0.2},
    "noise": 0.05, "enable_pertinent_negatives": True, "num_exams_revealed": 2, "num_options": 5,
    "chain_verbosity": "full", "plausible_threshold": 0.15, "num_cases": {"train": 100, "validation": 30, "test": 50, "rl": 0},
    "train_tasks": ["diagnosis", "mcq"], "cpt_languages": ["en", "ja"], "num_cpt_case_reports": 10, "num_calculator_tasks": 0,
    "cpt_only_conditions": [],
}
LAYOUT = ["cpt/train.jsonl", "pool/train.jsonl", "sft/train.jsonl", "sft/validation.jsonl", "preference/train.jsonl", "grpo/train.jsonl",
          "env/train.jsonl", "env/sft_train.jsonl", "env/validation.jsonl", "env/test.jsonl"] + [f"eval/{s}_{t}.jsonl" for s in ("validation", "test") for t in ("diagnosis", "mcq", "multiselect")]


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("world") / "w"
    build_world(WorldConfig(**SMALL), out)
    return out


def test_layout_and_counts(world):
    manifest = json.loads((world / "manifest.json").read_text())
    for name in LAYOUT:
        assert len(_read(world / name)) == manifest["counts"][name] > 0, name
    assert manifest["counts"]["sft/train.jsonl"] == 100 * 2 and manifest["counts"]["eval/test_mcq.jsonl"] == 50
    texts = [row["text"] for row in _read(world / "cpt/train.jsonl")]
    assert any("尤度比" in t for t in texts) and any("LR+" in t for t in texts)
    assert manifest["config"] == SMALL and manifest["seed"] == 11


def test_case_reports_state_the_diagnosis_right_after_the_findings(world):
    """CARE order (clinical findings, diagnosis, discussion): the diagnosis must share a training block
    with the findings, which a ~700-token discussion between them would prevent."""
    reports = [row["text"] for row in _read(world / "cpt/train.jsonl") if row["text"].startswith("Case report")]
    assert len(reports) == 10
    for report in reports:
        lines = report.split("\n")
        results = next(i for i, line in enumerate(lines) if line.startswith("Results: "))
        assert lines[results + 1].startswith("Final diagnosis: ") and lines[results + 2] == "Discussion:"
        name = lines[results + 1].removeprefix("Final diagnosis: ").removesuffix(".")
        assert lines[-1] == f"Conclusion: {name} is the most probable diagnosis."


def test_same_seed_gives_byte_identical_files(world, tmp_path):
    build_world(WorldConfig(**SMALL), tmp_path / "again")
    assert tree_digest(world) == tree_digest(tmp_path / "again")
    build_world(WorldConfig(**{**SMALL, "seed": 12}), tmp_path / "other")
    assert tree_digest(tmp_path / "other")["sft/train.jsonl"] != tree_digest(world)["sft/train.jsonl"]


def test_no_case_is_shared_across_splits(world):
    train = [item_from_json(row["item"]).meta["case"] for row in _read(world / "grpo/train.jsonl")]
    train = set(train)
    assert len(train) == 100
    splits = {"train": train}
    for split in ("validation", "test"):
        cases = [row["meta"]["case"] for row in _read(world / f"eval/{split}_diagnosis.jsonl")]
        assert len(set(cases)) == len(cases)
        splits[split] = set(cases)
    assert not splits["train"] & splits["validation"] and not splits["train"] & splits["test"]
    assert not splits["validation"] & splits["test"]


def test_bayes_optimal_accuracy_is_reported_and_between_chance_and_one(world):
    accuracy = json.loads((world / "manifest.json").read_text())["accuracy"]
    for split in ("train", "validation", "test"):
        figures = accuracy[split]
        assert figures["chance_accuracy"] < figures["prior_only_accuracy"] <= figures["bayes_optimal_accuracy_all_exams"]
        assert figures["chance_accuracy"] < figures["bayes_optimal_accuracy"] < 1.0
        # the figure is the share of items whose label is the true condition, recomputed from the files
    items = [item_from_dict(row) for row in _read(world / "eval/test_diagnosis.jsonl")]
    assert accuracy["test"]["bayes_optimal_accuracy"] == pytest.approx(
        sum(i.meta["truth"] == i.meta["label"] for i in items) / len(items))


def test_every_item_is_graded_correct_on_its_reference_answer(world):
    for task in ("diagnosis", "mcq", "multiselect"):
        for row in _read(world / f"eval/test_{task}.jsonl"):
            item = item_from_dict(row)
            result = grade(answer_text(item), item)
            assert result.correct and result.score == 1.0, item.id
            assert not item.options or len(item.gold) < len(item.options)  # never "all of the above"
            if task == "diagnosis":
                assert grade(r"\boxed{Hypochondriasis}", item).correct is False


def test_training_rows_follow_the_contract(world):
    for row in _read(world / "sft/train.jsonl")[:50]:
        *prompt, reply = row["messages"]
        assert [m["role"] for m in prompt] == ["user"] and reply["role"] == "assistant"
        assert reply["content"].startswith("\\boxed{") and "Conclusion:" in reply["reasoning_content"]
    for row in _read(world / "preference/train.jsonl")[:50]:
        assert 0 < row["margin"] <= 1 and row["chosen"][0]["content"] != row["rejected"][0]["content"]
    verifiers = {item_from_json(row["item"]).verifier for row in _read(world / "grpo/train.jsonl")}
    assert verifiers == {"diagnosis", "mcq"}
    env_row = _read(world / "env/train.jsonl")[0]
    case = json.loads(env_row["case"])
    assert set(case) == {"id", "summary", "menu", "label", "truth", "key_exams"}
    assert set(case["key_exams"]) <= set(case["menu"])
    manifest = json.loads((world / "manifest.json").read_text())
    assert manifest["counts"]["env/sft_train.jsonl"] == manifest["counts"]["env/train.jsonl"] == 100
    assert (manifest["counts"]["env/validation.jsonl"], manifest["counts"]["env/test.jsonl"]) == (30, 50)
    demo = _read(world / "env/sft_train.jsonl")[0]
    assert set(demo) == {"tools", "messages"} and demo["messages"][-1]["content"].startswith("Most likely diagnosis: \\boxed{")


def test_cli_builds_and_reports_bad_configs(tmp_path, capsys):
    config = tmp_path / "world.yaml"
    config.write_text(yaml.safe_dump({**SMALL, "num_cases": {"train": 20, "validation": 5, "test": 5, "rl": 0}}))
    assert main(["data", "build-world", "--config", str(config), "--output", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "manifest.json").is_file()
    config.write_text(yaml.safe_dump({**SMALL, "noise": 0.7}))
    assert main(["data", "build-world", "--config", str(config), "--output", str(tmp_path / "bad")]) == 2
    assert "field 'noise'" in capsys.readouterr().err and not (tmp_path / "bad").exists()


def test_failed_build_leaves_previous_output_intact(tmp_path, monkeypatch):
    out = tmp_path / "out"
    small = WorldConfig(**{**SMALL, "num_cases": {"train": 20, "validation": 5, "test": 5, "rl": 0}})
    build_world(small, out)
    before = (out / "sft/train.jsonl").read_bytes()
    monkeypatch.setattr(world_module, "_DRAWS_PER_CASE", 0)  # as if unique cases ran out at once
    with pytest.raises(InputError, match="unique cases"):
        build_world(small.model_copy(update={"seed": 99}), out)
    assert (out / "sft/train.jsonl").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_stage_and_shipped_configs(tmp_path):
    stage = load_stage("world")
    with pytest.raises(ValueError):
        stage.Config(**{**SMALL, "unknown_knob": 1})
    ctx = StageContext(run_dir=tmp_path, out_dir=tmp_path / "world", seed=0, log=lambda metrics, step: None)
    metrics = stage.run(stage.Config(**{**SMALL, "num_cases": {"train": 20, "validation": 5, "test": 5, "rl": 0}}), ctx)
    assert metrics["count/sft/train.jsonl"] == 40 and 0 < metrics["test/bayes_optimal_accuracy"] <= 1
    for path in sorted((REPO / "configs/world").glob("*.yaml")):
        load_world_config(path)


def test_calculator_tasks_join_the_world_when_requested(tmp_path):
    config = WorldConfig(**{**SMALL, "num_cases": {"train": 10, "validation": 0, "test": 5, "rl": 0}, "num_calculator_tasks": 20})
    manifest = build_world(config, tmp_path / "w")
    assert manifest["counts"]["calc/train.csv"] == 20 and manifest["counts"]["calc/test.csv"] == 2
    items = [item_from_json(row["item"]) for row in _read(tmp_path / "w/grpo/train.jsonl")]
    medcalc = [i for i in items if i.verifier == "medcalc"]
    assert len(medcalc) == 20 and len(items) == 20 + 10 * 2
    assert all(grade(f"Answer: {i.meta['ground_truth']}", i).correct for i in medcalc)


def test_pool_rows_are_valid_and_their_references_verify(world):
    from medreasoner.data.pool import pool_item, question_messages, read_pool

    rows = read_pool(world / "pool/train.jsonl")
    sft = _read(world / "sft/train.jsonl")
    assert len(rows) == len(sft) == 200
    for row, example in zip(rows, sft):
        assert grade(row["reference"], pool_item(row)).correct, row["id"]
        # the pool asks the question exactly as the SFT rows (and evaluation) do
        assert question_messages(row, "answer") == example["messages"][:-1]


def test_cpt_only_conditions_reach_training_only_through_the_corpus(tmp_path):
    """Preferred-MedLLM's premise as a world knob: a held-out condition labels no SFT, pool, preference,
    GRPO or environment row; each training case it labels is a CPT case report; its eval items are
    also written to the ``*_diagnosis_cpt_only`` subset files."""
    held = ["influenza", "acute_bronchitis"]
    config = WorldConfig(**{**SMALL, "train_tasks": ["diagnosis"], "num_cpt_case_reports": 0,
                            "cpt_only_conditions": held})
    build_world(config, tmp_path / "w")
    world = tmp_path / "w"
    names = {"Influenza", "Acute bronchitis"}
    golds = [item_from_json(row["item"]).gold for row in _read(world / "grpo/train.jsonl")]
    assert golds and not names & set(golds)
    assert not names & {row["gold"]["text"] for row in _read(world / "pool/train.jsonl")}
    assert all(not any(n in m["content"] for n in names for m in row["messages"] if m["role"] == "assistant")
               for row in _read(world / "sft/train.jsonl"))
    assert not names & {json.loads(row["case"])["label"]["name"] for row in _read(world / "env/train.jsonl")}
    reports = [row["text"] for row in _read(world / "cpt/train.jsonl") if row["text"].startswith("Case report")]
    assert len(reports) == 100 - len(golds)  # every held-out training case, and no other (num_cpt_case_reports 0)
    subsets = {}
    for split in ("validation", "test"):
        subsets[split] = _read(world / f"eval/{split}_diagnosis_cpt_only.jsonl")
        assert subsets[split] == [row for row in _read(world / f"eval/{split}_diagnosis.jsonl") if row["gold"]["text"] in names]
    assert subsets["test"]
    with pytest.raises(InputError, match="cpt_only_conditions"):
        build_world(WorldConfig(**{**SMALL, "cpt_only_conditions": ["no_such_condition"]}), tmp_path / "bad")


def test_rl_cases_are_a_separate_draw_that_changes_no_other_file(tmp_path):
    """WiNGPT-3.0's RL pool as a world knob: ``num_cases.rl`` cases no other split holds, written only to
    ``pool/rl.jsonl`` and ``grpo/rl.jsonl`` (never as an SFT, preference, environment or CPT row), and
    adding them leaves every other file byte for byte as it was. A CPT-only condition's rl cases are
    left out, and only they: the held condition is the one labelling most rl rows of the same world
    without it, so the check cannot pass by that condition never turning up."""
    rl = {**SMALL, "num_cases": {**SMALL["num_cases"], "rl": 40}}
    build_world(WorldConfig(**rl), tmp_path / "open")
    open_rows = _read(tmp_path / "open/grpo/rl.jsonl")
    labels = Counter(item_from_json(row["item"]).meta["label"] for row in open_rows)
    label, count = labels.most_common(1)[0]
    assert count >= 2
    condition = next(c.id for c in load_knowledge_base().conditions if c.en == label)
    held = {**SMALL, "cpt_only_conditions": [condition]}
    build_world(WorldConfig(**held), tmp_path / "without")
    build_world(WorldConfig(**{**held, "num_cases": rl["num_cases"]}), tmp_path / "with")
    before, after = tree_digest(tmp_path / "without"), tree_digest(tmp_path / "with")
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"manifest.json", "pool/rl.jsonl", "grpo/rl.jsonl"}
    world = tmp_path / "with"
    pool, grpo = _read(world / "pool/rl.jsonl"), _read(world / "grpo/rl.jsonl")
    items = [item_from_json(row["item"]) for row in grpo]
    assert grpo == [row for row in open_rows if item_from_json(row["item"]).meta["label"] != label]
    assert len(grpo) == len(open_rows) - count
    assert [row["id"] for row in pool] == [item.id for item in items] and all(i.id.startswith("rl-") for i in items)
    rl_cases = {item.meta["case"] for item in items}
    others = {item_from_json(row["item"]).meta["case"] for row in _read(world / "grpo/train.jsonl")}
    for split in ("validation", "test"):
        others |= {row["meta"]["case"] for row in _read(world / f"eval/{split}_diagnosis.jsonl")}
    assert rl_cases and not rl_cases & others
    manifest = json.loads((world / "manifest.json").read_text())
    assert manifest["accuracy"]["rl"]["num_cases"] == 40 and manifest["counts"]["pool/rl.jsonl"] == len(pool)
    assert all(grade(answer_text(item), item).correct for item in items)
