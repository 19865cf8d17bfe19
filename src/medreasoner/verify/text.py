"""Text helpers shared by every verifier: bounding, think-block removal, width folding, ``\\boxed{}``.

Every function here is total (any ``str`` in, no exception out) and linear in the input length,
so a verifier built on them can grade adversarial completions (1 MB of ``\\boxed{``, unclosed
``<think>``) inside an RL loop without stalling it.
"""

from __future__ import annotations

import re
import unicodedata

# Completions longer than this are cut to their LAST characters before grading. 2,000,000 chars is
# ~500k tokens, far past any generation budget, so real outputs are never cut; the cap only bounds
# memory and time on garbage. The tail is kept because every rule below prefers the last answer.
MAX_TEXT_CHARS = 2_000_000

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

_BOXED_OPEN = re.compile(r"\\boxed\s*\{")
_BRACE = re.compile(r"[{}]")
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


def fold_width(text: str) -> str:
    """NFKC normalisation: full-width letters, digits and punctuation become ASCII.

    >>> fold_width("答え：ｂ，ｅ（Ａ）")
    '答え:b,e(A)'
    """
    return unicodedata.normalize("NFKC", text)


def answer_region(text: str) -> str:
    """:func:`bound`, then :func:`strip_think`, then :func:`fold_width`: the text a free-form extractor reads.

    >>> answer_region("<think>Ａ?</think>Answer: Ｂ")
    'Answer: B'
    """
    return fold_width(strip_think(bound(text)))


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
                return text[offset + last.end():brace.start()]
    return _last_closed_box(text)


def _last_closed_box(text: str) -> str | None:
    # General case (the last box is unclosed or outside the window): pair every brace after the
    # first box in one pass; the closed box with the latest opening wins.
    first = _BOXED_OPEN.search(text)
    if first is None:
        return None
    box_braces = {m.end() - 1 for m in _BOXED_OPEN.finditer(text, first.start())}
    open_positions: list[int] = []
    best_open = best_close = -1
    for m in _BRACE.finditer(text, first.end() - 1):
        if m.group() == "{":
            open_positions.append(m.start())
        elif open_positions:
            opened = open_positions.pop()
            if opened in box_braces and opened > best_open:
                best_open, best_close = opened, m.start()
    if best_open == -1:
        return None
    return text[best_open + 1:best_close]


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
