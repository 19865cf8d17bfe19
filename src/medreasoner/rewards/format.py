"""Format reward: a reasoning block followed by a marked final answer.

WiNGPT-3.0 filters its SFT data on the ``<think>`` / ``</think>`` tags (PAPERS.md 1.2, item 4); this
reward asks the policy for the same shape. A completion earns 1.0 when ALL of these hold, else 0.0:

1. exactly one ``<think>`` and one ``</think>``, the opener first, with only whitespace before the
   opener (with ``think_opened_by_template=True`` the template writes the opener into the prompt,
   as Qwen3 / DeepSeek-R1 templates do, so a completion without one reads as starting inside the
   block; a response parser that split the reasoning off puts it back, so both shapes pass);
2. the reasoning between the tags is not blank;
3. after ``</think>`` the answer is not blank and contains a final-answer marker: ``\\boxed{...}``
   with non-blank content, or a line starting with ``Answer:``, ``Final answer:``, ``答え:`` or
   ``解答:`` (case-insensitive, ASCII or full-width colon) followed by a non-blank answer.

Whether the answer is right is the correctness rewards' business, not this one's.
"""

from __future__ import annotations

import re
from typing import Any

from medreasoner.rewards.completion import completion_text

_ANSWER_LINE = re.compile(
    r"^[ \t]*(?:final answer|answer|答え|解答)[ \t]*[:：][ \t]*\S", re.IGNORECASE | re.MULTILINE
)
_BOXED = re.compile(r"\\boxed\{\s*[^\s}]")


def has_answer_marker(answer: str) -> bool:
    """True when ``answer`` holds a non-empty ``\\boxed{}`` or an ``Answer:``-style line.

    >>> has_answer_marker("so the answer is \\\\boxed{C}"), has_answer_marker("解答：b"), has_answer_marker("C")
    (True, True, False)
    """
    return bool(_BOXED.search(answer) or _ANSWER_LINE.search(answer))


def is_well_formatted(text: str, *, think_opened_by_template: bool) -> bool:
    """Apply the three rules of the module docstring to one completion text.

    >>> is_well_formatted("<think>\\nB fits.\\n</think>\\n\\nAnswer: B", think_opened_by_template=False)
    True
    >>> is_well_formatted("Answer: B", think_opened_by_template=False)
    False
    """
    if think_opened_by_template and "<think>" not in text:
        text = "<think>" + text
    if text.count("<think>") != 1 or text.count("</think>") != 1:
        return False
    before, rest = text.split("<think>", 1)
    if before.strip() or "</think>" not in rest:
        return False
    reasoning, answer = rest.split("</think>", 1)
    return bool(reasoning.strip()) and has_answer_marker(answer)


def format_reward(completions: list[Any], *, think_opened_by_template: bool, **columns: Any) -> list[float]:
    """1.0 for each completion in the ``<think>`` + marked-answer format, else 0.0.

    Args:
        completions: TRL completions (strings or message lists; a separate ``reasoning_content``
            field counts as the think block, see :func:`medreasoner.rewards.completion.message_text`).
        think_opened_by_template: the chat template writes ``<think>`` into the generation prompt
            (recipe parameter; rule 1 of the module docstring).
        **columns: dataset columns (unused).

    >>> format_reward(["<think>\\nx\\n</think>\\n\\n\\\\boxed{4}", "4"], think_opened_by_template=False)
    [1.0, 0.0]
    """
    return [
        1.0 if is_well_formatted(completion_text(c), think_opened_by_template=think_opened_by_template) else 0.0
        for c in completions
    ]
