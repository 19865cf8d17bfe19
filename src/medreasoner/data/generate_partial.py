"""``samples.partial.jsonl``: the append-only log that makes ``generate`` resumable.

Each finished sample is appended as one line with one ``write`` on an ``O_APPEND`` descriptor, so the
line is in the kernel's page cache (and survives ``kill -9``) as soon as the call returns; ``fsync``
every ``sync_every`` lines (and on close) makes it survive a machine crash too. The only damage a
kill can leave is a last line without its newline; :func:`read_partial` cuts it off (truncating the
file), so the next run appends after a clean line end and never duplicates or loses a sample.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from medreasoner.errors import InputError

PARTIAL_FILE = "samples.partial.jsonl"


def read_partial(path: Path) -> list[tuple[int, dict]]:
    """``(line, row)`` for every complete line of the log; a missing file gives ``[]``.

    A trailing fragment without ``\\n`` (a write cut short by a kill) is removed from the file.

    Raises:
        InputError: a complete line that is not a JSON object with a string ``id`` and an integer
            ``sample`` (the file was edited or is not ours), or a repeated ``(id, sample)``.
    """
    if not path.is_file():
        return []
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with open(path, "r+b") as handle:
            handle.truncate(end)
            handle.flush()
            os.fsync(handle.fileno())
    rows, seen = [], {}
    for line, raw in enumerate(data[:end].split(b"\n")[:-1], start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
            raise InputError(path, f"not valid JSON ({error}); delete the file to regenerate everything",
                             line=line) from None
        if not isinstance(row, dict) or not isinstance(row.get("id"), str):
            raise InputError(path, "expected a sample row with a string id", line=line, field="id")
        if not isinstance(row.get("sample"), int) or isinstance(row["sample"], bool) or row["sample"] < 0:
            raise InputError(path, "expected a sample index >= 0", line=line, field="sample")
        key = (row["id"], row["sample"])
        if key in seen:
            raise InputError(path, f"sample {key[1]} of {key[0]!r} is already on line {seen[key]} (two runs wrote "
                                   "into one output directory?)", line=line, field="sample")
        seen[key] = line
        rows.append((line, row))
    return rows


class PartialWriter:
    """Appends sample rows to the log; fsyncs every ``sync_every`` rows and on :meth:`close`.

    Args:
        path: the log file (created if missing).
        sync_every: rows per ``fsync`` (>= 1).
    """

    def __init__(self, path: Path, sync_every: int):
        self.sync_every = sync_every
        self.unsynced = 0
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def append(self, row: dict) -> None:
        """Write ``row`` as one JSON line (one ``write`` call unless the kernel takes it in parts)."""
        view = memoryview((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
        while view:
            view = view[os.write(self.fd, view):]
        self.unsynced += 1
        if self.unsynced >= self.sync_every:
            self.sync()

    def sync(self) -> None:
        """``fsync`` what was appended since the last sync."""
        if self.unsynced:
            os.fsync(self.fd)
            self.unsynced = 0

    def close(self) -> None:
        """Sync and close the file."""
        self.sync()
        os.close(self.fd)

    def __enter__(self) -> PartialWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
