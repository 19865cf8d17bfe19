"""`medreasoner report`: Markdown and HTML tables and plots for one or more evaluation outputs.

    medreasoner report runs/eval/base runs/eval/rpo --output reports/rpo_vs_base
    medreasoner report runs/reproduce_s0 runs/reproduce_s1 runs/reproduce_s2 --findings configs/findings/tiny.yaml

Each RUN_DIR is an ``eval --output`` directory (or any directory above ``<benchmark>_<mode>/results.json``
files, such as a pipeline run). Writes ``report.md``, ``report.html`` (plots embedded) and the PNGs.
"""

from __future__ import annotations

import argparse
from pathlib import Path


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


def run(args: argparse.Namespace) -> int:
    """Write the report; prints where it went."""
    from medreasoner.eval.report import embed_summary, write_report

    if args.label and len(args.label) != len(args.run_dirs):
        raise SystemExit(f"error: {len(args.label)} --label for {len(args.run_dirs)} RUN_DIRs")
    labels = args.label or None
    paths = write_report(args.run_dirs, args.output, labels=labels, findings=args.findings)
    paths += [embed_summary(args.output, target) for target in args.embed]
    for path in paths:
        print(path)
    return 0
