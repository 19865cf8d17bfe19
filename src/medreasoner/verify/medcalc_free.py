r"""MedCalc-Bench ``normalized`` extraction: free-form model output, no JSON required.

The answer region (think removed, NFKC) gives one candidate string, the LAST COMMITTED of: the
last ``\boxed{...}``, the official JSON ``"answer": ...`` field, the rest of the line after the
last ``answer is`` / ``Answer:`` / ``答え:`` (whichever starts last wins, so a later statement
corrects a box); with none of them, the last non-empty line (after its last ``:`` or `` is ``).
Boxes joined only by punctuation or hedge words (``\boxed{23.9} or \boxed{75.7}``) with different
contents are a hedge: no answer; so is a box or statement line followed by a hedge word and more text
(``\boxed{23.9} or 75.7``). Then, by the calculator's kind:

* number: a ``str(<expression>)`` is evaluated as in ``official``; else after the last ``=`` if
  any, the FIRST number (``-`` and U+2212 minus, thousands
  commas dropped), so units never matter: ``25.2 mL/min/1.73 m²`` -> 25.2,
  ``22.9 kg/m^2`` -> 22.9 (the official rule takes the last number, 2), ``1 + 0 + 1 = 2`` -> 2;
  ``12%`` -> 12 (no division by 100: the value as written). No answer when that number opens a
  range, list or hedge (``23.9 to 75.7``, ``between 23.9 and 75.7``, ``23.9-75.7``, ``25 ± 2``, ``25 \\pm 2``,
  ``23.9 or 75.7``, ``24..26``, ``24 → 26``, ``1, 0, 1``; units may sit between), is a
  bound (``>24``, ``\\geq 24``, ``at least 24``, ``under 26``), has an exponent (``25.2e10``,
  ``25.2 \\times 10^3``) or is negated (``not 25.2``,
  ``25.2 is incorrect``, also anywhere after the commitment: :func:`retracted`);
* date: first ``M/D/YYYY`` or ``YYYY-MM-DD``; no answer when negated or joined to another date by a range or
  hedge word (``not 9/3/2014``, ``9/3/2014 or 9/10/2014``);
* gestational age: ``14 weeks and 1 day`` / ``(14, 1)`` / the official tuple regex (its two numbers apart:
  ``141 days`` is no age); ``14 weeks`` -> (14, 0); negated or hedged ages are no answer, as for dates.

The same tolerance rules as ``official`` then apply (see :mod:`medreasoner.verify.medcalc`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import deque

from medreasoner.benchmarks.item import GestationalAge
from medreasoner.verify import medcalc_official
from medreasoner.verify.text import hedge_follows, last_nonempty_line, trailing_boxes, unwrap_latex

_STATEMENT = re.compile(r"(?=[Aa答])(?:(?i:\banswer\b\s*(?:is|:|=>?))|答え\s*(?:は|:))")  # "=>": an arrow
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
# After the read number: an optional unit, then a range/list connector and another number.
_RANGE_AFTER = re.compile(
    r"\s*(?:%|[^\W\d_]{1,12}(?:/[^\W\d_]{1,12}){0,3})?\s*\(?\s*"
    r"(?:-|–|—|~|～|〜|±|\\pm|\+/-|\+-|,|;|\.{2,3}|…|→|->"
    r"|(?i:to|and|or|through|until)\b|から|または|か|と)\s*[-−]?\.?\d"
)
# A number written with an exponent or a power of ten ("25.2e10", "25.2 \times 10^3") is not the number read.
_EXPONENT_AFTER = re.compile(r"[eE][-+]?\d|\s*(?:\\times|\\cdot|×|x|\*)\s*10\s*\^")
_NEGATED_BEFORE = re.compile(
    r"(?i:\b(?:not|never|cannot|rather\s+than|instead\s+of|except|excluding)|n't)\s+(?i:be\s+)?(?i:equal\s+to\s+)?$"
)
# A bound is not a value: ">24", "\geq 24", "at least 24", "under 26".
_BOUND_BEFORE = re.compile(
    r"(?:(?<![-=])[<>≤≥≦≧]=?|\\[lg]eq?|\\[lg]t|(?i:\b(?:at\s+(?:least|most)|more\s+than|less\s+than|greater\s+than"
    r"|fewer\s+than|over|under|above|below|up\s+to))\b)\s*$"
)
_NEGATED_AFTER = re.compile(
    r"\s*(?:%|[^\W\d_]{1,12}(?:/[^\W\d_]{1,12}){0,3})?\s*"
    r"(?:(?i:(?:is|was|would\s+be)\s+(?:not\s+(?:correct|right|the\s+answer)|incorrect|wrong)\b|\?\s*no\b)"
    r"|ではない|でない|じゃない|は誤|は不正解|は間違|以外)"
)
_NUMBER_TEXT = re.compile(r"[-−]?(?<![\d.])(?:\d+(?:[.,]\d+)*|\.\d+)")
# A range or hedge word after a date or gestational age, before another one ("9/3/2014 or 9/10/2014").
_JOINED = re.compile(
    r"\s*\)?\s*(?:–|—|~|～|〜|(?i:to|and|or|through|until|vs\.?|versus|otherwise)\b|から|または|か|と)\s*\(?\s*"
)
_ANY_DATE = re.compile(r"\d{1,2}/\d{1,2}/\d{4}|\d{4}-\d{1,2}-\d{1,2}")
_AN_AGE = re.compile(r"\d{1,3}\s*(?:weeks?|wks?|w)\b|\(\s*\d")  # "15 weeks", "(15, 2)": not "99 days in total"


def commitment(region: str) -> tuple[str, int] | None:
    r"""The candidate string (see the module docstring) and where its commitment starts, or None.

    >>> commitment(r"\boxed{25.2}" + "\nOn reflection, the answer is 30.")
    ('30.', 32)
    >>> commitment(r"\boxed{23.9} or \boxed{75.7}") is None
    True
    """
    boxes = trailing_boxes(region)
    statement = next(iter(deque(_STATEMENT.finditer(region), maxlen=1)), None)
    field = medcalc_official.last_answer_field(region)
    field_start = region.rfind('nswer":') if field is not None else -1
    box_start = boxes[-1].start if boxes else -1
    statement_start = statement.start() if statement is not None else -1
    latest = max(box_start, field_start, statement_start)
    if latest == -1:
        line = last_nonempty_line(region)[-CANDIDATE_CHARS:]
        if not line:
            return None
        lead = _LINE_LEAD.match(line)
        return (line[lead.end():].strip() if lead else line), len(region) - len(line)
    if latest == box_start:
        if len({box.content.strip() for box in boxes}) > 1 or hedge_follows(region[boxes[-1].end:]):
            return None
        return unwrap_latex(boxes[-1].content[:CANDIDATE_CHARS]), boxes[0].start
    if latest == field_start:
        return field[:CANDIDATE_CHARS].strip().strip('"'), field_start
    line = region[statement.end():statement.end() + CANDIDATE_CHARS].split("\n", 1)[0]
    if hedge_follows(region[statement.end() + len(line):]):  # "The answer is 25.2\nor 30"
        return None
    return line.strip(), statement_start


def candidate(region: str) -> str | None:
    r"""The string the answer is read from (see the module docstring), or None.

    >>> candidate("BMI = 70 / 1.75^2\nThe answer is 22.9 kg/m2.")
    '22.9 kg/m2.'
    """
    found = commitment(region)
    return None if found is None else found[0]


def retracted(found: str, tail: str) -> bool:
    """True when ``tail`` (the text from the commitment on) negates the number read from ``found``.

    >>> retracted("25.2", "25.2. On reflection, 25.2 is wrong."), retracted("25.2", "25.2, not 2.")
    (True, False)
    """
    expression = medcalc_official.str_call_argument(found)
    if expression is not None:
        return False
    found = found.replace("\u2212", "-")
    match = _NUMBER_TEXT.search(found[found.rfind("=") + 1:])
    if match is None:
        return False
    literal = re.escape(match.group().lstrip("-−"))
    pattern = (
        rf"(?i:\b(?:not|never|cannot|rather\s+than|instead\s+of)|n't)\s+(?i:be\s+)?{literal}(?!\d|\.\d)"
        rf"|(?<![\d.]){literal}(?!\.?\d){_NEGATED_AFTER.pattern}"
    )
    return re.search(pattern, tail) is not None


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
    text = text.replace("\u2212", "-").replace("=>", "→")  # an arrow, not an equation's last "="
    text = _THOUSANDS.sub("", text[text.rfind("=") + 1:])
    match = _NUMBER.search(text)
    if match is None:
        return None
    # A range, a list, a bound, a negated number or one with an exponent is not one committed value.
    if any(pattern.match(text, match.end()) for pattern in (_RANGE_AFTER, _NEGATED_AFTER, _EXPONENT_AFTER)):
        return None
    if any(pattern.search(text, max(0, match.start() - 40), match.start()) for pattern in (_NEGATED_BEFORE, _BOUND_BEFORE)):
        return None
    try:
        return float(match.group())
    except (ValueError, OverflowError):
        return None


def _committed_at(text: str, match: re.Match[str], pattern: re.Pattern[str]) -> bool:
    """False when the value ``match`` read is negated ("not 9/3/2014", "9/3/2014 is wrong") or opens a range or
    hedge with another value of ``pattern`` ("between 9/3/2014 and 9/10/2014", "14 weeks or 15 weeks")."""
    if _NEGATED_BEFORE.search(text, max(0, match.start() - 40), match.start()):
        return False
    if _NEGATED_AFTER.match(text, match.end()):
        return False
    joined = _JOINED.match(text, match.end())
    return joined is None or pattern.match(text, joined.end()) is None


def date(text: str) -> dt.date | None:
    """First ``M/D/YYYY`` or ``YYYY-MM-DD`` date, or None (also for impossible dates, and for a date that is
    negated or joined to another by a range or hedge word: :func:`_committed_at`).

    >>> date("due 9/3/2014"), date("2014-02-30"), date("not 9/3/2014"), date("9/3/2014 or 9/10/2014")
    (datetime.date(2014, 9, 3), None, None, None)
    """
    for pattern, order in ((_DATE_US, (3, 1, 2)), (_DATE_ISO, (1, 2, 3))):
        match = pattern.search(text)
        if match is not None:
            if not _committed_at(text, match, _ANY_DATE):
                return None
            try:
                return dt.date(*(int(match.group(i)) for i in order))
            except ValueError:
                return None
    return None


def gestational_age(text: str) -> GestationalAge | None:
    """(weeks, days) from "14 weeks and 1 day", "(14, 1)", or "14 weeks"; None otherwise, and for an age that is
    negated or joined to another by a range or hedge word (:func:`_committed_at`).

    >>> gestational_age("14 weeks and 1 day"), gestational_age("('3 weeks', '4 days')")
    (GestationalAge(weeks=14, days=1), GestationalAge(weeks=3, days=4))
    >>> gestational_age("141 days") is None, gestational_age("not 14 weeks and 1 day") is None
    (True, True)
    """
    match = _WEEKS_DAYS.search(text)
    if match is not None:
        return GestationalAge(int(match.group(1)), int(match.group(2))) if _committed_at(text, match, _AN_AGE) else None
    unquoted = text.replace("'", "").replace('"', "")
    match = medcalc_official.search_gestational_age(unquoted)
    # The official pattern also splits one run of digits ("141" -> 14, 1); here the two must stand apart.
    if match is not None and len(match.group(1)) <= 3 and len(match.group(3)) <= 3 and match.end(1) < match.start(3):
        if not _committed_at(unquoted, match, _AN_AGE):
            return None
        return GestationalAge(int(match.group(1)), int(match.group(3)))
    weeks = _WEEKS.search(text)
    if weeks is None or not _committed_at(text, weeks, _AN_AGE):
        return None
    return GestationalAge(int(weeks.group(1)), 0)
