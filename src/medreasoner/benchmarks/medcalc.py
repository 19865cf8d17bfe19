"""MedCalc-Bench v1.0 test CSV (ncbi-nlp/MedCalc-Bench ``dataset/test_data.csv``, 1,047 rows).

The file is RFC-4180 CSV written by pandas: ``Patient Note`` and ``Ground Truth Explanation`` hold
newlines inside quoted fields, so it is read with :mod:`csv`, never split on lines. ``Relevant
Entities`` is a Python literal (single quotes), parsed with :func:`ast.literal_eval` (literals only,
no code runs). Gold answers are typed by ``Output Type``: ``decimal`` / ``integer`` -> float,
``date`` -> :class:`datetime.date` (``MM/DD/YYYY``); calculator 69 (gestational age, labelled
``integer``) -> :class:`GestationalAge` from a tuple string like ``('14 weeks', '1 days')``.
Item ids are the ``Row Number``; ``Item.question`` is the task (``Question`` column).
"""

from __future__ import annotations

import ast
import csv
import datetime as dt
import io
import re
from pathlib import Path

from medreasoner.benchmarks.item import GestationalAge, Gold, Item
from medreasoner.benchmarks.records import check_unique_id
from medreasoner.errors import InputError

COLUMNS = (
    "Row Number", "Calculator ID", "Calculator Name", "Category", "Output Type", "Note ID", "Note Type",
    "Patient Note", "Question", "Relevant Entities", "Ground Truth Answer", "Lower Limit", "Upper Limit",
    "Ground Truth Explanation",
)
OUTPUT_TYPES = ("decimal", "integer", "date")
# Calculator 69 ("Estimated Gestational Age") answers a (weeks, days) pair although labelled integer.
GESTATIONAL_AGE_CALCULATOR = 69
_WEEKS_DAYS = re.compile(r"^\s*(\d+)\s*weeks?\s*$|^\s*(\d+)\s*days?\s*$")


def load_medcalc(path: str | Path) -> list[Item]:
    """Load a MedCalc-Bench test CSV into typed items.

    Raises:
        InputError: non-UTF-8 text, missing columns, a short row, a non-integer id, an unknown
            output type, an unparseable ground truth / limit / entity literal, or a duplicate row.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        line = path.read_bytes()[: error.start].count(b"\n") + 1
        raise InputError(path, f"not valid UTF-8 (byte {error.start} of the file)", line=line) from None
    # newline="" keeps quoted newlines intact and splits records only on \n / \r\n (csv module docs).
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise InputError(path, "empty file: no header row")
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        raise InputError(path, f"missing column(s) {missing}", line=1, field=missing[0])
    items: list[Item] = []
    seen: dict[str, int] = {}
    first_line = reader.line_num + 1
    for values in reader:
        line, first_line = first_line, reader.line_num + 1
        if not any(value.strip() for value in values):
            continue
        if len(values) != len(header):
            raise InputError(path, f"expected {len(header)} fields, got {len(values)}", line=line)
        row = dict(zip(header, values))
        item = _row_to_item(row, path, line)
        check_unique_id(seen, item.id, path, line, "Row Number")
        items.append(item)
    if not items:
        raise InputError(path, "empty file: no data rows")
    return items


def _row_to_item(row: dict[str, str], path: Path, line: int) -> Item:
    row_number = _parse_int(row["Row Number"], path, line, "Row Number")
    calculator_id = _parse_int(row["Calculator ID"], path, line, "Calculator ID")
    output_type = row["Output Type"]
    if output_type not in OUTPUT_TYPES:
        raise InputError(path, f"expected one of {list(OUTPUT_TYPES)}, got {output_type!r}", line=line, field="Output Type")
    gold = _parse_gold(row["Ground Truth Answer"], calculator_id, output_type, path, line)
    if isinstance(gold, float):
        # The official decimal rule compares against these limits, so they must be numbers.
        for column in ("Lower Limit", "Upper Limit"):
            _parse_float(row[column], path, line, column)
    for column in ("Calculator Name", "Category", "Question"):
        if not row[column].strip():
            raise InputError(path, "empty", line=line, field=column)
    return Item(
        id=str(row_number),
        question=row["Question"],
        options={},
        gold=gold,
        verifier="medcalc",
        meta={
            "calculator_id": calculator_id,
            "calculator_name": row["Calculator Name"],
            "category": row["Category"],
            "output_type": output_type,
            "note_id": row["Note ID"],
            "note_type": row["Note Type"],
            "patient_note": row["Patient Note"],
            "task": row["Question"],
            "relevant_entities": _parse_entities(row["Relevant Entities"], path, line),
            "ground_truth": row["Ground Truth Answer"],
            "lower_limit": row["Lower Limit"],
            "upper_limit": row["Upper Limit"],
            "ground_truth_explanation": row["Ground Truth Explanation"],
        },
    )


def _parse_gold(text: str, calculator_id: int, output_type: str, path: Path, line: int) -> Gold:
    field = "Ground Truth Answer"
    if calculator_id == GESTATIONAL_AGE_CALCULATOR:
        return parse_gestational_age(text, path, line)
    if output_type == "date":
        try:
            return dt.datetime.strptime(text.strip(), "%m/%d/%Y").date()
        except ValueError:
            raise InputError(path, f"expected a date MM/DD/YYYY, got {text!r}", line=line, field=field) from None
    return _parse_float(text, path, line, field)


def parse_gestational_age(text: str, path: str | Path, line: int) -> GestationalAge:
    """Parse the calculator-69 ground truth ``('14 weeks', '1 days')`` into ``GestationalAge(14, 1)``."""
    field = "Ground Truth Answer"
    try:
        pair = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        pair = None
    if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(part, str) for part in pair)):
        raise InputError(path, f"expected a tuple like ('14 weeks', '1 days'), got {text!r}", line=line, field=field)
    weeks, days = (_WEEKS_DAYS.match(part) for part in pair)
    if weeks is None or days is None or weeks.group(1) is None or days.group(2) is None:
        raise InputError(path, f"expected ('<n> weeks', '<n> days'), got {text!r}", line=line, field=field)
    return GestationalAge(int(weeks.group(1)), int(days.group(2)))


def _parse_entities(text: str, path: Path, line: int) -> dict:
    try:
        entities = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise InputError(path, "not a Python literal dict", line=line, field="Relevant Entities") from None
    if not isinstance(entities, dict):
        raise InputError(path, f"expected a dict literal, got {type(entities).__name__}", line=line, field="Relevant Entities")
    return entities


def _parse_int(text: str, path: Path, line: int, field: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InputError(path, f"expected an integer, got {text!r}", line=line, field=field) from None


def _parse_float(text: str, path: Path, line: int, field: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InputError(path, f"expected a number, got {text!r}", line=line, field=field) from None
