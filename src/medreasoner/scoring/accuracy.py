"""Accuracy with its standard error, and micro-F1 for select-all-that-apply items.

Used for MedQA (the official metric is plain accuracy, Jin et al. 2020), our generic ``mcq`` format
and canonical ``items`` files (which may mix verifiers; a per-verifier breakdown is added then).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from medreasoner.benchmarks.item import Item


def accuracy_stats(num_correct: int, num_items: int) -> dict[str, Any]:
    """Accuracy (fraction 0-1) and its standard error over ``num_items`` graded items.

    The standard error is the sample standard deviation of the 0/1 scores over sqrt(n), i.e.
    sqrt(p(1-p)/(n-1)), as lm-evaluation-harness ``mean_stderr`` and inspect_ai ``stderr()`` report it.

    >>> accuracy_stats(3, 4)
    {'accuracy': 0.75, 'stderr': 0.25, 'correct': 3, 'n': 4}
    """
    if num_items == 0:
        return {"accuracy": None, "stderr": None, "correct": 0, "n": 0}
    p = num_correct / num_items
    stderr = math.sqrt(p * (1 - p) / (num_items - 1)) if num_items > 1 else 0.0
    return {"accuracy": p, "stderr": stderr, "correct": num_correct, "n": num_items}


def micro_f1(counts: Sequence[tuple[int, int, int]]) -> dict[str, Any]:
    """Micro-averaged precision, recall and F1 from per-item (tp, fp, fn) letter counts.

    Summing counts before dividing weights every chosen letter equally, so a question with
    many correct options counts more than one with a single option (scikit-learn ``average="micro"``).
    A zero denominator gives 0.0 (scikit-learn's ``zero_division=0``).

    >>> micro_f1([(1, 0, 1), (2, 1, 0)])
    {'micro_f1': 0.75, 'precision': 0.75, 'recall': 0.75, 'tp': 3, 'fp': 1, 'fn': 1}
    """
    tp = sum(c[0] for c in counts)
    fp = sum(c[1] for c in counts)
    fn = sum(c[2] for c in counts)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return {"micro_f1": f1, "precision": precision, "recall": recall, "tp": tp, "fp": fp, "fn": fn}


def summarize_accuracy(items: Sequence[Item], grades: Sequence[Any], mode: str) -> dict[str, Any]:
    """``{"overall": {...}}`` for graded items (``grades[i]`` is None when item i has no prediction).

    ``overall`` holds accuracy, stderr, correct, n and ``mean_score`` (the mean of ``Grade.score``,
    which gives multi-select partial credit); plus micro-F1 fields when some items are
    multi-select, and ``by_verifier`` when the items use more than one verifier. ``mode`` does not
    change the aggregation (only the grading).
    """
    pairs = [(item, grade) for item, grade in zip(items, grades) if grade is not None]
    overall = accuracy_stats(sum(bool(grade.correct) for _, grade in pairs), len(pairs))
    overall["mean_score"] = sum(grade.score for _, grade in pairs) / len(pairs) if pairs else None
    counts = [grade.counts for _, grade in pairs if grade.counts is not None]
    if counts:
        overall.update(micro_f1(counts))
    body: dict[str, Any] = {"overall": overall}
    verifiers = sorted({item.verifier for item, _ in pairs})
    if len(verifiers) > 1:
        body["by_verifier"] = {
            name: accuracy_stats(
                sum(bool(g.correct) for i, g in pairs if i.verifier == name),
                sum(1 for i, _ in pairs if i.verifier == name),
            )
            for name in verifiers
        }
    return body
