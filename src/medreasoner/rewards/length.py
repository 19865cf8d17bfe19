"""WiNGPT-3.0 S2 length shaping: correctness with a cosine penalty past a token budget.

WiNGPT-3.0 (arXiv 2505.17387, Section 4.5) gives no penalty to correct responses under 8K tokens
and a cosine-based penalty of at most 0.5 above it; the exact curve, the maximum length and the
treatment of wrong answers are not stated. The curve below is the reconstruction of PAPERS.md 1.4
[I]: with budget L0 and maximum L_max,

    factor(L) = 1                                                     if L <= L0
    factor(L) = 1 - 0.25 * (1 - cos(pi * min(1, (L - L0) / (L_max - L0))))   otherwise

so the factor is 1 at the budget, 0.75 midway, 0.5 at L_max, and stays 0.5 beyond it.

The reward of a completion with grade score s (1 correct, 0 wrong, F1 for multi-select) is
``s * factor(L)`` when s > 0. A wrong answer (s = 0) gets 0 with
``incorrect_over_budget="no_penalty"`` (the paper's literal wording), or ``factor(L) - 1`` (0 at the
budget down to -0.5 at L_max) with ``"penalize"``, which also pushes wrong answers to be short.

Length L counts completion tokens: TRL passes ``completion_ids`` to every reward, so L is exact
during training. Outside TRL (a reward called on plain strings) L is estimated without a tokenizer
as ``ceil(characters / chars_per_token)``, with ``chars_per_token`` from the recipe.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import Field

from medreasoner.rewards.completion import column, completion_text
from medreasoner.rewards.correctness import GradeMode, graded_scores


def cosine_length_factor(length: float, *, budget_tokens: int, max_tokens: int) -> float:
    """The WiNGPT-3.0 length factor in [0.5, 1] (formula in the module docstring).

    Args:
        length: completion length in tokens.
        budget_tokens: L0, the longest completion that is not penalized (tokens).
        max_tokens: L_max, where the penalty reaches its maximum of 0.5 (tokens).

    >>> [cosine_length_factor(n, budget_tokens=100, max_tokens=300) for n in (50, 100, 200, 300, 900)]
    [1.0, 1.0, 0.75, 0.5, 0.5]
    """
    if not 0 < budget_tokens < max_tokens:
        raise ValueError(f"need 0 < budget_tokens < max_tokens, got {budget_tokens} and {max_tokens}")
    if length <= budget_tokens:
        return 1.0
    progress = min(1.0, (length - budget_tokens) / (max_tokens - budget_tokens))
    # Rounded so the hand-checkable points (0.75, 0.5) come out exact despite cos(pi/2) = 6e-17.
    return round(1.0 - 0.25 * (1.0 - math.cos(math.pi * progress)), 12)


def completion_lengths(completions: list[Any], columns: dict[str, Any], *, chars_per_token: float) -> list[int]:
    """Token count of each completion: ``len(completion_ids[i])`` when TRL passed ``completion_ids``
    (it always does), else the character estimate ``ceil(len(text) / chars_per_token)``."""
    if "completion_ids" in columns:
        ids = column(columns, "completion_ids", "length_penalty_reward", len(completions))
        return [len(row) if isinstance(row, (list, tuple)) else 0 for row in ids]
    return [math.ceil(len(completion_text(c)) / chars_per_token) for c in completions]


def length_penalty_reward(
    completions: list[Any],
    *,
    mode: GradeMode,
    budget_tokens: Annotated[int, Field(gt=0)],
    max_tokens: Annotated[int, Field(gt=0)],
    incorrect_over_budget: Literal["no_penalty", "penalize"],
    chars_per_token: Annotated[float, Field(gt=0)],
    **columns: Any,
) -> list[float]:
    """Correctness times the cosine length factor (WiNGPT-3.0 S2; rules in the module docstring).

    Args:
        completions: TRL completions (strings or message lists).
        mode: grading mode of :func:`medreasoner.verify.grade`.
        budget_tokens: L0 (the paper: 8192).
        max_tokens: L_max (e.g. the rollout ``max_completion_length``).
        incorrect_over_budget: ``"no_penalty"`` (wrong answers get 0) or ``"penalize"`` (they get
            ``factor - 1``).
        chars_per_token: characters per token for the length estimate used only without
            ``completion_ids``.
        **columns: dataset columns; needs ``item``. TRL's ``completion_ids`` gives exact lengths.

    Returns:
        One float per completion, in [-0.5, 1].

    >>> from medreasoner.benchmarks.item import Item, item_to_json
    >>> item = item_to_json(Item("1", "Q?", {"A": "x", "B": "y"}, frozenset({"B"}), "mcq"))
    >>> length_penalty_reward(["Answer: B", "Answer: B", "Answer: A"], mode="normalized", budget_tokens=2,
    ...     max_tokens=6, incorrect_over_budget="penalize", chars_per_token=4.0, item=[item] * 3,
    ...     completion_ids=[[1, 2], [1, 2, 3, 4], [1, 2, 3, 4, 5, 6]])
    [1.0, 0.75, -0.5]
    """
    scores = graded_scores(completions, columns, mode=mode, kinds=None, reward="length_penalty_reward")
    lengths = completion_lengths(completions, columns, chars_per_token=chars_per_token)
    rewards = []
    for score, length in zip(scores, lengths):
        factor = cosine_length_factor(length, budget_tokens=budget_tokens, max_tokens=max_tokens)
        if score:
            rewards.append(score * factor)
        elif incorrect_over_budget == "penalize":
            rewards.append(factor - 1.0)
        else:
            rewards.append(0.0)
    return rewards
