"""`preferences` (Preferred-MedLLM RPO hierarchy) on explain-mode sample rows written for the test.

Run: .venv/bin/python -m pytest tests/test_data_preferences.py -q
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from stage_testing import override_args

from medreasoner.cli import main
from medreasoner.data import preferences
from medreasoner.data.pool import pool_item, question_messages
from medreasoner.errors import InputError
from medreasoner.stages.context import StageContext
from medreasoner.stages.datasets import load_preferences
from medreasoner.verify import grade

GOLD, WRONG = "pneumonia", ["asthma", "anemia", "gout"]
REPO = Path(__file__).resolve().parents[1]
# Every setting a preferences config must spell out (the values of Preferred-MedLLM's recipe but a cap of 4).
SETTINGS = {"mode": "normalized", "pairs": ["reference>correct", "reference>wrong", "correct>wrong"],
            "max_pairs_per_item": 4, "margins": {"reference>correct": 1.0, "reference>wrong": 2.0, "correct>wrong": 1.0},
            "prompt_field": "prompt", "seed": None, "grounding_world": None}
CLI_SETTINGS = override_args(SETTINGS)


def pool_row(item_id: str, reference: str | None) -> dict:
    return {"id": item_id, "domain": "medical", "language": "en", "question": f"Case {item_id}: fever, cough. Diagnosis?",
            "reference": reference, "source": "test", "verifier": "diagnosis", "gold": {"text": GOLD},
            "options": {}, "meta": {}}


def samples(pool: dict, answers: list[tuple[str | None, str]]) -> list[dict]:
    """Sample rows answering ``pool``: one per (reasoning or None, answer content)."""
    return [{**pool, "sample": index, "prompt": question_messages(pool, "explain"),
             "train_prompt": question_messages(pool, "answer"),
             "response": (f"<think>\n{reasoning}\n</think>\n\n" if reasoning else "") + content,
             "reasoning_content": reasoning, "content": content, "finish_reason": "stop", "prompt_tokens": 9,
             "completion_tokens": 9, "generator": "test"}
            for index, (reasoning, content) in enumerate(answers)]


def run_step(tmp_path: Path, rows: list[dict], **config) -> tuple[list[dict], list[dict], dict]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "samples.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    out = tmp_path / "out"
    preferences.run(preferences.Config(input=str(path), **{**SETTINGS, **config}),
                    StageContext(tmp_path, out, 0, lambda m, s: None))
    kept = [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]
    dropped = [json.loads(line) for line in (out / "dropped.jsonl").read_text().splitlines()]
    return kept, dropped, json.loads((out / "funnel.json").read_text())


def content(message_list: list[dict]) -> str:
    (message,) = message_list
    return message["content"]


def test_produces_exactly_the_configured_hierarchy(tmp_path):
    reference = "<think>\ncough with fever: lobar consolidation\n</think>\n\n\\boxed{pneumonia}"
    rows = samples(pool_row("a", reference), [
        ("fever, so infection", "\\boxed{pneumonia}"),              # correct
        (None, "It is \\boxed{Pneumonia}"),                          # correct (case folded by the verifier)
        ("fever, so infection", "\\boxed{pneumonia}"),              # duplicate of sample 0: not paired twice
        ("cough with fever: lobar consolidation", "\\boxed{pneumonia}"),  # identical to the reference
        ("wheeze", "\\boxed{asthma}"),                                 # wrong
        ("<think> never closed", ""),                                  # wrong: no answer
    ])
    kept, dropped, funnel = run_step(tmp_path, rows, max_pairs_per_item=50)
    assert dropped == []
    triples = {(row["pair_type"], content(row["chosen"]), content(row["rejected"]), row["margin"]) for row in kept}
    correct, wrong = ["\\boxed{pneumonia}", "It is \\boxed{Pneumonia}"], ["\\boxed{asthma}", ""]
    expected = {("reference>correct", "\\boxed{pneumonia}", c, 1.0) for c in correct}
    expected |= {("reference>wrong", "\\boxed{pneumonia}", w, 2.0) for w in wrong}
    expected |= {("correct>wrong", c, w, 1.0) for c in correct for w in wrong}  # the reference copy is correct too
    assert triples == expected
    # reference>correct: sample 0 and sample 1 (not the copy of the reference); correct>wrong: 3 correct x 2 wrong.
    assert funnel["details"]["pairs"] == {"reference>correct": 2, "reference>wrong": 2, "correct>wrong": 6}
    assert funnel["details"]["samples"]["duplicate_samples"] == 1
    reference_message = next(row["chosen"][0] for row in kept if row["pair_type"] == "reference>wrong")
    assert reference_message == {"role": "assistant", "content": "\\boxed{pneumonia}",
                                 "reasoning_content": "cough with fever: lobar consolidation"}
    assert all(row["prompt"] == rows[0]["prompt"] for row in kept)
    no_reasoning = next(row["rejected"][0] for row in kept if content(row["rejected"]) == "It is \\boxed{Pneumonia}")
    assert "reasoning_content" not in no_reasoning

    only = run_step(tmp_path / "only", rows, pairs=["correct>wrong"], max_pairs_per_item=2,
                    prompt_field="train_prompt", margins={"correct>wrong": 0.5})[0]
    assert len(only) == 2 and {row["pair_type"] for row in only} == {"correct>wrong"}
    assert {row["margin"] for row in only} == {0.5} and only[0]["prompt"] == rows[0]["train_prompt"]


def test_items_without_a_usable_reference_or_pair_are_dropped_with_their_reason(tmp_path):
    rows = samples(pool_row("good", "\\boxed{pneumonia}"), [(None, "\\boxed{asthma}")])
    rows += samples(pool_row("bad_ref", "\\boxed{asthma}"), [(None, "\\boxed{gout}")])
    rows += samples(pool_row("no_ref", None), [(None, "\\boxed{gout}")])
    rows += samples(pool_row("all_right", "\\boxed{pneumonia}"), [(None, "\\boxed{pneumonia}"), ("x", "The answer is pneumonia")])
    unverifiable = {**pool_row("open", "An answer."), "verifier": None, "gold": None}
    rows += samples(unverifiable, [(None, "Something.")])
    kept, dropped, funnel = run_step(tmp_path, rows, pairs=["correct>wrong", "reference>wrong"])
    assert [(row["id"], row["pair_type"]) for row in kept] == [("good", "reference>wrong")]
    assert {(r["id"], r["reason"]) for r in dropped} == {("bad_ref", "reference_fails_verifier"),
                                                         ("no_ref", "no_reference"), ("all_right", "no_pairs"),
                                                         ("open", "unverifiable")}
    assert funnel["in"] == 5 and funnel["out"] == 1


def test_chosen_never_fails_the_verifier_on_random_mixtures(tmp_path):
    rng = random.Random(11)
    rows, items = [], {}
    for index in range(30):
        ref_ok = rng.random() < 0.8
        pool = pool_row(f"q{index}", f"<think>\nr{index}\n</think>\n\n\\boxed{{{GOLD if ref_ok else WRONG[0]}}}")
        answers = [(rng.choice([None, f"thought {k}"]), f"\\boxed{{{rng.choice([GOLD, *WRONG])}}}")
                   for k in range(rng.randint(1, 6))]
        rows += samples(pool, answers)
        items[pool["id"]] = (pool_item(pool), pool["reference"])
    pair_types = ["reference>correct", "reference>wrong", "correct>wrong"]
    for trial in range(4):
        chosen_types = rng.sample(pair_types, rng.randint(1, 3))
        cap = rng.randint(1, 4)
        kept, dropped, funnel = run_step(tmp_path / str(trial), rows, pairs=chosen_types, max_pairs_per_item=cap,
                                         seed=trial)
        per_item_type = {}
        for row in kept:
            item = items[row["id"]][0]
            chosen = preferences.message_text(row["chosen"][0])
            rejected = preferences.message_text(row["rejected"][0])
            assert grade(chosen, item).correct
            assert chosen != rejected and row["pair_type"] in chosen_types
            # The rejected side sits strictly lower: wrong under a correct sample, any sample under the reference.
            if row["pair_type"].endswith("wrong"):
                assert not grade(rejected, item).correct
            else:
                assert grade(rejected, item).correct
            key = (row["id"], row["pair_type"])
            per_item_type[key] = per_item_type.get(key, 0) + 1
        assert max(per_item_type.values()) <= cap
        assert {r["id"] for r in dropped if r["reason"] == "reference_fails_verifier"} == {
            i for i, (item, reference) in items.items() if not grade(reference, item).correct}
        assert funnel["details"]["chosen_regrade_failed"] == 0


def test_pair_choice_is_seeded_per_item(tmp_path):
    answers = [(None, f"\\boxed{{{GOLD}}} {k}") for k in range(4)] + [(None, f"\\boxed{{{w}}}") for w in WRONG]
    rows = samples(pool_row("a", "\\boxed{pneumonia}"), answers)
    other = samples(pool_row("b", "\\boxed{pneumonia}"), answers)
    first = run_step(tmp_path / "1", rows, max_pairs_per_item=2, seed=5)[0]
    again = run_step(tmp_path / "2", other + rows, max_pairs_per_item=2, seed=5)[0]
    assert [row for row in again if row["id"] == "a"] == first  # adding item b changes nothing for item a
    runs = [run_step(tmp_path / f"s{seed}", rows, max_pairs_per_item=2, seed=seed)[0] for seed in range(6)]
    assert len({json.dumps(run) for run in runs}) > 1  # and the seed does choose


def test_output_loads_as_preference_pairs_with_margins(tmp_path):
    rows = samples(pool_row("a", "<think>why</think>\\boxed{pneumonia}"), [("t", "\\boxed{pneumonia}"), (None, "\\boxed{gout}")])
    kept, _, _ = run_step(tmp_path, rows)
    dataset = load_preferences(tmp_path / "out" / "data.jsonl", with_margin=True)
    assert len(dataset) == len(kept) == 3
    assert sorted(dataset["margin"]) == [1.0, 1.0, 2.0]


def test_config_errors_name_the_field(tmp_path, capsys):
    rows = samples(pool_row("a", "\\boxed{pneumonia}"), [(None, "\\boxed{gout}")])
    path = tmp_path / "s.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    for args, message in [(["pairs=[correct>reference]"], "pairs"), (["max_pairs_per_item=0"], "max_pairs_per_item"),
                          (["margins={correct>wrong: 1}"], "margins has no value"),
                          (["margins.correct>wrong=-1"], "margins")]:
        assert main(["data", "preferences", f"input={path}", *CLI_SETTINGS, *args, "--output", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and "Traceback" not in err
    for bad, message in [([dict(rows[0], content=None)], "s.jsonl:1: field 'content'"),
                         ([rows[0], dict(rows[0], sample=1, prompt=[{"role": "user", "content": "other"}])],
                          "s.jsonl:2: field 'prompt': differs from the first sample of id 'a'")]:
        path.write_text("".join(json.dumps(row) + "\n" for row in bad))
        with pytest.raises(InputError, match=message):
            preferences.run(preferences.Config(input=str(path), **SETTINGS),
                            StageContext(tmp_path, tmp_path / "o", 0, lambda m, s: None))


def test_split_reference_round_trips_through_message_text():
    for reference in ["<think>\na\n</think>\n\n\\boxed{B}", "\\boxed{B}", "<think>a</think>\\boxed{B}"]:
        message = preferences.split_reference(reference)
        text = preferences.message_text(message)
        assert message["content"] == "\\boxed{B}" and (("reasoning_content" in message) == ("<think>" in reference))
        assert grade(text, pool_item({**pool_row("x", None), "gold": {"text": "B"}})).correct


def test_validate_refuses_a_recipe_that_leaves_a_setting_out(tmp_path, capsys):
    # No hidden defaults: every setting of the step is required, a nullable one as an explicit null.
    shipped = REPO / "recipes" / "tiny" / "pipeline.yaml"
    text = shipped.read_text(encoding="utf-8")
    assert main(["validate", str(shipped)]) == 0
    capsys.readouterr()
    for line, key in [("      max_pairs_per_item: 2\n", "max_pairs_per_item"), ("      prompt_field: prompt\n", "prompt_field")]:
        assert text.count(line) == 1
        recipe = tmp_path / f"no_{key}.yaml"
        recipe.write_text(text.replace(line, ""), encoding="utf-8")
        assert main(["validate", str(recipe)]) == 2
        out = capsys.readouterr().out
        assert re.search(rf"FAIL {re.escape(str(recipe))}:\d+: field 'stages\[\d+\]\.config\.{key}': "
                         rf"missing required key '{key}'", out), out
    seed = tmp_path / "no_seed.yaml"  # null means the recipe's seed, and still has to be written
    seed.write_text(text.replace("      prompt_field: prompt\n      seed: 0\n", "      prompt_field: prompt\n"), encoding="utf-8")
    assert main(["validate", str(seed)]) == 2
    assert re.search(r"field 'stages\[\d+\]\.config\.seed': missing required key 'seed'", capsys.readouterr().out)
