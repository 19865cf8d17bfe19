"""Correctness rewards = the eval scorer's verify.grade, per verifier kind.

Run: .venv/bin/python -m pytest tests/test_rewards_correctness.py -q
"""

from __future__ import annotations

import datetime as dt

import pytest

from medreasoner.benchmarks.item import GestationalAge, Item, item_to_dict, item_to_json
from medreasoner.rewards import bind_reward
from medreasoner.rewards.correctness import VARIANT_KINDS, correctness_reward, parse_item
from medreasoner.verify import VERIFIERS, grade

FIVE = {k: f"option {k}" for k in "ABCDE"}
FIVE_JA = {k: f"選択肢{k}" for k in "abcde"}
ITEMS = {
    "mcq": Item("mcq-1", "Which drug?", FIVE, frozenset("C"), "mcq"),
    "multiselect": Item("ms-1", "Choose all that apply.", FIVE, frozenset("AC"), "multiselect"),
    "igakuqa": Item("116A1", "正しいのはどれか。2つ選べ。", FIVE_JA, frozenset("be"), "igakuqa",
                    {"num_answers": 2, "kinki": [], "points": 1}),
    "igakuqa-numeric": Item("116F70", "計算せよ。", {}, "04", "igakuqa",
                            {"num_answers": 1, "kinki": [], "points": 1}),
    "medcalc-decimal": Item("mc-1", "What is the BMI?", {}, 22.9, "medcalc",
                            {"calculator_id": 6, "lower_limit": "21.755", "upper_limit": "24.045"}),
    "medcalc-integer": Item("mc-2", "What is the score?", {}, 3.0, "medcalc", {"calculator_id": 4}),
    "medcalc-date": Item("mc-3", "Estimated due date?", {}, dt.date(2024, 3, 9), "medcalc", {"calculator_id": 13}),
    "medcalc-ga": Item("mc-4", "Gestational age?", {}, GestationalAge(14, 1), "medcalc", {"calculator_id": 69}),
    "diagnosis": Item("dx-1", "Most likely diagnosis?", {}, "Acute appendicitis", "diagnosis",
                      {"synonyms": ["appendicitis"]}),
    "boxed": Item("bx-1", "Which virus?", {}, "Influenza", "boxed"),
}


def completion(answer: str) -> list[dict[str, str]]:
    """A conversational completion with reasoning and a final answer."""
    return [{"role": "assistant", "content": f"<think>\nWorking through the case.\n</think>\n\n{answer}"}]


# Gold self-check: (item, gold formatted as a completion, clearly wrong completion).
GOLD = [
    ("mcq", "Answer: C", "Answer: A"),
    ("multiselect", "Answer: A, C", "Answer: B, D"),
    ("igakuqa", "答え: b, e", "答え: a"),
    ("igakuqa-numeric", "答え: 04", "答え: 17"),
    ("medcalc-decimal", "The BMI is 22.9 kg/m^2.\nAnswer: 22.9", "Answer: 35.0"),
    ("medcalc-integer", "Answer: 3", "Answer: 7"),
    ("medcalc-date", "Answer: 03/09/2024", "Answer: 12/25/2023"),
    ("medcalc-ga", "Answer: 14 weeks and 1 day", "Answer: 20 weeks and 3 days"),
    ("diagnosis", "Final diagnosis: Acute appendicitis", "Final diagnosis: Influenza"),
    ("boxed", "\\boxed{Influenza}", "\\boxed{Measles}"),
]


def test_gold_items_cover_every_verifier():
    assert {ITEMS[key].verifier for key, _, _ in GOLD} == set(VERIFIERS)


@pytest.mark.parametrize(("key", "gold", "wrong"), GOLD)
def test_gold_gets_the_max_and_a_wrong_answer_the_min(key, gold, wrong):
    item = item_to_json(ITEMS[key])
    assert correctness_reward([completion(gold), completion(wrong)], mode="normalized", item=[item, item]) == [1.0, 0.0]


@pytest.mark.parametrize(("key", "gold", "wrong"), GOLD)
def test_reward_is_exactly_the_eval_scorers_grade(key, gold, wrong):
    # Same text, same item, same mode -> the same number the eval scorer records.
    item = ITEMS[key]
    texts = [gold, wrong, "", "<think>Answer: C", gold + "\n" + wrong]
    rewards = correctness_reward(texts, mode="normalized", item=[item_to_json(item)] * len(texts))
    assert rewards == [grade(text, item, "normalized").score for text in texts]


TABLE = [
    # no answer at all -> 0
    ("mcq", "I am not sure.", 0.0),
    # an answer only inside the reasoning does not count
    ("mcq", "<think>Answer: C</think>\nI cannot decide.", 0.0),
    # a hedge naming every option is never correct (reward hack)
    ("mcq", "Answer: A B C D E", 0.0),
    # full-width Japanese answer line is folded to ASCII
    ("mcq", "答え：Ｃ", 1.0),
    # multi-select: partial credit is the informedness tp/|gold| - fp/|non-gold| (1/2 - 0)
    ("multiselect", "Answer: A", 0.5),
    # multi-select: one right and one wrong (1/2 - 1/3)
    ("multiselect", "Answer: A, B", 1 / 6),
    # multi-select: a hedge over four of five options earns nothing (1/2 - 3/3 < 0)
    ("multiselect", "Answer: B, C, D, E", 0.0),
    # MedCalc decimal within the official limits (lower 21.755)
    ("medcalc-decimal", "Answer: 21.8", 1.0),
    # ... and outside them
    ("medcalc-decimal", "Answer: 21.7", 0.0),
    # a synonym of the gold diagnosis counts
    ("diagnosis", "Diagnosis: appendicitis", 1.0),
    # a differential list earns nothing
    ("diagnosis", "Diagnosis: appendicitis, cholecystitis, or pancreatitis", 0.0),
]


@pytest.mark.parametrize(("key", "text", "expected"), TABLE)
def test_correctness_reward_table(key, text, expected):
    rewards = correctness_reward([text], mode="normalized", item=[item_to_json(ITEMS[key])])
    assert rewards == [pytest.approx(expected)]


def test_official_mode_is_passed_through_to_the_verifier():
    # MedCalc official extraction reads the JSON "answer" field and ignores a free-form Answer: line.
    item = ITEMS["medcalc-integer"]
    text = '{"step_by_step_thinking": "sum the points", "answer": "3"}'
    assert correctness_reward([text, "Answer: 3"], mode="official", item=[item_to_json(item)] * 2) == [
        grade(text, item, "official").score, grade("Answer: 3", item, "official").score]
    assert correctness_reward([text], mode="official", item=[item_to_json(item)]) == [1.0]


@pytest.mark.parametrize("name", sorted(VARIANT_KINDS))
def test_variants_grade_their_kinds_and_return_none_for_others(name):
    reward = bind_reward(name, {"mode": "normalized"})
    keys = [key for key, _, _ in GOLD]
    rewards = reward([completion(gold) for _, gold, _ in GOLD], item=[item_to_json(ITEMS[k]) for k in keys])
    for key, value in zip(keys, rewards):
        # Applicable rows are graded exactly as correctness_reward; the others are "not applicable".
        assert value == (1.0 if ITEMS[key].verifier in VARIANT_KINDS[name] else None), key


def test_item_column_may_hold_dicts_and_parsing_is_cached():
    item = ITEMS["mcq"]
    parse_item.cache_clear()
    as_json = item_to_json(item)
    rewards = correctness_reward(["Answer: C"] * 8, mode="normalized", item=[as_json] * 8)
    assert rewards == [1.0] * 8 and parse_item.cache_info().misses == 1  # 8 generations, one parse
    assert correctness_reward(["Answer: C"], mode="normalized", item=[item_to_dict(item)]) == [1.0]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        # not JSON at all
        ("not json", "does not hold a canonical item"),
        # JSON, but not an item (no gold)
        ('{"id": "1"}', "does not hold a canonical item"),
        # wrong type in the column
        (42, "holds a int"),
    ],
)
def test_bad_item_column_is_a_clear_dataset_error(value, message):
    with pytest.raises(ValueError, match=message):
        correctness_reward(["Answer: A"], mode="normalized", item=[value])


def test_missing_item_column_is_named():
    with pytest.raises(ValueError, match="needs the dataset column 'item'"):
        correctness_reward(["Answer: A"], mode="normalized", answer=["A"])


def test_empty_item_marks_an_unverifiable_row_not_applicable():
    """select_rl writes item "" for unverifiable rows, so a mixed GRPO file gets None there, a grade elsewhere."""
    item = item_to_json(ITEMS["mcq"])
    assert correctness_reward([completion("Answer: C"), completion("Answer: C")], mode="normalized",
                              item=[item, ""]) == [1.0, None]
