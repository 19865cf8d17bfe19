"""Benchmark-level results from per-item grades, one aggregation per benchmark family.

``summarize(benchmark, items, grades)`` is the machine-readable results body shared by
``medreasoner score`` and ``medreasoner eval``::

    {"n": 1047, "coverage": {...}, "overall": {...}}          # every benchmark
    + "years": {"2018": {...}}                                 # igakuqa (points, pass/fail)
    + "categories": {"lab": {"average", "std", ...}}           # medcalc (official layout, percent)
    + micro_f1 / precision / recall in "overall"               # when items are multi-select
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from medreasoner.benchmarks import BENCHMARKS, Family
from medreasoner.benchmarks.item import Item
from medreasoner.scoring.accuracy import summarize_accuracy
from medreasoner.scoring.igakuqa import summarize_igakuqa
from medreasoner.scoring.medcalc import summarize_medcalc

# benchmark family (BenchmarkSpec.family) -> aggregation(items, grades, mode) -> {"overall": ..., ...}
SUMMARIES: dict[Family, Callable[[Sequence[Item], Sequence[Any], str], dict[str, Any]]] = {
    "mcq": summarize_accuracy,
    "items": summarize_accuracy,
    "medcalc": summarize_medcalc,
    "igakuqa": summarize_igakuqa,
}
MODES = ("official", "normalized")


def coverage(items: Sequence[Item], grades: Sequence[Any]) -> dict[str, Any]:
    """How many benchmark items were scored, and which were not (ids in benchmark order)."""
    missing = [item.id for item, grade in zip(items, grades) if grade is None]
    return {
        "n_scored": len(items) - len(missing),
        "n_total": len(items),
        "fraction": (len(items) - len(missing)) / len(items) if items else None,
        "missing_ids": missing,
    }


def summarize(benchmark: str, items: Sequence[Item], grades: Sequence[Any], mode: str = "normalized") -> dict[str, Any]:
    """Results body for ``benchmark``.

    Args:
        benchmark: a benchmark name of ``load_benchmark``; its family picks the aggregation.
        items: the benchmark's items (all of them, so coverage and IgakuQA pass/fail know what
            is missing).
        grades: ``medreasoner.verify.Grade`` per item, aligned with ``items``; None where an
            item has no prediction.
        mode: the grading mode the grades were made in (``official`` / ``normalized``), the same
            default as ``verify.grade``; only IgakuQA's prohibited-choice count depends on it.

    Returns:
        ``{"n", "coverage", "overall", ...}`` with the family's extra sections.
    """
    if benchmark not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {benchmark!r}; known: {sorted(BENCHMARKS)}")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; known: {list(MODES)}")
    if len(items) != len(grades):
        raise ValueError(f"{len(items)} items but {len(grades)} grades")
    body: dict[str, Any] = {"n": sum(grade is not None for grade in grades), "coverage": coverage(items, grades)}
    body.update(SUMMARIES[BENCHMARKS[benchmark].family](items, grades, mode))
    return body
