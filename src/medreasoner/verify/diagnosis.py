r"""``diagnosis``: open-ended answers (a diagnosis name) matched after name normalisation.

Extraction, on the answer region (think removed, NFKC), reads the LAST COMMITTED name: the later
of the last closed ``\boxed{...}`` (``\boxed{\text{Acute appendicitis}}``) and the last
line-level statement ``Diagnosis: X`` / ``Final diagnosis: X`` / ``Answer: X`` /
``The most likely diagnosis is X`` / ``診断: X`` / ``答え: X`` (the rest of that line). Then:

* a hedge is no answer: commitments joined only by punctuation or hedge words
  (``\boxed{Pneumonia} or \boxed{Influenza}``, ``Diagnosis: Pneumonia\nDiagnosis: Influenza``)
  that name different diagnoses, or a commitment followed by a hedge word and more text
  (``\boxed{Pneumonia} or influenza``, :func:`medreasoner.verify.text.hedge_follows`);
* a retracted name is no answer: the committed name (or, when it matches the gold, any accepted
  name) negated at or after the commitment (``\boxed{Pneumonia}\nPneumonia is ruled out``;
  see :func:`medreasoner.verify.names.negates`).

Checking compares :func:`medreasoner.verify.names.normalize_name` of the answer with the gold
string and ``meta["synonyms"]`` (exact match of the normalised forms; no substring credit, so a
differential of ten diseases, "not pneumonia" or "pneumonia or influenza" earns nothing).
``official`` = ``normalized`` (no official rule exists).
"""

from __future__ import annotations

import re
from collections import deque
from typing import NamedTuple

from medreasoner.benchmarks.item import Item
from medreasoner.verify import names
from medreasoner.verify.result import Grade, all_or_nothing
from medreasoner.verify.text import answer_region, hedge_follows, is_connective, trailing_boxes, unwrap_latex

MODES = ("normalized", "official")
# Only the last statements can be the last commitment or joined to it.
MAX_STATEMENTS_TRIED = 32

# "final/most likely diagnosis is" match through their last word; the lookahead set lets the
# engine skip ahead on long texts.
_STATEMENT = re.compile(
    r"(?=[DdAa診答])(?:(?i:\b(?:diagnosis|answer)\s*(?::|is\b))[ \t]*([^\n]*)"
    r"|(?:診断|答え)\s*(?::|は)[ \t]*([^\n]*))"
)


# A stated name ends at its sentence or at a clause that gives reasons ("Diagnosis: giant cell arteritis, given the
# jaw claudication."; "診断は巨細胞性動脈炎です。"); a hedge word in the rest of the line keeps the whole line, which
# then names two diagnoses ("Diagnosis: pneumonia, given the fever, or influenza" is no answer).
_STATED_END = re.compile(
    r"\.(?:\s|$)|[。．]|(?i:,?\s+(?:given|because|since|due\s+to|based\s+on|consistent\s+with|as\s+evidenced|which)\b)"
    r"|です|である|と考え|が最も|の可能性が"
)
_HEDGE_IN_REST = re.compile(r"(?i:\b(?:or|vs|versus|otherwise|alternatively)\b)|または|あるいは|もしくは|ないし")


def _stated_name(line: str) -> str:
    end = _STATED_END.search(line)
    if end is None or _HEDGE_IN_REST.search(line, end.start()):
        return line.strip()
    return line[:end.start()].strip()


class _Named(NamedTuple):
    start: int
    end: int
    names: tuple[str, ...]  # the last one is the name read; more than one distinct is a hedge


def _commitments(region: str) -> list[_Named]:
    found = []
    boxes = trailing_boxes(region)
    if boxes:
        # Joined by connective gaps by construction: one commitment; 100k repeated boxes unwrap once.
        contents = dict.fromkeys(box.content for box in boxes)
        contents.pop(boxes[-1].content)
        named = [unwrap_latex(content[:names.MAX_ANSWER_CHARS + 1]) for content in [*contents, boxes[-1].content]]
        named = [name for name in named if name]
        if named:
            found.append(_Named(boxes[0].start, boxes[-1].end, tuple(named)))
    for match in deque(_STATEMENT.finditer(region), maxlen=MAX_STATEMENTS_TRIED):
        stated = _stated_name(match.group(1) if match.group(1) is not None else match.group(2))
        if stated:
            found.append(_Named(match.start(), match.end(), (stated,)))
    return sorted(found, key=lambda entry: entry.start)


def commitment(region: str) -> tuple[int, int, list[str]] | None:
    r"""Start and end of the last commitment and the names it commits to (several = a hedge), or None.

    >>> commitment(r"Diagnosis: flu. On reflection: \boxed{Measles}")
    (31, 46, ['Measles'])
    """
    found = _commitments(region)
    if not found:
        return None
    start, end, committed = found[-1].start, found[-1].end, list(found[-1].names)
    for previous in reversed(found[:-1]):
        if previous.end > start or not is_connective(region[previous.end:start]):
            break
        start = previous.start
        committed[:0] = previous.names
    return start, end, committed


def extract(text: str, item: Item, mode: str) -> str | None:
    r"""The stated diagnosis, or None (no answer, a hedge, or a retracted name).

    >>> extract("...so the final diagnosis: Acute appendicitis", None, "normalized")
    'Acute appendicitis'
    >>> extract(r"Answer: flu. \boxed{\text{Influenza}}", None, "normalized")
    'Influenza'
    >>> extract(r"\boxed{Pneumonia} or \boxed{Influenza}", None, "normalized") is None
    True
    """
    region = answer_region(text).replace("*", "")
    found = commitment(region)
    if found is None:
        return None
    start, end, committed = found
    if len({names.normalize_name(name[:names.MAX_ANSWER_CHARS + 1]) for name in set(committed)}) > 1:
        return None
    if hedge_follows(region[end:]):  # "\boxed{Pneumonia} or influenza": a second name outside the box
        return None
    answer = committed[-1]
    if names.retracted(answer, region[start:], item):
        return None
    return answer


def check(answer: str | None, item: Item) -> bool:
    """Normalised match with the gold name or a synonym."""
    return names.matches(answer, item)


def grade(text: str, item: Item, mode: str) -> Grade:
    """:func:`extract` then :func:`check`; score 1.0 or 0.0."""
    answer = extract(text, item, mode)
    return all_or_nothing(answer, check(answer, item))
