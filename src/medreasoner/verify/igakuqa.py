"""``igakuqa``: Japanese National Medical Licensing Examination items (IgakuQA, Kasai et al. 2023).

Gold: ``frozenset`` of lowercase letters for choice items, ``str`` for numeric-entry items
(``"26"``, ``"04"``) and for 112B30 (``"a or d"``). The extracted answer is the *sorted tuple of
answer parts*, exactly what the official scorer compares.

``official`` (repo ``scripts/evaluate_main.py``, described in the shared README): the text is the
stored ``prediction`` string; ``pred = sorted(prediction.split(','))``, correct iff it equals the
sorted gold list. No stripping, no lower-casing: ``"b, e"`` is wrong (part ``" e"``). Special
cases: 116A71 is always correct (MHLW accepted every answer); a gold ``"x or y"`` (112B30) is
correct iff pred is exactly ``["x"]`` or ``["y"]``. Numeric entries are compared as strings.

``normalized`` (free-form model output): answer region (think removed), NFKC, lower-case. Choice
items: the last committed letters as for ``mcq`` (:func:`medreasoner.verify.letters.last_commitment`:
the later of the last ``\\boxed{}`` and the last ``答え:`` / ``正解は`` / ``Answer:`` statement;
commitments joined only by punctuation or "または"/"か" merge into a hedge), minus the letters
negated at or after it (``答えはeではない``, ``eは誤り``, ``e以外``: no answer); with no
commitment, the last non-empty line (minus its negated letters), else the first line if it is a
clean list (the baseline prompt ends with ``答え:``, so a bare answer may open the completion).
Numeric items: the later of the last box and the last statement line, else the last non-empty
line; a number followed by ではない/以外/..., one joined to another (``26〜27``, ``26 または 27``,
``\\boxed{26} or 27``), bounded (``26以上``, ``>26``) or after "not" is no answer, and ``-26`` is read
whole. ``、`` becomes ``,`` and spaces around commas go. Then the official check.

Kinki (禁忌肢, prohibited choices): :func:`chosen_letters` / :func:`selects_kinki` decide whether an
answer picked a letter listed in ``meta["kinki"]`` (pass criterion: at most 3 such questions).
"""

from __future__ import annotations

import re
from collections import deque

from medreasoner.benchmarks.item import Item
from medreasoner.verify.letters import last_commitment, negated_letters, parse_letter_set
from medreasoner.verify.result import Grade, all_or_nothing
from medreasoner.verify.text import answer_region, bound, hedge_follows, last_box, last_nonempty_line, unwrap_latex

MODES = ("normalized", "official")

# An answer line longer than this is garbage; it is cut (bounded work per completion).
CANDIDATE_CHARS = 1000
# MHLW ruled every answer correct for this question (official scorer special case).
ALWAYS_CORRECT_IDS = frozenset({"116A71"})

# Matched on lower-cased text; the lookahead set lets the engine skip ahead on long texts.
_STATEMENT = re.compile(r"(?=[答正解回a])(?:(?:答え|答|正解|解答|回答)\s*(?:は|:|=>?)|\banswer\s*(?:is|:))")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")  # "-26" is read whole, so it never matches a gold "26"
_ALTERNATIVES = re.compile(r"\s*([a-z])\s+or\s+([a-z])\s*")


def _letters(item: Item) -> frozenset[str]:
    return frozenset(key.lower() for key in item.options if isinstance(key, str) and len(key) == 1)


_NUMBER_NEGATED = re.compile(r"\s*(?:ではない|ではなく|でない|じゃない|ではありません|は誤|は不正解|は正しくない|は間違|以外|を除"
                             r"|は違|\s*is\s+(?:not|incorrect|wrong))")
# A numeric entry is one exact number: one that opens a range, list or hedge with another ("26〜27", "26 または 27",
# "26, 27"), is bounded ("26以上", ">26") or negated ("not 26") is no answer.
_NUMBER_NOT_ONE = re.compile(
    r"\s*(?:(?:-|–|—|~|～|〜|,|または|あるいは|もしくは|ないし|か|\bor\b|\bto\b|\band\b|\bvs\b)\s*-?\.?\d"
    r"(?![\d.]*\s*(?:decimal|places?\b|significant|sig\b|digits?\b|桁|を?四捨五入|rounded))"  # a rounding note
    r"|以上|以下(?!の)|未満|超|より)"  # "26以下の計算" is "26, by the calculation below"
)
_NUMBER_BOUNDED_BEFORE = re.compile(r"(?:\bnot|\bnever|≠|(?<![-=])[><]|≥|≤|≧|≦)\s*$")  # "=> 26" is an arrow


def _numeric_candidate(region: str) -> str:
    # The later of the last box and the last statement line (the last committed answer), else the last line.
    box = last_box(region)
    last = next(iter(deque(_STATEMENT.finditer(region), maxlen=1)), None)
    if last is not None and (box is None or last.start() > box.start):
        return region[last.end():last.end() + CANDIDATE_CHARS].split("\n", 1)[0]
    if box is not None:
        # "\boxed{26} or 27" hedges as "26 or 27" does
        return "" if hedge_follows(region[box.end:]) else unwrap_latex(box.content[:CANDIDATE_CHARS])
    return last_nonempty_line(region)[-CANDIDATE_CHARS:]


def _clean(candidate: str) -> str:
    candidate = candidate.replace("、", ",").strip()
    # split/strip rather than a regex: "\s*,\s*" backtracks quadratically over long space runs.
    return ",".join(part.strip() for part in candidate.split(",")).strip(" .。")


def _number(candidate: str) -> tuple[str, ...] | None:
    candidate = _clean(candidate)
    number = _NUMBER.search(candidate)
    if number is None or any(p.match(candidate, number.end()) for p in (_NUMBER_NEGATED, _NUMBER_NOT_ONE)):
        return None
    if _NUMBER_BOUNDED_BEFORE.search(candidate, max(0, number.start() - 12), number.start()):
        return None
    return (number.group(),)


def _letters_from_line(line: str, letters: frozenset[str], allow_free_text: bool) -> frozenset[str] | None:
    cleaned = _clean(line)
    parts = cleaned.split(",")
    if all(part in letters for part in parts):
        chosen = frozenset(parts)
    elif allow_free_text:
        chosen = parse_letter_set(cleaned, letters)
    else:
        return None
    if chosen is None:
        return None
    return (chosen - negated_letters(line, letters)) or None


def _normalized(text: str, item: Item) -> tuple[str, ...] | None:
    region = answer_region(text).lower().replace("*", "")
    letters = _letters(item)
    if not letters:
        return _number(_numeric_candidate(region))
    commitment = last_commitment(region, letters)
    if commitment is not None:
        chosen = commitment.letters - negated_letters(region[commitment.start:], commitment.letters)
    else:
        # The baseline prompt ends with "答え:", so a bare answer may open the completion; only a clean
        # letter list is read there ("aは誤り" is a remark about a, not a choice of a).
        first_line = region.lstrip()[:CANDIDATE_CHARS].split("\n", 1)[0]
        chosen = _letters_from_line(last_nonempty_line(region)[-CANDIDATE_CHARS:], letters, True)
        if chosen is None:
            chosen = _letters_from_line(first_line, letters, False)
    return tuple(sorted(chosen)) if chosen else None


def extract(text: str, item: Item, mode: str) -> tuple[str, ...] | None:
    """Sorted answer parts (official: raw comma split; normalized: cleaned free-form), or None.

    >>> item = Item("112A2", "問題", {k: k for k in "abcde"}, frozenset("be"), "igakuqa")
    >>> extract("b, e", item, "official"), extract("考察...\\n答え：Ｅ，ｂ", item, "normalized")
    ((' e', 'b'), ('b', 'e'))
    """
    if mode == "official":
        return tuple(sorted(bound(text).split(",")))
    return _normalized(text, item)


def check(answer: tuple[str, ...] | None, item: Item) -> bool:
    """The official comparison of sorted answer parts with the gold answer.

    >>> item = Item("112B30", "問題", {k: k for k in "abcde"}, "a or d", "igakuqa")
    >>> check(("d",), item), check(("a", "d"), item)
    (True, False)
    """
    if item.id in ALWAYS_CORRECT_IDS:
        return True
    if answer is None:
        return False
    predicted = list(answer)
    gold = item.gold
    if isinstance(gold, frozenset):
        return predicted == sorted(gold)
    if isinstance(gold, str):
        alternatives = _ALTERNATIVES.fullmatch(gold)
        if alternatives is not None:
            return predicted in ([alternatives.group(1)], [alternatives.group(2)])
        return predicted == [gold]
    return False


def chosen_letters(answer: tuple[str, ...] | None) -> frozenset[str]:
    """Option letters named by an answer: its parts that are exactly one ASCII letter.

    Parts are not stripped, mirroring the official scorer: in the official prediction ``"b, d"``
    the part ``" d"`` is not a choice (this reproduces the shared README's kinki counts).

    >>> sorted(chosen_letters(("b", " e", "c", "画像がないため")))
    ['b', 'c']
    """
    if answer is None:
        return frozenset()
    return frozenset(part for part in answer if len(part) == 1 and part.isascii() and part.isalpha())


def selects_kinki(answer: tuple[str, ...] | None, item: Item) -> bool:
    """True when the answer names a prohibited choice listed in ``meta["kinki"]``.

    >>> item = Item("112A16", "問題", {k: k for k in "abcde"}, frozenset("b"), "igakuqa", {"kinki": ["c", "e"]})
    >>> selects_kinki(("e",), item), selects_kinki(("b",), item)
    (True, False)
    """
    kinki = item.meta.get("kinki")
    if not isinstance(kinki, (list, tuple)):
        return False
    prohibited = frozenset(letter.lower() for entry in kinki if isinstance(entry, str) for letter in entry)
    return bool(chosen_letters(answer) & prohibited)


def grade(text: str, item: Item, mode: str) -> Grade:
    """:func:`extract` then :func:`check`; score 1.0 or 0.0 (points weighting is the scorer's job)."""
    answer = extract(text, item, mode)
    return all_or_nothing(answer, check(answer, item))
