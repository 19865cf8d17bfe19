"""WiNGPT-3.0 length penalty, checked by hand. Run: .venv/bin/python -m pytest tests/test_rewards_length.py -q"""

from __future__ import annotations

import pytest

from medreasoner.benchmarks.item import Item, item_to_json
from medreasoner.rewards.length import cosine_length_factor, length_penalty_reward

ITEM = item_to_json(Item("q1", "Which option?", {"A": "alpha", "B": "beta"}, frozenset({"B"}), "mcq"))
RIGHT = "<think>\nbeta fits\n</think>\n\nAnswer: B"
WRONG = "<think>\nalpha fits\n</think>\n\nAnswer: A"
# Budget 8192 and maximum 16384 as in the paper's S2 stage (PAPERS.md 1.4): midway is 12288.
PAPER = {"budget_tokens": 8192, "max_tokens": 16384}

FACTOR_CASES = [
    # well under the budget: no penalty
    (100, 1.0),
    # exactly at the budget: 1 - 0.25 * (1 - cos 0) = 1
    (8192, 1.0),
    # midway: 1 - 0.25 * (1 - cos(pi/2)) = 1 - 0.25 = 0.75
    (12288, 0.75),
    # at the maximum: 1 - 0.25 * (1 - cos pi) = 1 - 0.5 = 0.5
    (16384, 0.5),
    # beyond the maximum the progress clamps at 1: still 0.5
    (50_000, 0.5),
    # a quarter of the way: 1 - 0.25 * (1 - cos(pi/4)) = 1 - 0.25 * (1 - 0.70710678...) = 0.92677669...
    (10240, 0.9267766952966369),
]


@pytest.mark.parametrize(("length", "expected"), FACTOR_CASES)
def test_cosine_length_factor_by_hand(length, expected):
    assert cosine_length_factor(length, **PAPER) == pytest.approx(expected, abs=1e-12)


def test_cosine_length_factor_falls_monotonically_from_budget_to_max():
    values = [cosine_length_factor(n, **PAPER) for n in range(8192, 16385, 512)]
    assert values == sorted(values, reverse=True) and values[0] == 1.0 and values[-1] == 0.5


@pytest.mark.parametrize(("budget", "maximum"), [(0, 10), (10, 10), (20, 10)])
def test_cosine_length_factor_rejects_bad_budget(budget, maximum):
    with pytest.raises(ValueError, match="budget_tokens < max_tokens"):
        cosine_length_factor(5, budget_tokens=budget, max_tokens=maximum)


def reward(completions, lengths, incorrect_over_budget="no_penalty"):
    return length_penalty_reward(
        completions, mode="normalized", incorrect_over_budget=incorrect_over_budget, chars_per_token=4.0,
        item=[ITEM] * len(completions), completion_ids=[[7] * n for n in lengths], **PAPER,
    )


REWARD_CASES = [
    # correct and under the budget: full reward
    (RIGHT, 4000, "no_penalty", 1.0),
    # correct at the budget: still full
    (RIGHT, 8192, "no_penalty", 1.0),
    # correct midway: 0.75
    (RIGHT, 12288, "no_penalty", 0.75),
    # correct at and beyond the maximum: 0.5
    (RIGHT, 16384, "no_penalty", 0.5),
    (RIGHT, 40000, "no_penalty", 0.5),
    # wrong: 0 whatever the length under "no_penalty" (the paper's literal rule)
    (WRONG, 4000, "no_penalty", 0.0),
    (WRONG, 16384, "no_penalty", 0.0),
    # wrong under "penalize": factor - 1, i.e. 0 at the budget, -0.25 midway, -0.5 at the maximum
    (WRONG, 8192, "penalize", 0.0),
    (WRONG, 12288, "penalize", -0.25),
    (WRONG, 16384, "penalize", -0.5),
    # "penalize" never touches correct answers differently
    (RIGHT, 12288, "penalize", 0.75),
    # no answer at all counts as wrong
    ("<think>\nno idea", 20000, "penalize", -0.5),
]


@pytest.mark.parametrize(("completion", "length", "option", "expected"), REWARD_CASES)
def test_length_penalty_reward_table(completion, length, option, expected):
    assert reward([completion], [length], option) == [pytest.approx(expected, abs=1e-12)]


def test_length_comes_from_completion_ids_not_text():
    # Same text, different token counts: only completion_ids decides the penalty.
    assert reward([RIGHT, RIGHT], [10, 12288]) == [1.0, 0.75]


def test_without_completion_ids_length_is_estimated_from_characters():
    # 40 characters at 4 chars/token = 10 tokens; budget 10, max 20: at budget -> 1.0.
    short = "Answer: B" + " " * 31
    long = "Answer: B" + " " * 51  # 60 chars -> 15 tokens, midway -> 0.75
    rewards = length_penalty_reward(
        [short, long], mode="normalized", budget_tokens=10, max_tokens=20, incorrect_over_budget="no_penalty",
        chars_per_token=4.0, item=[ITEM, ITEM],
    )
    assert rewards == [1.0, 0.75]


def test_completion_ids_must_cover_every_completion():
    with pytest.raises(ValueError, match="column 'completion_ids' must hold one value per completion"):
        length_penalty_reward([RIGHT, RIGHT], mode="normalized", incorrect_over_budget="no_penalty",
                              chars_per_token=4.0, item=[ITEM] * 2, completion_ids=[[1]], **PAPER)
