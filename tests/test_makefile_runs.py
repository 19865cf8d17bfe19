"""The Makefile's `medreasoner run` commands validate, overrides included.

`make validation` points the validation recipes at each reproduce seed through key=value overrides that
name stages; a stage renamed in a recipe would break the target only when someone ran it (an hour after
`make reproduce`). `make -n` prints the commands without running them.

Run: .venv/bin/python -m pytest tests/test_makefile_runs.py -q
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from medreasoner.recipe import load_recipe

ROOT = Path(__file__).resolve().parents[1]


def run_commands(target: str) -> list[list[str]]:
    """The argument lists of the `medreasoner run` commands that `make <target>` would execute."""
    # The install stamp may be older than pyproject.toml; -o treats it as up to date, so only the target's own
    # commands print.
    printed = subprocess.run(["make", "-n", "-o", ".venv/.installed", target], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout
    commands = [shlex.split(line) for line in printed.splitlines() if " run " in line]
    return [words[words.index("run") + 1:] for words in commands if words[0].endswith("medreasoner")]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("target, count", [("demo", 1), ("reproduce", 3), ("s4", 12), ("validation", 39),
                                           ("heldout", 3), ("rpo_temperature_final", 3)])
def test_make_targets_run_recipes_that_validate_with_their_overrides(target, count):
    commands = run_commands(target)
    assert len(commands) == count
    for args in commands:
        recipe, rest = args[0], args[1:]
        overrides = [a for i, a in enumerate(rest) if "=" in a and rest[i - 1] != "--output"]
        recipe_obj = load_recipe(ROOT / recipe, overrides)  # raises on an override naming no stage or field
        seed = next((a for a in overrides if a.startswith("seed=")), "seed=0").split("=")[1]
        if target in ("validation", "heldout"):  # every seed's run reads that seed's reproduce models
            paths = [a.split("=", 1)[1] for a in overrides if a.split("=")[0].endswith((".model", ".path", ".train", ".input"))]
            assert paths and all(p.startswith(f"runs/reproduce_s{seed}/") for p in paths), args
            assert recipe_obj.seed == int(seed)
        if target == "rpo_temperature_final":  # that seed's reproduce models and its validation run's arms
            models = [s.config.model for s in recipe_obj.stages if s.kind == "eval"]
            assert len(models) == 6 and all(m.startswith((f"runs/reproduce_s{seed}/",
                                                          f"runs/validation/rpo_temperature_s{seed}/")) for m in models)
            assert recipe_obj.seed == int(seed)
        if target == "heldout":  # and no eval or probe stage is left on seed 0's model
            models = [s.config.model if s.kind == "eval" else s.config.model.path
                      for s in recipe_obj.stages if s.kind in ("eval", "probe")]
            assert len(models) == 11 and all(m.startswith(f"runs/reproduce_s{seed}/") for m in models), args
