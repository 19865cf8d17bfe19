"""Normalised comparison of free-text answers (diagnosis names, short boxed answers)."""

from __future__ import annotations

import unicodedata

from medreasoner.benchmarks.item import Item

_ARTICLES = frozenset({"a", "an", "the"})
# Gold names are short; an answer longer than this cannot match one and is not normalised (bounded work).
MAX_ANSWER_CHARS = 1000


def normalize_name(text: str) -> str:
    """Comparison key of a name: NFKC, accents dropped, casefold, punctuation -> space, articles dropped.

    >>> normalize_name("  The Guillain–Barré syndrome. ")
    'guillain barre syndrome'
    >>> normalize_name("ＣＯＶＩＤ-19")
    'covid 19'
    """
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    kept = []
    for char in decomposed:
        category = unicodedata.category(char)
        if category == "Mn":
            continue
        kept.append(" " if category[0] in "PSZ" else char)
    words = "".join(kept).casefold().split()
    return " ".join(word for word in words if word not in _ARTICLES)


def accepted_names(item: Item) -> frozenset[str]:
    """Normalised gold string plus ``meta["synonyms"]`` (empty names dropped).

    >>> sorted(accepted_names(Item("1", "Q", {}, "Myocardial infarction", "diagnosis", {"synonyms": ["MI"]})))
    ['mi', 'myocardial infarction']
    """
    names = [item.gold] if isinstance(item.gold, str) else []
    synonyms = item.meta.get("synonyms")
    if isinstance(synonyms, (list, tuple)):
        names.extend(name for name in synonyms if isinstance(name, str))
    return frozenset(key for key in map(normalize_name, names) if key)


def matches(answer: str | None, item: Item) -> bool:
    """True when ``answer`` normalises to the gold string or one of its synonyms.

    >>> matches("myocardial infarction.", Item("1", "Q", {}, "Myocardial infarction", "diagnosis"))
    True
    """
    if answer is None or len(answer) > MAX_ANSWER_CHARS:
        return False
    key = normalize_name(answer)
    return bool(key) and key in accepted_names(item)
