"""``multiselect``: choose-all-that-apply items, scored so that knowledge-free hedging earns nothing.

Extraction is the same as ``mcq`` (several letters allowed by construction; the last committed
answer, negated letters removed). ``check`` is the all-or-nothing exact set match.

Score (the RL reward and the reported ``mean_score``): the informedness of the selection over
the item's option decisions, clipped at 0::

    score = max(0, tp / |gold| - fp / |non-gold options|)

1.0 for the exact set; 0.0 for every option, for no answer, and for any selection that picks
wrong options at least as often (relatively) as right ones. A selection made without knowledge
(each option picked independently of whether it is correct) has tp/|gold| = fp/|non-gold| in
expectation, so it scores about 0: selecting everything scores exactly 0, a constant "A, B, C, D"
or a random half of 5 options at most 0.3 in expectation (:data:`KNOWLEDGE_FREE_MAX`), the same
range as guessing one letter. Plain per-item F1 paid the constant "A, B, C, D" 0.456 on the
synthetic multi-select test set.

Counts (``(tp, fp, fn)``, summed by the scorer into the WiNGPT-3.0 micro-F1 over option
decisions): the raw decisions, except that a selection no better than chance (score 0, every
option included) gets no true positives: ``(0, fp, |gold|)``. No answer is ``(0, 0, |gold|)``.
"""

from __future__ import annotations

from medreasoner.benchmarks.item import Item
from medreasoner.verify import mcq
from medreasoner.verify.result import Grade

MODES = ("normalized", "official")
# Upper bound on the expected score of a knowledge-free selection of any fixed size on items with
# five or more options (exact computation over all subsets; 1/3 with four options).
KNOWLEDGE_FREE_MAX = 0.3


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


def _gold(item: Item) -> frozenset[str]:
    return item.gold if isinstance(item.gold, frozenset) else frozenset()


def informedness(answer: frozenset[str] | None, item: Item) -> float:
    """``max(0, tp/|gold| - fp/|non-gold|)`` over the item's options; 0.0 for no answer or every option.

    >>> item = Item("1", "Q", {k: k for k in "ABCDE"}, frozenset("AC"), "multiselect")
    >>> informedness(frozenset("AC"), item), informedness(frozenset("A"), item), informedness(frozenset("ABCDE"), item)
    (1.0, 0.5, 0.0)
    """
    gold = _gold(item)
    if answer is None or not gold or mcq.names_every_option(answer, item):
        return 0.0
    options = mcq.option_letters(item) | gold
    negatives = len(options - gold)
    false_rate = len(answer - gold) / negatives if negatives else 0.0
    return max(0.0, len(answer & gold) / len(gold) - false_rate)


def counts(answer: frozenset[str] | None, item: Item) -> tuple[int, int, int]:
    """``(tp, fp, fn)`` of ``answer``; a selection no better than chance gets no true positives.

    >>> item = Item("1", "Q", {k: k for k in "ABCDE"}, frozenset("AC"), "multiselect")
    >>> counts(frozenset("AB"), item), counts(frozenset("ABCDE"), item), counts(None, item)
    ((1, 1, 1), (0, 3, 2), (0, 0, 2))
    """
    gold = _gold(item)
    if answer is None:
        return 0, 0, len(gold)
    fp = len(answer - gold)
    if informedness(answer, item) <= 0.0:
        return 0, fp, len(gold)
    return len(answer & gold), fp, len(gold - answer)


def f1(tp: int, fp: int, fn: int) -> float:
    """F1 from counts; 0.0 when there is nothing to count.

    >>> f1(1, 1, 1)
    0.5
    """
    denominator = 2 * tp + fp + fn
    return 2 * tp / denominator if denominator else 0.0


def grade(text: str, item: Item, mode: str) -> Grade:
    """Score = :func:`informedness`, ``correct`` = exact match, ``counts`` = (tp, fp, fn) for micro-F1."""
    answer = extract(text, item, mode)
    return Grade(answer, check(answer, item), informedness(answer, item), counts(answer, item))
