"""Two formats of our own: a generic multiple-choice JSONL (``mcq``) and canonical items (``items``).

``mcq``: one question per line (schema in ``docs/benchmarks.md``)::

    {"id": "q1", "question": "...", "options": {"A": "...", "B": "..."}, "answer": "B", "meta": {...}}

``answer`` is one letter (single best answer, verifier ``mcq``) or a list of letters (select all
that apply, verifier ``multiselect``; a one-letter list is still a select-all question, because the
prompt and the partial-credit rule follow the question type, not the number of correct options).
``meta`` is optional. ``id`` may be a string or an integer (kept as its decimal string).

``items``: one :func:`~medreasoner.benchmarks.item.item_to_dict` object per line, as the synthetic
world writes for evaluation. A ``{"letters": [...]}`` gold is always a list of option letters, each
among ``options``; a bare string (``{"letters": "A"}``) is rejected, not split into characters.
"""

from __future__ import annotations

from pathlib import Path

from medreasoner.benchmarks.item import Item, item_from_dict
from medreasoner.benchmarks.records import check_unique_id, require, require_options
from medreasoner.errors import InputError
from medreasoner.files import read_jsonl

ITEM_FIELDS = ("id", "question", "options", "gold", "verifier", "meta")


def load_mcq(path: str | Path) -> list[Item]:
    """Load a generic multiple-choice JSONL file.

    Raises:
        InputError: a malformed line, an answer letter not among the options, an empty or
            repeated answer list, or a duplicate id.
    """
    items = []
    seen: dict[str, int] = {}
    for line, record in read_jsonl(path):
        item_id = _read_id(record, path, line)
        check_unique_id(seen, item_id, path, line, "id")
        question = require(record, "question", str, path, line)
        options = require_options(record, "options", path, line)
        answer = record.get("answer")
        if isinstance(answer, str):
            letters, verifier = [answer], "mcq"
        elif isinstance(answer, list) and answer and all(isinstance(letter, str) for letter in answer):
            letters, verifier = answer, "multiselect"
        elif "answer" not in record:
            raise InputError(path, "missing field", line=line, field="answer")
        else:
            raise InputError(path, "expected a letter or a non-empty list of letters", line=line, field="answer")
        if len(set(letters)) != len(letters):
            raise InputError(path, f"repeated letters in {answer!r}", line=line, field="answer")
        for letter in letters:
            if letter not in options:
                raise InputError(path, f"{letter!r} is not one of the options {sorted(options)}", line=line, field="answer")
        meta = require(record, "meta", dict, path, line) if "meta" in record else {}
        items.append(Item(item_id, question, dict(options), frozenset(letters), verifier, dict(meta)))
    return items


def load_items(path: str | Path) -> list[Item]:
    """Load canonical items (one ``item_to_dict`` per line).

    Raises:
        InputError: a malformed line, a missing field, a gold value of an unknown kind, or a duplicate id.
    """
    items = []
    seen: dict[str, int] = {}
    for line, record in read_jsonl(path):
        item = checked_item(record, path, line)
        check_unique_id(seen, item.id, path, line, "id")
        items.append(item)
    return items


def checked_item(record: dict, path: str | Path, line: int) -> Item:
    """One canonical item record, every field checked (errors name ``path``, ``line`` and the field)."""
    for field in ITEM_FIELDS:
        if field not in record:
            raise InputError(path, "missing field", line=line, field=field)
    _read_id(record, path, line)
    gold = require(record, "gold", dict, path, line)
    if len(gold) != 1:
        raise InputError(path, f"expected one tagged value like {{'letters': [...]}}, got {sorted(gold)}", line=line, field="gold")
    require(record, "verifier", str, path, line)
    require(record, "options", dict, path, line)
    require(record, "meta", dict, path, line)
    require(record, "question", str, path, line)
    try:
        item = item_from_dict(record)
    except (ValueError, TypeError, KeyError, IndexError) as error:
        raise InputError(path, f"cannot read gold: {error}", line=line, field="gold") from None
    if isinstance(item.gold, frozenset):
        missing = sorted(item.gold - set(item.options))
        if missing:
            raise InputError(path, f"gold letters {missing} are not among the options {sorted(item.options)}",
                             line=line, field="gold")
    return item


def _read_id(record: dict, path: str | Path, line: int) -> str:
    if "id" not in record:
        raise InputError(path, "missing field", line=line, field="id")
    item_id = record["id"]
    if isinstance(item_id, bool) or not isinstance(item_id, (str, int)) or str(item_id).strip() == "":
        raise InputError(path, f"expected a non-empty string or integer, got {item_id!r}", line=line, field="id")
    return str(item_id)
