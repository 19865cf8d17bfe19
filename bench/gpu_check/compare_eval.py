"""Compare two `medreasoner eval` runs item by item: are greedy answers of two backends the same?

    python bench/gpu_check/compare_eval.py REFERENCE_DIR OTHER_DIR [--json OUT.json]

Each directory is an eval ``--output`` with one ``<benchmark>_<mode>/predictions.jsonl``. Prints the
number of items, how many responses are identical (exact text), how many extracted answers and
correctness flags agree, both accuracies, and the first differing response. Exit status 0 only when
both runs cover the same items and every response is identical (greedy decoding of the same weights
should give the same tokens; a near-tie of logits can legitimately flip one, which then shows here).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from medreasoner.files import read_jsonl, write_json_atomic


def predictions(run_dir: Path) -> dict[str, dict]:
    """Rows of the single ``*/predictions.jsonl`` under ``run_dir``, by item id."""
    files = sorted(run_dir.glob("*/predictions.jsonl"))
    if len(files) != 1:
        raise SystemExit(f"{run_dir}: expected one */predictions.jsonl, found {len(files)}")
    rows = [row for _, row in read_jsonl(files[0])]
    if any(row.get("sample", 0) for row in rows):
        raise SystemExit(f"{files[0]}: a sampled run (num_samples > 1); compare greedy runs, one answer per item")
    return {row["id"]: row for row in rows}


def compare(reference: dict[str, dict], other: dict[str, dict]) -> dict:
    """Agreement figures of two prediction sets (counts of items)."""
    shared = sorted(set(reference) & set(other))
    differing = [i for i in shared if reference[i]["response"] != other[i]["response"]]
    return {
        "items_reference": len(reference), "items_other": len(other), "items_shared": len(shared),
        "same_response": len(shared) - len(differing),
        "same_extracted": sum(reference[i]["extracted"] == other[i]["extracted"] for i in shared),
        "same_correct": sum(reference[i]["correct"] == other[i]["correct"] for i in shared),
        "accuracy_reference": sum(reference[i]["correct"] for i in shared) / max(len(shared), 1),
        "accuracy_other": sum(other[i]["correct"] for i in shared) / max(len(shared), 1),
        "first_difference": None if not differing else {
            "id": differing[0], "reference": reference[differing[0]]["response"],
            "other": other[differing[0]]["response"]},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path, help="eval output directory of the reference backend (hf)")
    parser.add_argument("other", type=Path, help="eval output directory of the backend under test")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    figures = compare(predictions(args.reference), predictions(args.other))
    n = figures["items_shared"]
    print(f"{args.reference} vs {args.other}")
    print(f"  items: {figures['items_reference']} vs {figures['items_other']} ({n} shared)")
    print(f"  identical responses: {figures['same_response']}/{n}; same extracted answer: "
          f"{figures['same_extracted']}/{n}; same correctness: {figures['same_correct']}/{n}")
    print(f"  accuracy: {figures['accuracy_reference']:.3f} vs {figures['accuracy_other']:.3f}")
    if figures["first_difference"]:
        diff = figures["first_difference"]
        print(f"  first difference ({diff['id']}):\n    reference: {diff['reference']!r}\n    other:     {diff['other']!r}")
    if args.json:
        write_json_atomic(args.json, figures)
    same_items = figures["items_reference"] == figures["items_other"] == n > 0
    return 0 if same_items and figures["same_response"] == n else 1


if __name__ == "__main__":
    sys.exit(main())
