"""The reasoning split of a chat reply: the ``<think>`` block apart from the answer, and back inline.

Servers with a reasoning parser (vLLM's ``--reasoning-parser``, ``transformers serve``,
``medreasoner serve``) answer a Qwen3-style reply ``<think>R</think>C`` with
``message.reasoning_content = R`` and ``message.content = C``. ``medreasoner serve`` splits with
:func:`split_reasoning`; every endpoint caller puts the parts back with :func:`join_reasoning`, so
the verifiers grade the same text a local model would have produced.

The split is lossless: nothing is stripped, so ``join_reasoning`` of a split reply is the reply
itself, except that a block the model closed with end-of-sequence instead of ``</think>`` comes
back closed (graders read nothing from an unclosed block either way, see
:func:`medreasoner.verify.text.strip_think`).
"""

from __future__ import annotations

from medreasoner.eval.generation import THINK_CLOSE, THINK_OPEN


def split_reasoning(text: str, *, opened: bool) -> tuple[str | None, str]:
    """``(reasoning, content)`` of a generated reply; reasoning is None when the reply has no think block.

    Args:
        text: the generated text (without the prompt).
        opened: the prompt already ends inside an opened ``<think>`` (a template that pre-opens the
            block), so the reply starts with reasoning.

    Only a reply that starts with ``<think>`` (or follows a pre-opened one) has reasoning: a tag in
    the middle of an answer is answer text. An unclosed block is all reasoning and no content.

    >>> split_reasoning("<think>\\nfever\\n</think>\\n\\nPneumonia", opened=False)
    ('\\nfever\\n', '\\n\\nPneumonia')
    >>> split_reasoning("Pneumonia", opened=False)
    (None, 'Pneumonia')
    >>> split_reasoning("still thinking", opened=True)
    ('still thinking', '')
    """
    if not opened:
        if not text.startswith(THINK_OPEN):
            return None, text
        text = text[len(THINK_OPEN):]
    close = text.find(THINK_CLOSE)
    if close == -1:
        return text, ""
    return text[:close], text[close + len(THINK_CLOSE):]


def join_reasoning(reasoning: str | None, content: str, finish_reason: str) -> str:
    """The reply with its reasoning inline: ``<think>reasoning</think>content``.

    A reply cut off by the token limit while still thinking (no content, ``finish_reason ==
    "length"``) stays unclosed, as the model left it.

    >>> join_reasoning("fever", "Pneumonia", "stop")
    '<think>fever</think>Pneumonia'
    >>> join_reasoning(None, "Pneumonia", "stop"), join_reasoning("fev", "", "length")
    ('Pneumonia', '<think>fev')
    """
    if reasoning is None:
        return content
    if not content and finish_reason == "length":
        return THINK_OPEN + reasoning
    return f"{THINK_OPEN}{reasoning}{THINK_CLOSE}{content}"


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
    """Turns the growing text of one streamed reply into reasoning and content deltas.

    Each :meth:`feed` gets the whole text so far and returns what is new on each side; a partial
    ``<think>``/``</think>`` at the end is held back until it is complete (or the reply ends), so the
    streamed deltas add up to exactly what :func:`split_reasoning` gives for the final text.

    Args:
        opened: as in :func:`split_reasoning`.
    """

    def __init__(self, *, opened: bool):
        self.opened = opened
        self.sent_reasoning = 0
        self.sent_content = 0

    def feed(self, text: str, *, final: bool) -> tuple[str, str]:
        """``(reasoning delta, content delta)`` for ``text``, the reply so far (``final``: it is complete)."""
        safe = text if final else text[:len(text) - held_back(text, (THINK_OPEN, THINK_CLOSE))]
        reasoning, content = split_reasoning(safe, opened=self.opened)
        reasoning = reasoning or ""
        delta = reasoning[self.sent_reasoning:], content[self.sent_content:]
        self.sent_reasoning, self.sent_content = len(reasoning), len(content)
        return delta
