"""The `medreasoner` command: a thin dispatcher over one module per sub-command.

Each module in :mod:`medreasoner.commands` exposes ``add_arguments(parser)`` and ``run(args) -> int``.
Only the module of the command being run is imported, so ``medreasoner score`` or ``--help`` never
pay for importing torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from medreasoner.errors import InputError

# name -> (module, one-line help); the whole registry: add a command by adding a line and a module.
COMMANDS = {
    "run": ("medreasoner.commands.run", "run a recipe's stages in order (skips finished, resumes interrupted)"),
    "validate": ("medreasoner.commands.validate", "check recipes against their typed schemas"),
    "eval": ("medreasoner.commands.eval", "generate answers with a model or endpoint and score them"),
    "score": ("medreasoner.commands.score", "score existing predictions against a benchmark (official rules)"),
    "report": ("medreasoner.commands.report", "write Markdown/HTML tables and plots for evaluation runs"),
    "serve": ("medreasoner.commands.serve", "serve a local model over an OpenAI-compatible HTTP API"),
    "calc": ("medreasoner.commands.calc", "medical calculators: check against MedCalc-Bench, compute"),
    "data": ("medreasoner.commands.data", "build datasets: the synthetic clinical world"),
}


class _Parser(argparse.ArgumentParser):
    """argparse with the project's one-line ``error:`` message (status 2) instead of usage + message."""

    def error(self, message: str):
        print(f"error: {self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Parser listing every command; only ``command``'s module is imported to add its arguments."""
    parser = _Parser(prog="medreasoner", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, summary) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=summary, description=summary)
        if name == command:
            module = importlib.import_module(module_name)
            module.add_arguments(command_parser)
            command_parser.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit status."""
    argv = sys.argv[1:] if argv is None else argv
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    args = build_parser(command if command in COMMANDS else None).parse_args(argv)
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
