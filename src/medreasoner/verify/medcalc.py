"""``medcalc``: MedCalc-Bench items (v1.0 rules), graded by calculator kind.

Kinds and correctness (the official ``check_correctness``, shared README):

* ``decimal`` (±5 %): ``Lower Limit <= answer <= Upper Limit``, inclusive, limits from
  ``meta["lower_limit"]``/``meta["upper_limit"]`` (raw strings, read as Python numbers); an item
  without them gets ``[0.95 * gold, 1.05 * gold]`` (ordered, so negative gold works);
* ``integer``: ``round(answer) == gold`` exactly, Python's banker's rounding (2.5 -> 2);
* ``date`` (IDs 13, 68): same calendar date (``9/3/2014`` == ``09/03/2014``), no tolerance;
* ``gestational_age`` (ID 69): equal (weeks, days), no tolerance.

The kind comes from ``meta["calculator_id"]`` when it is one of the official v1.0 ids, else from
``meta["output_type"]`` / the gold's type (items built by our own calculators).

Modes: ``official`` applies :mod:`medreasoner.verify.medcalc_official` to the raw output (JSON
``"answer":`` field; no think stripping, as the official harness knows no think blocks);
``normalized`` applies :mod:`medreasoner.verify.medcalc_free` to free-form output. Both return a
typed answer (``float`` / ``datetime.date`` / ``GestationalAge``) or None, checked by :func:`check`.
:func:`check_answer_string` grades an official ``LLM Answer`` string directly.

ID 69: the v1.0 code raised on every ID-69 row (undefined ``ground_truth``), storing the error text
as ``LLM Answer``; :func:`check_answer_string` fails such strings (no digits), so the stored
gpt-4o-mini results are reproduced while ``official`` extraction uses the corrected rule.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from medreasoner.benchmarks.item import GestationalAge, Item
from medreasoner.verify import medcalc_free, medcalc_official, safe_arith
from medreasoner.verify.result import Grade, all_or_nothing
from medreasoner.verify.text import answer_region, bound

MODES = ("normalized", "official")
Answer = float | dt.date | GestationalAge | None
_CHECK_ERRORS = (ValueError, TypeError, OverflowError, ArithmeticError)


def kind_of(item: Item) -> str | None:
    """"date", "gestational_age", "integer", "decimal", or None when the item does not say.

    >>> kind_of(Item("1", "Q", {}, 3.0, "medcalc", {"calculator_id": 4}))
    'integer'
    >>> kind_of(Item("1", "Q", {}, 2.5, "medcalc", {"calculator_id": 1000, "output_type": "decimal"}))
    'decimal'
    """
    calculator_id = item.meta.get("calculator_id")
    if isinstance(calculator_id, int):
        official = medcalc_official.calculator_kind(calculator_id)
        if official is not None:
            return official
    if isinstance(item.gold, GestationalAge):
        return "gestational_age"
    if isinstance(item.gold, dt.date):
        return "date"
    output_type = item.meta.get("output_type")
    if output_type in ("integer", "decimal", "date"):
        return output_type
    return "decimal" if isinstance(item.gold, float) else None


def _raw(item: Item, key: str) -> str | None:
    value = item.meta.get(key)
    return value if isinstance(value, str) else None


def _gold_number(item: Item) -> Any:
    raw = _raw(item, "ground_truth")
    return safe_arith.evaluate_literal(raw) if raw is not None else item.gold


def _limits(item: Item) -> tuple[Any, Any]:
    lower, upper = _raw(item, "lower_limit"), _raw(item, "upper_limit")
    if lower is not None and upper is not None:
        return safe_arith.evaluate_literal(lower), safe_arith.evaluate_literal(upper)
    gold = float(item.gold)
    return min(0.95 * gold, 1.05 * gold), max(0.95 * gold, 1.05 * gold)


def _gold_date(item: Item) -> dt.date:
    raw = _raw(item, "ground_truth")
    return dt.datetime.strptime(raw, "%m/%d/%Y").date() if raw is not None else item.gold


def _gestational_age_value(text: str) -> GestationalAge | None:
    # Official: regex -> f"({weeks}, {days})" -> eval, so "08" weeks is a syntax error (Incorrect).
    match = medcalc_official.search_gestational_age(text)
    if match is None:
        return None
    try:
        weeks, days = safe_arith.evaluate_literal(f"({match.group(1)}, {match.group(3)})")
    except safe_arith.ArithmeticRejected:
        return None
    return GestationalAge(weeks, days)


def _gold_gestational_age(item: Item) -> GestationalAge | None:
    raw = _raw(item, "ground_truth")
    return _gestational_age_value(raw) if raw is not None else item.gold


def official_value(answer: str, kind: str | None) -> Answer:
    """Typed value of an official answer string, as ``check_correctness`` reads it; None if unreadable.

    >>> official_value("09/03/2014", "date"), official_value("(14, 1)", "gestational_age")
    (datetime.date(2014, 9, 3), GestationalAge(weeks=14, days=1))
    >>> official_value("N/A", "decimal") is None, official_value("08", "integer") is None
    (True, True)
    """
    try:
        if kind == "date":
            return dt.datetime.strptime(answer, "%m/%d/%Y").date()
        if kind == "gestational_age":
            return _gestational_age_value(answer)
        if kind in ("integer", "decimal"):
            value = safe_arith.evaluate_literal(answer)
            if isinstance(value, (int, float)):
                return float(value)
    except _CHECK_ERRORS:
        return None
    return None


def check(answer: Answer, item: Item) -> bool:
    """Official correctness of a typed answer (tolerance per kind, see module docstring).

    >>> item = Item("1", "Q", {}, 25.238, "medcalc", {"calculator_id": 2, "lower_limit": "23.9761", "upper_limit": "26.4999"})
    >>> check(26.4999, item), check(26.5, item), check(None, item)
    (True, False, False)
    """
    kind = kind_of(item)
    try:
        if kind == "date":
            return isinstance(answer, dt.date) and answer == _gold_date(item)
        if kind == "gestational_age":
            return isinstance(answer, GestationalAge) and answer == _gold_gestational_age(item)
        if not isinstance(answer, float):
            return False
        if kind == "integer":
            return round(answer) == _gold_number(item)
        if kind == "decimal":
            lower, upper = _limits(item)
            return lower <= answer <= upper
    except (*_CHECK_ERRORS, safe_arith.ArithmeticRejected):
        return False
    return False


def check_answer_string(answer: str, item: Item) -> bool:
    """Official correctness of an already-extracted ``LLM Answer`` string ("N/A", "25.2", a date, "(W, D)", an error text).

    >>> item = Item("1", "Q", {}, 2.0, "medcalc", {"calculator_id": 4, "ground_truth": "2"})
    >>> check_answer_string("2.5", item), check_answer_string("N/A", item)
    (True, False)
    """
    return check(official_value(answer, kind_of(item)), item)


def extract(text: str, item: Item, mode: str) -> Answer:
    """Typed answer of a completion under ``mode`` ("official" or "normalized"), or None.

    >>> item = Item("1", "Q", {}, 22.9, "medcalc", {"calculator_id": 6})
    >>> extract('{"answer": "22.9 kg/m^2"}', item, "official"), extract("BMI is 22.9 kg/m^2", item, "normalized")
    (2.0, 22.9)
    """
    kind = kind_of(item)
    if kind is None:
        return None
    if mode == "official":
        try:
            return official_value(medcalc_official.extract_answer(bound(text), kind), kind)
        except medcalc_official.ExtractionFailed:
            return None
    region = answer_region(text)
    committed = medcalc_free.commitment(region)
    if committed is None:
        return None
    found, start = committed
    if kind == "date":
        return medcalc_free.date(found)
    if kind == "gestational_age":
        return medcalc_free.gestational_age(found)
    value = medcalc_free.number(found)
    if value is not None and medcalc_free.retracted(found, region[start:]):
        return None
    return value


def grade(text: str, item: Item, mode: str) -> Grade:
    """:func:`extract` then :func:`check`; score 1.0 or 0.0."""
    answer = extract(text, item, mode)
    return all_or_nothing(answer, check(answer, item))
