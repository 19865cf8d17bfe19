"""Turn recipe problems (pydantic validation errors included) into InputErrors with file, line and field.

A recipe's lines are recorded while parsing (:func:`medreasoner.recipe.parse_yaml`); a problem at a
data path is reported at the line of the deepest key of that path that appears in the file, or, when
the value came from a ``key=value`` override, names that override instead of a line.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from pydantic import BaseModel, ValidationError

from medreasoner.errors import InputError


@dataclass
class Source:
    """Where a recipe's values came from.

    Attributes:
        path: the recipe file.
        lines: data path -> 1-based YAML line of that key or list item.
        overrides: data path -> the ``key=value`` text that set it.
    """

    path: Path
    lines: dict[tuple, int]
    overrides: dict[tuple, str]

    def fail(self, loc: tuple, message: str) -> NoReturn:
        """Raise an InputError for data path ``loc``."""
        raise self.error(loc, message)

    def error(self, loc: tuple, message: str) -> InputError:
        """An InputError for data path ``loc``: at its line, or naming the override that set it."""
        for depth in range(len(loc), -1, -1):
            if loc[:depth] in self.overrides:
                text = self.overrides[loc[:depth]]
                return InputError(self.path, f"{message} (set by the command-line override {text!r})",
                                  field=format_field(loc))
        line = next((self.lines[loc[:d]] for d in range(len(loc), 0, -1) if loc[:d] in self.lines), None)
        return InputError(self.path, message, line=line, field=format_field(loc))


def format_field(loc: tuple) -> str:
    """``("stages", 3, "config", "lr")`` -> ``stages[3].config.lr``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def raise_validation_error(source: Source, prefix: tuple, error: ValidationError, model: type[BaseModel]) -> NoReturn:
    """Report the first error of a pydantic ``ValidationError`` raised for data at ``prefix``.

    The message says how many other errors the same section has, so a user fixing them one by one
    knows how far they are.
    """
    # An unknown key is usually a typo of a missing one: report it first, missing keys last.
    rank = {"extra_forbidden": 0, "missing": 2}
    problems = sorted(error.errors(include_url=False), key=lambda p: rank.get(p["type"], 1))
    first = problems[0]
    loc = _data_loc(source, prefix, tuple(first["loc"]), first["type"])
    kind = first["type"]
    if kind == "extra_forbidden":
        key = loc[-1]
        allowed = _allowed_keys(model, loc[len(prefix):-1])
        message = f"unknown key {key!r}"
        if allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            message += (f"; did you mean {close[0]!r}?" if close else "") + f" (allowed: {', '.join(allowed)})"
    elif kind == "missing":
        # pydantic's own location ends at the missing key even where loc stops short of it (a key
        # missing inside a value set by an override, which records no deeper paths)
        message = f"missing required key {first['loc'][-1]!r}"
    else:
        message = first["msg"]
        if "input" in first and not isinstance(first["input"], dict | list):
            message += f" (got {first['input']!r})"
    if len(problems) > 1:
        message += f" [{len(problems) - 1} more error(s) in this section]"
    source.fail(loc, message)


def _data_loc(source: Source, prefix: tuple, loc: tuple, kind: str) -> tuple:
    # Pydantic appends union-member tags (e.g. 'list[str]') to locations; keep only real data keys,
    # plus the final key of a missing/unknown field.
    known = set(source.lines) | set(source.overrides)
    out = prefix
    for part in loc:
        candidate = out + (part,)
        if candidate in known or any(k[: len(candidate)] == candidate for k in known):
            out = candidate
        elif kind == "missing" and part == loc[-1]:
            return candidate
        else:
            break
    return out


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    # Walk the model's field annotations along loc to the section whose keys are allowed.
    current: object = model
    for part in loc:
        current = _section_type(current, part)
        if current is None:
            return []
    return list(current.model_fields) if _is_model(current) else []


def _section_type(annotation: object, part: object) -> object:
    for candidate in _members(annotation):
        if isinstance(part, int) and typing.get_origin(candidate) in (list, tuple):
            args = typing.get_args(candidate)
            return args[0] if args else None
        if isinstance(part, str) and _is_model(candidate) and part in candidate.model_fields:
            return candidate.model_fields[part].annotation
    return None


def _members(annotation: object) -> list[object]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(annotation) if a is not type(None)]
    return [annotation]


def _is_model(annotation: object) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)
