r"""MedCalc-Bench ``normalized`` extraction: free-form model output, no JSON required.

The answer region (think removed, NFKC) gives one candidate string, the first that exists of:
the last ``\boxed{...}``; the official JSON ``"answer": ...`` field; the rest of the line after
the last ``answer is`` / ``Answer:`` / ``答え:``; the last non-empty line (after its last ``:`` or
`` is ``). Then, by the calculator's kind:

* number: a ``str(<expression>)`` is evaluated as in ``official``; else after the last ``=`` if
  any, the FIRST number (``-`` and U+2212 minus, thousands
  commas dropped), so units never matter: ``25.2 mL/min/1.73 m²`` -> 25.2,
  ``22.9 kg/m^2`` -> 22.9 (the official rule takes the last number, 2), ``1 + 0 + 1 = 2`` -> 2;
  ``12%`` -> 12 (no division by 100: the value as written);
* date: first ``M/D/YYYY`` or ``YYYY-MM-DD``;
* gestational age: ``14 weeks and 1 day`` / ``(14, 1)`` / the official tuple regex; ``14 weeks`` -> (14, 0).

The same tolerance rules as ``official`` then apply (see :mod:`medreasoner.verify.medcalc`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import deque

from medreasoner.benchmarks.item import GestationalAge
from medreasoner.verify import medcalc_official
from medreasoner.verify.text import last_boxed, last_nonempty_line, unwrap_latex

_STATEMENT = re.compile(r"(?=[Aa答])(?:(?i:\banswer\b\s*(?:is|:|=))|答え\s*(?:は|:))")
# A candidate longer than this is cut (head kept; tail for the last-line fallback): an answer
# fits in far fewer characters, and the number/date regexes then run on a bounded string.
CANDIDATE_CHARS = 1000
_LINE_LEAD = re.compile(r".*(?::|\bis\b)")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_NUMBER = re.compile(r"-?(?<![\d.])(?:\d+(?:\.\d+)?|\.\d+)")
_DATE_US = re.compile(r"(?<!\d)(\d{1,2})/(\d{1,2})/(\d{4})(?!\d)")
_DATE_ISO = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
_WEEKS_DAYS = re.compile(r"(?<!\d)(\d{1,3})\s*(?:weeks?|wks?|w)\b[^\d]{0,20}?(\d{1,2})\s*(?:days?|d)\b", re.IGNORECASE)
_WEEKS = re.compile(r"(?<!\d)(\d{1,3})\s*weeks?\b", re.IGNORECASE)


def candidate(region: str) -> str | None:
    r"""The string the answer is read from (see the module docstring), or None for an empty region.

    >>> candidate("BMI = 70 / 1.75^2\nThe answer is 22.9 kg/m2.")
    '22.9 kg/m2.'
    """
    boxed = last_boxed(region)
    if boxed is not None:
        return unwrap_latex(boxed[:CANDIDATE_CHARS])
    field = medcalc_official.last_answer_field(region)
    if field is not None:
        return field[:CANDIDATE_CHARS].strip().strip('"')
    statement = next(iter(deque(_STATEMENT.finditer(region), maxlen=1)), None)
    if statement is not None:
        return region[statement.end():statement.end() + CANDIDATE_CHARS].split("\n", 1)[0].strip()
    line = last_nonempty_line(region)[-CANDIDATE_CHARS:]
    if not line:
        return None
    lead = _LINE_LEAD.match(line)
    return line[lead.end():].strip() if lead else line


def number(text: str) -> float | None:
    """First number of ``text`` after its last ``=`` (see module docstring), or None.

    A ``str(<expression>)`` answer (the official prompt's format) is evaluated as officially.

    >>> number("CrCl = 140 - 87 = 25.2 mL/min"), number("−0.83"), number("1,130 kcal")
    (25.2, -0.83, 1130.0)
    >>> number("str(round(70 / 1.75 ** 2, 1))")
    22.9
    """
    expression = medcalc_official.str_call_argument(text)
    if expression is not None:
        value = medcalc_official.evaluate_expression(expression)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                return float(value)
            except OverflowError:
                return None
    text = text.replace("\u2212", "-")
    text = text[text.rfind("=") + 1:]
    match = _NUMBER.search(_THOUSANDS.sub("", text))
    if match is None:
        return None
    try:
        return float(match.group())
    except (ValueError, OverflowError):
        return None


def date(text: str) -> dt.date | None:
    """First ``M/D/YYYY`` or ``YYYY-MM-DD`` date, or None (also for impossible dates).

    >>> date("due 9/3/2014"), date("2014-02-30")
    (datetime.date(2014, 9, 3), None)
    """
    for pattern, order in ((_DATE_US, (3, 1, 2)), (_DATE_ISO, (1, 2, 3))):
        match = pattern.search(text)
        if match is not None:
            try:
                return dt.date(*(int(match.group(i)) for i in order))
            except ValueError:
                return None
    return None


def gestational_age(text: str) -> GestationalAge | None:
    """(weeks, days) from "14 weeks and 1 day", "(14, 1)", or "14 weeks"; None otherwise.

    >>> gestational_age("14 weeks and 1 day"), gestational_age("('3 weeks', '4 days')")
    (GestationalAge(weeks=14, days=1), GestationalAge(weeks=3, days=4))
    """
    match = _WEEKS_DAYS.search(text)
    if match is None:
        match = medcalc_official.search_gestational_age(text.replace("'", "").replace('"', ""))
        if match is not None and len(match.group(1)) <= 3 and len(match.group(3)) <= 3:
            return GestationalAge(int(match.group(1)), int(match.group(3)))
        weeks = _WEEKS.search(text)
        return GestationalAge(int(weeks.group(1)), 0) if weeks else None
    return GestationalAge(int(match.group(1)), int(match.group(2)))
