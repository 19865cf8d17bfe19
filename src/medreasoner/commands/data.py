"""`medreasoner data`: build datasets: the synthetic world, and every step of the data engine alone.

    medreasoner data build-world --config configs/world/tiny.yaml --output runs/world-tiny
    medreasoner data dedup --output runs/pool_dedup input=pool.jsonl threshold=0.8
    medreasoner data generate --config my_generate.yaml --output runs/samples num_samples=4

A step's settings are the ``config:`` of its recipe stage (``docs/data_engine.md``): a YAML file
(``--config``) and/or ``key=value`` overrides (dotted keys, YAML values). They are validated by the
step's typed ``Config`` before anything is read or loaded; errors name the file, line and field.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from medreasoner.data import STEPS
from medreasoner.errors import InputError
from medreasoner.files import check_output_path, read_text_utf8


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-commands ``build-world`` and one per data-engine step."""
    sub = parser.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    build = sub.add_parser("build-world", help="generate the synthetic clinical world (all training and eval data)")
    build.add_argument("--config", required=True, type=Path, help="world config YAML (see configs/world/)")
    build.add_argument("--output", required=True, type=Path, help="output directory (replaced atomically)")
    for step, module_name in STEPS.items():
        step_parser = sub.add_parser(step, help=f"data-engine step {step!r} ({module_name})")
        step_parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                                 help="config values, e.g. input=pool.jsonl threshold=0.8 (before the options)")
        step_parser.add_argument("--config", type=Path, help="YAML file holding the step's config mapping")
        step_parser.add_argument("--output", required=True, type=Path, help="output directory")
        step_parser.add_argument("--seed", type=int, default=0, help="seed for the step's random choices (default 0)")


def run(args: argparse.Namespace) -> int:
    """Dispatch to the chosen action; returns the exit status."""
    if args.data_command == "build-world":
        return _build_world(args)
    return _run_step(args)


def load_step_config(step: str, config_path: Path | None, overrides: list[str]):
    """Validate a step's config from a YAML file and ``key=value`` overrides (file:line:field errors)."""
    import importlib

    from medreasoner.recipe import parse_override, parse_yaml
    from medreasoner.recipe_errors import Source, raise_validation_error

    module = importlib.import_module(STEPS[step])
    source_path = config_path or Path(f"<{step} options>")
    data, lines = {}, {}
    if config_path is not None:
        data, lines = parse_yaml(config_path, read_text_utf8(config_path, "config"))
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise InputError(config_path, f"a {step} config is a mapping of its settings", line=1)
    origins = {}
    for text in overrides:
        parts, value = parse_override(source_path, text)
        node = data
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[parts[-1]] = value
        origins[tuple(parts)] = text
    try:
        return module, module.Config.model_validate(data)
    except ValidationError as error:
        raise_validation_error(Source(source_path, lines, origins), (), error, module.Config)


def _run_step(args: argparse.Namespace) -> int:
    from medreasoner.stages.context import StageContext

    module, config = load_step_config(args.data_command, args.config, args.overrides)
    check_output_path(args.output, kind="dir")  # before a step loads any model
    args.output.mkdir(parents=True, exist_ok=True)
    random.seed(args.seed)

    def log(metrics: dict, step: int) -> None:
        del step  # one-shot steps log once; the figures go to the table below

    metrics = module.run(config, StageContext(run_dir=args.output.parent, out_dir=args.output, seed=args.seed, log=log))
    table = Table("metric", "value", title=f"{args.data_command} -> {args.output}")
    for key, value in metrics.items():
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    Console(highlight=False).print(table)
    return 0


def _build_world(args: argparse.Namespace) -> int:
    from medreasoner.sim.config import load_world_config
    from medreasoner.sim.world import build_world

    from medreasoner.recipe import parse_yaml

    # The world config's own loader (medreasoner.sim.config) reads plain YAML; parsing it once here
    # first applies the recipe loader's checks (UTF-8 with the line of a bad byte, alias bombs, depth).
    parse_yaml(args.config, read_text_utf8(args.config, "world config"))
    check_output_path(args.output, kind="dir")
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
