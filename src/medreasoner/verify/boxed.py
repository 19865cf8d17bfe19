r"""``boxed``: the last ``\boxed{...}`` compared with a short gold string (or synonyms).

Used for free-text items whose prompt asks for a boxed answer, and by the generative verifier
judge, whose verdict is ``\boxed{1}`` (consistent) or ``\boxed{0}``: read it with
:func:`last_boxed`. No box -> no answer. As for ``diagnosis``, boxes joined only by punctuation
or hedge words (``\boxed{A} or \boxed{B}``) that differ are a hedge (no answer), so is a box followed by a
hedge word and more text (``\boxed{A} or B``), and a boxed
answer negated after its box (``\boxed{Influenza} Not influenza.``) is retracted (no answer).
``official`` = ``normalized``.
"""

from __future__ import annotations

import re

from medreasoner.benchmarks.item import Item
from medreasoner.verify import names
from medreasoner.verify.result import Grade, all_or_nothing
from medreasoner.verify.text import answer_region, hedge_follows, last_boxed, trailing_boxes, unwrap_latex

MODES = ("normalized", "official")
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)")
# Markup around a boxed number: bold, code, braces, LaTeX spaces ("\\boxed{**1**}", "\\boxed{{4}}", "\\boxed{1\\,}").
_NUMBER_MARKUP = re.compile(r"[*`{}\s]|\\[,;:! ]|\\(?=%)")

__all__ = ["MODES", "check", "extract", "grade", "last_boxed"]


def extract(text: str, item: Item, mode: str) -> str | None:
    r"""Content of the last closed box in the answer region (LaTeX ``\text{}`` unwrapped), or None.

    >>> extract(r"<think>\boxed{0}</think> verdict: \boxed{1}", None, "normalized")
    '1'
    >>> extract(r"\boxed{0} or \boxed{1}", None, "normalized") is None
    True
    """
    region = answer_region(text)
    boxes = trailing_boxes(region)
    if not boxes:
        return None
    contents = {box.content for box in boxes}  # 100k repeated boxes normalise once
    keys = {names.normalize_name(unwrap_latex(content[:names.MAX_ANSWER_CHARS + 1])) for content in contents}
    if len(keys) > 1 or hedge_follows(region[boxes[-1].end:]):  # "\boxed{A} or B" hedges as "\boxed{A} or \boxed{B}"
        return None
    answer = unwrap_latex(boxes[-1].content)
    if names.retracted(answer, region[boxes[0].start:], item):
        return None
    return answer


def check(answer: str | None, item: Item) -> bool:
    """Normalised match of the boxed text with the gold string or ``meta["synonyms"]``; a numeric gold (``"1"``, a
    judge's verdict) is matched as a number, since name folding turns ``-1``, ``1/2`` and ``1?`` into ``1``-like keys.

    >>> item = Item("1", "Q", {}, "1", "boxed")
    >>> check("1", item), check("1.0", item), check("-1", item), check("1?", item)
    (True, True, False, False)
    """
    if answer is not None and isinstance(item.gold, str) and _NUMBER.fullmatch(item.gold.strip()):
        value = _NUMBER_MARKUP.sub("", answer).replace("\u2212", "-").rstrip(".,;%")
        return _NUMBER.fullmatch(value) is not None and float(value) == float(item.gold)
    return names.matches(answer, item)


def grade(text: str, item: Item, mode: str) -> Grade:
    """:func:`extract` then :func:`check`; score 1.0 or 0.0."""
    answer = extract(text, item, mode)
    return all_or_nothing(answer, check(answer, item))
