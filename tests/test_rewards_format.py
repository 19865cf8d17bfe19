"""Format reward rules, one table row per rule. Run: .venv/bin/python -m pytest tests/test_rewards_format.py -q"""

from __future__ import annotations

import pytest

from medreasoner.rewards.format import format_reward

GOOD = "<think>\nThe findings point to B.\n</think>\n\nAnswer: B"

CASES = [
    # the canonical shape: think block, then an Answer: line
    (GOOD, False, 1.0),
    # a boxed answer is a valid marker too
    ("<think>\n2+2\n</think>\n\nThe result is \\boxed{4}.", False, 1.0),
    # Japanese answer line with a full-width colon (IgakuQA style)
    ("<think>\n考察\n</think>\n\n解答：b", False, 1.0),
    # "Final answer:" is accepted, case-insensitively
    ("<think>r</think>\nFINAL ANSWER: 12 mg", False, 1.0),
    # leading whitespace before the opener is fine
    ("\n  <think>r</think>\nAnswer: A", False, 1.0),
    # no think block at all
    ("Answer: B", False, 0.0),
    # text before the opener
    ("Sure! <think>r</think>\nAnswer: B", False, 0.0),
    # empty reasoning
    ("<think>  \n</think>\n\nAnswer: B", False, 0.0),
    # unclosed think block (truncated generation)
    ("<think>\nstill thinking about B", False, 0.0),
    # two think blocks
    ("<think>a</think><think>b</think>\nAnswer: B", False, 0.0),
    # closer before opener
    ("</think>r<think>\nAnswer: B", False, 0.0),
    # answer without a marker
    ("<think>r</think>\n\nB", False, 0.0),
    # an empty marker does not count: blank Answer: line, empty \boxed{}
    ("<think>r</think>\nAnswer:   \n", False, 0.0),
    ("<think>r</think>\n\\boxed{ }", False, 0.0),
    # the marker must be after the reasoning, not inside it
    ("<think>Answer: B</think>\n\nB", False, 0.0),
    # template-opened think: the completion starts inside the block
    ("The findings point to B.\n</think>\n\nAnswer: B", True, 1.0),
    # ... and a completion that repeats the opener is also accepted then
    (GOOD, True, 1.0),
    # ... but the closer is still required
    ("The findings point to B. Answer: B", True, 0.0),
    # conversational completion whose reasoning a response parser split off
    ([{"role": "assistant", "reasoning_content": "B fits", "content": "Answer: B"}], False, 1.0),
    # conversational completion without reasoning
    ([{"role": "assistant", "content": "Answer: B"}], False, 0.0),
]


@pytest.mark.parametrize(("completion", "opened_by_template", "expected"), CASES)
def test_format_reward_table(completion, opened_by_template, expected):
    assert format_reward([completion], think_opened_by_template=opened_by_template) == [expected]


def test_format_reward_returns_one_value_per_completion_and_ignores_columns():
    rewards = format_reward([GOOD, "x", None], think_opened_by_template=False, item=["a", "b", "c"], prompts=[1, 2, 3])
    assert rewards == [1.0, 0.0, 0.0]
