"""The ``<think>`` block of a completion: split it into (reasoning, answer) and join the two back.

Every place that moves between inline text (``<think>R</think>A``, what a model writes and graders
read) and a separate reasoning field (``reasoning_content``, what servers and chat datasets carry)
goes through :func:`split_reasoning` and :func:`join_reasoning`. The callers need different
readings, so the differences are keyword arguments chosen at each call site, not hidden defaults:

* ``opened``: whether the prompt already opened the block. A server knows (``True``/``False``) and
  reads exactly what the model wrote; the data engine reads other models' text and pool files, so
  it passes ``None`` and reads the text as the graders do (:func:`~medreasoner.verify.text.strip_think`).
* ``strip``: the data engine stores both parts stripped; a server returns them byte for byte.
* ``newlines``: datasets and rewards render the parts as the chat templates do
  (``<think>\\nR\\n</think>\\n\\nA``, see :mod:`medreasoner.templates`), so a re-inlined completion
  reads like the text the model was trained on; a server's caller puts back exactly the split
  parts (``<think>R</think>A``).

The defaults (``strip=False``, ``newlines=False``) are the lossless pair: joining a split reply gives
the reply back. The tags and ``strip_think`` are the graders' (:mod:`medreasoner.verify.text`, the
lowest layer); importing nothing else keeps this module importable from data/, rewards/, sim/ and
eval/ without cycles.
"""

from __future__ import annotations

from medreasoner.verify.text import THINK_CLOSE, THINK_OPEN, strip_think

__all__ = ["THINK_CLOSE", "THINK_OPEN", "join_reasoning", "split_reasoning"]


def split_reasoning(text: str, *, opened: bool | None, strip: bool = False) -> tuple[str | None, str]:
    """``(reasoning, answer)`` of a completion; reasoning is None when it has no think block.

    Args:
        text: the generated text (without the prompt).
        opened: ``True``: the prompt ends inside an opened ``<think>``, so the text starts with
            reasoning. ``False``: only a text that starts with ``<think>`` has reasoning (a tag later
            on is answer text). In both, the first ``</think>`` ends the block and an unclosed block
            is all reasoning. ``None`` (unknown, e.g. a pool file or a teacher's reply): the graders'
            reading. The answer is :func:`~medreasoner.verify.text.strip_think` of the text (after
            the last ``</think>``, up to an unclosed ``<think>``); the reasoning is what precedes
            that ``</think>``, from after the first ``<think>`` (or from the start: a template
            opened the block); without ``</think>`` it is what follows the first ``<think>`` (a block
            cut by ``max_new_tokens``).
        strip: strip whitespace around both parts.

    >>> split_reasoning("<think>\\nfever\\n</think>\\n\\nPneumonia", opened=False)
    ('\\nfever\\n', '\\n\\nPneumonia')
    >>> split_reasoning("still thinking", opened=True), split_reasoning("Pneumonia", opened=False)
    (('still thinking', ''), (None, 'Pneumonia'))
    >>> split_reasoning("<think>\\nfever, cough\\n</think>\\n\\nPneumonia", opened=None, strip=True)
    ('fever, cough', 'Pneumonia')
    >>> split_reasoning("prefilled</think>x</think>B", opened=None), split_reasoning("<think>cut", opened=None)
    (('prefilled</think>x', 'B'), ('cut', ''))
    """
    if opened is None:
        reasoning, answer = _graders_split(text)
    else:
        reasoning, answer = _exact_split(text, opened)
    if strip:
        return (None if reasoning is None else reasoning.strip()), answer.strip()
    return reasoning, answer


def _exact_split(text: str, opened: bool) -> tuple[str | None, str]:
    """The server's split (``opened`` known): lossless, first ``</think>`` closes."""
    if not opened:
        if not text.startswith(THINK_OPEN):
            return None, text
        text = text[len(THINK_OPEN):]
    close = text.find(THINK_CLOSE)
    if close == -1:
        return text, ""
    return text[:close], text[close + len(THINK_CLOSE):]


def _graders_split(text: str) -> tuple[str | None, str]:
    """The data engine's split (``opened`` unknown): the answer is what the graders read."""
    close = text.rfind(THINK_CLOSE)
    head = text[:close] if close != -1 else text
    start = head.find(THINK_OPEN)
    if close == -1 and start == -1:
        return None, text
    reasoning = head[start + len(THINK_OPEN):] if start != -1 else head
    return reasoning, strip_think(text)


def join_reasoning(reasoning: str | None, content: str, finish_reason: str | None = None, *,
                   newlines: bool = False) -> str:
    """The completion with its reasoning inline; ``content`` alone when ``reasoning`` is None.

    Args:
        reasoning: the reasoning part (None: the reply had no think block).
        content: the answer part.
        finish_reason: ``"length"`` with no content keeps the block unclosed, as a model cut off by
            the token limit while still thinking left it. None: always closed.
        newlines: the chat templates' layout ``<think>\\nR\\n</think>\\n\\nA`` (data, rewards) instead
            of the parts back to back ``<think>R</think>A`` (the inverse of a server's split).

    >>> join_reasoning("fever", "Pneumonia", "stop"), join_reasoning("fev", "", "length")
    ('<think>fever</think>Pneumonia', '<think>fev')
    >>> join_reasoning("r", "Answer: A", newlines=True), join_reasoning(None, "Pneumonia")
    ('<think>\\nr\\n</think>\\n\\nAnswer: A', 'Pneumonia')
    """
    if reasoning is None:
        return content
    if newlines:
        opener, closer = f"{THINK_OPEN}\n", f"\n{THINK_CLOSE}\n\n"
    else:
        opener, closer = THINK_OPEN, THINK_CLOSE
    if not content and finish_reason == "length":
        return opener + reasoning
    return f"{opener}{reasoning}{closer}{content}"
