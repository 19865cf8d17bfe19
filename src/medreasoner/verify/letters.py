r"""Option-letter extraction from free text, shared by the ``mcq``, ``multiselect`` and ``igakuqa`` verifiers.

Rules, in priority order (the first that yields letters wins; each returns a set of letters):

1. the last closed ``\boxed{...}``: ``\boxed{B}``, ``\boxed{\text{(b)}}``, ``\boxed{A, C}``,
   ``\boxed{AC}`` (concatenated letters are accepted only inside a box; case-insensitive there);
2. the last explicit answer statement whose tail starts with letters: ``The answer is B``,
   ``Answer: (C)``, ``the correct option is (D)``, ``Final answer: A and C``, ``答え: b,e``,
   ``正解はC``, ``答えは a と c``;
3. the standalone option letters on the last non-empty line (its last 1,000 characters):
   ``**B**``, ``So B.``, ``Option C is the best choice``; a line opening with an option marker names that option only
   (``D. Anti-B antibodies`` -> D); otherwise two or more letters on that line give the whole set,
   which a single-answer item grades wrong, so hedging is never rewarded.

Letters outside the item's options are never returned; in rules 2-3 letters are case-sensitive
(the English article "a" is not option "A"), ``A``/``I`` followed by a lowercase word
("A patient", "A 45-year-old", "I think") are read as words, and a letter inside a medical name
("hepatitis B", "vitamin A", "Anti-B", "type A") is not an option. No rule matches -> ``None``
(no answer), never a guess.
"""

from __future__ import annotations

import re
from collections import deque

from medreasoner.verify.text import last_boxed, last_nonempty_line, unwrap_latex

# Statement tails longer than this cannot start with a letter set anyway; the bound keeps the
# per-statement parse O(1) however long the line is.
STATEMENT_TAIL_CHARS = 200
# Bounds on what the cheap rules read: a letter set fits in a few dozen characters, so longer
# inputs are garbage and are cut (parse: head kept; last line: tail kept).
PARSE_CHARS = 200
LAST_LINE_CHARS = 1000
# Only the last few statements are tried (each is O(1)); 1 MB of "answer is " stays linear.
MAX_STATEMENTS_TRIED = 32

# The lookahead's character set lets the regex engine skip ahead instead of trying every
# alternative at every position (3-10x faster on long texts). "final answer is" and "the
# correct option is" match through their last word.
_STATEMENT = re.compile(
    r"(?=[AaOoCc答正解回])"
    r"(?:(?i:\b(?:answer|option|choice)s?\s*(?:is|are|would\s+be|should\s+be|will\s+be|=|:)\s*:?)"
    r"|(?:答え|答|正解|解答|回答)\s*(?:は|:|=))"
)
_PREFIX_WORD = re.compile(r"\s*(?i:(?:options?|choices?|letters?)\b)?\s*")
_TOKEN = re.compile(r"[(\[]?\s*([A-Za-z])\s*[)\]]?(?![A-Za-z0-9])")
_SEPARATOR = re.compile(r"\s*(?:,|、|;|/|&|\+|・|\band\b|\bor\b|と|及び|および|または)\s*|\s+")
_CONCAT = re.compile(r"\s*([A-Za-z]{2,26})\s*$")
_LONE = re.compile(r"[(\[]?\s*([A-Za-z])\s*[)\]]?\s*[.:]?")
# Markdown/LaTeX markup around letters ("**B**", "$B$"); removed with str.replace, which is
# much faster than str.translate on non-ASCII text.
_MARKUP = "*`$#"
# "D. Anti-B antibodies": a line that opens with an option marker names that option only.
_LEADING_OPTION = re.compile(r"[(\[]?([A-Za-z])[)\].:](?:\s|$)")
# Letters that belong to a medical name, not to an option: "hepatitis B", "vitamin A", "Anti-B".
_NAME_BEFORE = re.compile(
    r"(?:-|(?i:\b(?:vitamin|hepatitis|type|group|class|grade|stage|factor|phase|protein|wave|lead|zone"
    r"|hemophilia))\s+)$"
)
_WORD_AFTER = re.compile(r"\s+(?!(?:is|are|and|or|was|would|seems|appears|should|must)\b)[a-z0-9]")


def parse_letter_set(text: str, letters: frozenset[str]) -> frozenset[str] | None:
    """Letters at the start of ``text`` ("B", "(b)", "A, C", "A and C", "bとe"), or None.

    Letters are case-sensitive; parsing stops at the first token that is not an option letter, so
    "A because" gives {A}.

    >>> sorted(parse_letter_set("A and (C) are correct", frozenset("ABCDE")))
    ['A', 'C']
    >>> parse_letter_set("a tension pneumothorax", frozenset("ABCDE")) is None
    True
    """
    text = text[:PARSE_CHARS]
    found: list[str] = []
    pos = _PREFIX_WORD.match(text).end()
    while True:
        token = _TOKEN.match(text, pos)
        if token is None:
            break
        letter = token.group(1)
        if letter not in letters:
            break
        found.append(letter)
        separator = _SEPARATOR.match(text, token.end())
        if separator is None:
            break
        pos = separator.end()
    return frozenset(found) if found else None


def _resolve(letter: str, letters: frozenset[str]) -> str | None:
    # Inside a box a lone letter is unambiguous, so "b" names option "B".
    for candidate in (letter, letter.upper(), letter.lower()):
        if candidate in letters:
            return candidate
    return None


def _from_box(region: str, letters: frozenset[str]) -> frozenset[str] | None:
    boxed = last_boxed(region)
    if boxed is None:
        return None
    content = unwrap_latex(boxed)
    concat = _CONCAT.fullmatch(content)
    if concat is not None:
        resolved = [_resolve(ch, letters) for ch in concat.group(1)]
        if all(resolved):
            return frozenset(resolved)
    parsed = parse_letter_set(content, letters)
    if parsed is not None:
        return parsed
    lone = _LONE.fullmatch(content)
    if lone is not None:
        letter = _resolve(lone.group(1), letters)
        return frozenset({letter}) if letter else None
    return None


def _from_statements(region: str, letters: frozenset[str]) -> frozenset[str] | None:
    last_statements = deque(_STATEMENT.finditer(region), maxlen=MAX_STATEMENTS_TRIED)
    for statement in reversed(last_statements):
        tail = region[statement.end():statement.end() + STATEMENT_TAIL_CHARS]
        tail = tail.split("\n", 1)[0]
        parsed = parse_letter_set(tail, letters)
        if parsed is not None:
            return parsed
    return None


def _standalone_pattern(letters: frozenset[str]) -> re.Pattern[str]:
    # re's own cache keeps the handful of distinct option alphabets compiled.
    alphabet = "".join(sorted(re.escape(letter) for letter in letters))
    return re.compile(rf"(?<![A-Za-z0-9])([{alphabet}])(?![A-Za-z0-9])")


def _from_last_line(region: str, letters: frozenset[str]) -> frozenset[str] | None:
    line = last_nonempty_line(region)[-LAST_LINE_CHARS:]
    if not line or not letters:
        return None
    lead = _LEADING_OPTION.match(line)
    if lead is not None and lead.group(1) in letters:
        return frozenset(lead.group(1))
    found = set()
    for match in _standalone_pattern(letters).finditer(line):
        letter = match.group(1)
        if letter in ("A", "I", "a") and _WORD_AFTER.match(line, match.end()):
            continue
        if _NAME_BEFORE.search(line[max(0, match.start() - 12):match.start()]):
            continue
        found.add(letter)
    return frozenset(found) if found else None


def extract_letters(region: str, letters: frozenset[str]) -> frozenset[str] | None:
    r"""The option letters a completion commits to (rules 1-3 of the module docstring), or None.

    ``region`` is the answer region (see :func:`medreasoner.verify.text.answer_region`).

    >>> L = frozenset("ABCDE")
    >>> sorted(extract_letters(r"I think A. Final: \boxed{C}", L))
    ['C']
    >>> sorted(extract_letters("The answer is B, not D.", L))
    ['B']
    >>> sorted(extract_letters("Between B and C...\nC", L))
    ['C']
    >>> extract_letters("A 45-year-old man presents with chest pain.", L) is None
    True
    """
    for markup in _MARKUP:
        region = region.replace(markup, "")
    for rule in (_from_box, _from_statements, _from_last_line):
        found = rule(region, letters)
        if found is not None:
            return found
    return None
