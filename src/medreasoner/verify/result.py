"""The verdict type every verifier returns."""

from __future__ import annotations

from typing import Any, NamedTuple


class Grade(NamedTuple):
    """One graded completion.

    Attributes:
        extracted: the typed answer read from the text (letters as ``frozenset[str]``, a ``float``, a
            ``datetime.date``, a ``GestationalAge``, a ``str``, or for IgakuQA the sorted tuple of
            answer parts), or None when the text commits to no answer.
        correct: the verifier's all-or-nothing verdict.
        score: reward/metric value in [0, 1]: 1.0/0.0, or the per-item F1 for ``multiselect``.
        counts: ``(tp, fp, fn)`` option counts for ``multiselect`` items (micro-F1), else None.
    """

    extracted: Any
    correct: bool
    score: float
    counts: tuple[int, int, int] | None


def all_or_nothing(extracted: Any, correct: bool) -> Grade:
    """A :class:`Grade` with score 1.0 when correct, else 0.0, and no counts.

    >>> all_or_nothing("B", True)
    Grade(extracted='B', correct=True, score=1.0, counts=None)
    """
    return Grade(extracted, bool(correct), 1.0 if correct else 0.0, None)
