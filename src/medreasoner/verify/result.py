"""The verdict type every verifier returns."""

from __future__ import annotations

from typing import Any, NamedTuple

from medreasoner.verify.names import normalize_name


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


def vote_key(result: Grade) -> Any:
    """The answer a graded sample votes for in a majority over samples (maj@k), or None for a sample that
    commits to no answer (none extracted, or a name that normalises to nothing).

    Every answer the verifier accepts is the gold, so right samples vote together (a synonym, or a value
    inside the MedCalc tolerance band, is not a rival answer). A wrong sample votes by its extracted answer:
    names by :func:`medreasoner.verify.names.normalize_name` (the diagnosis check's own key), letter sets
    as sorted tuples, numbers, dates and gestational ages by exact value. Wrong synonyms of one another
    (no synonym list covers wrong answers) vote apart, which can only favour the right answer's count.

    >>> vote_key(all_or_nothing("  Acute Angina.", False)) == vote_key(all_or_nothing("acute angina", False))
    True
    >>> vote_key(all_or_nothing(frozenset("CA"), False)), vote_key(all_or_nothing("MI", True))
    (('A', 'C'), ('<gold>',))
    """
    extracted = result.extracted
    if extracted is None:
        return None
    if result.correct:
        return ("<gold>",)
    if isinstance(extracted, str):
        # An answer with nothing left after normalisation (`\boxed{.}`) names nothing: it votes as no
        # answer, as an S4 episode's does (medreasoner.eval.episodes.vote_key).
        return normalize_name(extracted) or None
    if isinstance(extracted, (frozenset, set)):
        return tuple(sorted(extracted))
    return extracted  # ordered values (IgakuQA's sorted answer parts, a gestational age) vote as they are


def all_or_nothing(extracted: Any, correct: bool) -> Grade:
    """A :class:`Grade` with score 1.0 when correct, else 0.0, and no counts.

    >>> all_or_nothing("B", True)
    Grade(extracted='B', correct=True, score=1.0, counts=None)
    """
    return Grade(extracted, bool(correct), 1.0 if correct else 0.0, None)
