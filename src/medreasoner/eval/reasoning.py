"""The reasoning split of a streamed chat reply: ``<think>`` deltas apart from content deltas.

Servers with a reasoning parser (vLLM's ``--reasoning-parser``, ``transformers serve``,
``medreasoner serve``) answer a Qwen3-style reply ``<think>R</think>C`` with
``message.reasoning_content = R`` and ``message.content = C``. The split and its inverse are
:func:`medreasoner.think.split_reasoning` (``opened`` known, lossless) and
:func:`medreasoner.think.join_reasoning` (every endpoint caller puts the parts back with it, so the
verifiers grade the same text a local model would have produced). This module adds what a stream
needs: :class:`ReasoningStream` routes each new piece of text to one side without re-reading the
reply, and :func:`held_back` says how much of the end must wait because it may be the start of a
tag (or of a stop string).
"""

from __future__ import annotations

from medreasoner.think import THINK_CLOSE, THINK_OPEN

MARKERS = (THINK_OPEN, THINK_CLOSE)


def held_back(text: str, markers: tuple[str, ...]) -> int:
    """Length of the longest end of ``text`` that is a proper prefix of one of ``markers``.

    A stream must not send those characters yet: the next token may complete the marker.

    >>> held_back("answer </thi", ("<think>", "</think>")), held_back("answer", ("</think>",))
    (5, 0)
    """
    longest = 0
    for marker in markers:
        for size in range(min(len(marker) - 1, len(text)), longest, -1):
            if text.endswith(marker[:size]):
                longest = size
                break
    return longest


class ReasoningStream:
    """Turns the new text of one streamed reply, piece by piece, into reasoning and content deltas.

    Each :meth:`feed` gets only the text that is new since the last call, so a reply costs time
    linear in its length. A partial ``<think>``/``</think>`` at the end is held back (at most 7
    characters) until it is complete or the reply ends, so the deltas add up to exactly what
    :func:`~medreasoner.think.split_reasoning` gives for the whole text, and a tag is never split
    between a reasoning and a content delta.

    Args:
        opened: as in :func:`~medreasoner.think.split_reasoning`: the prompt ends inside an opened
            ``<think>``, so the reply starts with reasoning.

    >>> stream = ReasoningStream(opened=False)
    >>> stream.feed("<think>fever</th", final=False), stream.feed("ink>Pneu", final=False)
    (('fever', ''), ('', 'Pneu'))
    """

    def __init__(self, *, opened: bool):
        self.opened = opened
        # "start": not yet known whether the reply opens with <think>; then "reasoning" or "content".
        self.phase = "reasoning" if opened else "start"
        self.pending = ""  # the held-back end of the text: a proper prefix of a tag

    def feed(self, new: str, *, final: bool) -> tuple[str, str]:
        """``(reasoning delta, content delta)`` for ``new``, the text added to the reply (``final``: it is complete).

        The held-back end of the reply so far lies within ``pending + new`` (a held end never
        starts before text already sent, and a tag never spans text already sent), so nothing
        before it is read again.
        """
        text = self.pending + new
        hold = 0 if final else held_back(text, MARKERS)
        self.pending = text[len(text) - hold:] if hold else ""
        return self._route(text[:len(text) - hold])

    def _route(self, text: str) -> tuple[str, str]:
        if not text:
            return "", ""
        if self.phase == "start":  # text is the reply's first sendable text: it opens the block or never will
            self.phase = "reasoning" if text.startswith(THINK_OPEN) else "content"
            if self.phase == "reasoning":
                text = text[len(THINK_OPEN):]
        if self.phase == "content":
            return "", text
        close = text.find(THINK_CLOSE)
        if close == -1:
            return text, ""
        self.phase = "content"
        return text[:close], text[close + len(THINK_CLOSE):]
