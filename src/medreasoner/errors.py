"""The one user-facing error type: bad input named by file, line and field.

The CLI catches :class:`InputError` and prints its message without a traceback, so every loader,
recipe parser and predictions reader raises it (never a bare ``KeyError`` or ``JSONDecodeError``).
"""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Malformed user input.

    Args:
        path: the offending file (or directory).
        message: what is wrong, in words a user can act on.
        line: 1-based line number (JSONL line, CSV record's first line, YAML line), if known.
        field: the field, column or key at fault, if known.
        row: 0-based row index, for files without lines (Parquet), if known.

    >>> str(InputError("data.jsonl", "not valid JSON", line=3))
    'data.jsonl:3: not valid JSON'
    >>> str(InputError("a.csv", "expected a number, got 'x'", line=7, field="Lower Limit"))
    "a.csv:7: field 'Lower Limit': expected a number, got 'x'"
    >>> str(InputError("a.parquet", "expected a string", row=4, field="text"))
    "a.parquet: row 4: field 'text': expected a string"
    """

    def __init__(self, path: str | Path, message: str, *, line: int | None = None, field: str | None = None,
                 row: int | None = None):
        self.path = str(path)
        self.line = line
        self.row = row
        self.field = field
        self.message = message
        where = self.path if line is None else f"{self.path}:{line}"
        where = where if row is None else f"{where}: row {row}"
        what = message if field is None else f"field {field!r}: {message}"
        super().__init__(f"{where}: {what}")
