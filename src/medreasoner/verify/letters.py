r"""Option-letter extraction from free text, shared by the ``mcq``, ``multiselect`` and ``igakuqa`` verifiers.

The answer is the LAST COMMITTED one. Commitments are closed ``\boxed{...}`` (``\boxed{B}``,
``\boxed{\text{(b)}}``, ``\boxed{A, C}``, ``\boxed{AC}``; case folded inside a box) and explicit
answer statements whose tail starts with letters (``The answer is B``, ``Answer: (C)``,
``the correct option is (D)``, ``答え: b,e``, ``正解はC``). Then:

* the commitment that starts last wins, so ``\boxed{B} ... On reflection, the answer is A`` is A
  (a correction); a box has no priority over a later statement;
* commitments joined only by punctuation or hedge words (``\boxed{A} or \boxed{B}``,
  ``Answer: A\nAnswer: B``) are one hedged commitment: the union of their letters, which a
  single-answer item grades wrong; so are letters chained in one statement (``A or maybe C``,
  ``either A or C``, ``B (or C)``);
* a letter negated at or after the commitment is removed from it (``The answer is B, not D`` is
  B; ``\boxed{B}\nB is incorrect`` is no answer), see :func:`negated_letters`;
* with no commitment, the standalone option letters of the last non-empty line (its last 1,000
  characters) minus the letters negated on that line: ``**B**``, ``So B.``, ``Not A. B.``
  (B), ``Not B.`` (no answer); a line opening with an option marker names that option only
  (``D. Anti-B antibodies`` -> D).

Letters outside the item's options are never returned; outside boxes letters are case-sensitive
(the English article "a" is not option "A"), ``A``/``I`` followed by a lowercase word
("A patient", "I think") are words, and a letter inside a medical name ("hepatitis B",
"vitamin A", "Anti-B", "type A") is not an option. No answer -> ``None``, never a guess.
"""

from __future__ import annotations

import re
from collections import deque
from typing import NamedTuple

from medreasoner.verify.text import is_connective, last_nonempty_line, trailing_boxes, unwrap_latex

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
# "The answer is either A or C" / "probably B": hedge words before the letters are skipped, so the
# letters are read (and a hedge between two letters stays a two-letter set).
_PREFIX_WORD = re.compile(
    r"\s*(?i:(?:either|both|possibly|probably|likely|maybe|perhaps)\s+)?(?i:(?:options?|choices?|letters?)\b)?\s*"
)
_TOKEN = re.compile(r"[(\[]?\s*([A-Za-z])\s*[)\]]?(?![A-Za-z0-9])")
# A list's separator may pair punctuation with a word ("A, C, and D", "A, C plus D"): every letter is read.
# Not "with": "B, with A incorrect" comments on another option.
_SEPARATOR = re.compile(
    r"\s*\(?\s*(?:(?:,|、|;)\s*(?i:\b(?:and|or|plus|as\s+well\s+as)\b)?"
    r"|/|&|\+|・|(?i:\b(?:and|or|plus|as\s+well\s+as)\b)|と|及び|および|または|か)\s*"
    r"(?i:(?:maybe|possibly|perhaps|probably|even|also|alternatively)\s+)?(?i:(?:options?|choices?)\s+)?|\s+"
)
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


# Negation and exclusion of option letters, built for linear time on 1 MB of adversarial text: a
# letter list is at most 26 letters and matched atomically (no backtracking into it); every pattern
# starts with a literal or a small character class (no leading \b or lookbehind), so the regex
# engine skips positions by their first character; word boundaries are checked afterwards.
_LETTER = r"[(\[]?[A-Za-z][)\]]?(?![A-Za-z0-9])"
_LIST_SEPARATOR = r"\s*(?:,|、|/|&|and\b|or\b|nor\b|と|や|及び|および)\s*"
_LIST_TAIL = rf"(?:{_LIST_SEPARATOR}{_LETTER}){{0,25}}"
# "not B", "rule out B", "isn't B", "cannot be B", "anything but B", "except B", "exclude B".
_NEG_BEFORE = re.compile(
    r"(?:[Nn]ot|[Nn]ever|[Cc]annot|[Nn]or|[Nn]either|[Ee]xcept|[Ee]xcluding|[Ee]xclude[sd]?"
    r"|[Ee]liminat(?:e|es|ed|ing)|[Rr]ul(?:e|es|ed|ing)\s+out|[Oo]ther\s+than|[Rr]ather\s+than|[Ii]nstead\s+of"
    r"|[Aa]nything\s+but|[Aa]gainst|[Uu]nlikely\s+to\s+be|n't)"
    r"\s+(?:(?:be|to\s+be|been)\s+)?(?:(?:[Oo]ptions?|[Cc]hoices?|[Aa]nswers?|[Ll]etters?)\s+)?"
    rf"(?P<list>(?>{_LETTER}{_LIST_TAIL}))"
)
# "B is incorrect", "B can be ruled out", "B is not the answer", "B: wrong", "B? No", "eは誤り",
# "答えはeではない", "e以外"; "{letters}" is filled with the letters looked for.
_NEG_AFTER = (
    r"(?P<list>(?>[{letters}][)\]]?(?![A-Za-z0-9]){tail}))\s*(?=[iawsc:\-–—?でじはがも以を])"
    r"(?:(?:is|are|was|were|seems?|appears?|(?:would|will|can|could|must|should)\s+be)\s+"
    r"(?:(?:definitely|clearly|also|therefore|thus|likely|probably|certainly)\s+)?"
    r"(?:not\s+(?:correct|right|true|it|the\s+(?:answer|correct\s+answer|best\s+answer|right\s+answer|best\s+choice))"
    r"|incorrect|wrong|false|ruled\s+out|excluded|eliminated|unlikely|implausible|a\s+distractor"
    r"|(?:the|an?)\s+(?:wrong|incorrect)\s+(?:answer|choice|option))\b"
    r"|(?:is|are|was|were)n't\s+(?:correct|right|true|it|the\s+(?:answer|correct\s+answer|best\s+answer|right\s+answer))\b"
    r"|[:\-–—]\s*(?i:incorrect|wrong|false|no)\b"
    r"|\?\s*(?i:no)\b"
    r"|ではない|ではなく|でない|じゃない|は誤|が誤|も誤|は不正解|は正しくない|は間違|が間違|以外|を除|は除外|は否定|は違|は不適"
    r"|は該当しない)"
)
_LIST_LETTER = re.compile(r"(?<![A-Za-z])[A-Za-z](?![A-Za-z])")
# Substrings that every match of _NEG_BEFORE / _NEG_AFTER contains: a text with none of them is not
# scanned by that pattern (str's substring search is far faster than the regex scan).
_BEFORE_HINTS = ("ot", "ever", "nnot", "either", "xcept", "xclud", "liminat", "ul", "than", "nstead", "ut", "gainst",
                 "nlikely", "n't")
_AFTER_HINTS = ("is", "are", "was", "were", "seem", "appear", "be", ":", "-", "–", "—", "?", "で", "じゃ", "は", "が",
                "も", "以外", "を除")


def _after_pattern(letters: frozenset[str]) -> re.Pattern[str]:
    # re's own cache keeps the few distinct patterns compiled.
    alphabet = "".join(sorted(re.escape(letter) for letter in letters))
    return re.compile(_NEG_AFTER.replace("{letters}", alphabet).replace("{tail}", _LIST_TAIL))


def negated_letters(text: str, letters: frozenset[str]) -> frozenset[str]:
    """The letters of ``letters`` that ``text`` negates or excludes anywhere (case-sensitive).

    Before a letter list: not, never, cannot (be), n't, nor, neither, except, excluding, exclude,
    eliminate, rule(d) out, other than, rather than, instead of, anything but, against, unlikely
    to be. After it: is/are/can be/... incorrect, wrong, false, ruled out, excluded, eliminated,
    unlikely, implausible, not correct/right/the answer; ``: wrong``; ``? No``; ではない, でない,
    は誤り, は不正解, は間違い, 以外, を除く, は除外, は否定的, は違う. Pass only the letters that
    matter (the committed ones): the scan is then faster.

    >>> sorted(negated_letters("Not A. C and D are wrong; B? No. The answer is E.", frozenset("ABCDE")))
    ['A', 'B', 'C', 'D']
    >>> sorted(negated_letters("答えはeではない。aは誤り。c以外", frozenset("abcde")))
    ['a', 'c', 'e']
    """
    if not letters:
        return frozenset()
    found: set[str] = set()
    before = _NEG_BEFORE.finditer(text) if any(hint in text for hint in _BEFORE_HINTS) else ()
    for match in before:
        if match.start() and text[match.start() - 1].isalnum() and not match.group().startswith("n't"):
            continue  # inside a word ("cannot" in "xcannot", "not" in "knot")
        found.update(letter for letter in _LIST_LETTER.findall(match.group("list")) if letter in letters)
        if len(found) == len(letters):
            return frozenset(found)  # every letter looked for is negated: no need to read on
    after = _after_pattern(letters).finditer(text) if any(hint in text for hint in _AFTER_HINTS) else ()
    for match in after:
        if match.start() and (text[match.start() - 1].isascii() and text[match.start() - 1].isalnum()):
            continue  # a letter inside a word
        found.update(letter for letter in _LIST_LETTER.findall(match.group("list")) if letter in letters)
        if len(found) == len(letters):
            break
    return frozenset(found)


def _parse(text: str, letters: frozenset[str]) -> tuple[frozenset[str] | None, int]:
    # The letter set at the start of ``text`` and where its last letter ends.
    text = text[:PARSE_CHARS]
    found: list[str] = []
    pos = end = _PREFIX_WORD.match(text).end()
    while True:
        token = _TOKEN.match(text, pos)
        if token is None:
            break
        letter = token.group(1)
        if letter not in letters:
            break
        found.append(letter)
        end = token.end()
        separator = _SEPARATOR.match(text, token.end())
        if separator is None:
            break
        pos = separator.end()
    return (frozenset(found), end) if found else (None, 0)


def parse_letter_set(text: str, letters: frozenset[str]) -> frozenset[str] | None:
    """Letters at the start of ``text`` ("B", "(b)", "A, C", "A and C", "bとe", "either A or C"), or None.

    Letters are case-sensitive; parsing stops at the first token that is not an option letter, so
    "A because" gives {A}.

    >>> sorted(parse_letter_set("A and (C) are correct", frozenset("ABCDE")))
    ['A', 'C']
    >>> parse_letter_set("a tension pneumothorax", frozenset("ABCDE")) is None
    True
    """
    return _parse(text, letters)[0]


def _resolve(letter: str, letters: frozenset[str]) -> str | None:
    # Inside a box a lone letter is unambiguous, so "b" names option "B".
    for candidate in (letter, letter.upper(), letter.lower()):
        if candidate in letters:
            return candidate
    return None


def box_letters(content: str, letters: frozenset[str]) -> frozenset[str] | None:
    r"""Letters named by the content of one box (``B``, ``\text{(b)}``, ``A, C``, ``AC``), or None.

    >>> sorted(box_letters(r"\text{a}", frozenset("ABCDE")))
    ['A']
    """
    content = unwrap_latex(content[:PARSE_CHARS])
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


class Commitment(NamedTuple):
    """Letters committed by one box or answer statement, at ``region[start:end]``."""

    start: int
    end: int
    letters: frozenset[str]


def _box_commitments(region: str, letters: frozenset[str]) -> list[Commitment]:
    # The trailing boxes are joined by connective gaps by construction: one (possibly hedged) commitment.
    start = end = -1
    found: set[str] = set()
    parsed: dict[str, frozenset[str] | None] = {}  # 100k repeated boxes parse once
    for box in trailing_boxes(region):
        if box.content not in parsed:
            parsed[box.content] = box_letters(box.content, letters)
        named = parsed[box.content]
        if named is not None:
            start = box.start if start == -1 else start
            end = box.end
            found |= named
    if start == -1:
        return []
    # "\\boxed{B} or C": letters chained right after the last box join it (a hedge).
    chained = _CHAIN.match(region, end)
    if chained is not None:
        more, more_end = _parse(region[chained.end():], letters)
        if more is not None:
            found |= more
            end = chained.end() + more_end
    return [Commitment(start, end, frozenset(found))]


_CHAIN = re.compile(r"\s*(?:,|/|&|\bor\b|\band\b|または|か|と)")


def _statement_commitments(region: str, letters: frozenset[str]) -> list[Commitment]:
    commitments = []
    for statement in deque(_STATEMENT.finditer(region), maxlen=MAX_STATEMENTS_TRIED):
        tail = region[statement.end():statement.end() + STATEMENT_TAIL_CHARS].split("\n", 1)[0]
        found, end = _parse(tail, letters)
        if found is not None:
            commitments.append(Commitment(statement.start(), statement.end() + end, found))
    return commitments


def last_commitment(region: str, letters: frozenset[str], statements: bool = True) -> Commitment | None:
    r"""The last commitment, merged with the commitments joined to it by connective gaps (a hedge).

    >>> last_commitment(r"\boxed{B}" + "\nOn reflection, the answer is A.", frozenset("ABCDE")).letters
    frozenset({'A'})
    >>> sorted(last_commitment(r"\boxed{A} or \boxed{B}", frozenset("ABCDE")).letters)
    ['A', 'B']
    """
    commitments = _box_commitments(region, letters)
    if statements:
        commitments += _statement_commitments(region, letters)
    if not commitments:
        return None
    commitments.sort(key=lambda commitment: commitment.start)
    last = commitments[-1]
    start, found = last.start, set(last.letters)
    for previous in reversed(commitments[:-1]):
        if previous.end > start or not is_connective(region[previous.end:start]):
            break
        start = previous.start
        found |= previous.letters
    return Commitment(start, last.end, frozenset(found))


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
        found = {lead.group(1)}
    else:
        found = set()
        for match in _standalone_pattern(letters).finditer(line):
            letter = match.group(1)
            if letter in ("A", "I", "a") and _WORD_AFTER.match(line, match.end()):
                continue
            if _NAME_BEFORE.search(line[max(0, match.start() - 12):match.start()]):
                continue
            found.add(letter)
    found -= negated_letters(line, letters)
    return frozenset(found) if found else None


def extract_letters(region: str, letters: frozenset[str]) -> frozenset[str] | None:
    r"""The option letters a completion commits to (see the module docstring), or None.

    ``region`` is the answer region (see :func:`medreasoner.verify.text.answer_region`).

    >>> L = frozenset("ABCDE")
    >>> sorted(extract_letters(r"I think A. Final: \boxed{C}", L))
    ['C']
    >>> sorted(extract_letters("The answer is B, not D.", L))
    ['B']
    >>> extract_letters("The answer is not B.", L) is None
    True
    >>> sorted(extract_letters("Between B and C...\nC", L))
    ['C']
    >>> extract_letters("A 45-year-old man presents with chest pain.", L) is None
    True
    """
    for markup in _MARKUP:
        region = region.replace(markup, "")
    commitment = last_commitment(region, letters)
    if commitment is None:
        return _from_last_line(region, letters)
    found = commitment.letters - negated_letters(region[commitment.start:], commitment.letters)
    return found or None
