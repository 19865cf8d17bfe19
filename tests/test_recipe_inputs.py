"""Files a recipe reads from outside its run: the fields a stage's Config types `InputPath` are found (free
text is not), `run` refuses a missing one at its recipe line before any stage runs, a finished stage does not
need its inputs again, and `validate --inputs` lists every missing one. Uses the two cheap real stages
(world, tiny_model).

Run: .venv/bin/python -m pytest tests/test_recipe_inputs.py -q
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from medreasoner.cli import main
from medreasoner.errors import InputError
from medreasoner.pipeline import run_recipe
from medreasoner.recipe import load_recipe
from medreasoner.recipe_inputs import input_paths, looks_local

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("value, local", [
    ("runs/tiny_s4/sft", True),            # another run's stage: two separators
    ("/data/pool", True), ("./model", True), ("../model", True), ("~/model", True),
    ("train.jsonl", True), ("notes.TXT", True),
    ("Qwen/Qwen2.5-32B", False),           # may be a Hub id, which the loader resolves
    ("https://api.example.org/v1/chat", False), ("model", False), ("", False),
])
def test_what_counts_as_a_local_path(value, local):
    assert looks_local(value) is local


def test_declared_input_fields_are_found_in_sections_lists_and_dicts():
    regex = "<think>.*</think>/a/b/<answer>.*</answer>"  # free text with slashes: an optim pass-through to TRL
    grpo = load_recipe(REPO / "recipes/tiny/s4_kl_validation.yaml",
                       ["grpo_kl004.optim.deepspeed=configs/ds.json",
                        f"grpo_kl004.optim.vllm_structured_outputs_regex={regex}"]).stages[0]
    assert dict(input_paths(grpo.config)) == {("model", "path"): "runs/tiny_s4/sft",
                                              ("data", "train"): "runs/tiny_s4/world/env/train.jsonl",
                                              ("optim", "deepspeed"): "configs/ds.json"}
    probe = load_recipe(REPO / "recipes/tiny/probe_validation.yaml").stages[0]  # a dict of inputs
    assert [loc for loc, _ in input_paths(probe.config)] == [("model", "path"), ("items",), ("subsets", "cpt_only")]
    corpus = load_recipe(REPO / "recipes/tiny/sft.yaml").stages[2]  # a list of inputs
    assert [loc for loc, _ in input_paths(corpus.config)] == [("tokenizer", "corpus", 0), ("tokenizer", "corpus", 1)]


def write_recipe(path: Path, corpus: list[str]) -> Path:
    world = yaml.safe_load((REPO / "recipes" / "tiny" / "sft.yaml").read_text())["stages"][0]["config"]
    world["num_cases"] = {"train": 12, "validation": 4, "test": 4, "rl": 0}
    world["num_cpt_case_reports"] = 4
    path.write_text(yaml.safe_dump({
        "name": "inputs", "seed": 0,
        "stages": [
            {"name": "world", "kind": "world", "config": world},
            {"name": "base", "kind": "tiny_model", "config": {
                "tokenizer": {"corpus": corpus, "max_rows_per_file": 50, "vocab_size": 400},
                "model": {"size": "tiny-0.5m", "max_position_embeddings": 64}}},
        ],
    }, sort_keys=False))
    return path


def test_run_refuses_a_missing_outside_input_before_any_stage(tmp_path):
    # A first run makes the file the second recipe reads from outside its own run.
    first = write_recipe(tmp_path / "first.yaml", ["${world}/cpt/train.jsonl"])
    run_recipe(load_recipe(first, run_dir=tmp_path / "first"), force=False, echo=lambda _: None)
    outside = tmp_path / "first" / "world" / "sft" / "train.jsonl"
    second = write_recipe(tmp_path / "second.yaml", ["${world}/cpt/train.jsonl", str(outside)])
    run_dir = tmp_path / "second"
    hidden = outside.rename(outside.with_suffix(".moved"))

    with pytest.raises(InputError) as error:
        run_recipe(load_recipe(second, run_dir=run_dir), force=False, echo=lambda _: None)
    line = next(n for n, text in enumerate(second.read_text().splitlines(), 1) if str(outside) in text)
    assert str(error.value).startswith(f"{second}:{line}: field 'stages[1].config.tokenizer.corpus[1]': {outside} "
                                       "does not exist")
    assert not run_dir.exists()  # refused before the world stage ran

    hidden.rename(outside)
    run_recipe(load_recipe(second, run_dir=run_dir), force=False, echo=lambda _: None)
    assert (run_dir / "base" / "stage_manifest.json").is_file()
    # Finished stages do not need their inputs again: a resumed run skips them without looking.
    outside.unlink()
    lines: list[str] = []
    run_recipe(load_recipe(second, run_dir=run_dir), force=False, echo=lines.append)
    assert all("finished earlier" in line for line in lines) and len(lines) == 2
    # Rebuilding one reaches any later stage, so every stage's inputs are needed again.
    with pytest.raises(InputError, match="does not exist"):
        run_recipe(load_recipe(second, run_dir=run_dir), force=False, echo=lambda _: None, rerun=("world",))
    # So does --force: the changed world is rebuilt, and then base, which reads it.
    world_manifest = (run_dir / "world" / "stage_manifest.json").read_text()
    with pytest.raises(InputError, match="corpus\\[1\\]'.* does not exist"):
        run_recipe(load_recipe(second, ["world.num_cpt_case_reports=5"], run_dir=run_dir), force=True,
                   echo=lambda _: None)
    assert (run_dir / "world" / "stage_manifest.json").read_text() == world_manifest  # refused before it


def test_validate_inputs_lists_every_missing_one(tmp_path, capsys):
    missing = [str(tmp_path / "gone" / "a" / "train.jsonl"), str(tmp_path / "gone" / "b" / "train.jsonl")]
    recipe = write_recipe(tmp_path / "needs.yaml", ["${world}/cpt/train.jsonl", *missing])
    assert main(["validate", str(recipe)]) == 0  # without --inputs, paths need not exist yet
    capsys.readouterr()
    assert main(["validate", "--inputs", str(recipe)]) == 2
    captured = capsys.readouterr()
    fails = re.findall(r"^FAIL .*field 'stages\[1\]\.config\.tokenizer\.corpus\[(\d)\]': (\S+) does not exist",
                       captured.out, flags=re.M)
    assert fails == [("1", missing[0]), ("2", missing[1])]
    assert "0/1 recipes valid" in captured.out and "1 more problem" in captured.err
    # An override that names a missing file is reported as that override.
    assert main(["validate", "--inputs", str(recipe), f"base.tokenizer.corpus=[{tmp_path}/x/y/z.jsonl]"]) == 2
    assert "set by the command-line override" in capsys.readouterr().out


@pytest.mark.parametrize("damage, problem", [
    ('{"stage": "world", "kind": "wor', r"stage_manifest.json:1: not a stage manifest \(Unterminated string"),
    ("[1, 2]", r"stage_manifest.json: not a stage manifest \(a JSON list, not an object\)"),
    ('{"stage": "world"}', r"stage_manifest.json: field 'kind': not a stage manifest \(no kind, config, inputs\)"),
])
def test_a_damaged_manifest_is_one_line_naming_it_not_a_traceback(tmp_path, capsys, damage, problem):
    recipe = write_recipe(tmp_path / "r.yaml", ["${world}/cpt/train.jsonl"])
    run_dir = tmp_path / "run"
    assert main(["run", str(recipe), "--output", str(run_dir)]) == 0
    manifest = run_dir / "world" / "stage_manifest.json"
    manifest.write_text(damage)
    base = (run_dir / "base" / "stage_manifest.json").read_bytes()
    capsys.readouterr()
    for command in ("run", "validate"):
        code = main([command, *(["--inputs"] if command == "validate" else []), str(recipe), "--output", str(run_dir)])
        captured = capsys.readouterr()
        assert code == 2, (command, captured)
        assert "Traceback" not in captured.err
        assert re.search(problem + r".*; delete .*world and run again with --force", captured.err + captured.out), captured
    assert manifest.read_text() == damage  # nothing was rebuilt or rewritten
    assert (run_dir / "base" / "stage_manifest.json").read_bytes() == base
    # The advice works: the stage and the one that reads it are rebuilt.
    shutil.rmtree(run_dir / "world")
    assert main(["run", str(recipe), "--output", str(run_dir), "--force"]) == 0
    assert json.loads(manifest.read_text())["kind"] == "world"
    assert (run_dir / "base" / "stage_manifest.json").read_bytes() != base
