"""``mcq``: single- or multi-answer multiple choice graded all-or-nothing (MedQA, MedMCQA-style items).

Extraction is :func:`medreasoner.verify.letters.extract_letters` on the answer region (think
blocks removed, NFKC width folding). The answer is correct iff its letter set equals the gold set,
so for a single-answer item any set of two or more letters is wrong ("A or C" is a hedge, not an
answer). A set naming every option ("A B C D E", ``\\boxed{ABCDE}``) is never correct, even
for an item whose gold happens to list every option: it carries no information and is the
cheapest reward hack.

MedQA has no official extraction rule (the paper scores an option index), so ``official`` and
``normalized`` modes behave the same here.
"""

from __future__ import annotations

import string

from medreasoner.benchmarks.item import Item
from medreasoner.verify.letters import extract_letters
from medreasoner.verify.result import Grade, all_or_nothing
from medreasoner.verify.text import answer_region

MODES = ("normalized", "official")


def option_letters(item: Item) -> frozenset[str]:
    """The item's single-character option keys; all of A-Z when the item lists no options.

    >>> sorted(option_letters(Item("1", "Q", {"A": "x", "B": "y"}, frozenset("A"), "mcq")))
    ['A', 'B']
    """
    keys = frozenset(key for key in item.options if isinstance(key, str) and len(key) == 1)
    return keys if keys else frozenset(string.ascii_uppercase)


def names_every_option(answer: frozenset[str], item: Item) -> bool:
    """True when ``answer`` lists all options of an item that has more than one.

    >>> names_every_option(frozenset("AB"), Item("1", "Q", {"A": "x", "B": "y"}, frozenset("A"), "mcq"))
    True
    """
    letters = frozenset(key for key in item.options if isinstance(key, str) and len(key) == 1)
    return len(letters) > 1 and answer >= letters


def extract(text: str, item: Item, mode: str) -> frozenset[str] | None:
    """The letters the completion commits to, or None.

    >>> item = Item("1", "Q", {"A": "x", "B": "y", "C": "z"}, frozenset("B"), "mcq")
    >>> sorted(extract("<think>A?</think>答え：Ｂ", item, "normalized"))
    ['B']
    """
    return extract_letters(answer_region(text), option_letters(item))


def check(answer: frozenset[str] | None, item: Item) -> bool:
    """Exact set match against the gold letters; a set naming every option is wrong.

    >>> item = Item("1", "Q", {"A": "x", "B": "y", "C": "z"}, frozenset("B"), "mcq")
    >>> check(frozenset("B"), item), check(frozenset("BC"), item), check(None, item)
    (True, False, False)
    """
    if answer is None or not isinstance(item.gold, frozenset):
        return False
    return answer == item.gold and not names_every_option(answer, item)


def grade(text: str, item: Item, mode: str) -> Grade:
    """:func:`extract` then :func:`check`; score 1.0 or 0.0."""
    answer = extract(text, item, mode)
    return all_or_nothing(answer, check(answer, item))
