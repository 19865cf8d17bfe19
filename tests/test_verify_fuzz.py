"""Totality: every verifier, in every mode, grades any text (random and 1 MB adversarial) without raising.

Timings are not asserted here; ``bench/verify_throughput.py`` prints them.
Run: .venv/bin/python -m pytest tests/test_verify_fuzz.py -q
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medreasoner.benchmarks.item import GestationalAge, Item
from medreasoner.verify import MODES, Grade, grade

FIVE = {letter: letter for letter in "ABCDE"}
ITEMS = {
    "mcq": Item("m", "q", FIVE, frozenset("B"), "mcq"),
    "multiselect": Item("s", "q", FIVE, frozenset("BD"), "multiselect"),
    "igakuqa": Item("112A1", "q", {k: k for k in "abcde"}, frozenset("be"), "igakuqa", {"kinki": ["a"]}),
    "igakuqa_numeric": Item("112C66", "q", {}, "04", "igakuqa"),
    "medcalc_decimal": Item("1", "t", {}, 25.2, "medcalc",
                            {"calculator_id": 2, "ground_truth": "25.2", "lower_limit": "23.94", "upper_limit": "26.46"}),
    "medcalc_integer": Item("2", "t", {}, 3.0, "medcalc", {"calculator_id": 4, "ground_truth": "3"}),
    "medcalc_date": Item("3", "t", {}, dt.date(2014, 9, 3), "medcalc", {"calculator_id": 13}),
    "medcalc_age": Item("4", "t", {}, GestationalAge(14, 1), "medcalc", {"calculator_id": 69}),
    "diagnosis": Item("d", "q", {}, "Influenza", "diagnosis", {"synonyms": ["flu"]}),
    "boxed": Item("b", "q", {}, "1", "boxed"),
}

_PIECES = st.sampled_from([
    "<think>", "</think>", "\\boxed{", "}", "{", "answer is ", "Answer: ", '"answer": ', "答え：", "正解は", "Ａ", "ｂ",
    "A", "B", "e", ",", "、", " and ", " or ", "(", ")", "str(", "^", "**", "%", "mL/min/1.73", " out of ", "1", "08",
    "2.5", "-", "9/3/2014", "14 weeks", "1 day", "\n", " ", "\\text{", "sqrt", "1e999", "9**9**9", "#",
])
_TEXT = st.one_of(st.text(max_size=200), st.lists(_PIECES, max_size=40).map("".join))


def _assert_valid(graded: Grade) -> None:
    assert isinstance(graded, Grade)
    assert isinstance(graded.correct, bool)
    assert 0.0 <= graded.score <= 1.0
    assert graded.counts is None or all(isinstance(count, int) and count >= 0 for count in graded.counts)


@settings(max_examples=100, deadline=None)
@given(_TEXT)
def test_any_text_grades_without_error(text):
    for item in ITEMS.values():
        for mode in MODES:
            _assert_valid(grade(text, item, mode))


MEGABYTE = 1_000_000


def _repeat(piece: str) -> str:
    return (piece * (MEGABYTE // len(piece) + 1))[:MEGABYTE]


# name -> (1 MB text, the items whose extractors it targets)
ADVERSARIAL = {
    "unclosed boxes": (_repeat("\\boxed{"), ["mcq", "diagnosis", "boxed", "medcalc_decimal"]),
    "answer statements": (_repeat("answer is "), ["mcq", "diagnosis", "medcalc_decimal"]),
    "nested braces": ("\\boxed{" + "{" * (MEGABYTE // 2) + "}" * (MEGABYTE // 2), ["mcq", "medcalc_age"]),
    "unclosed think": ("<think>" + _repeat("The answer is B. "), ["mcq", "igakuqa", "medcalc_decimal"]),
    "digits": (_repeat("1234567890"), ["medcalc_integer", "medcalc_decimal", "medcalc_age"]),
    "digits and commas": (_repeat("1,"), ["medcalc_integer", "igakuqa", "igakuqa_numeric"]),
    "json answer keys": (_repeat('"answer": '), ["medcalc_decimal", "medcalc_date"]),
    "space run": ("1" + " " * MEGABYTE + "x", ["igakuqa", "medcalc_age", "mcq"]),
    "str( calls": (_repeat("str("), ["medcalc_decimal"]),
    "japanese labels": (_repeat("答え："), ["igakuqa", "mcq"]),
    "all letters": (_repeat("A B C D E "), ["mcq", "multiselect", "igakuqa"]),
    "dotted numbers": (_repeat("1.1."), ["medcalc_decimal"]),
    "long expression": ('{"answer": "str(' + "1+" * (MEGABYTE // 4) + '1)"}', ["medcalc_decimal"]),
}


# Only igakuqa and medcalc read text differently per mode; the others are graded once.
_MODE_DEPENDENT = ("igakuqa", "medcalc")


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_adversarial_megabyte_inputs(name):
    text, targets = ADVERSARIAL[name]
    for target in targets:
        modes = MODES if target.startswith(_MODE_DEPENDENT) else ("normalized",)
        for mode in modes:
            _assert_valid(grade(text, ITEMS[target], mode))


def test_reward_hacks_on_megabyte_inputs_earn_nothing():
    assert not grade(_repeat("A B C D E "), ITEMS["mcq"]).correct
    assert grade(_repeat("A B C D E "), ITEMS["multiselect"]).score == 0.0
    assert grade("<think>" + _repeat("The answer is B. "), ITEMS["mcq"]).extracted is None


_GOLDS = [frozenset("A"), 3.0, dt.date(2020, 1, 1), GestationalAge(1, 2), "A", frozenset()]
_METAS = [
    {},
    {"calculator_id": 2, "lower_limit": "abc", "upper_limit": "__import__('os')", "ground_truth": "x"},
    {"calculator_id": 13, "ground_truth": "not a date"},
    {"calculator_id": 69, "ground_truth": "garbage"},
    {"calculator_id": 4, "ground_truth": "9" * 5000},
    {"kinki": [1, None, "ab"], "synonyms": "not a list", "output_type": "weird"},
]


@pytest.mark.parametrize("verifier", ["mcq", "igakuqa", "medcalc", "diagnosis", "multiselect", "boxed"])
def test_malformed_items_grade_without_error(verifier):
    texts = ["Answer: A", '{"answer": "3"}', "\\boxed{A}", "(1, 2)", "01/01/2020", ""]
    for gold in _GOLDS:
        for meta in _METAS:
            for options in ({}, {"A": "x", "B": "y"}, {"long key": "x"}):
                item = Item("116A71", "q", options, gold, verifier, meta)
                for text in texts:
                    for mode in MODES:
                        _assert_valid(grade(text, item, mode))
