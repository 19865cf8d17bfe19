"""CLI conventions: overrides anywhere among the options, `--version`, deprecated spellings, choices, help.

Every case runs the CLI in-process through ``medreasoner.cli.main`` and trains nothing: recipes go
through ``validate``, or through ``run`` with an override the schema rejects before any stage starts.

Run: .venv/bin/python -m pytest tests/test_cli_conventions.py -q
"""

from __future__ import annotations

import json
import re
from importlib import metadata
from pathlib import Path

import pytest

from medreasoner.cli import COMMANDS, main, parse_args
from medreasoner.commands import calc, data
from medreasoner.data import STEPS

REPO = Path(__file__).resolve().parents[1]
SFT_RECIPE = str(REPO / "recipes" / "tiny" / "sft.yaml")
MCQ = str(REPO / "tests" / "fixtures" / "benchmarks" / "mcq.jsonl")


def exit_status(argv: list[str]) -> int:
    """The status of ``medreasoner ARGV``, whether main returns it or argparse exits with it."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return exit_.code


def error_lines(captured) -> list[str]:
    return [line for line in captured.err.splitlines() if line.strip()]


@pytest.mark.parametrize("command", ["validate", "run"])
def test_override_after_an_option_is_applied(command, tmp_path, capsys):
    # learning_rate=-1 is rejected by the schema: the error proves the override was read and applied
    # (before the fix argparse stopped at "unrecognized arguments"), and nothing ran.
    argv = [command, SFT_RECIPE, "--output", str(tmp_path / "run"), "sft.optim.learning_rate=-1"]
    assert exit_status(argv) == 2
    lines = error_lines(capsys.readouterr())
    assert len(lines) == 1 and "unrecognized" not in lines[0], lines
    assert "optim.learning_rate" in lines[0] and "sft.optim.learning_rate=-1" in lines[0]
    assert not (tmp_path / "run").exists()


def test_validate_accepts_overrides_before_between_and_after_options(tmp_path, capsys):
    for argv in (["validate", SFT_RECIPE, "seed=3", "--output", str(tmp_path)],
                 ["validate", SFT_RECIPE, "--output", str(tmp_path), "seed=3", "sft.optim.learning_rate=1e-3"],
                 ["validate", "--output", str(tmp_path), SFT_RECIPE, "seed=3"]):
        assert exit_status(argv) == 0, capsys.readouterr()
        assert "1/1 recipes valid" in capsys.readouterr().out


def test_run_parses_intermixed_overrides_and_options():
    args = parse_args(["run", "r.yaml", "seed=1", "--output", "out", "sft.optim.learning_rate=1e-4", "--force"])
    assert (args.recipe, args.overrides) == (Path("r.yaml"), ["seed=1", "sft.optim.learning_rate=1e-4"])
    assert args.output == Path("out") and args.force is True


def test_data_step_override_after_an_option_is_applied(tmp_path, capsys):
    argv = ["data", "dedup", f"input={MCQ}", "--output", str(tmp_path / "out"), "threshold=2"]
    assert exit_status(argv) == 2
    lines = error_lines(capsys.readouterr())
    assert len(lines) == 1 and "'threshold'" in lines[0] and "threshold=2" in lines[0], lines


def test_version_prints_the_installed_version(capsys):
    assert exit_status(["--version"]) == 0
    assert capsys.readouterr().out == f"medreasoner {metadata.version('medreasoner')}\n"


def _score(tmp_path: Path, name: str, *grading: str) -> dict:
    predictions = tmp_path / "predictions.jsonl"
    rows = [json.loads(line) for line in Path(MCQ).read_text(encoding="utf-8").splitlines() if line.strip()]
    predictions.write_text("".join(json.dumps({"id": r["id"], "response": "Answer: A"}) + "\n" for r in rows))
    output = tmp_path / f"{name}.json"
    assert main(["score", "--benchmark", "mcq", "--data", MCQ, "--predictions", str(predictions), *grading,
                 "--output", str(output)]) == 0
    return json.loads(output.read_text(encoding="utf-8"))


def test_deprecated_score_mode_still_works_and_warns(tmp_path, capsys):
    new = _score(tmp_path, "new", "--grading", "normalized")
    assert "deprecated" not in capsys.readouterr().err
    old = _score(tmp_path, "old", "--mode", "normalized")
    warnings = error_lines(capsys.readouterr())
    assert len(warnings) == 1 and warnings[0].startswith("warning: --mode is deprecated"), warnings
    assert "--grading" in warnings[0]
    assert old == new and old["mode"] == "normalized"  # the alias set the value, not the default (official)
    assert _score(tmp_path, "default")["mode"] == "official"


def test_dtype_is_a_choice(tmp_path, capsys):
    argv = ["eval", "--model", str(tmp_path), "--benchmark", "mcq", "--data", MCQ, "--dtype", "nonsense"]
    assert exit_status(argv) == 2
    lines = error_lines(capsys.readouterr())
    assert len(lines) == 1 and lines[0].startswith("error: ") and "--dtype" in lines[0], lines
    assert "bfloat16" in lines[0]  # the choices are named


def _help(argv: list[str], capsys) -> str:
    assert exit_status([*argv, "--help"]) == 0
    return capsys.readouterr().out


def help_pages(capsys) -> dict[str, str]:
    pages = {"medreasoner": _help([], capsys)}
    for name in COMMANDS:
        pages[name] = _help([name], capsys)
    for name, module in (("calc", calc), ("data", data)):
        for action in module.ACTIONS:
            pages[f"{name} {action}"] = _help([name, action], capsys)
    return pages


def test_help_is_in_user_terms(capsys):
    pages = help_pages(capsys)
    for name, text in pages.items():
        # No internal module paths or file names (medreasoner.commands.run, report_pipeline.py, ...).
        assert not re.search(r"medreasoner\.[a-z_]|\b\w+\.py\b|\bmodule\b|dispatcher", text), (name, text)
    for name in COMMANDS:
        assert "examples:\n  medreasoner " + name in pages[name], name
        assert re.search(rf"^ +{name} +\w", pages["medreasoner"], re.MULTILINE), name  # listed with its help
    assert "[--mode " not in pages["score"]  # the deprecated spelling works but is not advertised


def test_every_data_engine_step_is_a_data_action():
    assert set(data.ACTIONS) == {"build-world", *STEPS}
