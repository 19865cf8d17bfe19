"""Normalised comparison of free-text answers (diagnosis names, short boxed answers), and retraction."""

from __future__ import annotations

import re
import unicodedata

from medreasoner.benchmarks.item import Item
from medreasoner.verify.text import cap_nonstarters, drop_combining

_ARTICLES = frozenset({"a", "an", "the"})
# Gold names are short; an answer longer than this cannot match one and is not normalised (bounded work).
MAX_ANSWER_CHARS = 1000
# A name negated in the text after its commitment is retracted. The text is folded like a name
# (but with "?" kept, for "Pneumonia? No"), so the phrases below are lowercase and space-separated.
_NEGATION_BEFORE = (
    r"(?:not|never|isn t|cannot|can t|nor|neither|except|excluding|exclude[sd]?|rul(?:e|es|ed|ing) out"
    r"|unlikely(?: to be)?|other than|rather than|instead of|against|no evidence of|negative for|anything but"
    r"|doubt(?: (?:it|this) is| that(?: (?:it|this) is)?)?)"
    r"(?: be| to be)? "
)
_NEGATION_AFTER = (
    r"\?? (?:(?:is|was|are|seems|appears|has been|can be|would be|must be|should be|been|therefore|thus"
    r"|also|definitely|clearly) ){0,4}"
    r"(?:ruled out|excluded|eliminated|unlikely|improbable|incorrect|wrong|less likely|not supported"
    # articles are dropped before matching, so "is not the answer" is read as "is not answer"
    r"|not (?:likely|correct|right|answer|diagnosis|cause)|never (?:answer|diagnosis|correct|right))"
    r"(?![a-z0-9])"
    r"|\? no(?![a-z0-9])"
)
# "ではないか(と考える)" and "ではないでしょうか" affirm ("probably is"), and "ではないとは言えない" ("cannot say it is
# not") is no negation either. Other double negatives ("でないと説明できない") still read as negations: no answer.
_NEGATION_AFTER_JA = (r" ?(?:ではない(?!か|でしょうか|だろうか|とは)|ではなく|でない|じゃない|ではありません(?!か)|じゃありません"
                      r"|でもない|は否定|は除外|は考えにく|以外|は誤|は違|の可能性は低)")
_NOT_WORD = re.compile(r"[^\w?]+")


def _fold(text: str) -> str:
    # NFKC, accents dropped (kana voicing kept), casefold; linear (long combining runs capped).
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", cap_nonstarters(text)))
    return drop_combining(decomposed).casefold()


def normalize_name(text: str) -> str:
    """Comparison key of a name: NFKC, accents dropped (kana voicing kept), casefold, punctuation -> space,
    articles dropped.

    >>> normalize_name("  The Guillain–Barré syndrome. ")
    'guillain barre syndrome'
    >>> normalize_name("ＣＯＶＩＤ-19")
    'covid 19'
    """
    words = "".join(" " if unicodedata.category(char)[0] in "PSZ" else char for char in _fold(text)).split()
    return " ".join(word for word in words if word not in _ARTICLES)


def accepted_names(item: Item) -> frozenset[str]:
    """Normalised gold string plus ``meta["synonyms"]`` (empty names dropped).

    >>> sorted(accepted_names(Item("1", "Q", {}, "Myocardial infarction", "diagnosis", {"synonyms": ["MI"]})))
    ['mi', 'myocardial infarction']
    """
    names = [item.gold] if isinstance(item.gold, str) else []
    synonyms = item.meta.get("synonyms") if isinstance(item.meta, dict) else None
    if isinstance(synonyms, (list, tuple)):
        names.extend(name for name in synonyms if isinstance(name, str))
    return frozenset(key for key in map(normalize_name, names) if key)


_WITH_SYNONYM = re.compile(r"([^()]+?)\s*[(（]([^()（）]+)[)）]")
# Signs that negate what they mark; folding would turn them into spaces and "¬Pneumonia" into "pneumonia".
_NEGATION_SIGNS = re.compile(r"[¬≠✗✘❌]|^\s*[!~]")


def matches(answer: str | None, item: Item) -> bool:
    """True when ``answer`` normalises to the gold string or one of its synonyms (never when a negation sign
    marks it: ``¬X``, ``≠X``, ``✗ X``, ``!X``).

    >>> item = Item("1", "Q", {}, "Myocardial infarction", "diagnosis")
    >>> matches("myocardial infarction.", item), matches("¬Myocardial infarction", item)
    (True, False)
    """
    if answer is None or len(answer) > MAX_ANSWER_CHARS or _NEGATION_SIGNS.search(answer):
        return False
    accepted = accepted_names(item)
    key = normalize_name(answer)
    if key in accepted:
        return bool(key)
    # "Giant cell arteritis (GCA)": a name and its own synonym in parentheses, both accepted names of the gold
    both = _WITH_SYNONYM.fullmatch(answer.strip().rstrip("."))
    return both is not None and all(normalize_name(part) in accepted for part in both.groups())


def negates(text: str, keys: frozenset[str]) -> bool:
    """True when ``text`` negates one of the normalised names ``keys`` (linear in ``text``).

    Before the name: not, never, isn't, cannot be, nor, neither, except, excluding, exclude(d),
    rule(d) out, unlikely (to be), other than, rather than, instead of, against, no evidence of,
    negative for. After it: (is/was/can be/...) ruled out, excluded, eliminated, unlikely,
    improbable, incorrect, wrong, less likely, not likely/correct/the diagnosis; "? No";
    ではない, でない, じゃない, ではありません, じゃありません, でもない, は否定的, は除外, は考えにくい, 以外,
    は誤り, は違う, の可能性は低い.

    >>> negates("Pneumonia is ruled out.", frozenset({"pneumonia"})), negates("Not a pneumonia", frozenset({"pneumonia"}))
    (True, True)
    >>> negates("Pneumonia, not asthma.", frozenset({"pneumonia"})), negates("肺炎は否定的", frozenset({"肺炎"}))
    (False, True)
    """
    words = [word for word in _NOT_WORD.sub(" ", _fold(text)).split() if word not in _ARTICLES]
    folded = " ".join(words)
    for key in keys:
        if not key:
            continue
        name = re.escape(key)
        pattern = (
            rf"(?<![a-z0-9]){_NEGATION_BEFORE}{name}(?![a-z0-9])"
            rf"|(?<![a-z0-9]){name}(?:{_NEGATION_AFTER}|{_NEGATION_AFTER_JA})"
        )
        if re.search(pattern, folded):
            return True
    return False


def retracted(answer: str, text: str, item: Item | None) -> bool:
    """True when ``text`` (from the commitment on) negates ``answer`` or, if it matches, any accepted name.

    >>> item = Item("1", "Q", {}, "Influenza", "diagnosis", {"synonyms": ["flu"]})
    >>> retracted("Influenza", "\\\\boxed{Influenza}. Flu is unlikely.", item)
    True
    """
    if len(answer) > MAX_ANSWER_CHARS:
        return False
    key = normalize_name(answer)
    keys = {key}
    if item is not None and isinstance(item, Item):
        accepted = accepted_names(item)
        if key in accepted:
            keys |= accepted
    return negates(text, frozenset(keys))
