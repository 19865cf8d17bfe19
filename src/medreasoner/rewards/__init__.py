"""GRPO reward functions, registered by name in one literal dict.

Every reward is a plain function ``fn(completions, *, <recipe params>, **columns) ->
list[float | None]``: the keyword-only arguments are its recipe parameters (required unless they
have a default, and none has), and ``**columns`` receives what TRL passes (dataset columns such as
``item`` or ``reference``, plus ``prompts``, ``completion_ids``, ``trainer_state``, ``log_extra``,
``log_metric``). ``None`` means "not applicable to this row" (TRL ignores it). Each reward is total:
no completion text or message structure makes it raise.

A GRPO stage turns a recipe entry into a TRL reward with :func:`bind_reward`::

    rewards:
      - name: length_penalty_reward
        params: {mode: normalized, budget_tokens: 8192, max_tokens: 16384,
                 incorrect_over_budget: no_penalty, chars_per_token: 3.5}

How to add a reward: ``docs/adding_a_reward.md``.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter, ValidationError

from medreasoner.rewards.correctness import (
    boxed_match_reward,
    correctness_reward,
    mcq_letter_reward,
    medcalc_numeric_reward,
)
from medreasoner.rewards.format import format_reward
from medreasoner.rewards.length import length_penalty_reward
from medreasoner.rewards.reward_model import reward_model_reward
from medreasoner.rewards.verifier_model import verifier_endpoint_reward, verifier_model_reward
from medreasoner.rewards.environment import diagnostic_env_reward

RewardFn = Callable[..., list[float | None]]

REWARDS: dict[str, RewardFn] = {
    "correctness_reward": correctness_reward,
    "mcq_letter_reward": mcq_letter_reward,
    "medcalc_numeric_reward": medcalc_numeric_reward,
    "boxed_match_reward": boxed_match_reward,
    "format_reward": format_reward,
    "length_penalty_reward": length_penalty_reward,
    "reward_model_reward": reward_model_reward,
    "verifier_model_reward": verifier_model_reward,
    "verifier_endpoint_reward": verifier_endpoint_reward,
    # Reads the DiagnosticEnvironment instances TRL passes as `environments` (WiNGPT-3.0 S4).
    "diagnostic_env_reward": diagnostic_env_reward,
}


class BoundReward:
    """A registered reward with its recipe parameters bound, named for TRL's per-reward logs.

    TRL names a reward by ``__name__`` but unwraps a ``functools.partial`` to the inner function
    first (``trl.trainer.utils.get_callable_name``), so a partial could not carry the recipe name;
    a plain callable object can, and stays picklable. Columns and metrics a reward logs through
    TRL's ``log_extra`` / ``log_metric`` are prefixed with the name, so two rewards never write the
    same completions-table column or metric.
    """

    def __init__(self, name: str, fn: RewardFn, params: dict[str, Any]):
        self.__name__ = name
        self.fn = fn
        self.params = params

    def __call__(self, completions: list[Any], **columns: Any) -> list[float | None]:
        clash = sorted(self.params.keys() & columns.keys())
        if clash:
            raise ValueError(f"reward {self.__name__!r}: dataset columns {clash} have the names of its parameters")
        # TRL's logging hooks; absent when the reward is called outside a trainer.
        log_extra, log_metric = columns.get("log_extra"), columns.get("log_metric")
        if callable(log_extra):
            columns["log_extra"] = lambda column, values: log_extra(f"{self.__name__}/{column}", values)
        if callable(log_metric):
            columns["log_metric"] = lambda metric, value: log_metric(f"{self.__name__}/{metric}", value)
        return self.fn(completions, **self.params, **columns)

    def __repr__(self) -> str:
        return f"BoundReward({self.__name__!r}, {self.params!r})"


def reward_params(name: str) -> dict[str, inspect.Parameter]:
    """The recipe parameters of reward ``name`` (its keyword-only arguments)."""
    parameters = inspect.signature(REWARDS[name]).parameters.values()
    return {p.name: p for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}


def bind_reward(name: str, params: dict[str, Any]) -> BoundReward:
    """Look up reward ``name`` and bind its recipe parameters, checked against its signature.

    Args:
        name: a key of :data:`REWARDS`; it becomes the reward's ``__name__`` (TRL logs
            ``rewards/<name>/mean`` and ``/std``).
        params: every keyword-only parameter of the function, and nothing else. Values are
            validated (and coerced, e.g. 3 -> 3.0) against the function's annotations.

    Raises:
        ValueError: unknown reward, missing or unknown parameter, or a value of the wrong type or
            range (a pydantic model validator can call this so the recipe fails at load time).

    >>> reward = bind_reward("format_reward", {"think_opened_by_template": False})
    >>> reward.__name__, reward(["<think>\\nx\\n</think>\\nAnswer: A"])
    ('format_reward', [1.0])
    """
    if name not in REWARDS:
        raise ValueError(f"unknown reward {name!r}; known rewards: {', '.join(sorted(REWARDS))}")
    expected = reward_params(name)
    unknown = sorted(set(params) - set(expected))
    missing = sorted(p for p, spec in expected.items() if spec.default is spec.empty and p not in params)
    if unknown or missing:
        raise ValueError(
            f"reward {name!r}: unknown parameters {unknown}, missing parameters {missing}; "
            f"it takes {sorted(expected)}"
        )
    hints = typing.get_type_hints(REWARDS[name], include_extras=True)
    checked = {}
    for param, value in params.items():
        try:
            checked[param] = TypeAdapter(hints[param]).validate_python(value)
        except ValidationError as error:
            problem = error.errors()[0]["msg"]
            raise ValueError(f"reward {name!r}: parameter {param!r}={value!r}: {problem}") from None
    return BoundReward(name, REWARDS[name], checked)


__all__ = ["REWARDS", "BoundReward", "bind_reward", "reward_params"]
