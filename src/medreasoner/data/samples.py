"""Sample rows: what ``generate`` writes and ``filter``, ``difficulty``, ``sample``, ``select_rl``,
``preferences`` and ``vrm_data`` read.

A sample row is a question-pool row (:mod:`medreasoner.data.pool`) plus the columns in
:data:`SAMPLE_FIELDS`: the ``sample`` index, the prompts, the generated ``response`` (reasoning
inline as ``<think>...</think>``) split into ``reasoning_content`` and ``content``, and token counts.
Several samples share one ``id``; ``(id, sample)`` is unique.
"""

from __future__ import annotations

from pathlib import Path

from medreasoner.data.pool import check_row
from medreasoner.errors import InputError
from medreasoner.files import read_jsonl

# Columns the ``generate`` step adds to a pool row; everything else in a sample row is the pool row.
SAMPLE_FIELDS = ("sample", "prompt", "train_prompt", "response", "reasoning_content", "content",
                 "finish_reason", "prompt_tokens", "completion_tokens", "generator")



def read_samples(path: str | Path) -> list[tuple[int, dict]]:
    """``(line, row)`` for every sample row of a JSONL file, checked.

    A sample row is a pool row (:func:`medreasoner.data.pool.check_row`) plus an integer
    ``sample`` index and the generated ``response`` text; ``(id, sample)`` is unique.

    Raises:
        InputError: naming the file, line and field of the first bad row.
    """
    path = Path(path)
    rows, seen = [], {}
    for line, row in read_jsonl(path):
        check_row(path, line, row)
        sample = row.get("sample")
        if not isinstance(sample, int) or isinstance(sample, bool) or sample < 0:
            raise InputError(path, "expected the sample index (an integer >= 0)", line=line, field="sample")
        if not isinstance(row.get("response"), str):
            raise InputError(path, "expected the generated text (a string)", line=line, field="response")
        key = (row["id"], sample)
        if key in seen:
            raise InputError(path, f"sample {sample} of id {row['id']!r} repeats line {seen[key]}",
                             line=line, field="sample")
        seen[key] = line
        rows.append((line, row))
    return rows


def require_field(path: Path, line: int, row: dict, field: str, kinds: tuple[type, ...], what: str) -> None:
    """Raise an InputError naming ``path:line`` and ``field`` unless ``row[field]`` is one of ``kinds``."""
    value = row.get(field)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise InputError(path, f"expected {what}", line=line, field=field)


def require_messages(path: Path, line: int, row: dict, field: str) -> None:
    """Raise an InputError unless ``row[field]`` is a non-empty list of ``{"role": str, "content": str}``."""
    messages = row.get(field)
    if not isinstance(messages, list) or not messages or not all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in messages
    ):
        raise InputError(path, 'expected a non-empty list of {"role": ..., "content": ...} messages',
                         line=line, field=field)
