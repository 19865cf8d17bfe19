"""Every cheap reward is total: arbitrary text and malformed message structures never raise, and
each completion gets one float (or None where documented).

Run: .venv/bin/python -m pytest tests/test_rewards_total.py -q
(The model-backed rewards get the same check in tests/test_rewards_models.py.)
"""

from __future__ import annotations

import datetime as dt
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medreasoner.benchmarks.item import GestationalAge, Item, item_to_json
from medreasoner.rewards import bind_reward
from medreasoner.rewards.verifier_model import judge_rewards

# Fragments that exercise the parsers' edge cases, mixed with arbitrary unicode.
FRAGMENTS = ["<think>", "</think>", "\\boxed{", "}", "{", "Answer:", "答え：", "解答: ", "A", "b, e", "12.5",
             "mL/min/1.73", '{"answer": "', "```", "\n", " ", "$", "\\text{", "Final diagnosis:", "out of"]
TEXT = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=6), max_size=25).map("".join)
JUNK = st.recursive(
    st.none() | st.integers() | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["role", "content", "text"]), inner,
                                                                max_size=3),
    max_leaves=6,
)
MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["assistant", "user", "tool", "system"]) | JUNK, "content": TEXT | JUNK},
    optional={"reasoning_content": TEXT | JUNK, "thinking": TEXT},
)
COMPLETION = TEXT | st.lists(MESSAGE, max_size=3) | MESSAGE | JUNK
COMPLETIONS = st.lists(COMPLETION, min_size=1, max_size=4)

ITEMS = [
    Item("m1", "Which?", {k: k * 3 for k in "ABCDE"}, frozenset("C"), "mcq"),
    Item("s1", "Which all?", {k: k * 3 for k in "ABCDE"}, frozenset("AC"), "multiselect"),
    Item("i1", "どれか。", {k: k * 3 for k in "abcde"}, frozenset("be"), "igakuqa",
         {"kinki": [], "num_answers": 2, "points": 1}),
    Item("d1", "Diagnosis?", {}, "Acute appendicitis", "diagnosis", {"synonyms": ["appendicitis"]}),
    Item("b1", "Boxed?", {}, "Influenza", "boxed"),
    Item("c1", "BMI?", {}, 22.9, "medcalc", {"calculator_id": 6, "lower_limit": "21.755", "upper_limit": "24.045"}),
    Item("c2", "Due date?", {}, dt.date(2024, 3, 9), "medcalc", {"calculator_id": 13}),
    Item("c3", "Gestational age?", {}, GestationalAge(14, 1), "medcalc", {"calculator_id": 69}),
]

CHEAP_REWARDS = [
    ("correctness_reward", {"mode": "normalized"}),
    ("correctness_reward", {"mode": "official"}),
    ("mcq_letter_reward", {"mode": "normalized"}),
    ("medcalc_numeric_reward", {"mode": "normalized"}),
    ("boxed_match_reward", {"mode": "normalized"}),
    ("format_reward", {"think_opened_by_template": False}),
    ("format_reward", {"think_opened_by_template": True}),
    ("length_penalty_reward", {"mode": "normalized", "budget_tokens": 5, "max_tokens": 10,
                               "incorrect_over_budget": "penalize", "chars_per_token": 1.0}),
]


def assert_one_value_each(rewards, completions, lowest=-0.5):
    assert len(rewards) == len(completions)
    for value in rewards:
        assert value is None or (isinstance(value, float) and math.isfinite(value) and lowest <= value <= 1.0)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(completions=COMPLETIONS, item_index=st.integers(0, len(ITEMS) - 1), data=st.data())
def test_cheap_rewards_are_total(completions, item_index, data):
    item = item_to_json(ITEMS[item_index])
    ids = data.draw(st.lists(st.lists(st.integers(0, 9), max_size=15), min_size=len(completions),
                             max_size=len(completions)))
    for name, params in CHEAP_REWARDS:
        rewards = bind_reward(name, params)(completions, item=[item] * len(completions), completion_ids=ids,
                                            prompts=["q"] * len(completions))
        assert_one_value_each(rewards, completions)


@settings(max_examples=100, deadline=None)
@given(completions=COMPLETIONS, judge_output=TEXT, prompt=st.lists(MESSAGE, max_size=3) | TEXT | JUNK,
       reference=TEXT | st.none())
def test_judge_reward_logic_is_total(completions, judge_output, prompt, reference):
    # Any prompt structure, reference and judge output: a 0/1 score or None, never an exception.
    n = len(completions)
    rewards = judge_rewards(completions, {"prompts": [prompt] * n, "reference": [reference] * n},
                            lambda prompts: [judge_output] * len(prompts), "verifier_model_reward")
    assert len(rewards) == n and all(r in (0.0, 1.0, None) for r in rewards)
