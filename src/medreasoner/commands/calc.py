"""`medreasoner calc`: list the calculators, compute one, or check them against MedCalc-Bench.

    medreasoner calc list
    medreasoner calc compute 6 --entities '{"weight": [70, "kg"], "height": [175, "cm"]}'
    medreasoner calc check --data test_data_v1.0.csv --output check.json
    medreasoner calc check --data test_data_v1.0.csv --convention medcalc-v1.0

``--convention`` selects the label convention: ``published`` (default, the published definitions),
``medcalc-v1.0`` (the behaviour of the benchmark's version-1.0 calculator code) or
``medcalc-v1.0-testfile`` (that plus the test file's own GCS quirk; docs/calculators.md).
"""

from __future__ import annotations

import argparse
import ast
import json
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from medreasoner.errors import InputError
from medreasoner.files import check_output_path, write_json_atomic


# action -> one-line help (``medreasoner calc --help``).
ACTIONS = {
    "list": "list the calculators: id, name, category, output type",
    "compute": "compute one calculator from the patient's values (a MedCalc-Bench Relevant Entities dict)",
    "check": "recompute every row of a MedCalc-Bench CSV and compare with its labels",
}


def add_action_arguments(parser: argparse.ArgumentParser, action: str) -> None:
    """Register the arguments of ``calc <action>``."""
    if action == "compute":
        parser.add_argument("calculator_id", type=int, help="MedCalc-Bench Calculator ID (see `medreasoner calc list`)")
        parser.add_argument("--entities", required=True,
                            help="JSON (or Python-literal) dict, e.g. '{\"age\": [60, \"years\"], \"sex\": \"Male\"}'")
        _add_convention(parser)
    elif action == "check":
        parser.add_argument("--data", required=True, type=Path, help="MedCalc-Bench CSV (e.g. test_data_v1.0.csv)")
        parser.add_argument("--output", type=Path, help="write the agreement report as JSON here")
        _add_convention(parser)


def _add_convention(parser: argparse.ArgumentParser) -> None:
    from medreasoner.calculators.conventions import CONVENTIONS, DEFAULT_CONVENTION

    parser.add_argument("--convention", choices=list(CONVENTIONS), default=DEFAULT_CONVENTION,
                        help="label convention: 'published' definitions (default), 'medcalc-v1.0' (the "
                             "benchmark's v1.0 calculator code) or 'medcalc-v1.0-testfile' (its test-file labels); "
                             "the last two are not for training data")


def run(args: argparse.Namespace) -> int:
    """Dispatch to the chosen action; returns the exit status."""
    actions = {"list": _list, "compute": _compute, "check": _check}
    return actions[args.action](args)


def _list(args: argparse.Namespace) -> int:
    from medreasoner.calculators import CALCULATORS

    table = Table(title=f"{len(CALCULATORS)} MedCalc-Bench calculators")
    for column in ("ID", "name", "category", "output type", "answer"):
        table.add_column(column)
    for cid, spec in CALCULATORS.items():
        table.add_row(str(cid), spec.name, spec.category, spec.output_type, spec.answer_kind)
    Console().print(table)
    return 0


def _parse_entities(text: str) -> dict:
    try:
        value = json.loads(text)
    except RecursionError:  # the stdlib decoder recurses once per nesting level
        raise InputError("--entities", "nested too deeply") from None
    except json.JSONDecodeError:
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, RecursionError, MemoryError):
            raise InputError("--entities", "neither JSON nor a Python dict literal") from None
    if not isinstance(value, dict):
        raise InputError("--entities", f"expected a dict, got {type(value).__name__}")
    return value


def _compute(args: argparse.Namespace) -> int:
    from medreasoner.calculators import CALCULATORS, EntityError, compute

    if args.calculator_id not in CALCULATORS:
        raise InputError("calculator_id", f"unknown calculator {args.calculator_id}; see `medreasoner calc list`")
    spec = CALCULATORS[args.calculator_id]
    try:
        result = compute(args.calculator_id, _parse_entities(args.entities), args.convention)
    except EntityError as error:
        raise InputError("--entities", error.message, field=error.field) from None
    answer = result.answer
    if spec.answer_kind == "date":
        shown = answer.strftime("%m/%d/%Y")
    elif spec.answer_kind == "weeks_days":
        shown = f"{answer[0]} weeks, {answer[1]} days"
    else:
        shown = f"{answer:g}" if spec.answer_kind == "int" else f"{round(answer, 3):g}"
    print(f"{spec.name}: {shown}")
    print(result.explanation)
    return 0


def _check(args: argparse.Namespace) -> int:
    from medreasoner.calculators.check import check_rows, read_rows

    if args.output is not None:
        check_output_path(args.output, kind="file")
    rows = read_rows(args.data)
    with Progress(transient=True) as progress:
        task = progress.add_task("recomputing rows", total=len(rows))
        report = check_rows(rows, on_row=lambda: progress.advance(task), convention=args.convention)
    table = Table(title=f"Agreement with {args.data.name} (convention: {args.convention})")
    for column in ("ID", "calculator", "agree", "total", "%"):
        table.add_column(column, justify="right" if column in ("agree", "total", "%") else "left")
    for cid, entry in report["calculators"].items():
        style = None if entry["agree"] == entry["total"] else "yellow"
        table.add_row(cid, entry["name"], str(entry["agree"]), str(entry["total"]),
                      f"{100 * entry['agree'] / entry['total']:.1f}", style=style)
    overall = report["overall"]
    table.add_row("", "overall", str(overall["agree"]), str(overall["total"]),
                  f"{100 * overall['agree'] / max(overall['total'], 1):.1f}", style="bold")
    Console().print(table)
    if args.output is not None:
        write_json_atomic(args.output, report)
        print(f"wrote {args.output}")
    return 0

