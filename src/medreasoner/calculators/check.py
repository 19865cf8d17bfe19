"""Recompute MedCalc-Bench rows from their ``Relevant Entities`` and compare with the ground truth
using the benchmark's own tolerance rules (README of MedCalc-Bench v1.0, ``check_correctness``):
decimal answers must lie in [Lower Limit, Upper Limit] inclusive; integer answers must equal the
ground truth after rounding; dates must be equal; gestational age (ID 69) must equal (weeks, days).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, Callable

from medreasoner.benchmarks import load_benchmark
from medreasoner.benchmarks.medcalc import COLUMNS
from medreasoner.calculators.conventions import DEFAULT_CONVENTION, compute_with
from medreasoner.calculators.entities import EntityError
from medreasoner.calculators.registry import CALCULATORS

__all__ = ["COLUMNS", "agrees", "check_rows", "parse_weeks_days", "read_rows"]


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Read a MedCalc-Bench CSV through the benchmark loader (which validates every row and raises
    :class:`~medreasoner.errors.InputError` naming file, line and field) into the plain rows
    :func:`check_rows` takes: ``Row Number``, ``calculator_id``, ``Calculator Name``, ``entities``,
    ``Ground Truth Answer``, ``Lower Limit``, ``Upper Limit``."""
    return [
        {
            "Row Number": item.id,
            "calculator_id": item.meta["calculator_id"],
            "Calculator Name": item.meta["calculator_name"],
            "entities": item.meta["relevant_entities"],
            "Ground Truth Answer": item.meta["ground_truth"],
            "Lower Limit": item.meta["lower_limit"],
            "Upper Limit": item.meta["upper_limit"],
        }
        for item in load_benchmark("medcalc", Path(path))
    ]


def parse_weeks_days(text: str) -> tuple[int, int]:
    """``"('14 weeks', '1 days')"`` or ``(14, 1)`` -> (14, 1)."""
    numbers = re.findall(r"\d+", str(text))
    if len(numbers) != 2:
        raise ValueError(f"not a (weeks, days) pair: {text!r}")
    return int(numbers[0]), int(numbers[1])


def agrees(calculator_id: int, answer: Any, ground_truth: str, lower: str, upper: str) -> bool:
    """The benchmark's correctness rule applied to a typed answer."""
    spec = CALCULATORS[calculator_id]
    if spec.answer_kind == "weeks_days":
        return tuple(answer) == parse_weeks_days(ground_truth)
    if spec.answer_kind == "date":
        return answer == dt.datetime.strptime(ground_truth.strip(), "%m/%d/%Y").date()
    if spec.output_type == "integer":
        return round(float(answer)) == round(float(ground_truth))
    return float(lower) <= float(answer) <= float(upper)


def check_rows(rows: list[dict[str, Any]], on_row: Callable[[], None] | None = None,
               convention: str = DEFAULT_CONVENTION) -> dict[str, Any]:
    """Recompute every row under the label ``convention`` (see :mod:`medreasoner.calculators.conventions`);
    returns ``{"convention", "overall": {"agree", "total"}, "calculators": {id: {...}}}`` with each
    disagreeing row as ``{"row", "ground_truth", "computed"}`` (or ``"error"``)."""
    per: dict[str, dict[str, Any]] = {}
    agree_total = 0
    for row in rows:
        cid = row["calculator_id"]
        entry = per.setdefault(str(cid), {"name": row.get("Calculator Name", ""), "agree": 0, "total": 0,
                                          "rows_disagreeing": []})
        entry["total"] += 1
        try:
            if cid not in CALCULATORS:
                raise KeyError(f"unknown calculator id {cid}")
            answer = compute_with(cid, row["entities"], convention).answer
            ok = agrees(cid, answer, row["Ground Truth Answer"], row["Lower Limit"], row["Upper Limit"])
            detail = {"computed": _jsonable(answer)}
        except (EntityError, KeyError, ValueError, ZeroDivisionError) as error:
            ok, detail = False, {"error": f"{type(error).__name__}: {error}"}
        if ok:
            entry["agree"] += 1
            agree_total += 1
        else:
            entry["rows_disagreeing"].append({"row": int(row["Row Number"]), "ground_truth": row["Ground Truth Answer"],
                                              **detail})
        if on_row is not None:
            on_row()
    ordered = {k: per[k] for k in sorted(per, key=int)}
    return {"convention": convention, "overall": {"agree": agree_total, "total": len(rows)},
            "calculators": ordered}


def _jsonable(answer: Any) -> Any:
    if isinstance(answer, dt.date):
        return answer.strftime("%m/%d/%Y")
    if isinstance(answer, tuple):
        return list(answer)
    return round(float(answer), 4)
