"""Were results placed side by side computed on the same items?

Two accuracies of one benchmark column only compare when they were computed on the same items: a
run evaluated with ``--limit``, on another version of the data file, or interrupted and never
finished, is scored on a different set even when the counts happen to agree. The report compares
the item ids of every (run, mode) cell of a benchmark column and shows a warning table when they
differ. The paired figures (Δ explain − answer, gains over a parent model) are not affected: they
use only the items both cells answered.

A cell's items are the ids its results.json was graded on (``correct_by_id``, one entry per scored
prediction), or, in results written before that key existed, the ids in its ``predictions.jsonl``.
"""

from __future__ import annotations

from pathlib import Path

from medreasoner.eval.predictions import PredictionsFile

SHOWN_IDS = 3  # missing ids listed per cell; the count says how many there are


def item_ids(body: dict) -> frozenset[str] | None:
    """The ids of the items a results.json was computed on; None when neither source is there."""
    if body.get("correct_by_id") is not None:
        return frozenset(body["correct_by_id"])
    path = Path(body.get("_dir", "")) / "predictions.jsonl"
    return frozenset(item_id for item_id, _ in PredictionsFile(path).load()) if path.is_file() else None


def item_set_rows(runs: list[tuple[str, dict]]) -> tuple[list[str], list[list[str]]]:
    """One row per (benchmark, run, mode) cell of every benchmark whose cells hold different item
    sets: its item count, how many of the column's items it lacks, and the first few of them.
    No rows when every column compares like with like."""
    header = ["benchmark", "run", "mode", "items", "missing (of the column's items)", "first missing ids"]
    columns: dict[str, list[tuple[str, str, frozenset[str]]]] = {}
    for label, results in runs:
        for (name, mode), body in results.items():
            ids = item_ids(body)
            if ids is not None:
                columns.setdefault(name, []).append((label, mode, ids))
    rows = []
    for name in sorted(columns):
        cells = columns[name]
        if len({ids for _, _, ids in cells}) < 2:
            continue
        union = frozenset().union(*(ids for _, _, ids in cells))
        for label, mode, ids in cells:
            missing = sorted(union - ids)
            rows.append([name, label, mode, str(len(ids)), str(len(missing)),
                         ", ".join(missing[:SHOWN_IDS]) + (" …" if len(missing) > SHOWN_IDS else "") or "–"])
    return header, rows
