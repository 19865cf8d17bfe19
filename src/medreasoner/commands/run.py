"""`medreasoner run`: run a recipe's stages in order, skipping finished ones and resuming interrupted ones.

    medreasoner run recipes/tiny/pipeline.yaml
    medreasoner run recipes/tiny/sft.yaml sft.optim.learning_rate=1e-3 seed=1 --output runs/sft_lr1e-3
    accelerate launch --config_file configs/accelerate/zero3.yaml -m medreasoner.cli run recipes/wingpt3/s1_sft.yaml
    accelerate launch --config_file configs/accelerate/cpu_ddp.yaml -m medreasoner.cli run recipes/tiny/sft.yaml

Under a launcher every process runs this command; only rank 0 prints (docs/distributed.md).

``key=value`` overrides may come before, between or after the options; values are YAML scalars
(``1e-4``, ``true``, ``[wandb]``). See docs/recipes.md for the forms of ``key``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

from medreasoner.files import check_output_path
from medreasoner.pipeline import is_main_process, run_recipe
from medreasoner.recipe import load_recipe


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``run`` arguments."""
    parser.add_argument("recipe", type=Path, help="recipe YAML file")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="override recipe values, e.g. sft.optim.learning_rate=1e-4 or seed=1 "
                             "(anywhere after the recipe)")
    parser.add_argument("--output", type=Path, help="run directory (default: runs/<recipe name>)")
    parser.add_argument("--force", action="store_true",
                        help="rebuild stages whose config or inputs changed since they ran (default: refuse)")
    parser.add_argument("--rerun", action="append", default=[], metavar="STAGE",
                        help="rebuild STAGE from scratch although it finished with the same config (after a change "
                             "to its code), and the later stages that read it; repeatable")


def run(args: argparse.Namespace) -> int:
    """Load the recipe, print its resolved form, run it; returns the exit status (0)."""
    recipe = load_recipe(args.recipe, args.overrides, run_dir=args.output)
    check_output_path(recipe.run_dir, kind="dir")
    console = Console(highlight=False)
    main = is_main_process()

    def echo(text: str) -> None:
        if main:
            console.print(text, markup=False, soft_wrap=True)

    echo(f"recipe {recipe.path} -> run directory {recipe.run_dir}")
    echo(yaml.safe_dump(recipe.resolved(), sort_keys=False, allow_unicode=True).rstrip())
    results = run_recipe(recipe, force=args.force, echo=echo, rerun=tuple(args.rerun))
    if main:
        table = Table(title=f"{recipe.name}: finished stages ({recipe.run_dir})")
        table.add_column("stage")
        table.add_column("final metrics")
        for name, metrics in results.items():
            shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items())
            table.add_row(name, shown)
        console.print(table)
    return 0
