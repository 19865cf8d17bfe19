"""Read the training files of the world layout into Arrow-backed ``datasets.Dataset`` objects, with clear errors.

A file is Parquet when its name ends in ``.parquet`` and JSONL (one object per line) otherwise. It is
read row by row into an Arrow cache that every process memory-maps (:mod:`.dataset_cache`), so a large
corpus never sits in Python lists. Every row is checked on the way, so a malformed one fails with
``file:line: field ...`` (JSONL) or ``file: row N: field ...`` (Parquet, N 0-based as in ``dataset[N]``)
(:class:`medreasoner.errors.InputError`) instead of a traceback from deep inside a tokenizer.

Formats (see "Training data" in ``docs/stages.md``):

- CPT: ``{"text": str}`` per row, or a directory of ``.txt`` (one document per file), ``.jsonl`` and
  ``.parquet`` files.
- SFT: ``{"messages": [{"role", "content", "reasoning_content"?, "tool_calls"?, "name"?}, ...], "tools"?}``,
  or ``{"prompt": [messages], "completion": [messages], "tools"?}`` (loss on the completion only);
  ``tools`` (JSON schemas of the tools, a list or its JSON string) is rendered by the chat template
  into the system prompt by TRL's ``SFTTrainer`` (``env/sft_train.jsonl``).
- Preference: ``{"prompt": [messages], "chosen": [assistant msg], "rejected": [assistant msg], "margin"?: float}``.
- GRPO: ``{"prompt": [messages], "item": str}`` (``item`` is ``item_to_json(item)``); extra columns pass through.

Message lists use the ``datasets`` ``Json`` feature, not Arrow structs. A struct column has one set of
keys for all rows, so every message would come back with the union of all messages' keys, the
missing ones None (``reasoning_content: None`` on user turns; ``{"name": ..., "diagnosis": None}``
as a tool call's arguments, which ``tojson`` renders). ``Json`` gives each message back as written.
``Json`` goes through pandas' ujson, which rounds some floats (0.7 is read back as
0.7000000000000001) and cannot hold integers beyond 64 bits, so such a value inside a message is
refused, naming its field, rather than silently changed (write it as a string).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from datasets import Dataset, Features, Json, List, Value
from datasets.utils.json import ujson_dumps, ujson_loads

from medreasoner.errors import InputError
from medreasoner.files import read_jsonl, read_parquet, read_text_utf8
from medreasoner.stages.dataset_cache import cached_dataset

ROLES = ("system", "user", "assistant", "tool")
CORPUS_SUFFIXES = (".txt", ".jsonl", ".parquet")
MESSAGES = List(Json())
# Parquet rows turned into Python objects at a time: bounds memory while reading, never changes a result.
PARQUET_BATCH_ROWS = 1000
INT64 = range(-(2**63), 2**63)


@dataclass(frozen=True)
class Where:
    """Where a record came from: a JSONL line (1-based) or a Parquet row (0-based)."""

    path: Path
    line: int | None = None
    row: int | None = None

    def error(self, message: str, field: str | None = None) -> InputError:
        """The :class:`InputError` for this record."""
        return InputError(self.path, message, line=self.line, row=self.row, field=field)


def read_records(path: Path, *, optional: tuple[str, ...]) -> Iterator[tuple[Where, dict]]:
    """Yield ``(where, record)`` for every row of a JSONL or Parquet training file.

    Args:
        path: the file; Parquet when it ends in ``.parquet``.
        optional: top-level columns whose null means "absent" in Parquet (a Parquet column exists in
            every row, so a row without the key holds null there).

    Parquet holds messages as Arrow structs, whose missing keys read as None; None-valued keys inside
    nested lists and objects are therefore dropped (TRL's ``remove_none_values``), so a Parquet row
    equals the JSONL row it was written from (an explicit null inside a message is read as absent).
    """
    if path.suffix != ".parquet":
        for line, record in read_jsonl(path):
            yield Where(path, line=line), record
        return
    from trl.trainer.utils import remove_none_values  # imported here: JSONL never needs TRL

    for row, record in read_parquet(path, batch_rows=PARQUET_BATCH_ROWS):
        yield Where(path, row=row), {
            key: remove_none_values(value) if isinstance(value, (list, dict)) else value
            for key, value in record.items() if not (value is None and key in optional)}


def _first_record(path: Path, *, optional: tuple[str, ...]) -> dict:
    for _, record in read_records(path, optional=optional):
        return record
    raise AssertionError("read_records raises on a file without records")


def _survives_json(value: object) -> bool:
    try:
        return ujson_loads(ujson_dumps(value)) == value
    except (ValueError, TypeError, OverflowError, UnicodeError):
        return False


def _unstorable(value: object, field: str) -> tuple[str, object] | None:
    """The first (field, value) inside ``value`` that datasets' ``Json`` storage would change, or None."""
    if isinstance(value, dict):
        inner = (_unstorable(item, f"{field}.{key}") for key, item in value.items())
    elif isinstance(value, list):
        inner = (_unstorable(item, f"{field}[{index}]") for index, item in enumerate(value))
    else:
        return None if _survives_json(value) else (field, value)
    return next((found for found in inner if found), None)


def _check_storable(where: Where, field: str, value: object) -> None:
    """Refuse a value that would not come back unchanged from the ``Json`` feature (pandas' ujson:
    huggingface/datasets PR 8652 and modelscope/ms-swift issue 10216 describe the float rounding)."""
    if _survives_json(value):
        return
    found = _unstorable(value, field) or (field, value)
    try:
        read_back = f"would be read back as {ujson_loads(ujson_dumps(found[1]))!r}"
    except (ValueError, TypeError, OverflowError, UnicodeError):
        read_back = "cannot be stored"
    raise where.error(f"{found[1]!r} {read_back} by datasets' Json storage (pandas ujson); "
                      "write the value as a string", found[0])


def _check_messages(where: Where, field: str, messages: object) -> None:
    if not isinstance(messages, list) or not messages:
        raise where.error("expected a non-empty list of messages", field)
    for index, message in enumerate(messages):
        at = f"{field}[{index}]"
        if not isinstance(message, dict):
            raise where.error("expected a message object", at)
        if message.get("role") not in ROLES:
            raise where.error(f"role must be one of {ROLES}, got {message.get('role')!r}", at)
        if not isinstance(message.get("content"), str):
            raise where.error("content must be a string", at)
        if "reasoning_content" in message and not isinstance(message["reasoning_content"], str):
            raise where.error("reasoning_content must be a string", at)
    _check_storable(where, field, messages)


def _check_assistant_reply(where: Where, field: str, reply: object) -> None:
    _check_messages(where, field, reply)
    if [message["role"] for message in reply] != ["assistant"]:
        raise where.error("expected exactly one assistant message", field)


def load_text_corpus(path: str | Path, *, cache_dir: str | Path | None = None) -> Dataset:
    """Load raw text for continued pretraining as a ``{"text"}`` dataset.

    Args:
        path: a ``{"text"}`` JSONL or Parquet file, or a directory whose ``*.txt`` files (one document
            each), ``*.jsonl`` and ``*.parquet`` files (``{"text"}`` rows) are read in sorted order.
        cache_dir: the Arrow cache root (:func:`.dataset_cache.cached_dataset`; None: datasets' default).
    """
    path = Path(path)
    files = sorted(p for p in path.iterdir() if p.suffix in CORPUS_SUFFIXES) if path.is_dir() else [path]
    if not files:
        raise InputError(path, f"directory holds no {', '.join(CORPUS_SUFFIXES)} files")
    return cached_dataset("text_corpus", partial(_corpus_rows, files), features=Features({"text": Value("string")}),
                          sources=files, options={}, cache_dir=cache_dir)


def _corpus_rows(files: list[Path]) -> Iterator[dict]:
    for file in files:
        if file.suffix == ".txt":
            yield {"text": read_text_utf8(file, "document")}
            continue
        for where, row in read_records(file, optional=()):
            if not isinstance(row.get("text"), str) or not row["text"]:
                raise where.error("expected a non-empty string", "text")
            yield {"text": row["text"]}


def _tools_json(where: Where, tools: object) -> str:
    """The ``tools`` value as a JSON string (what TRL's SFTTrainer accepts besides a list; a column of
    lists would be an Arrow struct merging the schemas' differing fields, padded with nulls)."""
    parsed = tools
    if isinstance(tools, str):
        try:
            parsed = json.loads(tools)
        except json.JSONDecodeError as error:
            raise where.error(f"tools is not valid JSON: {error}", "tools") from None
    if not isinstance(parsed, list) or not all(isinstance(tool, dict) for tool in parsed):
        raise where.error("tools must be a list of JSON schemas (or its JSON string)", "tools")
    return tools if isinstance(tools, str) else json.dumps(tools, ensure_ascii=False)


def load_conversations(path: str | Path, *, cache_dir: str | Path | None = None) -> Dataset:
    """Load an SFT file: one conversation per row, ending with an assistant turn, in one of TRL's two
    conversational layouts (all rows as the first row):

    - ``{"messages": [...]}``: the loss covers the whole conversation (its assistant turns with
      ``assistant_only_loss``);
    - ``{"prompt": [...], "completion": [...]}``: the loss covers the completion only (TRL's
      ``completion_only_loss``, on by default for this layout; with ``assistant_only_loss``, its
      assistant turns). The expert-takeover rows of ``data.dagger`` are in this layout: the model's
      own turns in the prompt are context, not targets.

    Rows may carry ``tools`` (all rows or none, as the first row); it becomes a ``tools`` column of
    JSON strings. Other keys of a row are not loaded.

    Args:
        cache_dir: the Arrow cache root (:func:`.dataset_cache.cached_dataset`; None: datasets' default).
    """
    path = Path(path)
    first = _first_record(path, optional=("tools",))
    with_tools = "tools" in first
    columns = ("prompt", "completion") if "completion" in first else ("messages",)
    features = Features({**{column: MESSAGES for column in columns},
                         **({"tools": Value("string")} if with_tools else {})})
    return cached_dataset("conversations", partial(_conversation_rows, path, columns, with_tools),
                          features=features, sources=[path], options={}, cache_dir=cache_dir)


def _conversation_rows(path: Path, columns: tuple[str, ...], with_tools: bool) -> Iterator[dict]:
    for where, row in read_records(path, optional=("tools",)):
        if columns == ("prompt", "completion") and "completion" not in row:
            raise where.error("the first row has prompt and completion; every row must", "completion")
        if columns == ("messages",) and "completion" in row:
            raise where.error("the first row has messages; every row must (not prompt and completion)", "completion")
        for column in columns:
            _check_messages(where, column, row.get(column))
        if row[columns[-1]][-1]["role"] != "assistant":
            raise where.error("the last message must be the assistant's", columns[-1])
        if ("tools" in row) != with_tools:
            raise where.error("either every row has tools or none has", "tools")
        tools = {"tools": _tools_json(where, row["tools"])} if with_tools else {}
        yield {**{column: row[column] for column in columns}, **tools}


def load_preferences(path: str | Path, *, with_margin: bool, cache_dir: str | Path | None = None) -> Dataset:
    """Load preference pairs (``prompt``, ``chosen``, ``rejected`` as messages).

    Args:
        with_margin: keep a ``margin`` column (preference magnitude m > 0). Rows without ``margin`` get
            m = 1, the standard Bradley-Terry weight (HelpSteer2-Preference, arXiv 2410.01257).
        cache_dir: the Arrow cache root (:func:`.dataset_cache.cached_dataset`; None: datasets' default).
    """
    path = Path(path)
    features = Features({"prompt": MESSAGES, "chosen": MESSAGES, "rejected": MESSAGES,
                         **({"margin": Value("float64")} if with_margin else {})})
    return cached_dataset("preferences", partial(_preference_rows, path, with_margin), features=features,
                          sources=[path], options={"with_margin": with_margin}, cache_dir=cache_dir)


def _preference_rows(path: Path, with_margin: bool) -> Iterator[dict]:
    for where, row in read_records(path, optional=("margin",)):
        _check_messages(where, "prompt", row.get("prompt"))
        _check_assistant_reply(where, "chosen", row.get("chosen"))
        _check_assistant_reply(where, "rejected", row.get("rejected"))
        margin = row.get("margin", 1.0)
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not margin > 0:
            raise where.error(f"margin must be a positive number, got {margin!r}", "margin")
        pair = {key: row[key] for key in ("prompt", "chosen", "rejected")}
        yield {**pair, "margin": float(margin)} if with_margin else pair


def _kind(value: object) -> str | None:
    """The JSON kind of a prompt row's column value, which decides the column's Arrow type."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    for kind, types in (("int", int), ("float", float), ("string", str), ("json", (list, dict))):
        if isinstance(value, types):
            return kind
    raise AssertionError(f"not a JSON value: {value!r}")


COLUMN_TYPES = {"bool": Value("bool"), "int": Value("int64"), "float": Value("float64"), "string": Value("string"),
                "json": Json(), None: Value("null")}


def load_prompts(path: str | Path, *, required_columns: tuple[str, ...],
                 cache_dir: str | Path | None = None) -> Dataset:
    """Load GRPO prompts: ``prompt`` messages plus the columns the rewards or environment read.

    Every row must have the same keys, since datasets (and TRL's reward kwargs) are columnar, and each
    column one JSON kind (null allowed; integers and floats mix as floats). The file is checked in
    full, and the column types read, on every load; only the Arrow cache is reused.

    Args:
        required_columns: columns every row must have.
        cache_dir: the Arrow cache root (:func:`.dataset_cache.cached_dataset`; None: datasets' default).
    """
    path = Path(path)
    kinds = _prompt_column_kinds(path, required_columns)
    features = Features({column: MESSAGES if column == "prompt" else COLUMN_TYPES[kind]
                         for column, kind in kinds.items()})
    floats = tuple(column for column, kind in kinds.items() if kind == "float")
    return cached_dataset("prompts", partial(_prompt_rows, path, floats), features=features, sources=[path],
                          options={}, cache_dir=cache_dir)


def _prompt_column_kinds(path: Path, required_columns: tuple[str, ...]) -> dict[str, str | None]:
    """Check every row and return each column's kind (:func:`_kind`; None when always null)."""
    kinds: dict[str, str | None] = {}
    keys = None
    for where, row in read_records(path, optional=()):
        keys = list(row) if keys is None else keys
        _check_messages(where, "prompt", row.get("prompt"))
        for column in required_columns:
            if column not in row:
                raise where.error("missing column", column)
        if set(row) != set(keys):
            raise where.error(f"row keys {sorted(row)} differ from the first row's {sorted(keys)}")
        for column, value in row.items():
            kind, before = _kind(value), kinds.get(column)
            if kind == "int" and value not in INT64:
                raise where.error(f"{value} does not fit in a 64-bit integer; write it as a string", column)
            if kind == "json" and column != "prompt":
                _check_storable(where, column, value)
            if kind is None or before is None or kind == before or {kind, before} == {"int", "float"}:
                kinds[column] = "float" if {kind, before} == {"int", "float"} else kind or before
            else:
                raise where.error(f"expected {before} like the rows before, got {kind}", column)
    return {column: kinds.get(column) for column in keys}


def _prompt_rows(path: Path, floats: tuple[str, ...]) -> Iterator[dict]:
    for _, row in read_records(path, optional=()):
        yield {key: float(value) if key in floats and value is not None else value for key, value in row.items()}
