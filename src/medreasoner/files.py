"""Reading and writing the project's files safely.

Every JSONL input goes through :func:`read_jsonl`, so a bad file always fails with one
:class:`~medreasoner.errors.InputError` naming file and line; every output file goes through a temp
file in the same directory and ``os.replace``, so an interrupted run never leaves a truncated file
over an earlier one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from medreasoner.errors import InputError

# The file a finished pipeline stage leaves in its directory (medreasoner.pipeline writes it).
STAGE_MANIFEST = "stage_manifest.json"


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, record)`` for every non-blank line of a JSONL file.

    Args:
        path: the file; UTF-8 (a leading byte-order mark is accepted).

    Raises:
        InputError: missing file, a line that is not UTF-8, not JSON or not a JSON object, or a
            file with no records at all.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    num_records = 0
    with path.open("rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8-sig" if line_number == 1 else "utf-8")
            except UnicodeDecodeError as error:
                raise InputError(path, f"not valid UTF-8 (byte {error.start} of the line)", line=line_number) from None
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as error:
                raise InputError(path, f"not valid JSON ({error.msg}, column {error.colno})", line=line_number) from None
            except RecursionError:  # the stdlib decoder recurses once per nesting level
                raise InputError(path, "JSON nested too deeply to read", line=line_number) from None
            if not isinstance(record, dict):
                raise InputError(path, f"expected a JSON object, got {type(record).__name__}", line=line_number)
            num_records += 1
            yield line_number, record
    if num_records == 0:
        raise InputError(path, "empty file: no records")


def read_parquet(path: str | Path, *, batch_rows: int) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(row_index, record)`` (index 0-based, as ``dataset[i]``) for every row of a Parquet file.

    Args:
        path: the file.
        batch_rows: rows decoded into Python objects at a time (bounds memory, never changes a result).

    Values of Arrow's JSON extension type (how ``datasets`` writes its ``Json`` feature to Parquet)
    are decoded with the standard library, so numbers come back exactly as written.

    Raises:
        InputError: missing file, not a Parquet file, unreadable rows, or no rows at all.
    """
    import pyarrow as pa  # imported here: most callers of this module never read Parquet
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as error:
        raise InputError(path, f"not a readable Parquet file ({error})") from None
    decoders = {field.name: decoder for field in parquet.schema_arrow if (decoder := _json_decoder(field.type))}
    num_records = 0
    try:
        for batch in parquet.iter_batches(batch_size=batch_rows):
            for record in batch.to_pylist():
                yield num_records, {key: decoders[key](value) if key in decoders else value
                                    for key, value in record.items()}
                num_records += 1
    except (pa.ArrowException, OSError) as error:
        raise InputError(path, f"unreadable Parquet data from this row on ({error})", row=num_records) from None
    if num_records == 0:
        raise InputError(path, "empty file: no records")


def _json_decoder(arrow_type):
    """A function turning a value of ``arrow_type`` (as ``to_pylist`` gives it) into plain JSON values
    (JSON-extension strings parsed, lists and structs walked), or None when the type holds no JSON."""
    import pyarrow as pa

    if isinstance(arrow_type, pa.JsonType):
        return lambda value: None if value is None else json.loads(value)
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type) or pa.types.is_fixed_size_list(arrow_type):
        item = _json_decoder(arrow_type.value_type)
        if item is None:
            return None
        return lambda value: None if value is None else [item(element) for element in value]
    if pa.types.is_struct(arrow_type):
        fields = {field.name: decoder for field in arrow_type if (decoder := _json_decoder(field.type))}
        if not fields:
            return None
        return lambda value: None if value is None else {
            key: fields[key](element) if key in fields else element for key, element in value.items()}
    return None


def read_text_utf8(path: str | Path, what: str = "file") -> str:
    """Read a whole UTF-8 text file (a leading byte-order mark is dropped).

    Raises:
        InputError: the file cannot be read, or is not UTF-8 (naming the line and byte offset, so a
            latin-1 file saved by an old editor is easy to find and re-encode).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InputError(path, f"cannot read {what}: {error.strerror}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise InputError(path, f"{what} is not valid UTF-8 (byte {error.start} of the file, value "
                         f"0x{raw[error.start]:02x}); save it as UTF-8", line=line) from None


def check_output_path(path: str | Path, *, kind: str) -> None:
    """Fail early (before any model is loaded or anything is written) when ``path`` cannot become an
    output of ``kind`` ``"file"`` or ``"dir"``: a directory where a file goes, a file where a directory
    goes, or a file where one of its parent directories should be.
    """
    path = Path(path)
    if kind == "file" and path.is_dir():
        raise InputError(path, "is a directory; the output here is a file (pass a file path)")
    if kind == "dir" and path.exists() and not path.is_dir():
        raise InputError(path, "exists and is not a directory; the output here is a directory")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(parent, f"is a file, so the output {path} cannot be created below it")
            break


def check_model_dir(path: str | Path, option: str = "--model") -> Path:
    """A local Hugging Face model directory, checked before anything loads it (loading a missing path
    makes transformers report a confusing hub-id error; a directory without ``config.json`` fails
    deep inside the tokenizer)."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, f"{option}: the path does not exist (a local model directory is expected)")
    if not path.is_dir():
        raise InputError(path, f"{option}: not a directory (a local model directory is expected)")
    if not (path / "config.json").is_file():
        raise InputError(path / "config.json", f"{option}: missing; not a Hugging Face model directory")
    return path


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` via a synced temp file in the same directory and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented UTF-8 JSON (non-ASCII kept raw) with :func:`write_text_atomic`."""
    write_text_atomic(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def file_sha256(path: Path) -> str | None:
    """SHA-256 (hex) of a file's bytes, read in 1 MiB blocks; None when it does not exist."""
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def path_sha256(path: Path) -> str:
    """Content hash of a file; for a directory, of its own ``manifest.json``/stage manifest if it has
    one, else of its file listing (relative names and sizes), so multi-GB model dirs hash instantly."""
    if path.is_file():
        return file_sha256(path)
    for name in (STAGE_MANIFEST, "manifest.json"):
        if (path / name).is_file():
            return file_sha256(path / name)
    listing = sorted(f"{p.relative_to(path)}\t{p.stat().st_size}" for p in path.rglob("*") if p.is_file())
    return hashlib.sha256("\n".join(listing).encode()).hexdigest()
