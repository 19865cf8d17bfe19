"""Reading JSON Lines records and typed fields, with every failure named by file, line and field.

All loaders and the predictions reader go through :func:`medreasoner.files.read_jsonl` and the ``require_*`` helpers,
so a bad file always produces one :class:`~medreasoner.errors.InputError` such as
``data.jsonl:7: field 'answer_idx': expected a string, got int`` and never a bare ``KeyError``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medreasoner.errors import InputError

_TYPE_NAMES = {str: "a string", int: "an integer", bool: "a boolean", list: "a list", dict: "an object"}


def require(record: dict[str, Any], key: str, kind: type, path: str | Path, line: int) -> Any:
    """Return ``record[key]`` after checking it is present and of type ``kind``.

    ``bool`` is not accepted where an ``int`` is asked for (JSON ``true`` is not a count).

    >>> require({"a": "x"}, "a", str, "f.jsonl", 1)
    'x'
    """
    if key not in record:
        raise InputError(path, "missing field", line=line, field=key)
    value = record[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        expected = _TYPE_NAMES.get(kind, kind.__name__)
        raise InputError(path, f"expected {expected}, got {type(value).__name__}", line=line, field=key)
    return value


def require_str_list(record: dict[str, Any], key: str, path: str | Path, line: int) -> list[str]:
    """Return ``record[key]`` checked to be a list of strings."""
    values = require(record, key, list, path, line)
    for value in values:
        if not isinstance(value, str):
            raise InputError(path, f"expected a list of strings, found {type(value).__name__}", line=line, field=key)
    return values


def require_options(record: dict[str, Any], key: str, path: str | Path, line: int) -> dict[str, str]:
    """Return ``record[key]`` checked to be a non-empty object of letter -> non-empty text."""
    options = require(record, key, dict, path, line)
    if not options:
        raise InputError(path, "no options", line=line, field=key)
    for letter, text in options.items():
        if not (len(letter) == 1 and letter.isalpha()):
            raise InputError(path, f"option keys must be single letters, got {letter!r}", line=line, field=key)
        if not isinstance(text, str) or not text.strip():
            raise InputError(path, f"option {letter!r} must be non-empty text", line=line, field=key)
    return options


def check_unique_id(seen: dict[str, int], item_id: str, path: str | Path, line: int, field: str) -> None:
    """Record ``item_id`` in ``seen`` (id -> first line), raising on a duplicate."""
    if item_id in seen:
        raise InputError(path, f"duplicate id {item_id!r} (first on line {seen[item_id]})", line=line, field=field)
    seen[item_id] = line
