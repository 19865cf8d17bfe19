"""The evidence check of short chains against their world's cases (``sim.grounding``) and the ``preferences``
level it feeds (``grounding_world``: correct answers reached through evidence the case does not state are
never chosen).

Run: .venv/bin/python -m pytest tests/test_grounding.py -q
"""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError
from sim_testing import small_world
from test_data_preferences import SETTINGS, run_step, samples

from medreasoner.data import preferences
from medreasoner.errors import InputError
from medreasoner.sim.config import WorldConfig
from medreasoner.sim.grounding import WorldGrounding, cited_phrases
from medreasoner.sim.kb import load_knowledge_base
from medreasoner.sim.world import build_world

WORLD = small_world(seed=3, train=60, validation=4, test=4)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("grounding") / "world"
    build_world(WorldConfig(**WORLD), out)
    return out


def _pool(world) -> list[dict]:
    return [json.loads(line) for line in (world / "pool" / "train.jsonl").read_text().splitlines()]


def _shown(grounding: WorldGrounding, row: dict) -> dict[str, bool]:
    case = grounding.cases.cases[row["id"].rsplit("-", 1)[0]]
    return case.observed(grounding.cases.model.kb, row["meta"]["exams_revealed"])


def _chain(phrases: list[str], answer: str) -> str:
    return f"<think>\nKey evidence: {', '.join(phrases)}. Most likely: {answer}.\n</think>\n\n\\boxed{{{answer}}}"


def test_phrases_split_whole_across_commas_and_names_that_begin_with_no():
    kb = load_knowledge_base()
    text = ("Key evidence: vegan diet, metformin use or gastric surgery, no intrauterine pregnancy with an adnexal "
            "mass, no nausea, made-up sign. Most likely: X.")
    assert cited_phrases(text, kb) == ["vegan diet, metformin use or gastric surgery",
                                       "no intrauterine pregnancy with an adnexal mass", "no nausea", "made-up sign"]
    assert cited_phrases("\\boxed{X}", kb) is None
    assert cited_phrases("Key evidence: . Most likely: X.", kb) is None  # a block that names nothing
    # every block counts, and one cut off before its conclusion ends with the reasoning, not in the answer
    assert cited_phrases("Key evidence: fever. Most likely: X. Key evidence: made-up. Most likely: X.", kb) == \
        ["fever", "made-up"]
    cut_off = "<think>\nKey evidence: fever, no nausea\n</think>\n\n\\boxed{X}"
    assert cited_phrases(cut_off, kb) == ["fever", "no nausea"]


def test_every_chain_the_world_writes_is_grounded(world):
    grounding = WorldGrounding.load(world)
    rows = _pool(world)
    assert len(rows) >= 50
    assert all(grounding.ungrounded(row["reference"], row) == [] for row in rows)


def test_citations_the_case_does_not_state_are_caught(world):
    grounding = WorldGrounding.load(world)
    kb = grounding.cases.model.kb
    checked = {"flipped": 0, "unshown": 0}
    for row in _pool(world):
        shown = _shown(grounding, row)
        answer = row["gold"]["text"]
        stated = [kb.findings[f].en if present else f"no {kb.findings[f].en}" for f, present in shown.items()]
        assert grounding.ungrounded(_chain(stated, answer), row) == []  # all it shows, each as it shows it
        finding_id, present = next(iter(shown.items()))
        flipped = f"no {kb.findings[finding_id].en}" if present else kb.findings[finding_id].en
        assert grounding.ungrounded(_chain([stated[0], flipped], answer), row) == [flipped]
        checked["flipped"] += 1
        unshown = [f for f in kb.presentation_findings(row["meta"]["presentation"]) if f not in shown]
        if unshown:  # an exam the question did not reveal
            name = kb.findings[unshown[0]].en
            assert grounding.ungrounded(_chain([name], answer), row) == [name]
            checked["unshown"] += 1
        assert grounding.ungrounded(_chain(["made-up sign"], answer), row) == ["made-up sign"]
        assert grounding.ungrounded(_chain(["the pre-test probability"], answer), row) == []
        assert grounding.ungrounded(f"\\boxed{{{answer}}}", row) is None
    assert checked["flipped"] >= 50 and checked["unshown"] >= 10


def test_rows_of_another_world_and_full_chains_are_refused(world, tmp_path):
    grounding = WorldGrounding.load(world)
    row = _pool(world)[0]
    with pytest.raises(InputError, match="shows no train, validation or test case of this world"):
        grounding.ungrounded(row["reference"], {**row, "meta": {**row["meta"], "case": "0" * 16}})
    without_exams = {key: value for key, value in row["meta"].items() if key != "exams_revealed"}
    with pytest.raises(InputError, match="no meta.exams_revealed"):
        grounding.ungrounded(row["reference"], {**row, "meta": without_exams})
    full = tmp_path / "full"
    build_world(WorldConfig(**{**WORLD, "chain_verbosity": "full", "num_cases": {**WORLD["num_cases"], "train": 4}}),
                full)
    with pytest.raises(InputError, match="short chains only"):
        WorldGrounding.load(full)


def test_preferences_never_choose_a_correct_answer_with_unstated_evidence(world, tmp_path):
    grounding = WorldGrounding.load(world)
    kb = grounding.cases.model.kb
    pool = next(row for row in _pool(world) if any(_shown(grounding, row).values()))
    shown = _shown(grounding, pool)
    present = next(kb.findings[f].en for f, value in shown.items() if value)
    gold, wrong = pool["gold"]["text"], next(c.en for c in kb.conditions if c.en != pool["gold"]["text"])

    def sample(phrases, answer):
        return (f"Key evidence: {', '.join(phrases)}. Most likely: {answer}.", f"\\boxed{{{answer}}}")

    rows = samples(pool, [sample([present], gold),                    # correct, grounded
                          sample([f"no {present}"], gold),            # correct answer, evidence the case denies
                          sample([present], wrong),                   # wrong
                          ("I just know.", f"\\boxed{{{gold}}}")])       # correct answer, no evidence cited
    grounded, ungrounded = rows[0]["reasoning_content"], rows[1]["reasoning_content"]
    pairs = ["reference>correct", "reference>ungrounded", "correct>ungrounded", "correct>wrong", "reference>wrong"]
    margins = {pair: 1.0 for pair in pairs}
    kept, dropped, funnel = run_step(tmp_path / "on", rows, pairs=pairs, margins=margins, grounding_world=str(world))
    assert dropped == []
    chosen_reasoning = {row["chosen"][0].get("reasoning_content") for row in kept}
    assert ungrounded not in chosen_reasoning and grounded in chosen_reasoning
    for pair_type in ("reference>ungrounded", "correct>ungrounded"):
        assert {row["rejected"][0].get("reasoning_content") for row in kept if row["pair_type"] == pair_type} == \
            {ungrounded, "I just know."}, pair_type
    assert funnel["details"]["samples"]["samples_ungrounded"] == 2
    assert "I just know." not in chosen_reasoning
    # A reference that fails the same check drops its item.
    denied = sample([f"no {present}"], gold)[0]
    bad_reference = {**pool, "reference": f"<think>\n{denied}\n</think>\n\n\\boxed{{{gold}}}"}
    with pytest.raises(InputError, match=r"all 1 rows were dropped \(reference_ungrounded: 1\)"):
        run_step(tmp_path / "bad", samples(bad_reference, [sample([present], wrong)]), pairs=pairs, margins=margins,
                 grounding_world=str(world))
    (dropped,) = [json.loads(line) for line in (tmp_path / "bad" / "out" / "dropped.jsonl").read_text().splitlines()]
    assert dropped["reason"] == "reference_ungrounded" and f"no {present}" in dropped["detail"]
    # Without the check both are ordinary correct samples, chosen over the wrong one.
    off = run_step(tmp_path / "off", rows, pairs=["correct>wrong"], margins={"correct>wrong": 1.0})[0]
    assert {row["chosen"][0]["reasoning_content"] for row in off} == {grounded, ungrounded, "I just know."}


def test_ungrounded_pairs_need_the_check():
    with pytest.raises(ValidationError, match="need grounding_world"):
        preferences.Config(input="x.jsonl", **{**SETTINGS, "pairs": ["correct>ungrounded"],
                                               "margins": {"correct>ungrounded": 1.0}})
