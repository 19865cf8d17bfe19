"""MedCalc-Bench v1.0 answer extraction, reproduced rule by rule (``evaluation/run.py`` ``extract_answer``).

The rules (shared README, "Official scoring rules") are applied to the raw model output and give
the official ``LLM Answer`` string: a ``MM/DD/YYYY`` date, ``"(W, D)"``, a number string, or
``"N/A"``. Where the official code raises (evaluating the literal ``08``), :class:`ExtractionFailed` is raised
and the row is Incorrect, as officially.

The official regexes are kept in meaning but rewritten where Python's backtracking would be
quadratic on adversarial text (1 MB of digits, 1 MB of ``answer": ``): a ``(?<!\\d)`` guard so a
number is only tried from the start of its digit run (the leftmost official match always starts
there), and a linear scan in place of ``findall(r'[Aa]nswer":\\s*(.*?)\\}')``. The tests check each
rewrite against the original pattern on generated strings.
"""

from __future__ import annotations

import re

from medreasoner.verify import safe_arith

DATE_IDS = frozenset({13, 68})
GESTATIONAL_AGE_IDS = frozenset({69})
INTEGER_IDS = frozenset({4, 15, 16, 17, 18, 20, 21, 25, 27, 28, 29, 32, 33, 36, 43, 45, 48, 51})
DECIMAL_IDS = frozenset(
    {2, 3, 5, 6, 7, 8, 9, 10, 11, 19, 22, 23, 24, 26, 30, 31, 38, 39, 40, 44, 46, 49}
    | set(range(56, 68))
)
KIND_IDS = {
    "date": DATE_IDS, "gestational_age": GESTATIONAL_AGE_IDS, "integer": INTEGER_IDS, "decimal": DECIMAL_IDS,
}
NOT_FOUND = "Not Found"
NOT_AVAILABLE = "N/A"
PLACEHOLDERS = frozenset(
    {"str(short_and_direct_answer_of_the_question)", "str(value which is the answer to the question)", "X.XX"}
)

_ANSWER_KEY = re.compile(r'[Aa]nswer":')
_SPACES = re.compile(r"\s*")
DATE = re.compile(r"^(0?[1-9]|1[0-2])\/(0?[1-9]|[12][0-9]|3[01])\/(\d{4})")
GESTATIONAL_AGE = re.compile(r"\(?[\"\']?(\d+)\s*(weeks?)?[\"\']?,?\s*[\"\']?(\d+)\s*(days?)?[\"\']?\s*\)?")
_WHITESPACE_RUN = re.compile(r"\s+")
_OUT_OF = re.compile(r"(?<!\d)(\d+) out of")
_COMMA_LIST = re.compile(r"-?(?<!\d)\d+(?:, ?-?\d+)+")
_NUMBER = re.compile(r"(-?\d+(?:\.\d+)?)")
_PER_BSA = re.compile(r"(-?(?<!\d)\d+(?:\.\d+)?)\s*mL/min/1.73")
_PERCENT = re.compile(r"(-?(?<!\d)\d+(?:\.\d+)?)%")
# Applied in this order by the official code before eval-ing a str(...) expression (sic: after
# "kg" every letter "g" is deleted, so "log" becomes "lo" and fails).
_EXPRESSION_EDITS = (
    ("^", "**"), ("is odd", "% 2 == 1"), ("is even", "% 2 == 0"), ("sqrt", "math.sqrt"), (".math", ""),
    ("weight", ""), ("height", ""), ("mg/dl", ""), ("g/dl", ""), ("mmol/L", ""), ("kg", ""), ("g", ""),
    ("mEq/L", ""),
)


class ExtractionFailed(Exception):
    """The official ``extract_answer`` would raise here; the row is Incorrect."""


def last_answer_field(raw: str) -> str | None:
    """Group of the LAST non-overlapping match of ``[Aa]nswer":\\s*(.*?)\\}``, or None.

    Linear: a match starts at a key, skips whitespace (newlines included), and ends at the first
    ``}`` if no newline comes before it; a key inside an earlier match is not a new match.

    >>> last_answer_field('{"answer": "1"} {"Answer": {"answer": 5}}')
    '{"answer": 5'
    >>> last_answer_field('{"answer": 3\\n}') is None
    True
    """
    last = None
    consumed = 0
    next_brace = next_newline = -2  # -2: not searched yet; -1: none left
    for key in _ANSWER_KEY.finditer(raw):
        if key.start() < consumed:
            continue
        start = _SPACES.match(raw, key.end()).end()
        if next_brace == -2 or 0 <= next_brace < start:
            next_brace = raw.find("}", start)
        if next_brace == -1:
            break
        if next_newline == -2 or 0 <= next_newline < start:
            next_newline = raw.find("\n", start)
        if 0 <= next_newline < next_brace:
            continue
        last = raw[start:next_brace]
        consumed = next_brace + 1
    return last


def answer_field(raw: str) -> str:
    """The official answer field: last match, stripped of whitespace then quotes; placeholders -> Not Found.

    >>> answer_field('{"step_by_step_thinking": "...", "answer": "25.2"}')
    '25.2'
    >>> answer_field('{"answer": X.XX}')
    'Not Found'
    """
    field = last_answer_field(raw)
    if field is None:
        return NOT_FOUND
    field = field.strip().strip('"')
    return NOT_FOUND if field in PLACEHOLDERS else field


def python_number(literal: str) -> int | float:
    """``eval`` of a ``-?\\d+(\\.\\d+)?`` string with Python's literal rules ("08" fails, "08.5" is 8.5).

    >>> python_number("-08.50"), python_number("00")
    (-8.5, 0)
    """
    try:
        return safe_arith.evaluate_literal(literal)
    except safe_arith.ArithmeticRejected as error:
        raise ExtractionFailed(str(error)) from None


def _date(field: str) -> str:
    match = DATE.search(field)
    if match is None:
        return NOT_AVAILABLE
    return f"{int(match.group(1)):02}/{int(match.group(2)):02}/{match.group(3)}"


def search_gestational_age(text: str) -> re.Match[str] | None:
    """``GESTATIONAL_AGE.search`` with whitespace runs collapsed first.

    Every whitespace in the pattern is ``\\s*`` and no group captures whitespace, so collapsing runs
    changes no match, while it removes the quadratic backtracking over long runs of spaces.

    >>> search_gestational_age("('14 weeks',    '1 days')").group(1, 3)
    ('14', '1')
    """
    return GESTATIONAL_AGE.search(_WHITESPACE_RUN.sub(" ", text))


def _gestational_age(field: str) -> str:
    # The corrected rule (commit 25ec6a2); v1.0 raised here on every row (see docs/verifiers.md).
    cleaned = field.replace("[", "(").replace("]", ")").replace("'", "").replace('"', "")
    match = search_gestational_age(cleaned)
    return NOT_AVAILABLE if match is None else f"({match.group(1)}, {match.group(3)})"


def _integer(field: str) -> str:
    match = _OUT_OF.search(field)
    if match is not None:
        return match.group(1)
    match = _COMMA_LIST.search(field)
    if match is not None:
        return str(len(match.group(0).split(",")))
    numbers = _NUMBER.findall(field)
    return numbers[-1] if numbers else NOT_AVAILABLE


def str_call_argument(field: str) -> str | None:
    """Group of ``re.search(r"str\\((.*)\\)", field)``: from the first ``str(`` to the last ``)`` of its line.

    >>> str_call_argument("str(round(1.5 * (2 + 1), 1)) mg")
    'round(1.5 * (2 + 1), 1)'
    """
    position = field.find("str(")
    while position != -1:
        line_end = field.find("\n", position)
        line_end = len(field) if line_end == -1 else line_end
        close = field.rfind(")", position + 4, line_end)
        if close != -1:
            return field[position + 4:close]
        position = field.find("str(", line_end)
    return None


def evaluate_expression(expression: str) -> object:
    """The official pre-processing of a ``str(...)`` expression, then the safe evaluator; N/A on failure.

    >>> evaluate_expression("70 kg / (1.75^2)")
    22.857142857142858
    >>> evaluate_expression("math.log(2)")
    'N/A'
    """
    for old, new in _EXPRESSION_EDITS:
        expression = expression.replace(old, new)
    expression = expression.split("#")[0]
    opened, closed = expression.count("("), expression.count(")")
    if opened > closed:
        expression += ")" * (opened - closed)
    elif closed > opened:
        expression = "(" * (closed - opened) + expression
    try:
        return safe_arith.evaluate(expression, safe_arith.EXPRESSION_FUNCTIONS, safe_arith.MODULES)
    except safe_arith.ArithmeticRejected:
        return NOT_AVAILABLE


def _decimal(field: str) -> str:
    argument = str_call_argument(field)
    if argument is not None:
        value = evaluate_expression(argument)
    elif (match := _PER_BSA.search(field)) is not None:
        value = python_number(match.group(1))
    elif percents := _PERCENT.findall(field):
        value = python_number(percents[-1]) / 100
    elif numbers := _NUMBER.findall(field):
        value = python_number(numbers[-1])
    else:
        return NOT_AVAILABLE
    if value == NOT_AVAILABLE:
        return NOT_AVAILABLE
    try:
        return str(value)
    except ValueError as error:  # int too large to print: the official str() raises too
        raise ExtractionFailed(str(error)) from None


def calculator_kind(calculator_id: int) -> str | None:
    """The official branch of a calculator id: "date", "gestational_age", "integer", "decimal", or None.

    >>> calculator_kind(69), calculator_kind(2), calculator_kind(999)
    ('gestational_age', 'decimal', None)
    """
    for kind, ids in KIND_IDS.items():
        if calculator_id in ids:
            return kind
    return None


_BRANCHES = {"date": _date, "gestational_age": _gestational_age, "integer": _integer, "decimal": _decimal}


def extract_answer(raw: str, kind: str) -> str:
    """The official ``LLM Answer`` for a raw completion, given the calculator's kind.

    Raises :class:`ExtractionFailed` where the official code raises.

    >>> extract_answer('{"answer": "9/3/2014"}', "date"), extract_answer('{"answer": "3, 1, 0"}', "integer")
    ('09/03/2014', '3')
    >>> extract_answer('{"answer": "12.5%"}', "decimal"), extract_answer('{"answer": "8.1 mL/min/1.73 m2"}', "decimal")
    ('0.125', '8.1')
    """
    return _BRANCHES[kind](answer_field(raw))
