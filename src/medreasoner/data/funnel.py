"""What every data step writes: kept rows, dropped rows with their reason, and the funnel counts.

A step never deletes silently: each input row ends either in ``data.jsonl`` or in ``dropped.jsonl``
with a reason, and ``funnel.json`` adds them up, so a recipe's funnel (2M questions -> 1.4M SFT rows
in WiNGPT-3.0) can be read stage by stage (``medreasoner report RUN_DIR``). Files are written
atomically (temp file + rename), ``funnel.json`` last: a step killed midway leaves no half output.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from medreasoner.errors import InputError
from medreasoner.files import write_json_atomic, write_text_atomic

DATA_FILE = "data.jsonl"
DROPPED_FILE = "dropped.jsonl"
FUNNEL_FILE = "funnel.json"


def jsonl_text(rows: Iterable[dict]) -> str:
    """Rows as JSONL text (UTF-8 kept raw, one object per line)."""
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def drop(row: dict, reason: str, detail: str | None = None) -> dict:
    """A ``dropped.jsonl`` record: the row's ``id`` (and ``sample`` index, if any), a reason key, a detail."""
    record = {"id": row.get("id"), "reason": reason, "detail": detail}
    if "sample" in row:
        record["sample"] = row["sample"]
    return record


def write_step(out_dir: Path, step: str, *, rows_in: int, kept: list[dict], dropped: list[dict],
               input_path: str | Path, details: dict | None = None, allow_empty: bool = False) -> dict:
    """Write ``data.jsonl``, ``dropped.jsonl`` and ``funnel.json``; return the stage metrics.

    Args:
        out_dir: the step's output directory.
        step: the step name (a key of :data:`medreasoner.data.STEPS`).
        rows_in: rows the step read (for a 1->N step such as ``generate``, the prompts x samples it owed).
        kept: output rows, in output order.
        dropped: records from :func:`drop`.
        input_path: the file the rows came from (named in the error for an empty result).
        details: step-specific figures for the funnel (thresholds, per-benchmark hits, ...).
        allow_empty: accept an empty output (otherwise an empty result is an :class:`InputError`,
            raised after ``dropped.jsonl`` and ``funnel.json`` are written so the reasons can be read).

    Returns:
        ``{"in": n, "out": n, "dropped/<reason>": n, ...}``.
    """
    out_dir = Path(out_dir)
    reasons = Counter(record["reason"] for record in dropped)
    funnel = {"step": step, "in": rows_in, "out": len(kept), "dropped": dict(sorted(reasons.items())),
              "details": details or {}}
    write_text_atomic(out_dir / DROPPED_FILE, jsonl_text(dropped))
    if not kept and not allow_empty:
        write_json_atomic(out_dir / FUNNEL_FILE, funnel)
        why = ", ".join(f"{reason}: {count}" for reason, count in reasons.most_common()) or "no input rows"
        raise InputError(input_path, f"{step}: all {rows_in} rows were dropped ({why}); see {out_dir / DROPPED_FILE}")
    write_text_atomic(out_dir / DATA_FILE, jsonl_text(kept))
    write_json_atomic(out_dir / FUNNEL_FILE, funnel)
    metrics = {"in": rows_in, "out": len(kept)}
    metrics.update({f"dropped/{reason}": count for reason, count in funnel["dropped"].items()})
    return metrics


def read_funnel(step_dir: Path) -> dict | None:
    """The ``funnel.json`` of a step directory, or None when it has none."""
    path = Path(step_dir) / FUNNEL_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))
