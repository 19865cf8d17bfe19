r"""``diagnosis``: open-ended answers (a diagnosis name) matched after name normalisation.

Extraction, on the answer region (think removed, NFKC): the last closed ``\boxed{...}``
(``\boxed{\text{Acute appendicitis}}``); else the last line-level statement
``Diagnosis: X`` / ``Final diagnosis: X`` / ``Answer: X`` / ``The most likely diagnosis is X`` /
``診断: X`` / ``答え: X`` (the rest of that line); else None. Checking compares
:func:`medreasoner.verify.names.normalize_name` of the answer with the gold string and
``meta["synonyms"]`` (exact match of the normalised forms; no substring credit, so listing a
differential of ten diseases earns nothing). ``official`` = ``normalized`` (no official rule exists).
"""

from __future__ import annotations

import re
from collections import deque

from medreasoner.benchmarks.item import Item
from medreasoner.verify import names
from medreasoner.verify.result import Grade, all_or_nothing
from medreasoner.verify.text import answer_region, last_boxed, unwrap_latex

MODES = ("normalized", "official")

# "final/most likely diagnosis is" match through their last word; the lookahead set lets the
# engine skip ahead on long texts.
_STATEMENT = re.compile(
    r"(?=[DdAa診答])(?:(?i:\b(?:diagnosis|answer)\s*(?::|is\b))[ \t]*([^\n]*)"
    r"|(?:診断|答え)\s*(?::|は)[ \t]*([^\n]*))"
)


def extract(text: str, item: Item, mode: str) -> str | None:
    r"""The stated diagnosis, or None.

    >>> extract("...so the final diagnosis: Acute appendicitis", None, "normalized")
    'Acute appendicitis'
    >>> extract(r"Answer: flu. \boxed{\text{Influenza}}", None, "normalized")
    'Influenza'
    """
    region = answer_region(text).replace("*", "")
    boxed = last_boxed(region)
    if boxed is not None and unwrap_latex(boxed):
        return unwrap_latex(boxed)
    last = next(iter(deque(_STATEMENT.finditer(region), maxlen=1)), None)
    if last is None:
        return None
    stated = (last.group(1) if last.group(1) is not None else last.group(2)).strip()
    return stated or None


def check(answer: str | None, item: Item) -> bool:
    """Normalised match with the gold name or a synonym."""
    return names.matches(answer, item)


def grade(text: str, item: Item, mode: str) -> Grade:
    """:func:`extract` then :func:`check`; score 1.0 or 0.0."""
    answer = extract(text, item, mode)
    return all_or_nothing(answer, check(answer, item))
