"""Text helpers shared by every verifier: bounding, think-block removal, width folding, ``\\boxed{}``.

Every function here is total (any ``str`` in, no exception out) and linear in the input length,
so a verifier built on them can grade adversarial completions (1 MB of ``\\boxed{``, unclosed
``<think>``) inside an RL loop without stalling it.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import NamedTuple

# Completions longer than this are cut to their LAST characters before grading. 2,000,000 chars is
# ~500k tokens, far past any generation budget, so real outputs are never cut; the cap only bounds
# memory and time on garbage. The tail is kept because every rule below prefers the last answer.
MAX_TEXT_CHARS = 2_000_000

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

_BOXED_OPEN = re.compile(r"\\boxed\s*\{")
_BRACE = re.compile(r"[{}]")
_BRACE_RUN = re.compile(r"\{+|\}+")
# The fast path looks for the last box among the final characters only.
_LAST_BOX_WINDOW = 20_000
# LaTeX wrappers a model puts inside a box: \boxed{\text{B}}, \boxed{\mathrm{B}}, \boxed{\textbf{B}}.
_LATEX_WRAPPER = re.compile(r"\\(?:text|textbf|mathrm|mathbf|operatorname|emph)\s*\{([^{}]*)\}")


def bound(text: str) -> str:
    """The text itself, or its last :data:`MAX_TEXT_CHARS` characters when longer.

    >>> bound("short")
    'short'
    """
    if len(text) > MAX_TEXT_CHARS:
        return text[-MAX_TEXT_CHARS:]
    return text


def strip_think(text: str) -> str:
    """The answer part of a completion: what follows the last ``</think>``, cut at an unclosed ``<think>``.

    Reasoning inside ``<think>...</think>`` never counts as the answer. A ``<think>`` that is never
    closed (a generation truncated mid-thought) swallows everything after it, so such a completion
    has no answer outside the thought.

    >>> strip_think("<think>maybe A</think>The answer is B.")
    'The answer is B.'
    >>> strip_think("<think>The answer is B")
    ''
    >>> strip_think("prefilled thought</think>B")
    'B'
    """
    close = text.rfind(THINK_CLOSE)
    if close != -1:
        text = text[close + len(THINK_CLOSE):]
    unclosed = text.find(THINK_OPEN)
    if unclosed != -1:
        text = text[:unclosed]
    return text


# Unicode normalisation sorts each run of combining marks (non-starters) by combining class, which
# CPython does in time quadratic in the run length (128k marks took 33 s). Runs longer than the
# Stream-Safe Text Format limit of UAX #15 (30 non-starters) never occur in real text, so they are
# cut to their first 30 marks before any normalisation.
MAX_NONSTARTERS = 30
# Combining marks live in planes 0 and 1; plane 14 holds only starters (variation selectors, tags).
_NONSTARTER_PLANES = 0x20000


@functools.cache
def _nonstarter_class() -> str:
    # Built once, on the first non-ASCII text (~0.1 s): every character with a non-zero combining
    # class, plus the few starters whose decomposition begins with one (U+0F73, U+FF9E, ...).
    codes = []
    for code in range(_NONSTARTER_PLANES):
        char = chr(code)
        if unicodedata.combining(char) or (
            unicodedata.decomposition(char) and unicodedata.combining(unicodedata.normalize("NFKD", char)[0])
        ):
            codes.append(code)
    ranges, start = [], None
    for index, code in enumerate(codes):
        if start is None:
            start = code
        if index + 1 == len(codes) or codes[index + 1] != code + 1:
            ranges.append(f"\\U{start:08x}-\\U{code:08x}")
            start = None
    return "[" + "".join(ranges) + "]"


@functools.cache
def _nonstarter_runs() -> re.Pattern[str]:
    char_class = _nonstarter_class()
    return re.compile(f"({char_class}{{{MAX_NONSTARTERS}}}){char_class}+")


# The kana voicing marks (U+3099, U+309A) are combining marks that make another letter (て/で, は/ば/ぱ), not
# accents: dropping them would make "ではない" (is not) read "てはない" and パ, バ and ハ compare equal.
KANA_VOICING = "\u3099\u309a"


@functools.cache
def _accents() -> re.Pattern[str]:
    return re.compile(f"(?:(?![{KANA_VOICING}]){_nonstarter_class()})+")


def drop_combining(text: str) -> str:
    """``text`` without accents (the combining marks of a decomposed text), in one regex pass, recomposed (NFC).

    Kana voicing marks stay (:data:`KANA_VOICING`) and are composed back with their kana.

    >>> drop_combining("Barre\u0301"), drop_combining("\u3066\u3099\u306f\u306a\u3044")
    ('Barre', 'ではない')
    """
    if text.isascii():
        return text
    return unicodedata.normalize("NFC", _accents().sub("", text))


def cap_nonstarters(text: str) -> str:
    """Cut every run of more than :data:`MAX_NONSTARTERS` combining marks to its first 30 (linear time).

    >>> len(cap_nonstarters("e" + "\u0301" * 1000))
    31
    """
    if text.isascii():
        return text
    return _nonstarter_runs().sub(r"\1", text)


def fold_width(text: str) -> str:
    """NFKC normalisation: full-width letters, digits and punctuation become ASCII.

    Long runs of combining marks are capped first (:func:`cap_nonstarters`), which keeps this linear.

    >>> fold_width("答え：ｂ，ｅ（Ａ）")
    '答え:b,e(A)'
    """
    return unicodedata.normalize("NFKC", cap_nonstarters(text))


def answer_region(text: str) -> str:
    """:func:`bound`, then :func:`strip_think`, then :func:`fold_width`: the text a free-form extractor reads.

    >>> answer_region("<think>Ａ?</think>Answer: Ｂ")
    'Answer: B'
    """
    return fold_width(strip_think(bound(text)))


class Box(NamedTuple):
    r"""A closed ``\boxed{...}``: ``text[start:end]`` is the whole box, ``content`` what its braces hold."""

    start: int
    end: int
    content: str


def last_boxed(text: str) -> str | None:
    r"""Content of the last *closed* ``\boxed{...}``, nested braces included; None if there is none.

    One pass over the braces after the first ``\boxed{`` pairs every ``{`` with its ``}``; the box
    with the latest opening among the closed ones wins. An unclosed box is skipped, so
    ``\boxed{B} \boxed{`` gives ``B``. Linear time even for 1 MB of ``\boxed{``.

    >>> last_boxed(r"\boxed{A} then \boxed{\frac{1}{2}}")
    '\\frac{1}{2}'
    >>> last_boxed(r"\boxed{B} \boxed{")
    'B'
    >>> last_boxed("no box") is None
    True
    """
    box = last_box(text)
    return None if box is None else box.content


def last_box(text: str) -> Box | None:
    r"""The last closed box (latest opening) with its position, or None; see :func:`last_boxed`.

    >>> last_box(r"x \boxed{B} y")
    Box(start=2, end=11, content='B')
    """
    last = None
    for last in _BOXED_OPEN.finditer(text[-_LAST_BOX_WINDOW:]):
        pass
    if last is not None:
        # Common case: the last box is closed; count braces from it to the end of the text.
        offset = max(0, len(text) - _LAST_BOX_WINDOW)
        depth = 0
        for brace in _BRACE.finditer(text, offset + last.end() - 1):
            depth += 1 if brace.group() == "{" else -1
            if depth == 0:
                return Box(offset + last.start(), brace.end(), text[offset + last.end():brace.start()])
    return _last_closed_box(text)


def _last_closed_box(text: str) -> Box | None:
    # General case (the last box is unclosed or outside the window): pair every brace after the
    # first box in one pass; the closed box with the latest opening wins.
    first = _BOXED_OPEN.search(text)
    if first is None:
        return None
    box_starts = {m.end() - 1: m.start() for m in _BOXED_OPEN.finditer(text, first.start())}
    # Braces are paired run by run ("{{{{" is one stack entry [start, count]), so a megabyte of nested
    # braces costs two regex matches, not a million Python steps. A box's "{" follows "\boxed" (or a
    # space), so it always starts a run: only run starts need their closing position.
    runs: list[list[int]] = []
    best_open = best_close = -1
    for m in _BRACE_RUN.finditer(text, first.end() - 1):
        start, end = m.span()
        if text[start] == "{":
            runs.append([start, end - start])
            continue
        closed = start  # position of the next "}" of this run to pair
        while closed < end and runs:
            top = runs[-1]
            take = min(top[1], end - closed)
            closed += take
            top[1] -= take
            if top[1] == 0:
                runs.pop()
                if top[0] in box_starts and top[0] > best_open:
                    best_open, best_close = top[0], closed - 1
    if best_open == -1:
        return None
    return Box(box_starts[best_open], best_close + 1, text[best_open + 1:best_close])


# Boxes that follow each other with only this between them are committed together (a hedge such as
# "\boxed{A} or \boxed{B}"); any other text between two boxes ("On reflection, ...") makes the
# later one a correction. Also used between answer statements.
MAX_GAP_CHARS = 40
# Between hedged answers: punctuation, LaTeX math delimiters ("$\\boxed{A}$ or $\\boxed{B}$"), and words
# that weigh one answer against another ("A vs B", "A, otherwise B", "A (if not, B)", "A or even B"). A lone
# "then" is not one: "\\boxed{50}. Then: \\boxed{25.2}" is a worked solution's next step.
_HEDGE_WORDS = (r"or|and|either|maybe|possibly|perhaps|probably|alternatively|also|the|vs|versus|otherwise|else"
                r"|if\s+not(?:\s*,?\s*then)?|or\s+even|not")
_HEDGE_WORDS_JA = r"または|あるいは|もしくは|ないし|および|及び|か|と|も"
CONNECTIVE_GAP = re.compile(
    rf"(?:[\s,.;:!?/|&+()\[\]\-–—、。・$\\]|(?i:\b(?:{_HEDGE_WORDS})\b)|{_HEDGE_WORDS_JA})*"
)
# After the last commitment, a word that opens another answer ("\\boxed{A} or B", "Diagnosis: A\nvs B")
# commits to two answers as "\\boxed{A} or \\boxed{B}" does. "and" and "also" are left out: "\\boxed{A} and
# it fits the findings" goes on about the same answer. In a new sentence most of these words comment on the
# answer ("\\boxed{Pneumonia}\n\nProbably pneumococcal.", "Either way, ..."), so there only a short line opened
# by "or"/"vs" without a comma ("\nor influenza") counts (:func:`hedge_follows`).
_HEDGE_AFTER = re.compile(
    r"[\s,.;:!?()\[\]$\\\-–—、。]*"
    r"(?P<word>(?i:\b(?:or|either(?!\s+way)|maybe|possibly|perhaps|probably|alternatively|vs|versus|otherwise|else)\b)"
    r"|または|あるいは|もしくは|ないし|か)"
    r"[\s,.;:()\[\]$\\\-–—、。]*[^\s,.;:!?()\[\]$\\\-–—、。]"
)
_SENTENCE_BREAK = re.compile(r"\n|[.!?。](?:\s|$)")
_NEW_SENTENCE_HEDGE = re.compile(
    r"(?i:or\b(?!\s*,|\s+(?:in\s+other\s+words|equivalently|i\.e\.))|vs\b|versus\b)|(?:または|あるいは|もしくは|ないし)(?![、,])"
)
# A box with at most two levels of nested braces (``\\boxed{\\text{\\textbf{B}}}``); the boxes before the last
# one are found with this pattern, which runs in C and cannot backtrack (braces are excluded from [^{}]).
_SIMPLE_BOX = re.compile(r"\\boxed\s*\{([^{}]*(?:\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}[^{}]*)*)\}")


def is_connective(gap: str) -> bool:
    """True when ``gap`` is short and holds only punctuation, spaces and hedge words ("or", "vs", "または").

    >>> is_connective(" or "), is_connective("\\nOn reflection, ")
    (True, False)
    """
    if not gap or gap.isspace():
        return len(gap) <= MAX_GAP_CHARS  # fast path for boxes that follow each other directly
    return len(gap) <= MAX_GAP_CHARS and CONNECTIVE_GAP.fullmatch(gap) is not None


def hedge_follows(rest: str) -> bool:
    r"""True when ``rest``, the text right after a commitment, opens another answer with a hedge word.

    >>> hedge_follows(" or Takayasu arteritis"), hedge_follows(". It fits the findings."), hedge_follows(" or")
    (True, False, False)
    >>> hedge_follows("\nor influenza"), hedge_follows("\n\nProbably pneumococcal."), hedge_follows("\nOr, in short, flu.")
    (True, False, False)
    """
    found = _HEDGE_AFTER.match(rest[:MAX_GAP_CHARS])
    if found is None:
        return False
    if not _SENTENCE_BREAK.search(rest, 0, found.start("word")):
        return True
    line = rest[found.start("word"):].split("\n", 1)[0]
    return len(line) <= MAX_GAP_CHARS and _NEW_SENTENCE_HEDGE.match(line) is not None


def trailing_boxes(text: str) -> list[Box]:
    r"""The last closed box and the boxes right before it joined only by :func:`is_connective` gaps, in order.

    Earlier boxes count only with at most one level of nested braces inside. Linear in the text:
    100k repeated boxes give 100k entries.

    >>> [b.content for b in trailing_boxes(r"\boxed{C} Wait. \boxed{A} or \boxed{B}")]
    ['A', 'B']
    """
    last = last_box(text)
    if last is None:
        return []
    earlier = list(_SIMPLE_BOX.finditer(text, 0, last.start))
    start, first = last.start, len(earlier)
    while first > 0:
        end = earlier[first - 1].end()
        if end != start and (end > start or not is_connective(text[end:start])):
            break
        first -= 1
        start = earlier[first].start()
    return [Box(m.start(), m.end(), m.group(1)) for m in earlier[first:]] + [last]


def unwrap_latex(text: str) -> str:
    r"""Remove ``\text{}``-style wrappers (one level) and surrounding whitespace/``$``.

    >>> unwrap_latex(r" \text{B} ")
    'B'
    """
    return _LATEX_WRAPPER.sub(r"\1", text).strip().strip("$").strip()


def last_nonempty_line(text: str) -> str:
    """The last line that has a non-space character, stripped ('' if none).

    >>> last_nonempty_line("first\\n  last  \\n\\n")
    'last'
    """
    stripped = text.rstrip()
    return stripped[stripped.rfind("\n") + 1:].strip()
