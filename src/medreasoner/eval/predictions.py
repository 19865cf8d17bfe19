"""The run directory's files: append-only ``predictions.jsonl`` with resume, atomic JSON writes.

``predictions.jsonl`` holds one JSON object per finished item, or per finished sample of an item when
each item is sampled k times (``sample`` = 0..k-1; a line without it is sample 0). Lines are appended
after each batch and the file is flushed and fsynced before the next batch starts, so a killed run loses
at most the batch in flight. A kill during a write can leave a torn last line (no final newline): reading
repairs the file by cutting it back to its last complete line, and those items are generated again.
A sample counts as done when a line with its item id, sample index *and* the hash of the item's current
prompt exists.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from medreasoner.errors import InputError

REQUIRED_KEYS = ("id", "prompt_hash", "response")


class PredictionsFile:
    """Reader/appender of one ``predictions.jsonl``.

    Args:
        path: the file (created on first append).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def load(self) -> dict[tuple[str, int], dict]:
        """Records by ``(item id, sample)``, after repairing a torn last line.

        Raises:
            InputError: a complete line is not a JSON object with ``id``, ``prompt_hash`` and
                ``response`` (and a non-negative integer ``sample`` when it has one), or a sample of an
                item occurs twice.
        """
        if not self.path.exists():
            return {}
        data = self.path.read_bytes()
        complete_end = data.rfind(b"\n") + 1
        if complete_end < len(data):
            # Torn tail from an interrupted write: drop it so appends start on a clean line.
            with open(self.path, "r+b") as handle:
                handle.truncate(complete_end)
                os.fsync(handle.fileno())
        records: dict[tuple[str, int], dict] = {}
        try:
            text = data[:complete_end].decode("utf-8")
        except UnicodeDecodeError as error:
            raise InputError(self.path, f"not valid UTF-8 (byte {error.start} of the file)",
                             line=data.count(b"\n", 0, error.start) + 1) from None
        for number, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as error:
                raise InputError(self.path, f"not valid JSON ({error.msg})", line=number) from None
            except RecursionError:  # the stdlib decoder recurses once per nesting level
                raise InputError(self.path, "JSON nested too deeply to read", line=number) from None
            if not isinstance(record, dict) or any(key not in record for key in REQUIRED_KEYS):
                raise InputError(self.path, f"a prediction needs the keys {list(REQUIRED_KEYS)}", line=number)
            sample = record.get("sample", 0)
            if type(sample) is not int or sample < 0:
                raise InputError(self.path, "expected a non-negative integer", line=number, field="sample")
            if (record["id"], sample) in records:
                raise InputError(self.path, f"item {record['id']!r} (sample {sample}) occurs twice", line=number,
                                 field="id")
            records[(record["id"], sample)] = record
        return records

    def append(self, records: list[dict]) -> None:
        """Append ``records`` as JSON lines, then flush and fsync (one durable step per batch)."""
        if not records:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())


def correct_by_id(path: str | Path) -> dict[str, bool] | dict[str, float]:
    """Per-item correctness of a ``predictions.jsonl`` (read through :meth:`PredictionsFile.load`), for
    paired comparisons of two runs on the same items: right or wrong (bools) when each item was answered
    once, each item's share of right samples (floats, its pass@1) when the items were sampled."""
    samples: dict[str, list[bool]] = {}
    for (item_id, _), record in sorted(PredictionsFile(path).load().items()):
        samples.setdefault(item_id, []).append(bool(record.get("correct")))
    if all(len(outcomes) == 1 for outcomes in samples.values()):
        return {item_id: outcomes[0] for item_id, outcomes in samples.items()}
    return {item_id: sum(outcomes) / len(outcomes) for item_id, outcomes in samples.items()}
