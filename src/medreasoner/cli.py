"""The ``medreasoner`` command line: the command list, ``--version``, and parsing of each command.

Each module in :mod:`medreasoner.commands` exposes ``run(args) -> int`` and either
``add_arguments(parser)`` or, for a command made of actions (``calc``, ``data``), ``ACTIONS``
(action -> one-line help) and ``add_action_arguments(parser, action)``. Only the module of the
command being run is imported, so ``medreasoner score`` or ``--help`` never pay for importing torch.

A command's own arguments are parsed with :meth:`argparse.ArgumentParser.parse_intermixed_args`,
so positionals (a recipe's ``key=value`` overrides) may come before, between or after the options.
argparse cannot do that on a parser with sub-commands, which is why the command (and the action)
is picked first with a parser that only lists them, and its arguments get a parser of their own.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass
from importlib import metadata

from medreasoner.errors import InputError


@dataclass(frozen=True)
class Command:
    """One sub-command: the module that implements it, its one-line help and its main examples."""

    module: str
    summary: str
    examples: tuple[str, ...]


# The whole registry: add a command by adding a line and a module.
COMMANDS = {
    "run": Command("medreasoner.commands.run",
                   "train and evaluate: run every stage of a recipe, resuming where an earlier run stopped",
                   ("medreasoner run recipes/tiny/pipeline.yaml",
                    "medreasoner run recipes/tiny/sft.yaml --output runs/sft_lr1e-3 sft.optim.learning_rate=1e-3")),
    "validate": Command("medreasoner.commands.validate",
                        "check recipes for mistakes (with the same overrides as run) without running anything",
                        ("medreasoner validate", "medreasoner validate recipes/tiny/sft.yaml seed=1")),
    "eval": Command("medreasoner.commands.eval",
                    "answer a benchmark with a local model or an OpenAI-compatible endpoint, and score the answers",
                    (("medreasoner eval --model runs/tiny_pipeline/sft --benchmark medqa --data test.jsonl "
                      "--mode both --output runs/eval/sft"),)),
    "score": Command("medreasoner.commands.score",
                     "score answers that already exist (yours, or a benchmark's published outputs)",
                     (("medreasoner score --benchmark medcalc --data test_data.csv --predictions answers.jsonl "
                       "--grading official --output results.json"),)),
    "report": Command("medreasoner.commands.report",
                      "compare evaluation results: Markdown and HTML tables, plots, provenance",
                      ("medreasoner report runs/eval/sft runs/eval/rpo --output reports/sft_vs_rpo",)),
    "serve": Command("medreasoner.commands.serve", "serve a local model over an OpenAI-compatible HTTP API",
                     ("medreasoner serve --model runs/tiny_pipeline/sft --port 8000",)),
    "calc": Command("medreasoner.commands.calc",
                    "medical calculators: list them, compute one, check them against MedCalc-Bench",
                    ("medreasoner calc list",
                     "medreasoner calc compute 6 --entities '{\"weight\": [70, \"kg\"], \"height\": [175, \"cm\"]}'")),
    "data": Command("medreasoner.commands.data",
                    "build training data: the synthetic clinical world, or one data-engine step on its own",
                    ("medreasoner data build-world --config configs/world/tiny.yaml --output runs/world-tiny",
                     "medreasoner data dedup --config configs/data/dedup.yaml --output runs/pool_dedup threshold=0.95")),
}

DESCRIPTION = ("Train medical reasoning models from recipes, evaluate them (or any OpenAI-compatible endpoint) "
               "on medical benchmarks, and report the results.")
EXAMPLES = ("medreasoner run recipes/tiny/pipeline.yaml            # the tiny CPU pipeline, world to report",
            "medreasoner report runs/tiny_pipeline --output runs/tiny_pipeline/report",
            "medreasoner eval --model runs/tiny_pipeline/sft --benchmark medqa --data test.jsonl --mode both")


class _Parser(argparse.ArgumentParser):
    """argparse with the project's one-line ``error:`` message (status 2) instead of usage + message."""

    def error(self, message: str):
        print(f"error: {self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


class DeprecatedAlias(argparse.Action):
    """An option's old spelling, kept working for one release: it stores into the new option's
    destination and prints a one-line deprecation warning on stderr. Hidden from ``--help``.

    Register the new option first (its default is the one that applies) and pass
    ``replacement="--new-name"`` to ``add_argument``.
    """

    def __init__(self, option_strings, dest, *, replacement: str, **kwargs):
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, default=argparse.SUPPRESS, **kwargs)
        self.replacement = replacement

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"warning: {option_string} is deprecated and will be removed in the next release; "
              f"use {self.replacement}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def package_version() -> str:
    """The installed medreasoner version (``unknown`` when run from a source tree that is not installed)."""
    try:
        return metadata.version("medreasoner")
    except metadata.PackageNotFoundError:
        return "unknown"


def _examples(lines: tuple[str, ...]) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def build_parser() -> argparse.ArgumentParser:
    """``medreasoner [--version] COMMAND``: lists the commands; a command's arguments are parsed later."""
    parser = _Parser(prog="medreasoner", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
                     epilog=_examples(EXAMPLES) + "\n\n'medreasoner COMMAND --help' shows a command's options "
                     "and examples.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands")
    for name, command in COMMANDS.items():
        sub.add_parser(name, help=command.summary, add_help=False)
    return parser


def _split(argv: list[str]) -> tuple[list[str], list[str]]:
    """(the arguments up to and including the first one that is not an option, the rest)."""
    for index, arg in enumerate(argv):
        if not arg.startswith("-"):
            return argv[:index + 1], argv[index + 1:]
    return argv, []


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse a whole command line; ``args._module`` is the command's module. Exits (status 2 with one
    ``error:`` line) on a usage error, and (status 0) after ``--help`` or ``--version``."""
    head, rest = _split(argv)
    name = build_parser().parse_args(head).command
    command = COMMANDS[name]
    module = importlib.import_module(command.module)
    parser = _Parser(prog=f"medreasoner {name}", description=command.summary, epilog=_examples(command.examples),
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = getattr(module, "ACTIONS", None)
    if actions is None:
        module.add_arguments(parser)
        args = parser.parse_intermixed_args(rest)
    else:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION", title="actions")
        for action, summary in actions.items():
            sub.add_parser(action, help=summary, add_help=False)
        head, rest = _split(rest)
        action = parser.parse_args(head).action
        parser = _Parser(prog=f"medreasoner {name} {action}", description=actions[action])
        module.add_action_arguments(parser, action)
        args = parser.parse_intermixed_args(rest)
        args.action = action
    args._module = module
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit status."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return int(args._module.run(args) or 0)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        # Last resort for a file-system refusal the checks above missed (disk full, permissions): still
        # one line naming the file. Commands check their output paths up front, so this is rare.
        if error.filename is None:
            raise
        print(f"error: {error.filename}: {error.strerror or error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
