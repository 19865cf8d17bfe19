"""Read the training JSONL files of the world layout into ``datasets.Dataset`` objects, with clear errors.

Every row is checked before TRL sees it, so a malformed line fails with ``file:line: field ...``
(:class:`medreasoner.errors.InputError`) instead of a traceback from deep inside a tokenizer.
Formats (see the Pipeline contract in ``docs/stages.md``):

- CPT: ``{"text": str}`` per line, or a directory of ``.txt`` (one document per file) and ``.jsonl`` files.
- SFT: ``{"messages": [{"role", "content", "reasoning_content"?, "tool_calls"?, "name"?}, ...], "tools"?}``;
  ``tools`` (JSON schemas of the tools, a list or its JSON string) is rendered by the chat template
  into the system prompt by TRL's ``SFTTrainer`` (``env/sft_train.jsonl``).
- Preference: ``{"prompt": [messages], "chosen": [assistant msg], "rejected": [assistant msg], "margin"?: float}``.
- GRPO: ``{"prompt": [messages], "item": str}`` (``item`` is ``item_to_json(item)``); extra columns pass through.
"""

from __future__ import annotations

import json
from pathlib import Path

from datasets import Dataset

from medreasoner.errors import InputError
from medreasoner.files import read_jsonl

ROLES = ("system", "user", "assistant", "tool")


def _check_messages(path: Path, line: int, field: str, messages: object) -> None:
    if not isinstance(messages, list) or not messages:
        raise InputError(path, "expected a non-empty list of messages", line=line, field=field)
    for index, message in enumerate(messages):
        where = f"{field}[{index}]"
        if not isinstance(message, dict):
            raise InputError(path, "expected a message object", line=line, field=where)
        if message.get("role") not in ROLES:
            raise InputError(path, f"role must be one of {ROLES}, got {message.get('role')!r}", line=line, field=where)
        if not isinstance(message.get("content"), str):
            raise InputError(path, "content must be a string", line=line, field=where)
        if "reasoning_content" in message and not isinstance(message["reasoning_content"], str):
            raise InputError(path, "reasoning_content must be a string", line=line, field=where)


def _check_assistant_reply(path: Path, line: int, field: str, reply: object) -> None:
    _check_messages(path, line, field, reply)
    if [message["role"] for message in reply] != ["assistant"]:
        raise InputError(path, "expected exactly one assistant message", line=line, field=field)


def load_text_corpus(path: str | Path) -> Dataset:
    """Load raw text for continued pretraining as a ``{"text"}`` dataset.

    Args:
        path: a ``{"text"}`` JSONL file, or a directory whose ``*.txt`` files (one document each) and
            ``*.jsonl`` files (``{"text"}`` rows) are read in sorted order.
    """
    path = Path(path)
    files = sorted(p for p in path.iterdir() if p.suffix in (".txt", ".jsonl")) if path.is_dir() else [path]
    if not files:
        raise InputError(path, "directory holds no .txt or .jsonl files")
    texts = []
    for file in files:
        if file.suffix == ".txt":
            texts.append(file.read_text(encoding="utf-8"))
            continue
        for line, row in read_jsonl(file):
            if not isinstance(row.get("text"), str) or not row["text"]:
                raise InputError(file, "expected a non-empty string", line=line, field="text")
            texts.append(row["text"])
    return Dataset.from_dict({"text": texts})


def _tools_json(path: Path, line: int, tools: object) -> str:
    """The ``tools`` value as a JSON string (what TRL's SFTTrainer accepts besides a list; Arrow would
    otherwise merge the schemas' differing fields into one struct padded with nulls)."""
    parsed = tools
    if isinstance(tools, str):
        try:
            parsed = json.loads(tools)
        except json.JSONDecodeError as error:
            raise InputError(path, f"tools is not valid JSON: {error}", line=line, field="tools") from None
    if not isinstance(parsed, list) or not all(isinstance(tool, dict) for tool in parsed):
        raise InputError(path, "tools must be a list of JSON schemas (or its JSON string)", line=line, field="tools")
    return tools if isinstance(tools, str) else json.dumps(tools, ensure_ascii=False)


def load_conversations(path: str | Path) -> Dataset:
    """Load an SFT file: one ``{"messages": [...]}`` conversation per line, ending with an assistant turn.

    Rows may carry ``tools`` (all rows or none); it becomes a ``tools`` column of JSON strings.
    """
    path = Path(path)
    conversations, tools = [], []
    with_tools = None
    for line, row in read_jsonl(path):
        _check_messages(path, line, "messages", row.get("messages"))
        if row["messages"][-1]["role"] != "assistant":
            raise InputError(path, "the last message must be the assistant's", line=line, field="messages")
        with_tools = ("tools" in row) if with_tools is None else with_tools
        if ("tools" in row) != with_tools:
            raise InputError(path, "either every row has tools or none has", line=line, field="tools")
        if "tools" in row:
            tools.append(_tools_json(path, line, row["tools"]))
        conversations.append(row["messages"])
    return Dataset.from_dict({"messages": conversations, **({"tools": tools} if tools else {})})


def load_preferences(path: str | Path, *, with_margin: bool) -> Dataset:
    """Load preference pairs (``prompt``, ``chosen``, ``rejected`` as messages).

    Args:
        with_margin: keep a ``margin`` column (preference magnitude m > 0). Rows without ``margin`` get
            m = 1, the standard Bradley-Terry weight (HelpSteer2-Preference, arXiv 2410.01257).
    """
    path = Path(path)
    columns = {"prompt": [], "chosen": [], "rejected": [], "margin": []}
    for line, row in read_jsonl(path):
        _check_messages(path, line, "prompt", row.get("prompt"))
        _check_assistant_reply(path, line, "chosen", row.get("chosen"))
        _check_assistant_reply(path, line, "rejected", row.get("rejected"))
        margin = row.get("margin", 1.0)
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not margin > 0:
            raise InputError(path, f"margin must be a positive number, got {margin!r}", line=line, field="margin")
        for key in ("prompt", "chosen", "rejected"):
            columns[key].append(row[key])
        columns["margin"].append(float(margin))
    if not with_margin:
        del columns["margin"]
    return Dataset.from_dict(columns)


def load_prompts(path: str | Path, *, required_columns: tuple[str, ...]) -> Dataset:
    """Load GRPO prompts: ``prompt`` messages plus the columns the rewards or environment read.

    Every row must have the same keys, since datasets (and TRL's reward kwargs) are columnar.
    """
    path = Path(path)
    rows = list(read_jsonl(path))
    keys = set(rows[0][1])
    for line, row in rows:
        _check_messages(path, line, "prompt", row.get("prompt"))
        for column in required_columns:
            if column not in row:
                raise InputError(path, "missing column", line=line, field=column)
        if set(row) != keys:
            raise InputError(path, f"row keys {sorted(row)} differ from the first row's {sorted(keys)}", line=line)
    return Dataset.from_list([row for _, row in rows])
