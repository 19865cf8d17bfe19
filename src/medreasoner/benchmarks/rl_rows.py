"""GRPO prompt rows scored as a benchmark (``rl_rows``): the items an RL stage trains on.

A GRPO row (the world's ``grpo/train.jsonl``, a ``select_rl`` output) carries its item as a JSON
string in ``item`` (:func:`~medreasoner.benchmarks.item.item_to_dict`). Scoring those items with the
eval stage answers "did RL learn the questions it trained on?", beside the held-out items: with
``limit: N`` on both, the same first N rows that ``grpo.data.limit: N`` trains on.
"""

from __future__ import annotations

import json
from pathlib import Path

from medreasoner.benchmarks.item import Item
from medreasoner.benchmarks.mcq import checked_item
from medreasoner.benchmarks.records import check_unique_id, require
from medreasoner.errors import InputError
from medreasoner.files import read_jsonl


def load_rl_rows(path: str | Path) -> list[Item]:
    """The item of every row, in file order.

    Raises:
        InputError: a row without an ``item`` string, an ``item`` that is not a JSON object, a malformed
            item (the field named as ``item.<field>``), or a duplicate id.
    """
    items = []
    seen: dict[str, int] = {}
    for line, row in read_jsonl(path):
        text = require(row, "item", str, path, line)
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(path, f"not JSON: {error.msg}", line=line, field="item") from None
        if not isinstance(record, dict):
            raise InputError(path, f"expected a JSON object, got {type(record).__name__}", line=line, field="item")
        try:
            item = checked_item(record, path, line)
        except InputError as error:
            raise InputError(path, error.message, line=line, field=f"item.{error.field}") from None
        check_unique_id(seen, item.id, path, line, "item.id")
        items.append(item)
    return items
