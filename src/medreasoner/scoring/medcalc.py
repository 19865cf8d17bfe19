"""MedCalc-Bench aggregation, as ``evaluation/table_stats.py`` ``compute_overall_accuracy`` (v1.0).

Per ``Category``: ``average = round(100 * mean, 2)`` (percent) and
``std = round(sqrt(p * (1 - p) / n_category), 2)`` with ``p`` the fraction correct, so the std is on
the 0-1 scale although the average is in percent (as in the official results JSON).
``overall``: ``average`` over all rows in percent; its official ``std`` divides by a hard-coded
``n = 1047`` (the v1.0 test size) whatever the number of rows scored. We keep that quirk in ``std``
so results JSONs compare key for key, and add ``std_scored_n``, the same formula with the number of
rows actually scored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from medreasoner.benchmarks.item import Item

# table_stats.compute_overall_accuracy divides the overall variance by this constant (v1.0 size).
OFFICIAL_OVERALL_N = 1047


def binomial_std(p: float, n: int) -> float:
    """sqrt(p(1-p)/n), the official MedCalc-Bench std (fraction scale, unrounded).

    >>> round(binomial_std(0.5, 100), 3)
    0.05
    """
    return math.sqrt(p * (1 - p) / n)


def summarize_medcalc(items: Sequence[Item], grades: Sequence[Any], mode: str) -> dict[str, Any]:
    """``{"overall": {...}, "categories": {category: {"average", "std", "correct", "n"}}}``.

    ``grades[i]`` is None when item i has no prediction (left out of every average). Categories
    appear in the order of their first row. ``mode`` does not change the aggregation.
    """
    pairs = [(item, grade) for item, grade in zip(items, grades) if grade is not None]
    per_category: dict[str, list[bool]] = {}
    for item, grade in pairs:
        per_category.setdefault(item.meta["category"], []).append(bool(grade.correct))
    categories = {}
    for category, results in per_category.items():
        p = sum(results) / len(results)
        categories[category] = {
            "average": round(100 * p, 2),
            "std": round(binomial_std(p, len(results)), 2),
            "correct": sum(results),
            "n": len(results),
        }
    num_correct = sum(bool(grade.correct) for _, grade in pairs)
    if pairs:
        p = num_correct / len(pairs)
        overall = {
            "average": round(100 * p, 2),
            "std": round(binomial_std(p, OFFICIAL_OVERALL_N), 2),
            "std_scored_n": round(binomial_std(p, len(pairs)), 4),
            "correct": num_correct,
            "n": len(pairs),
        }
    else:
        overall = {"average": None, "std": None, "std_scored_n": None, "correct": 0, "n": 0}
    return {"overall": overall, "categories": categories}
