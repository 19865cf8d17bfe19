"""How rewards read TRL completions and prompts. Run: .venv/bin/python -m pytest tests/test_rewards_completion.py -q"""

from __future__ import annotations

import pytest

from medreasoner.rewards.completion import column, completion_text, prompt_messages

COMPLETION_CASES = [
    # a standard (non-conversational) completion is already the text
    ("<think>x</think>Answer: A", "<think>x</think>Answer: A"),
    # the usual conversational completion: one assistant message
    ([{"role": "assistant", "content": "Answer: B"}], "Answer: B"),
    # a response parser split the reasoning off: it is put back as a think block
    ([{"role": "assistant", "reasoning_content": "why", "content": "Answer: C"}],
     "<think>\nwhy\n</think>\n\nAnswer: C"),
    # LFM-style parsers call the reasoning field `thinking`
    ([{"role": "assistant", "thinking": "why", "content": "D"}], "<think>\nwhy\n</think>\n\nD"),
    # blank reasoning is not a think block
    ([{"role": "assistant", "reasoning_content": "  ", "content": "E"}], "E"),
    # tool-use turns: the final answer is the last assistant turn
    ([{"role": "assistant", "content": "call"}, {"role": "tool", "content": "42"},
      {"role": "assistant", "content": "Answer: 42"}], "Answer: 42"),
    # multimodal content parts: only text parts count
    ([{"role": "assistant",
       "content": [{"type": "text", "text": "An"}, {"type": "image"}, {"type": "text", "text": "swer"}]}], "Answer"),
    # content None (a tool-call-only turn) reads as empty
    ([{"role": "assistant", "content": None}], ""),
    # no assistant role at all: fall back to the last element
    ([{"role": "user", "content": "u"}, "tail"], "tail"),
    # junk structures read as empty, never raise
    ([], ""), (None, ""), (42, ""), ([[["nested"]]], ""), ({"content": 7}, ""),
]


@pytest.mark.parametrize(("completion", "expected"), COMPLETION_CASES)
def test_completion_text(completion, expected):
    assert completion_text(completion) == expected


def test_prompt_messages_normalizes_and_drops_malformed_turns():
    prompt = [{"role": "system", "content": "s"}, "junk", {"content": "no role"},
              {"role": "user", "content": [{"type": "text", "text": "q"}]}]
    assert prompt_messages(prompt) == [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}]
    assert prompt_messages("plain") == [{"role": "user", "content": "plain"}]
    assert prompt_messages(None) == []


def test_column_names_the_missing_column_and_checks_length():
    with pytest.raises(ValueError, match="needs the dataset column 'item'"):
        column({"answer": [1]}, "item", "correctness_reward", 1)
    with pytest.raises(ValueError, match="one value per completion"):
        column({"item": ["a"]}, "item", "correctness_reward", 2)
    assert column({"item": ("a", "b")}, "item", "r", 2) == ["a", "b"]
