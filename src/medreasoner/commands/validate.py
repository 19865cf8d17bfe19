"""`medreasoner validate`: load and type-check recipes without running them.

    medreasoner validate                      # every *.yaml under ./recipes
    medreasoner validate recipes/wingpt3 my_recipe.yaml
    medreasoner validate recipes/tiny/sft.yaml --output runs/sft_lr1e-3 sft.optim.learning_rate=1e-3

``key=value`` overrides and ``--output`` mean what they mean to ``medreasoner run``, so replacing
``run`` by ``validate`` in a command line checks that command without running it. An argument is
an override when it holds ``=`` and is not an existing file or directory; overrides apply to every
recipe named.

Each recipe is parsed, its ``${stage}`` references resolved and every stage's config checked against
its stage's typed ``Config``. Data and model paths are not required to exist (scale recipes name
files you supply, and validation recipes read other runs' models) unless ``--inputs`` is given: then
every file a stage still to be built reads from outside its run must exist, the check ``medreasoner
run`` makes before its first stage (:func:`medreasoner.pipeline.check_inputs`), each missing one listed
on its own ``FAIL`` line. Lists every failing recipe (``FAIL file:line: field ...``) on stdout and exits 2
with one ``error:`` line on stderr, like every command given bad input; anything ``medreasoner run``
rejects while loading a recipe is rejected here too (same loader).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from medreasoner.errors import InputError
from medreasoner.pipeline import stages_to_build
from medreasoner.recipe import load_recipe
from medreasoner.recipe_inputs import missing_inputs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``validate`` arguments."""
    parser.add_argument("recipes", nargs="*", metavar="RECIPE|KEY=VALUE",
                        help="recipe files or directories (default: every *.yaml under ./recipes), and key=value "
                             "overrides applied to each recipe as run applies them, e.g. seed=1")
    parser.add_argument("--output", type=Path,
                        help="run directory the recipes' ${stage} references point into, as with run --output "
                             "(default: runs/<recipe name>)")
    parser.add_argument("--inputs", action="store_true",
                        help="also require every file a stage still to be built reads from outside the run (another "
                             "run's model, data you supply) to exist, as run does before its first stage")


def split_arguments(arguments: list[str]) -> tuple[list[Path], list[str]]:
    """(recipe paths, ``key=value`` overrides): an argument holding ``=`` that is not an existing
    path is an override, as in ``medreasoner run``."""
    paths = [Path(a) for a in arguments if "=" not in a or Path(a).exists()]
    overrides = [a for a in arguments if "=" in a and not Path(a).exists()]
    return paths, overrides


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
    paths, overrides = split_arguments(args.recipes)
    if not paths and not Path("recipes").is_dir():
        raise InputError("recipes", "no recipes/ directory here: run from the repository root or name recipe files")
    files = recipe_files(paths or [Path("recipes")])
    if not files:
        raise InputError(paths[0] if paths else "recipes", "no *.yaml recipe found")
    failures = []  # one message per problem; a recipe may have several missing inputs
    failed = 0
    for path in files:
        try:
            recipe = load_recipe(path, overrides, run_dir=args.output)
        except InputError as error:
            failures.append(str(error))
            failed += 1
            print(f"FAIL {error}")
            continue
        missing = missing_inputs(recipe, stages_to_build(recipe)) if args.inputs else []
        if missing:
            failures.extend(str(error) for error in missing)
            failed += 1
            print("\n".join(f"FAIL {error}" for error in missing))
            continue
        print(f"ok   {path} ({len(recipe.stages)} stages: {', '.join(s.name for s in recipe.stages)})")
    print(f"{len(files) - failed}/{len(files)} recipes valid")
    if failures:
        more = f" (and {len(failures) - 1} more problem(s), listed above)" if len(failures) > 1 else ""
        print(f"error: {failures[0]}{more}", file=sys.stderr)
        return 2
    return 0
