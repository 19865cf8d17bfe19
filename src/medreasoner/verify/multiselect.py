"""``multiselect``: choose-all-that-apply items with partial credit (per-item F1) and micro-F1 counts.

Extraction is the same as ``mcq`` (several letters allowed by construction). ``check`` is the
all-or-nothing exact set match; :func:`grade` scores F1 = 2tp / (2tp + fp + fn) and reports
``counts = (tp, fp, fn)`` so a scorer can aggregate micro-F1 over items. An answer that names every
option is treated as an abstention (tp = fp = 0, fn = |gold|): F1 alone would still pay it
2|gold| / (|gold| + n_options), a reward for not choosing. No answer is also an abstention.
"""

from __future__ import annotations

from medreasoner.benchmarks.item import Item
from medreasoner.verify import mcq
from medreasoner.verify.result import Grade

MODES = ("normalized", "official")


def extract(text: str, item: Item, mode: str) -> frozenset[str] | None:
    """The letters the completion commits to, or None (see :func:`medreasoner.verify.mcq.extract`)."""
    return mcq.extract(text, item, mode)


def check(answer: frozenset[str] | None, item: Item) -> bool:
    """Exact set match; a set naming every option is wrong.

    >>> item = Item("1", "Q", {k: k for k in "ABCD"}, frozenset("AC"), "multiselect")
    >>> check(frozenset("AC"), item), check(frozenset("A"), item)
    (True, False)
    """
    return mcq.check(answer, item)


def counts(answer: frozenset[str] | None, item: Item) -> tuple[int, int, int]:
    """``(tp, fp, fn)`` of ``answer`` against the gold letters (abstentions count only fn).

    >>> item = Item("1", "Q", {k: k for k in "ABCDE"}, frozenset("AC"), "multiselect")
    >>> counts(frozenset("AB"), item), counts(frozenset("ABCDE"), item), counts(None, item)
    ((1, 1, 1), (0, 0, 2), (0, 0, 2))
    """
    gold = item.gold if isinstance(item.gold, frozenset) else frozenset()
    if answer is None or mcq.names_every_option(answer, item):
        return 0, 0, len(gold)
    return len(answer & gold), len(answer - gold), len(gold - answer)


def f1(tp: int, fp: int, fn: int) -> float:
    """F1 from counts; 0.0 when there is nothing to count.

    >>> f1(1, 1, 1)
    0.5
    """
    denominator = 2 * tp + fp + fn
    return 2 * tp / denominator if denominator else 0.0


def grade(text: str, item: Item, mode: str) -> Grade:
    """Score = per-item F1, ``correct`` = exact match, ``counts`` = (tp, fp, fn)."""
    answer = extract(text, item, mode)
    item_counts = counts(answer, item)
    return Grade(answer, check(answer, item), f1(*item_counts), item_counts)
