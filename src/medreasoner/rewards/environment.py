"""Rewards of multi-turn environments: the diagnostic chain (WiNGPT-3.0 S4).

The environment itself lives in :mod:`medreasoner.sim.environment`; this module only turns the
finished episodes TRL hands back (``environments``) into rewards whose weights come from the recipe.
"""

from __future__ import annotations

import json  # noqa: F401  (the doctest builds a case with it)
from typing import Annotated, Any

from pydantic import Field

from medreasoner.rewards.completion import completion_text
from medreasoner.sim.environment import DiagnosticEnvironment, episode_reward


def diagnostic_env_reward(
    completions: list[Any],
    *,
    correct_weight: Annotated[float, Field(ge=0)],
    evidence_weight: Annotated[float, Field(ge=0)],
    cost_weight: Annotated[float, Field(ge=0)],
    cost_budget: Annotated[float, Field(gt=0)],
    **columns: Any,
) -> list[float | None]:
    r"""GRPO reward of diagnostic-chain episodes (see :func:`medreasoner.sim.environment.episode_reward` for the formula).

    Reads the per-rollout :class:`DiagnosticEnvironment` instances TRL passes as ``environments``;
    rows without an environment (a batch trained without ``environment_factory``) get ``None``.

    >>> env = DiagnosticEnvironment(max_turns=4)
    >>> case = {"id": "c1", "summary": "s", "key_exams": ["cbc"], "truth": "Influenza",
    ...         "label": {"name": "Influenza", "synonyms": ["flu"]},
    ...         "menu": {"cbc": {"name": "complete blood count", "cost": 1.0, "result": "normal"}}}
    >>> _ = env.reset(case=json.dumps(case)); _ = env.request_exam("complete blood count")
    >>> diagnostic_env_reward(["\\boxed{flu}"], environments=[env], correct_weight=1.0,
    ...                       evidence_weight=0.5, cost_weight=0.5, cost_budget=10.0)
    [1.5]
    """
    environments = columns.get("environments")  # TRL's keyword; absent outside environment training
    if not environments:
        return [None] * len(completions)
    return [
        episode_reward(
            env,
            completion_text(completion),
            correct_weight=correct_weight,
            evidence_weight=evidence_weight,
            cost_weight=cost_weight,
            cost_budget=cost_budget,
        )
        if isinstance(env, DiagnosticEnvironment)
        else None
        for completion, env in zip(completions, environments)
    ]
