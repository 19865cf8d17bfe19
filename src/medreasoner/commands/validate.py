"""`medreasoner validate`: load and type-check recipes without running them.

    medreasoner validate                      # every *.yaml under ./recipes
    medreasoner validate recipes/wingpt3 my_recipe.yaml

Each recipe is parsed, its ``${stage}`` references resolved and every stage's config checked against
its stage's typed ``Config``. Data and model paths are not required to exist (scale recipes name
files you supply). Lists every failing recipe (``FAIL file:line: field ...``) on stdout and exits 2
with one ``error:`` line on stderr, like every command given bad input; anything ``medreasoner run``
rejects while loading a recipe is rejected here too (same loader).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from medreasoner.errors import InputError
from medreasoner.recipe import load_recipe


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``validate`` arguments."""
    parser.add_argument("recipes", nargs="*", type=Path,
                        help="recipe files or directories (default: every *.yaml under ./recipes)")


def recipe_files(paths: list[Path]) -> list[Path]:
    """Expand directories to their ``*.yaml`` files (sorted, recursive); keep files as given."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.rglob("*.yaml")))
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(path, "no such recipe file or directory")
    return files


def run(args: argparse.Namespace) -> int:
    """Validate each recipe; print one line per recipe; returns 2 if any failed, else 0."""
    if not args.recipes and not Path("recipes").is_dir():
        raise InputError("recipes", "no recipes/ directory here: run from the repository root or name recipe files")
    files = recipe_files(args.recipes or [Path("recipes")])
    if not files:
        raise InputError(args.recipes[0] if args.recipes else "recipes", "no *.yaml recipe found")
    failures = []
    for path in files:
        try:
            recipe = load_recipe(path)
        except InputError as error:
            failures.append(str(error))
            print(f"FAIL {error}")
            continue
        print(f"ok   {path} ({len(recipe.stages)} stages: {', '.join(s.name for s in recipe.stages)})")
    print(f"{len(files) - len(failures)}/{len(files)} recipes valid")
    if failures:
        more = f" (and {len(failures) - 1} more invalid recipe(s), listed above)" if len(failures) > 1 else ""
        print(f"error: {failures[0]}{more}", file=sys.stderr)
        return 2
    return 0
