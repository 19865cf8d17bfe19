"""`medreasoner data`: build datasets.

    medreasoner data build-world --config configs/world/tiny.yaml --output runs/world-tiny
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-command ``build-world``."""
    sub = parser.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    build = sub.add_parser("build-world", help="generate the synthetic clinical world (all training and eval data)")
    build.add_argument("--config", required=True, type=Path, help="world config YAML (see configs/world/)")
    build.add_argument("--output", required=True, type=Path, help="output directory (replaced atomically)")


def run(args: argparse.Namespace) -> int:
    """Dispatch to the chosen action; returns the exit status."""
    actions = {"build-world": _build_world}
    return actions[args.data_command](args)


def _build_world(args: argparse.Namespace) -> int:
    from medreasoner.sim.config import load_world_config
    from medreasoner.sim.world import build_world

    manifest = build_world(load_world_config(args.config), args.output)
    console = Console()
    files = Table("file", "rows", title=f"world written to {args.output}")
    for name, count in manifest["counts"].items():
        files.add_row(name, str(count))
    console.print(files)
    accuracy = Table("split", "cases", "Bayes-optimal (items)", "Bayes-optimal (all exams)", "prior only", "chance")
    for split, figures in manifest["accuracy"].items():
        if figures:
            accuracy.add_row(
                split,
                str(figures["num_cases"]),
                f"{figures['bayes_optimal_accuracy']:.3f}",
                f"{figures['bayes_optimal_accuracy_all_exams']:.3f}",
                f"{figures['prior_only_accuracy']:.3f}",
                f"{figures['chance_accuracy']:.3f}",
            )
    console.print(accuracy)
    return 0
