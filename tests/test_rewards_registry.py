"""The REWARDS registry and bind_reward. Run: .venv/bin/python -m pytest tests/test_rewards_registry.py -q"""

from __future__ import annotations

import inspect
import pickle

import pytest
from trl.trainer.utils import get_callable_name, is_async_callable

from medreasoner.rewards import REWARDS, BoundReward, bind_reward, reward_params

LENGTH_PARAMS = {"mode": "normalized", "budget_tokens": 100, "max_tokens": 300,
                 "incorrect_over_budget": "no_penalty", "chars_per_token": 4}


def test_every_reward_is_a_named_function_with_required_keyword_params_and_columns():
    for name, fn in REWARDS.items():
        assert fn.__name__ == name
        parameters = list(inspect.signature(fn).parameters.values())
        assert parameters[0].name == "completions"
        assert parameters[-1].kind is inspect.Parameter.VAR_KEYWORD  # dataset columns and TRL extras
        # No hidden defaults: every recipe parameter must be given.
        assert all(p.default is p.empty for p in reward_params(name).values()), name
        assert fn.__doc__, name


def test_bind_reward_names_the_reward_for_trl_logs():
    reward = bind_reward("length_penalty_reward", LENGTH_PARAMS)
    # TRL logs rewards/<get_callable_name>/mean; a plain partial would be unwrapped to the function name.
    assert get_callable_name(reward) == "length_penalty_reward"
    assert not is_async_callable(reward)
    assert reward.params["chars_per_token"] == 4.0 and isinstance(reward.params["chars_per_token"], float)


def test_bound_reward_survives_pickling():
    reward = pickle.loads(pickle.dumps(bind_reward("format_reward", {"think_opened_by_template": False})))
    assert isinstance(reward, BoundReward)
    assert reward(["<think>a</think>\nAnswer: A"]) == [1.0]


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        # unknown reward names list the known ones
        ("accuracy", {}, "unknown reward 'accuracy'; known rewards: boxed_match_reward"),
        # a missing required parameter is named
        ("format_reward", {}, r"missing parameters \['think_opened_by_template'\]"),
        # a typo is an unknown parameter, not silently ignored
        ("format_reward", {"think_opened_by_template": True, "strict": True}, r"unknown parameters \['strict'\]"),
        # values are validated against the annotations: a mode outside the Literal
        ("correctness_reward", {"mode": "fuzzy"}, "parameter 'mode'='fuzzy'"),
        # ... and ranges given with pydantic Field constraints
        ("length_penalty_reward", {**LENGTH_PARAMS, "budget_tokens": -1}, "parameter 'budget_tokens'=-1"),
        ("length_penalty_reward", {**LENGTH_PARAMS, "incorrect_over_budget": "maybe"}, "incorrect_over_budget"),
    ],
)
def test_bind_reward_rejects_bad_recipes(name, params, message):
    with pytest.raises(ValueError, match=message):
        bind_reward(name, params)


def test_logged_columns_and_metrics_are_prefixed_with_the_bound_name():
    logged = {}

    def fake_judge_reward(completions, *, tag, **columns):
        columns["log_extra"]("verdict", [tag] * len(completions))
        columns["log_metric"]("unparseable_frac", 0.5)
        return [1.0] * len(completions)

    reward = BoundReward("judge_a", fake_judge_reward, {"tag": "x"})
    rewards = reward(["c1", "c2"], log_extra=lambda column, values: logged.update({column: values}),
                     log_metric=lambda metric, value: logged.update({metric: value}))
    assert rewards == [1.0, 1.0]
    assert logged == {"judge_a/verdict": ["x", "x"], "judge_a/unparseable_frac": 0.5}


def test_a_column_named_like_a_parameter_is_reported():
    reward = bind_reward("correctness_reward", {"mode": "normalized"})
    with pytest.raises(ValueError, match=r"dataset columns \['mode'\] have the names of its parameters"):
        reward(["Answer: A"], item=["{}"], mode=["official"])
