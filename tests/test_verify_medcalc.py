"""MedCalc-Bench verifier: official extraction/correctness tables, rewritten-regex equivalence, real-data reproduction.

Run: .venv/bin/python -m pytest tests/test_verify_medcalc.py -q
"""

from __future__ import annotations

import collections
import csv
import datetime as dt
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medreasoner.benchmarks.item import GestationalAge, Item
from medreasoner.verify import grade, medcalc, medcalc_official, safe_arith


def _item(calculator_id, gold, ground_truth=None, lower=None, upper=None, output_type=None):
    meta = {"calculator_id": calculator_id}
    for key, value in (("ground_truth", ground_truth), ("lower_limit", lower), ("upper_limit", upper), ("output_type", output_type)):
        if value is not None:
            meta[key] = value
    return Item(f"row-{calculator_id}", "task", {}, gold, "medcalc", meta)


def _json(answer: str) -> str:
    return '{"step_by_step_thinking": "...", "answer": "' + answer + '"}'


EXTRACTION_CASES = [
    # decimal: a plain number string
    (_json("25.2"), "decimal", "25.2"),
    # decimal: str(...) arithmetic is evaluated
    (_json("str(round(70 / (1.75 ** 2), 1))"), "decimal", "22.9"),
    # decimal: ^ becomes **, "kg" is deleted
    (_json("str(70 kg / 1.75^2)"), "decimal", str(70 / 1.75**2)),
    # decimal: sqrt becomes math.sqrt
    (_json("str(sqrt(16))"), "decimal", "4.0"),
    # decimal: every "g" is deleted, so log breaks -> N/A (official quirk)
    (_json("str(math.log(2))"), "decimal", "N/A"),
    # decimal: max is not among the official names -> N/A
    (_json("str(max(1, 2))"), "decimal", "N/A"),
    # decimal: a trailing "# comment" is dropped
    (_json("str(round(1.5 * (2 + 1), 1)  # from the note)"), "decimal", "4.5"),
    # decimal: a missing ")" is added
    (_json("str(round(2.25, 1)"), "decimal", "2.2"),
    # decimal: mL/min/1.73 takes that number
    (_json("8.1 mL/min/1.73 m2"), "decimal", "8.1"),
    # decimal: a percentage is divided by 100
    (_json("The risk is 12.5%"), "decimal", "0.125"),
    # decimal: the LAST percentage
    (_json("between 10% and 20%"), "decimal", "0.2"),
    # decimal: otherwise the LAST number, units included (kg/m^2 -> 2)
    (_json("22.9 kg/m^2"), "decimal", "2"),
    # decimal: no number
    (_json("unknown"), "decimal", "N/A"),
    # placeholder answers count as not found
    ('{"answer": X.XX}', "decimal", "N/A"),
    # no JSON answer field at all
    ("The answer is 5", "integer", "N/A"),
    # a newline before "}" means no match
    ('{"answer": 5\n}', "integer", "N/A"),
    # the LAST answer field wins
    (_json("1") + " " + _json("2"), "integer", "2"),
    # integer: "N out of M"
    (_json("3 out of 5 criteria"), "integer", "3"),
    # integer: a comma list is COUNTED
    (_json("1, 0, 1"), "integer", "3"),
    # integer: last number, may be decimal
    (_json("Score: 2.5 points"), "integer", "2.5"),
    # date: M/D/YYYY re-formatted MM/DD/YYYY
    (_json("9/3/2014"), "date", "09/03/2014"),
    # date: ISO format is not accepted
    (_json("2014-09-03"), "date", "N/A"),
    # date: anchored at the start
    (_json("Due: 09/03/2014"), "date", "N/A"),
    # gestational age: the tuple of strings
    ("{\"answer\": \"('14 weeks', '1 days')\"}", "gestational_age", "(14, 1)"),
    # gestational age: a list
    (_json("[14, 1]"), "gestational_age", "(14, 1)"),
    # gestational age: words only
    (_json("fourteen weeks"), "gestational_age", "N/A"),
]


@pytest.mark.parametrize(("raw", "kind", "expected"), EXTRACTION_CASES)
def test_official_extraction_table(raw, kind, expected):
    assert medcalc_official.extract_answer(raw, kind) == expected


def test_official_extraction_raises_where_the_official_code_raises():
    # eval("08") is a SyntaxError in Python 3: the official row becomes Incorrect
    with pytest.raises(medcalc_official.ExtractionFailed):
        medcalc_official.extract_answer(_json("08"), "decimal")
    assert grade(_json("08"), _item(2, 8.0, "8", "7.6", "8.4"), "official").extracted is None


DECIMAL = _item(2, 25.238, "25.238", "23.9761", "26.4999")
NEGATIVE = _item(64, -0.828, "-0.828", "-0.8694", "-0.7866")
ZERO = _item(46, 0.0, "0", "0", "0")
INTEGER = _item(4, 2.0, "2", "2", "2")
FOUR = _item(4, 4.0, "4", "4", "4")
DATE = _item(13, dt.date(2014, 9, 3), "09/03/2014", "09/03/2014", "09/03/2014")
AGE = _item(69, GestationalAge(14, 1), "('14 weeks', '1 days')", "('14 weeks', '1 days')", "('14 weeks', '1 days')")

CHECK_CASES = [
    # decimal: inside the window
    ("25.0", DECIMAL, True),
    # decimal: the lower limit is inclusive
    ("23.9761", DECIMAL, True),
    # decimal: the upper limit is inclusive
    ("26.4999", DECIMAL, True),
    # decimal: just outside
    ("26.5", DECIMAL, False),
    # decimal: negative gold, flipped limits
    ("-0.8", NEGATIVE, True),
    # decimal: gold 0 needs exactly 0
    ("0.0", ZERO, True),
    # decimal: gold 0, anything else is wrong
    ("0.0001", ZERO, False),
    # integer: banker's rounding, 2.5 -> 2
    ("2.5", INTEGER, True),
    # integer: 3.5 -> 4
    ("3.5", FOUR, True),
    # integer: exact, no tolerance
    ("3", INTEGER, False),
    # integer: Python literal rules, "08" does not parse
    ("08", _item(4, 8.0, "8"), False),
    # integer: eval("True") == 1
    ("True", _item(4, 1.0, "1"), True),
    # N/A is never correct
    ("N/A", INTEGER, False),
    # an exception message stored as LLM Answer is never correct
    ("name 'N' is not defined", INTEGER, False),
    # date: compared as dates
    ("9/3/2014", DATE, True),
    # date: no day tolerance
    ("09/04/2014", DATE, False),
    # date: unparseable
    ("2014-09-03", DATE, False),
    # gestational age: exact tuple
    ("(14, 1)", AGE, True),
    # gestational age: one day off
    ("(14, 2)", AGE, False),
    # gestational age: the v1.0 bug's stored exception text is Incorrect
    ("cannot access local variable 'ground_truth' where it is not associated with a value", AGE, False),
]


@pytest.mark.parametrize(("answer", "item", "correct"), CHECK_CASES)
def test_check_answer_string_table(answer, item, correct):
    assert medcalc.check_answer_string(answer, item) is correct


SYNTHETIC_DECIMAL = Item("s1", "task", {}, 100.0, "medcalc", {"calculator_id": 1001, "output_type": "decimal"})
SYNTHETIC_INTEGER = Item("s2", "task", {}, 3.0, "medcalc", {"calculator_id": 1002, "output_type": "integer"})

NORMALIZED_CASES = [
    # the first number after the last "=", units ignored
    ("BMI = 70 / 1.75^2 = 25.1 kg/m²", DECIMAL, 25.1, True),
    # boxed number
    ("Reasoning...\n\\boxed{25.2}", DECIMAL, 25.2, True),
    # the official JSON field, if present
    (_json("25.2"), DECIMAL, 25.2, True),
    # a str(<expression>) answer is evaluated as officially
    (_json("str(round((140 - 87) * 48 / (72 * 1.4), 1))"), DECIMAL, 25.2, True),
    # an expression too large for a float is no answer
    (_json("str(10 ** 400)"), DECIMAL, None, False),
    # "answer is" statement
    ("So the answer is 23.9 mL/min.", DECIMAL, 23.9, False),
    # think block ignored
    ("<think>answer is 3</think>Answer: 4", FOUR, 4.0, True),
    # unclosed think: no answer
    ("<think>Answer: 4", FOUR, None, False),
    # banker's rounding applies in normalized mode too
    ("Total score: 2.5", INTEGER, 2.5, True),
    # the unicode minus sign
    ("Delta ratio: −0.83", NEGATIVE, -0.83, True),
    # a sentence ending "is <date>."
    ("The estimated due date is 9/3/2014.", DATE, dt.date(2014, 9, 3), True),
    # ISO date
    ("Answer: 2014-09-03", DATE, dt.date(2014, 9, 3), True),
    # weeks and days in words
    ("Gestational age: 14 weeks and 1 day", AGE, GestationalAge(14, 1), True),
    # a tuple
    ("Answer: (14, 1)", AGE, GestationalAge(14, 1), True),
    # no number at all
    ("I cannot compute this.", DECIMAL, None, False),
    # an item from our own calculators: 5 % window around the typed gold
    ("Answer: 104.9", SYNTHETIC_DECIMAL, 104.9, True),
    # ... and outside it
    ("Answer: 105.1", SYNTHETIC_DECIMAL, 105.1, False),
    # an integer item from our own calculators
    ("Answer: 3 points", SYNTHETIC_INTEGER, 3.0, True),
]


@pytest.mark.parametrize(("text", "item", "extracted", "correct"), NORMALIZED_CASES)
def test_normalized_table(text, item, extracted, correct):
    graded = grade(text, item, "normalized")
    assert graded.extracted == extracted
    assert graded.correct is correct


SAFE_ARITH_CASES = [
    # arithmetic with the official names
    ("round(min(3, 4) * 2.5, 1)", 7.5),
    # comparisons (from "is odd" -> "% 2 == 1")
    ("7 % 2 == 1", True),
    # numpy names are allowed and computed with math
    ("np.sqrt(9) + numpy.pi * 0", 3.0),
    # float() of a string literal
    ('float("2.5")', 2.5),
]


@pytest.mark.parametrize(("source", "value"), SAFE_ARITH_CASES)
def test_safe_arith_table(source, value):
    assert safe_arith.evaluate(source, safe_arith.EXPRESSION_FUNCTIONS, safe_arith.MODULES) == value


@pytest.mark.parametrize(
    "source",
    [
        "__import__('os').system('true')",  # imports are names, not allowed
        "().__class__.__bases__",  # attribute walks
        "9 ** 9 ** 9",  # would run for minutes
        "'x' * 10 ** 9",  # would allocate a gigabyte
        "[x for x in (1, 2)]",  # comprehensions
        "lambda: 1",  # functions
        "1 << 100000000",  # shifts
        "open('f')",  # any other builtin
    ],
)
def test_safe_arith_rejects(source):
    with pytest.raises(safe_arith.ArithmeticRejected):
        safe_arith.evaluate(source, safe_arith.EXPRESSION_FUNCTIONS, safe_arith.MODULES)


# --- The linear-time rewrites agree with the official patterns (oracles below are the README's regexes).

_FRAGMENTS = st.lists(
    st.sampled_from(['answer":', 'Answer":', " ", "\n", "}", "{", '"', "1", "23", "-", ".", ",", ", ", "%", "x",
                     "5.5", " out of", "mL/min/1.73", "str(", ")", "(", "weeks", "days", "'", "\t"]),
    max_size=30,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(_FRAGMENTS)
def test_last_answer_field_matches_findall(text):
    found = re.findall(r'[Aa]nswer":\s*(.*?)\}', text)
    assert medcalc_official.last_answer_field(text) == (found[-1] if found else None)


def _official_integer(field):
    match = re.search(r"(\d+) out of", field)
    if match:
        return match.group(1)
    match = re.search(r"-?\d+(, ?-?\d+)+", field)
    if match:
        return str(len(match.group(0).split(",")))
    numbers = re.findall(r"(-?\d+(\.\d+)?)", field)
    return numbers[-1][0] if numbers else "N/A"


def _official_decimal_number(field):
    match = re.search(r"(-?\d+(\.\d+)?)\s*mL/min/1.73", field)
    if match:
        return ("bsa", match.group(1))
    percents = re.findall(r"(-?\d+(\.\d+)?)\%", field)
    if percents:
        return ("percent", percents[-1][0])
    numbers = re.findall(r"(-?\d+(\.\d+)?)", field)
    return ("number", numbers[-1][0]) if numbers else None


def _ours_decimal_number(field):
    match = medcalc_official._PER_BSA.search(field)
    if match:
        return ("bsa", match.group(1))
    percents = medcalc_official._PERCENT.findall(field)
    if percents:
        return ("percent", percents[-1])
    numbers = medcalc_official._NUMBER.findall(field)
    return ("number", numbers[-1]) if numbers else None


@settings(max_examples=300, deadline=None)
@given(_FRAGMENTS)
def test_number_rules_match_official_patterns(field):
    assert medcalc_official._integer(field) == _official_integer(field)
    assert _ours_decimal_number(field) == _official_decimal_number(field)
    official_str = re.search(r"str\((.*)\)", field)
    assert medcalc_official.str_call_argument(field) == (official_str.group(1) if official_str else None)
    official_age = medcalc_official.GESTATIONAL_AGE.search(field)
    ours_age = medcalc_official.search_gestational_age(field)
    assert (ours_age.group(1, 3) if ours_age else None) == (official_age.group(1, 3) if official_age else None)


# --- Real data: the stored official output is reproduced row by row.

def _csv_items(root):
    items = {}
    with open(root / "test_data_v1.0.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            calculator_id = int(row["Calculator ID"])
            truth = row["Ground Truth Answer"]
            if calculator_id in medcalc_official.DATE_IDS:
                gold = dt.datetime.strptime(truth, "%m/%d/%Y").date()
            elif calculator_id in medcalc_official.GESTATIONAL_AGE_IDS:
                weeks, days = re.findall(r"\d+", truth)
                gold = GestationalAge(int(weeks), int(days))
            else:
                gold = float(truth)
            meta = {"calculator_id": calculator_id, "output_type": row["Output Type"], "category": row["Category"],
                    "ground_truth": truth, "lower_limit": row["Lower Limit"], "upper_limit": row["Upper Limit"]}
            items[int(row["Row Number"])] = Item(row["Row Number"], row["Question"], {}, gold, "medcalc", meta)
    return items


def test_check_answer_string_reproduces_gpt4o_mini_direct_answer(shared_benchmarks):
    root = shared_benchmarks / "medcalc_bench"
    items = _csv_items(root)
    lines = (root / "model_outputs" / "openai_gpt-4o-mini_direct_answer.jsonl").read_text(encoding="utf-8").splitlines()
    correct_by_category = collections.Counter()
    for line in lines:
        output = json.loads(line)
        item = items[output["Row Number"]]
        verdict = medcalc.check_answer_string(output["LLM Answer"], item)
        assert verdict == (output["Result"] == "Correct"), output["Row Number"]
        correct_by_category[item.meta["category"]] += verdict
    # README: direct_answer counts per category, 216/1047 overall.
    assert dict(correct_by_category) == {"lab": 54, "risk": 32, "physical": 82, "severity": 11, "diagnosis": 19, "date": 14, "dosage": 4}


def test_gold_answers_grade_correct_in_both_modes(shared_benchmarks):
    for item in _csv_items(shared_benchmarks / "medcalc_bench").values():
        truth = item.meta["ground_truth"]
        assert grade('{"answer": ' + truth + "}", item, "official").correct, item.id
        assert grade(f"The answer is {truth}.", item, "normalized").correct, item.id


def test_official_grade_of_rewrapped_answers_reproduces_stored_results(shared_benchmarks):
    """Extraction + check end to end: each stored LLM Answer put back into the official JSON format."""
    root = shared_benchmarks / "medcalc_bench"
    items = _csv_items(root)
    lines = (root / "model_outputs" / "openai_gpt-4o-mini_direct_answer.jsonl").read_text(encoding="utf-8").splitlines()
    for line in lines:
        output = json.loads(line)
        graded = grade('{"answer": "' + output["LLM Answer"] + '"}', items[output["Row Number"]], "official")
        assert graded.correct == (output["Result"] == "Correct"), output["Row Number"]
