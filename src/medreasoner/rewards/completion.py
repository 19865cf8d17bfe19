"""Turn whatever TRL hands a reward function into plain text, without ever raising.

GRPOTrainer passes a completion either as a string (standard prompts) or as a list of messages
(conversational prompts): ``[{"role": "assistant", "content": ...}]``. When the tokenizer has a
response parser, the reasoning arrives in a separate ``reasoning_content`` (or ``thinking``) field
and ``content`` holds only the answer; with tools, the list holds several turns. Rewards read one
text per completion, so every reward goes through :func:`completion_text` and sees the same string.
"""

from __future__ import annotations

from typing import Any

from medreasoner.think import join_reasoning

# Field names TRL's response parsers use for the reasoning part (trl/chat_template_utils.py schemas).
_REASONING_FIELDS = ("reasoning_content", "thinking")


def content_text(content: Any) -> str:
    """Text of a message ``content``: a string, or the text parts of a multimodal part list.

    Anything else (None, numbers, malformed parts) reads as the empty string.

    >>> content_text([{"type": "text", "text": "a"}, {"type": "image"}, {"type": "text", "text": "b"}])
    'ab'
    """
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [part.get("text") for part in content if isinstance(part, dict)]
        return "".join(part for part in parts if isinstance(part, str))
    return ""


def message_text(message: Any) -> str:
    """Text of one assistant message, with a separate reasoning field put back as a ``<think>`` block.

    Re-inlining the reasoning makes a parsed completion read exactly like a raw decoded one, so the
    format and verifier rewards apply one rule to both.

    >>> message_text({"role": "assistant", "reasoning_content": "r", "content": "Answer: A"})
    '<think>\\nr\\n</think>\\n\\nAnswer: A'
    """
    if isinstance(message, str):
        return message
    if not isinstance(message, dict):
        return ""
    answer = content_text(message.get("content"))
    for name in _REASONING_FIELDS:
        reasoning = message.get(name)
        if isinstance(reasoning, str) and reasoning.strip():
            return join_reasoning(reasoning, answer, newlines=True)  # the chat templates' layout
    return answer


def completion_text(completion: Any) -> str:
    """The text a reward grades: the string itself, or the LAST assistant message of a conversation.

    With tool calls the completion holds several turns (assistant, tool, assistant); the final
    answer is in the last assistant turn. A list without any assistant-role dict falls back to its
    last element (a bare dict or string); anything unreadable gives ``""`` (graded as no answer).

    >>> completion_text([{"role": "assistant", "content": "x"}, {"role": "tool", "content": "t"},
    ...                  {"role": "assistant", "content": "Answer: B"}])
    'Answer: B'
    >>> completion_text(None)
    ''
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return message_text(completion)
    if isinstance(completion, (list, tuple)) and completion:
        for message in reversed(completion):
            if isinstance(message, dict) and message.get("role") == "assistant":
                return message_text(message)
        return message_text(completion[-1])
    return ""


def prompt_messages(prompt: Any) -> list[dict[str, str]]:
    """A prompt as ``[{"role", "content"}]`` with string contents; a plain string becomes one user turn.

    Malformed entries (non-dicts, missing role) are dropped rather than raised on, because the prompt
    only feeds context to model-based rewards.

    >>> prompt_messages("What is 2+2?")
    [{'role': 'user', 'content': 'What is 2+2?'}]
    """
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    if not isinstance(prompt, (list, tuple)):
        return []
    messages = []
    for message in prompt:
        if isinstance(message, dict) and isinstance(message.get("role"), str):
            messages.append({"role": message["role"], "content": content_text(message.get("content"))})
    return messages


def column(columns: dict[str, Any], name: str, reward: str, num_completions: int) -> list[Any]:
    """Read a dataset column a reward needs, one value per completion.

    Raises:
        ValueError: the column is absent or has the wrong length (a dataset or recipe mistake,
            reported before any reward is computed).
    """
    if name not in columns:
        raise ValueError(
            f"reward {reward!r} needs the dataset column {name!r}; the rows have {sorted(columns)}"
        )
    values = columns[name]
    if not isinstance(values, (list, tuple)) or len(values) != num_completions:
        raise ValueError(f"reward {reward!r}: column {name!r} must hold one value per completion")
    return list(values)
