"""`medreasoner score`: grade existing predictions against a benchmark and write results JSON.

    medreasoner score --benchmark igakuqa --data IgakuQA/ --predictions IgakuQA/baseline_results \\
        --model-name gpt4 --grading official --output results.json
    medreasoner score --benchmark medcalc --data test_data.csv \\
        --predictions openai_gpt-4o-mini_direct_answer.jsonl --grading official
    medreasoner score --benchmark mcq --data my_questions.jsonl --predictions responses.jsonl

Predictions formats (detected by keys): ours ``{"id", "response"}``; IgakuQA baseline files
``{"problem_id", "prediction"}`` (a file, or a directory searched recursively with ``--model-name``);
MedCalc-Bench output rows ``{"Row Number", "LLM Answer", ...}``. Items without a prediction are
left out and listed under ``coverage``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import track
from rich.table import Table

from medreasoner.benchmarks import BENCHMARKS, load_benchmark
from medreasoner.benchmarks.item import GestationalAge
from medreasoner.cli import DeprecatedAlias
from medreasoner.files import check_output_path, write_json_atomic, write_text_atomic
from medreasoner.scoring import MODES, summarize
from medreasoner.scoring.predictions import grade_predictions, read_predictions


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``score`` options."""
    parser.add_argument("--benchmark", required=True, choices=sorted(BENCHMARKS), help="benchmark format of --data")
    parser.add_argument("--data", required=True, type=Path, help="benchmark file (IgakuQA: root, data/, year dir or file)")
    parser.add_argument("--predictions", required=True, type=Path, help="predictions JSONL, or IgakuQA baseline_results dir")
    parser.add_argument("--grading", choices=MODES, default="official",
                        help="official (default): reproduce the benchmark's own scorer; normalized: tolerant answer "
                             "extraction (as eval --grading and a recipe's grading:; formerly --mode)")
    parser.add_argument("--mode", dest="grading", choices=MODES, action=DeprecatedAlias, replacement="--grading")
    parser.add_argument("--model-name", help="IgakuQA directory: score the files *_<NAME>.jsonl")
    parser.add_argument("--output", type=Path, help="write the results JSON here")
    parser.add_argument("--items-out", type=Path, help="write one JSON line per scored item: id, extracted, correct, score")


def run(args: argparse.Namespace) -> int:
    """Load, grade, summarise, print, write; returns the exit status (0)."""
    for path in (args.output, args.items_out):
        if path is not None:
            check_output_path(path, kind="file")  # before grading: nothing half-done to throw away
    items = load_benchmark(args.benchmark, args.data)
    predictions = read_predictions(args.predictions, args.model_name)
    progress = Console(stderr=True)
    grades = grade_predictions(items, track(predictions, description="grading", console=progress, transient=True,
                                            disable=not progress.is_terminal), args.grading)
    # The results key stays "mode" (readers of earlier score results files depend on it).
    results = {"benchmark": args.benchmark, "mode": args.grading, "version": BENCHMARKS[args.benchmark].version}
    results.update(summarize(args.benchmark, items, grades, mode=args.grading))
    print_results(results, Console())
    if args.output is not None:
        write_json_atomic(args.output, results)
    if args.items_out is not None:
        lines = [
            json.dumps({"id": item.id, "extracted": to_jsonable(grade.extracted), "correct": bool(grade.correct),
                        "score": grade.score}, ensure_ascii=False, default=str)
            for item, grade in zip(items, grades)
            if grade is not None
        ]
        write_text_atomic(args.items_out, "".join(line + "\n" for line in lines))
    return 0


def to_jsonable(value: Any) -> Any:
    """A typed extracted answer as JSON: letter sets sorted, dates ISO, gestational age [weeks, days].

    >>> to_jsonable(frozenset({"c", "a"}))
    ['a', 'c']
    """
    if isinstance(value, GestationalAge):
        return [value.weeks, value.days]
    if isinstance(value, (frozenset, set)):
        return sorted(value, key=str)
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def print_results(results: dict[str, Any], console: Console) -> None:
    """Print the overall line, the coverage, and the per-year or per-category table."""
    coverage = results["coverage"]
    console.print(f"[bold]{results['benchmark']}[/bold] ({results['mode']} grading): "
                  f"{coverage['n_scored']}/{coverage['n_total']} items scored")
    if coverage["missing_ids"]:
        shown = ", ".join(coverage["missing_ids"][:10])
        more = len(coverage["missing_ids"]) - 10
        console.print(f"missing predictions: {shown}" + (f" (+{more} more)" if more > 0 else ""))
    overall = results["overall"]
    table = Table(title="overall")
    for key, value in overall.items():
        table.add_column(key, justify="right")
    table.add_row(*(_cell(value) for value in overall.values()))
    console.print(table)
    if "years" in results:
        console.print(_years_table(results["years"]))
    if "categories" in results:
        console.print(_categories_table(results["categories"]))


def _years_table(years: dict[str, Any]) -> Table:
    table = Table(title="IgakuQA by year")
    for column in ("year", "score", "accuracy", "required (B+E)", "general (A,C,D,F)", "kinki", "result"):
        table.add_column(column, justify="right")
    for year, row in years.items():
        verdict = {True: "PASS", False: "fail", None: "incomplete"}[row["passed"]]
        general_min = row["general"]["minimum"]
        table.add_row(
            year,
            f"{row['score']}/{row['total']}",
            _cell(row["question_accuracy"]),
            f"{row['required']['score']}/{row['required']['total']} (need {row['required']['minimum']})",
            f"{row['general']['score']}/{row['general']['total']}" + (f" (need {general_min})" if general_min else ""),
            str(row["kinki_questions"]),
            verdict,
        )
    return table


def _categories_table(categories: dict[str, Any]) -> Table:
    table = Table(title="MedCalc-Bench by category (average %, std)")
    for column in ("category", "average", "std", "correct", "n"):
        table.add_column(column, justify="right")
    for name, row in categories.items():
        table.add_row(name, f"{row['average']:.2f}", f"{row['std']:.2f}", str(row["correct"]), str(row["n"]))
    return table


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
