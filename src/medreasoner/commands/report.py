"""`medreasoner report`: Markdown and HTML tables and plots for one or more evaluation outputs.

    medreasoner report runs/eval/base runs/eval/rpo --output reports/rpo_vs_base
    medreasoner report runs/reproduce_s0 runs/reproduce_s1 runs/reproduce_s2 --findings configs/findings/tiny.yaml

Each RUN_DIR is an ``eval --output`` directory (or any directory above ``<benchmark>_<mode>/results.json``
files, such as a pipeline run). Writes ``report.md``, ``report.html`` (plots embedded) and the PNGs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from medreasoner.errors import InputError
from medreasoner.files import check_output_path, read_text_utf8
from medreasoner.tracking import TRACKER_PACKAGES, check_trackers, command_settings, log_once


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``report`` arguments."""
    parser.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR", help="evaluation output directories")
    parser.add_argument("--output", type=Path, default=Path("report"), help="report directory (default: report)")
    parser.add_argument("--label", action="append", default=[],
                        help="row label per RUN_DIR, in order (default: the directory names)")
    parser.add_argument("--embed", action="append", default=[], metavar="FILE[#NAME]",
                        help="also write the report's tables into this Markdown file, between its "
                             "<!-- medreasoner-report[:NAME]:begin/end --> markers (repeatable; README, docs)")
    parser.add_argument("--findings", type=Path,
                        help="findings YAML: contrasts reported per RUN_DIR (one per seed) and pooled "
                             "(e.g. configs/findings/tiny.yaml)")
    parser.add_argument("--report-to", action="append", default=[], choices=sorted(TRACKER_PACKAGES),
                        help="also log each row's accuracy to tensorboard (OUTPUT/tb), wandb or mlflow "
                             "(project medreasoner-report); repeatable")


# Top-level keys (and their JSON types) the report reads from every evaluation results.json.
RESULTS_KEYS = {"benchmark": str, "mode": str, "metrics": dict, "summary": dict, "tokens": dict, "latency_s": dict}
# Keys it reads when present (older results lack some): provenance, timing, item sets.
OPTIONAL_KEYS = {"model_identity": dict, "backend": dict, "generation": dict, "correct_by_id": dict, "data": str}


def check_inputs(args: argparse.Namespace) -> None:
    """Reject bad arguments and malformed results before anything is written (one error, file and field)."""
    if args.label and len(args.label) != len(args.run_dirs):
        raise InputError("--label", f"{len(args.label)} labels for {len(args.run_dirs)} RUN_DIRs (give one per RUN_DIR)")
    for run_dir in args.run_dirs:
        if not run_dir.is_dir():
            raise InputError(run_dir, "no such directory (RUN_DIR is an eval --output directory or a pipeline run)")
        for file in sorted(run_dir.rglob("results.json")):
            _check_results(file)
    check_output_path(args.output, kind="dir")
    check_trackers("--report-to", args.report_to, field=None)
    if args.findings is not None:
        read_text_utf8(args.findings, "findings file")
    for target in args.embed:
        path = Path(str(target).partition("#")[0])
        if not path.is_file():
            raise InputError(path, "--embed: no such Markdown file")
        read_text_utf8(path, "--embed file")


def _check_results(file: Path) -> None:
    try:
        body = json.loads(read_text_utf8(file, "results file"))
    except json.JSONDecodeError as error:
        raise InputError(file, f"not valid JSON ({error.msg})", line=error.lineno) from None
    except RecursionError:
        raise InputError(file, "JSON nested too deeply to read") from None
    if not isinstance(body, dict) or "schema_version" not in body:
        return  # another tool's results.json (a training stage's metrics): the report skips it
    for key, kind in RESULTS_KEYS.items():
        if key not in body:
            raise InputError(file, "missing key in an evaluation results.json", field=key)
    for key, kind in {**RESULTS_KEYS, **OPTIONAL_KEYS}.items():
        if key in body and not isinstance(body[key], kind):
            raise InputError(file, f"expected a JSON {'object' if kind is dict else 'string'}, got "
                             f"{type(body[key]).__name__}", field=key)


def run(args: argparse.Namespace) -> int:
    """Write the report; prints where it went."""
    from medreasoner.eval.report import embed_summary, write_report

    check_inputs(args)
    labels = args.label or None
    paths = write_report(args.run_dirs, args.output, labels=labels, findings=args.findings)
    paths += [embed_summary(args.output, target) for target in args.embed]
    for path in paths:
        print(path)
    if args.report_to:
        log_once(args.output, report_metrics(args.run_dirs, labels), report_to=args.report_to,
                 project="medreasoner-report", run_name=args.output.name, config=command_settings(args))
    return 0


def report_metrics(run_dirs: list[Path], labels: list[str] | None) -> dict[str, float]:
    """``<row>/<results name>/<mode>/accuracy`` (fraction) for every row of the report's table."""
    from medreasoner.eval.report import collect_runs

    return {f"{label}/{name}/{mode}/accuracy": body["metrics"]["accuracy"]
            for label, results in collect_runs(run_dirs, labels) for (name, mode), body in results.items()}
