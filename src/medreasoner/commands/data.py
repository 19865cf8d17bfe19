"""`medreasoner data`: build datasets: the synthetic world, and every step of the data engine alone.

    medreasoner data build-world --config configs/world/tiny.yaml --output runs/world-tiny
    medreasoner data dedup --config configs/data/dedup.yaml --output runs/pool_dedup threshold=0.95
    medreasoner data generate --config my_generate.yaml --output runs/samples num_samples=4

A step's settings are the ``config:`` of its recipe stage (``docs/data_engine.md``): a YAML file
(``--config``) and/or ``key=value`` overrides (dotted keys, YAML values). They are validated by the
step's typed ``Config`` before anything is read or loaded; errors name the file, line and field.
Every setting is required (no hidden defaults), so a step's settings usually come from a file.
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


# action -> one-line help (``medreasoner data --help``); every data-engine step is an action.
ACTIONS = {
    "build-world": "generate the synthetic clinical world (all training and evaluation data of the tiny pipeline)",
    "generate": "sample answers to pool questions from a teacher endpoint or a local model",
    "filter": "keep the sampled answers worth training on (format, repetition, length, verified answer)",
    "dedup": "drop near-duplicate questions",
    "decontaminate": "drop training rows that overlap an evaluation set",
    "difficulty": "grade every question Basic, Intermediate or Advanced",
    "sample": "draw the SFT mix from verified answers, weighted by difficulty",
    "select_rl": "pick RL questions whose sampled answers are neither all right nor all wrong",
    "preferences": "build preference pairs (reference > correct > wrong answer) from sampled explanations",
    "vrm_data": "build training conversations for the verifier reward model",
    "dagger": "play training episodes with a model and let the expert take over from every state it reaches",
    "select_episodes": "pick S4 training cases whose sampled episodes are neither all right nor all wrong",
    "replay": "mix continued-pretraining text into SFT conversations, so SFT keeps what CPT taught",
}


def add_action_arguments(parser: argparse.ArgumentParser, action: str) -> None:
    """Register the arguments of ``data <action>``: the world builder's, or a data-engine step's."""
    if action == "build-world":
        parser.add_argument("--config", required=True, type=Path, help="world config YAML (see configs/world/)")
        parser.add_argument("--output", required=True, type=Path, help="output directory (replaced atomically)")
        return
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="config values, e.g. input=pool.jsonl threshold=0.8 (before, between or after "
                             "the options)")
    parser.add_argument("--config", type=Path, help="YAML file holding the step's settings (a recipe stage's config:)")
    parser.add_argument("--output", required=True, type=Path, help="output directory")
    parser.add_argument("--seed", type=int, default=0, help="seed for the step's random choices (default 0)")


def run(args: argparse.Namespace) -> int:
    """Dispatch to the chosen action; returns the exit status."""
    if args.action == "build-world":
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

    module, config = load_step_config(args.action, args.config, args.overrides)
    check_output_path(args.output, kind="dir")  # before a step loads any model
    args.output.mkdir(parents=True, exist_ok=True)
    random.seed(args.seed)

    def log(metrics: dict, step: int) -> None:
        del step  # one-shot steps log once; the figures go to the table below

    metrics = module.run(config, StageContext(run_dir=args.output.parent, out_dir=args.output, seed=args.seed, log=log))
    table = Table("metric", "value", title=f"{args.action} -> {args.output}")
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
    accuracy = Table("split", "cases", "Bayes-optimal (items)", "Bayes-optimal (all exams)", "prior only", "chance",
                     "S4 expert vs all-exams gold (exams)")
    for split, figures in manifest["accuracy"].items():
        if figures:
            accuracy.add_row(
                split,
                str(figures["num_cases"]),
                f"{figures['bayes_optimal_accuracy']:.3f}",
                f"{figures['bayes_optimal_accuracy_all_exams']:.3f}",
                f"{figures['prior_only_accuracy']:.3f}",
                f"{figures['chance_accuracy']:.3f}",
                f"{figures['expert_episode_accuracy']:.3f} ({figures['expert_episode_exams']:.2f})",
            )
    console.print(accuracy)
    return 0
