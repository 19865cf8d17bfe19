"""The canonical benchmark item every loader produces and every verifier, reward and eval reads.

Gold answers are typed so a verifier never re-parses strings:

========================  ======================================================
``frozenset[str]``        option letters (single answer = one letter; multi-select)
``float``                 a number (MedCalc-Bench decimal and integer calculators)
``datetime.date``         a date (MedCalc-Bench due date / conception date)
``GestationalAge``        (weeks, days) (MedCalc-Bench calculator 69)
``str``                   free text (diagnosis name, IgakuQA numeric entry "04", "a or d")
========================  ======================================================

``verifier`` names the entry of :data:`medreasoner.verify.VERIFIERS` that checks this item, so an
RL reward and an eval scorer given the same item apply the same rule. Items round-trip through
JSON (:func:`item_to_dict` / :func:`item_from_dict`) so they can ride in a dataset column.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Union


class GestationalAge(NamedTuple):
    """Gestational age as whole weeks plus days (0-6)."""

    weeks: int
    days: int


Gold = Union[frozenset, float, dt.date, GestationalAge, str]


@dataclass(frozen=True)
class Item:
    """One benchmark question.

    Attributes:
        id: unique within its benchmark (MedQA row index, MedCalc ``Row Number``, IgakuQA ``problem_id``).
        question: the text shown to the model (for MedCalc-Bench: patient note and task are in ``meta``).
        options: ordered letter -> option text; empty for open questions.
        gold: the typed gold answer (see module docstring).
        verifier: key into ``medreasoner.verify.VERIFIERS``.
        meta: benchmark metadata (points, kinki, calculator id, limits, category, year, section, ...).
    """

    id: str
    question: str
    options: dict[str, str]
    gold: Gold
    verifier: str
    meta: dict[str, Any] = field(default_factory=dict)


def _gold_to_json(gold: Gold) -> dict[str, Any]:
    if isinstance(gold, frozenset):
        return {"letters": sorted(gold)}
    if isinstance(gold, GestationalAge):
        return {"gestational_age": [gold.weeks, gold.days]}
    if isinstance(gold, dt.date):
        return {"date": gold.isoformat()}
    if isinstance(gold, float):
        return {"number": gold}
    if isinstance(gold, str):
        return {"text": gold}
    raise TypeError(f"unsupported gold type {type(gold).__name__}")


def _gold_from_json(data: dict[str, Any]) -> Gold:
    ((kind, value),) = data.items()
    if kind == "letters":
        # Always a list: a bare string is refused rather than guessed at, because frozenset("AB")
        # would silently become {"A", "B"} and "AB" might as well be a typo for ["A"] or one option id.
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise ValueError(f"letters must be a non-empty list of option letters such as [\"A\"], got {value!r}")
        if len(set(value)) != len(value):
            raise ValueError(f"repeated letters in {value!r}")
        return frozenset(value)
    if kind == "gestational_age":
        return GestationalAge(int(value[0]), int(value[1]))
    if kind == "date":
        return dt.date.fromisoformat(value)
    if kind == "number":
        return float(value)
    if kind == "text":
        return str(value)
    raise ValueError(f"unknown gold kind {kind!r}")


def item_to_dict(item: Item) -> dict[str, Any]:
    """JSON-ready dict of an item (gold tagged by type).

    >>> item_to_dict(Item("1", "Q?", {"A": "x", "B": "y"}, frozenset({"B"}), "mcq"))["gold"]
    {'letters': ['B']}
    """
    return {
        "id": item.id,
        "question": item.question,
        "options": dict(item.options),
        "gold": _gold_to_json(item.gold),
        "verifier": item.verifier,
        "meta": item.meta,
    }


def item_from_dict(data: dict[str, Any]) -> Item:
    """Inverse of :func:`item_to_dict`."""
    return Item(
        id=str(data["id"]),
        question=data["question"],
        options=dict(data["options"]),
        gold=_gold_from_json(data["gold"]),
        verifier=data["verifier"],
        meta=dict(data["meta"]),
    )


def item_to_json(item: Item) -> str:
    """Compact JSON string of an item, for a dataset column (GRPO rows carry their item)."""
    return json.dumps(item_to_dict(item), ensure_ascii=False, sort_keys=True)


def item_from_json(text: str) -> Item:
    """Inverse of :func:`item_to_json`."""
    return item_from_dict(json.loads(text))
