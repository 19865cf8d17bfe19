"""Correctness rewards: the eval scorer's own grading function applied to each completion.

A reward here is ``medreasoner.verify.grade(text, item, mode).score`` for the row's canonical item
(the ``item`` dataset column, written by ``item_to_json``), so "the GRPO reward went up" and "the
benchmark score went up" measure the same thing (STYLE.md principle 8). The score is 1.0 / 0.0,
or the per-item F1 for multi-select items.

The named variants apply only to items of their verifier kinds and return ``None`` for other rows
(TRL's "not applicable" value), so a dataset that mixes MCQ and MedCalc rows can carry one reward
per kind and get a separate mean/std curve for each in the logs.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Literal

from medreasoner.benchmarks.item import Item, item_from_json
from medreasoner.rewards.completion import column, completion_text
from medreasoner.verify import grade

# The grading modes of medreasoner.verify.grade (see that package for the rules of each).
GradeMode = Literal["normalized", "official"]

# Which Item.verifier kinds each named variant applies to.
VARIANT_KINDS: dict[str, frozenset[str]] = {
    "mcq_letter_reward": frozenset({"mcq", "multiselect", "igakuqa"}),
    "medcalc_numeric_reward": frozenset({"medcalc"}),
    "boxed_match_reward": frozenset({"boxed", "diagnosis"}),
}


@functools.lru_cache(maxsize=4096)
def parse_item(text: str) -> Item:
    """Parse an ``item`` column value; cached because GRPO repeats each row once per generation.

    Raises:
        ValueError: the value is not the JSON of a canonical item (a dataset bug, not a model output).
    """
    try:
        return item_from_json(text)
    except (TypeError, KeyError, ValueError, AttributeError) as error:  # JSONDecodeError is a ValueError
        raise ValueError(f"dataset column 'item' does not hold a canonical item: {error!r}") from error


def _item_value(value: Any) -> Item:
    # A datasets column may already hold the dict form (item_to_dict) instead of the JSON string.
    if isinstance(value, Item):
        return value
    if isinstance(value, dict):
        return parse_item(json.dumps(value, sort_keys=True))
    if not isinstance(value, str):
        raise ValueError(f"dataset column 'item' holds a {type(value).__name__}, expected item JSON")
    return parse_item(value)


def graded_scores(
    completions: list[Any], columns: dict[str, Any], *, mode: str, kinds: frozenset[str] | None, reward: str
) -> list[float | None]:
    """Grade each completion against its row's item; ``None`` where the item's kind is not in ``kinds``.

    Args:
        completions: TRL completions (strings or message lists).
        columns: the dataset columns TRL passes; ``item`` is read.
        mode: grading mode passed to :func:`medreasoner.verify.grade`.
        kinds: verifier kinds this reward applies to; ``None`` means every kind.
        reward: the reward's name, for error messages.
    """
    # An empty item marks an unverifiable row (select_rl writes "" for them), so one GRPO file can mix
    # verifiable items with rows that only a model-based reward scores: not applicable, None.
    items = [None if value == "" else _item_value(value) for value in column(columns, "item", reward, len(completions))]
    scores: list[float | None] = []
    for completion, item in zip(completions, items):
        if item is None or (kinds is not None and item.verifier not in kinds):
            scores.append(None)
            continue
        scores.append(float(grade(completion_text(completion), item, mode).score))
    return scores


def correctness_reward(completions: list[Any], *, mode: GradeMode, **columns: Any) -> list[float | None]:
    """Score of each completion under its item's own verifier (any kind), in [0, 1].

    Args:
        completions: TRL completions (strings or ``[{"role": "assistant", "content": ...}]``).
        mode: grading mode of :func:`medreasoner.verify.grade` (recipe parameter).
        **columns: dataset columns; needs ``item`` (``item_to_json`` of the canonical item).

    Returns:
        One float per completion: 1.0 correct, 0.0 wrong or no answer, F1 for multi-select.

    >>> from medreasoner.benchmarks.item import Item, item_to_json
    >>> item = item_to_json(Item("1", "Q?", {"A": "x", "B": "y"}, frozenset({"B"}), "mcq"))
    >>> correctness_reward(["<think>y fits</think>\\n\\nAnswer: B", "Answer: A"], mode="normalized",
    ...                    item=[item, item])
    [1.0, 0.0]
    """
    return graded_scores(completions, columns, mode=mode, kinds=None, reward="correctness_reward")


def mcq_letter_reward(completions: list[Any], *, mode: GradeMode, **columns: Any) -> list[float | None]:
    """:func:`correctness_reward` for option-letter items (``mcq``, ``multiselect``, ``igakuqa``);
    ``None`` for rows of other kinds."""
    kinds = VARIANT_KINDS["mcq_letter_reward"]
    return graded_scores(completions, columns, mode=mode, kinds=kinds, reward="mcq_letter_reward")


def medcalc_numeric_reward(completions: list[Any], *, mode: GradeMode, **columns: Any) -> list[float | None]:
    """:func:`correctness_reward` for MedCalc-Bench items (answer within the official bounds);
    ``None`` for rows of other kinds."""
    kinds = VARIANT_KINDS["medcalc_numeric_reward"]
    return graded_scores(completions, columns, mode=mode, kinds=kinds, reward="medcalc_numeric_reward")


def boxed_match_reward(completions: list[Any], *, mode: GradeMode, **columns: Any) -> list[float | None]:
    """:func:`correctness_reward` for free-text items (``boxed``, ``diagnosis``: normalized string
    match of the final answer); ``None`` for rows of other kinds."""
    kinds = VARIANT_KINDS["boxed_match_reward"]
    return graded_scores(completions, columns, mode=mode, kinds=kinds, reward="boxed_match_reward")
