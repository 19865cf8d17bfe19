"""Shared text helpers, the ``diagnosis`` and ``boxed`` verifiers, the ``grade`` API, and the docstring examples.

Run: .venv/bin/python -m pytest tests/test_verify_text.py -q
"""

from __future__ import annotations

import doctest
import importlib

import pytest

from medreasoner.benchmarks.item import Item
from medreasoner.verify import VERIFIERS, Grade, grade, last_boxed
from medreasoner.verify.text import strip_think

BOXED_CASES = [
    # a simple box
    ("\\boxed{B}", "B"),
    # nested braces are kept
    ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
    # the last box wins
    ("\\boxed{1} and \\boxed{0}", "0"),
    # an unclosed last box falls back to the last closed one
    ("\\boxed{1} then \\boxed{0", "1"),
    # a space between \boxed and the brace
    ("\\boxed {7}", "7"),
    # no box
    ("boxed{1}", None),
    # only unclosed boxes
    ("\\boxed{\\boxed{", None),
    # a box opened inside another box: the latest-opened box wins
    ("\\boxed{a \\boxed{b} c}", "b"),
]


@pytest.mark.parametrize(("text", "content"), BOXED_CASES)
def test_last_boxed_table(text, content):
    assert last_boxed(text) == content


def test_last_boxed_slow_path_agrees_with_fast_path():
    # the closed box lies beyond the fast path's window, so the general pairing pass finds it
    text = "\\boxed{far}" + "x" * 30_000 + "\\boxed{"
    assert last_boxed(text) == "far"


THINK_CASES = [
    # closed block removed
    ("<think>A</think>B", "B"),
    # only the text after the LAST close counts
    ("<think>A</think>B<think>C</think>D", "D"),
    # unclosed block swallows the rest
    ("answer first <think>then thinking", "answer first "),
    # a template that pre-fills <think>: only the close tag appears
    ("thinking</think>answer", "answer"),
    # no tags
    ("plain", "plain"),
]


@pytest.mark.parametrize(("text", "region"), THINK_CASES)
def test_strip_think_table(text, region):
    assert strip_think(text) == region


FLU = Item("d1", "What is the diagnosis?", {}, "Influenza A", "diagnosis", {"synonyms": ["flu", "influenza A virus infection"]})
GBS = Item("d2", "What is the diagnosis?", {}, "Guillain-Barré syndrome", "diagnosis")

DIAGNOSIS_CASES = [
    # boxed name, case-insensitive
    ("\\boxed{influenza a}", FLU, "influenza a", True),
    # a synonym
    ("Final diagnosis: Flu.", FLU, "Flu", True),  # the name ends at its sentence
    # "most likely diagnosis is"
    ("The most likely diagnosis is influenza A virus infection", FLU, "influenza A virus infection", True),
    # accents, hyphen and article do not matter
    ("Diagnosis: the Guillain Barre syndrome", GBS, "the Guillain Barre syndrome", True),
    # Japanese label
    ("診断：Guillain-Barré syndrome", GBS, "Guillain-Barré syndrome", True),
    # a differential list is not the gold name
    ("Diagnosis: influenza A, COVID-19, RSV", FLU, "influenza A, COVID-19, RSV", False),
    # a different disease
    ("Answer: Pneumonia", FLU, "Pneumonia", False),
    # reasoning only, no statement
    ("<think>Diagnosis: flu</think>Unclear without tests.", FLU, None, False),
]


@pytest.mark.parametrize(("text", "item", "extracted", "correct"), DIAGNOSIS_CASES)
def test_diagnosis_table(text, item, extracted, correct):
    graded = grade(text, item)
    assert graded.extracted == extracted
    assert graded.correct is correct


YES = Item("b1", "judge", {}, "1", "boxed")

BOXED_VERIFIER_CASES = [
    # the judge's "consistent" verdict
    ("reasoning... \\boxed{1}", "1", True),
    # the "inconsistent" verdict
    ("\\boxed{0}", "0", False),
    # a box inside thinking does not count
    ("<think>\\boxed{1}</think>\\boxed{0}", "0", False),
    # no box: no answer
    ("1", None, False),
]


@pytest.mark.parametrize(("text", "extracted", "correct"), BOXED_VERIFIER_CASES)
def test_boxed_verifier_table(text, extracted, correct):
    graded = grade(text, YES)
    assert graded.extracted == extracted
    assert graded.correct is correct


def test_registry_modules_expose_the_contract():
    assert set(VERIFIERS) == {"mcq", "igakuqa", "medcalc", "diagnosis", "multiselect", "boxed"}
    for name, module in VERIFIERS.items():
        for function in ("extract", "check", "grade"):
            assert callable(getattr(module, function)), (name, function)
        assert set(module.MODES) == {"normalized", "official"}, name


def test_grade_rejects_configuration_errors():
    item = Item("1", "q", {"A": "a", "B": "b"}, frozenset("A"), "mcq")
    with pytest.raises(ValueError, match="unknown verify mode"):
        grade("A", item, mode="strict")
    with pytest.raises(ValueError, match="unknown verifier"):
        grade("A", Item("1", "q", {}, "x", "no-such-verifier"))


def test_grade_on_non_string_text_is_no_answer():
    item = Item("1", "q", {"A": "a", "B": "b"}, frozenset("A"), "mcq")
    assert grade(None, item) == Grade(None, False, 0.0, None)


def test_mismatched_gold_type_is_wrong_not_an_exception():
    assert not grade("Answer: A", Item("1", "q", {"A": "a", "B": "b"}, "A", "mcq")).correct
    assert not grade("Answer: 3", Item("1", "q", {}, frozenset("A"), "medcalc")).correct
    assert not grade("Answer: a", Item("1", "q", {"a": "x"}, 3.0, "igakuqa")).correct


MODULES = ["", ".text", ".letters", ".mcq", ".multiselect", ".igakuqa", ".medcalc", ".medcalc_free",
           ".medcalc_official", ".safe_arith", ".names", ".diagnosis", ".boxed", ".result"]


@pytest.mark.parametrize("suffix", MODULES)
def test_docstring_examples(suffix):
    module = importlib.import_module("medreasoner.verify" + suffix)
    result = doctest.testmod(module)
    assert result.failed == 0
    assert result.attempted > 0
