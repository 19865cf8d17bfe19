"""Pipeline runner: stage outputs, manifests and lineage, skipping finished stages, refusing or rebuilding
changed ones, resuming interrupted ones in place. Uses the two cheap real stages (world, tiny_model).

Run: .venv/bin/python -m pytest tests/test_pipeline.py -q
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
from pathlib import Path

import pytest
import torch
import yaml

from medreasoner.cli import main
from medreasoner.errors import InputError
from medreasoner.pipeline import file_sha256, run_recipe
from medreasoner.recipe import load_recipe

REPO = Path(__file__).resolve().parents[1]


def recipe_text() -> str:
    world = yaml.safe_load((REPO / "recipes" / "tiny" / "sft.yaml").read_text())["stages"][0]["config"]
    world["num_cases"] = {"train": 12, "validation": 4, "test": 4, "rl": 0}
    world["num_cpt_case_reports"] = 4
    return yaml.safe_dump({
        "name": "pipe",
        "seed": 1,
        "logging": {"report_to": ["tensorboard"]},
        "stages": [
            {"name": "world", "kind": "world", "config": world},
            {"name": "base", "kind": "tiny_model", "config": {
                "tokenizer": {"corpus": ["${world}/cpt/train.jsonl", "${world}/sft/train.jsonl"],
                              "max_rows_per_file": 50, "vocab_size": 400},
                "model": {"size": "tiny-0.5m", "max_position_embeddings": 64}}},
        ],
    }, sort_keys=False)


@pytest.fixture()
def recipe_path(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.yaml"
    path.write_text(recipe_text())
    return path


def run(recipe_path: Path, run_dir: Path, overrides=(), force=False) -> list[str]:
    lines: list[str] = []
    run_recipe(load_recipe(recipe_path, list(overrides), run_dir=run_dir), force=force, echo=lines.append)
    return lines


def manifest(stage_dir: Path) -> dict:
    return json.loads((stage_dir / "stage_manifest.json").read_text())


def test_outputs_lineage_skip_refuse_force(recipe_path, tmp_path):
    run_dir = tmp_path / "run"
    run(recipe_path, run_dir)

    world, base = manifest(run_dir / "world"), manifest(run_dir / "base")
    assert (run_dir / "recipe.yaml").is_file()
    assert yaml.safe_load((run_dir / "base" / "resolved_config.yaml").read_text())["config"] == base["config"]
    assert base["config"]["tokenizer"]["corpus"][0] == str(run_dir / "world" / "cpt" / "train.jsonl")
    assert (run_dir / "base" / "config.json").is_file() and (run_dir / "base" / "tokenizer.json").is_file()
    # Lineage: the model stage names the world stage it read and the hash of the world's manifest.
    assert {i["stage"] for i in base["inputs"]} == {"world"}
    assert all(i["manifest_sha256"] == file_sha256(run_dir / "world" / "stage_manifest.json") for i in base["inputs"])
    assert world["inputs"] == [] and world["final_metrics"]["count/sft/train.jsonl"] == 12
    assert base["versions"]["torch"] and base["versions"]["trl"] and base["wall_time_s"] > 0
    # The process's memory high-water mark (MiB) only grows: a run's peak is its largest manifest's.
    now_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert 50 < world["peak_rss_mib"] <= base["peak_rss_mib"] <= now_mib + 0.1
    # One process; a data stage would run on rank 0 alone under a launcher (tests/test_multiprocess.py).
    # torch's intra-op threads: results change with them, so a rebuild can be compared (docs/recipes.md).
    assert base["launch"] == {"world_size": 1, "ran_on": "rank 0", "backend": None,
                              "torch_threads": torch.get_num_threads()}
    # The processor, whose kernels also change results across machines: its name and torch's dispatch.
    assert base["machine"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert base["machine"]["cpu"] and base["machine"]["cpu_count"] == os.cpu_count()
    assert world["machine"]["cpu"] == base["machine"]["cpu"]
    assert not list((run_dir / "base").glob(".build*"))  # the model's scratch directory is gone
    # The world stage logged its counts: metrics.jsonl and TensorBoard.
    logged = [json.loads(line) for line in (run_dir / "world" / "metrics.jsonl").read_text().splitlines()]
    assert logged[0]["step"] == 0 and logged[0]["count/sft/train.jsonl"] == 12
    assert list((run_dir / "world" / "tb").glob("events.out.tfevents.*"))

    # Same recipe again: both stages skipped, nothing in their directories rewritten.
    def stage_files():
        return {p: p.stat().st_mtime_ns for d in ("world", "base") for p in (run_dir / d).rglob("*") if p.is_file()}

    before = stage_files()
    lines = run(recipe_path, run_dir)
    assert sum("finished earlier, skipping" in line for line in lines) == 2
    assert stage_files() == before

    # A changed config of a finished stage is refused, naming the change...
    with pytest.raises(InputError, match=r"different config \(config.tokenizer.vocab_size: 400 -> 500\).*--force"):
        run(recipe_path, run_dir, ["base.tokenizer.vocab_size=500"])
    # ...and rebuilt with --force, leaving the up-to-date world alone.
    lines = run(recipe_path, run_dir, ["base.tokenizer.vocab_size=500"], force=True)
    assert any("world (world): finished earlier" in line for line in lines)
    assert manifest(run_dir / "base")["config"]["tokenizer"]["vocab_size"] == 500

    # A rebuilt input makes the later stage stale: delete the world, rerun.
    for path in sorted((run_dir / "world").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (run_dir / "world").rmdir()
    with pytest.raises(InputError, match="built from an earlier version of world"):
        run(recipe_path, run_dir, ["base.tokenizer.vocab_size=500"])
    assert (run_dir / "world" / "stage_manifest.json").is_file()  # the world itself was rebuilt
    run(recipe_path, run_dir, ["base.tokenizer.vocab_size=500"], force=True)
    assert manifest(run_dir / "base")["inputs"][0]["manifest_sha256"] == file_sha256(run_dir / "world" / "stage_manifest.json")


def test_interrupted_stage_reruns_in_place_and_appends_metrics(recipe_path, tmp_path):
    run_dir = tmp_path / "run"
    path = tmp_path / "world_only.yaml"
    data = yaml.safe_load(recipe_text())
    data["stages"] = data["stages"][:1]
    path.write_text(yaml.safe_dump(data))
    run(path, run_dir)
    # Simulate a kill before the end: the manifest (written last) is missing; other files stay.
    (run_dir / "world" / "stage_manifest.json").unlink()
    (run_dir / "world" / "keep.me").write_text("not wiped")
    lines = run(path, run_dir)
    assert any("interrupted earlier; resuming in place" in line for line in lines)
    assert (run_dir / "world" / "keep.me").read_text() == "not wiped"
    assert len((run_dir / "world" / "metrics.jsonl").read_text().splitlines()) == 2  # appended
    assert (run_dir / "world" / "stage_manifest.json").is_file()

    # Started (not finished) with another config: refused too.
    (run_dir / "world" / "stage_manifest.json").unlink()
    with pytest.raises(InputError, match=r"was started with a different config \(config.seed: 0 -> 5\)"):
        run(path, run_dir, ["world.seed=5"])


@pytest.mark.skipif(importlib.util.find_spec("wandb") is not None, reason="wandb is installed")
def test_missing_tracker_is_an_error_before_any_stage(recipe_path, tmp_path):
    with pytest.raises(InputError, match=r"wandb is not installed") as caught:
        run(recipe_path, tmp_path / "run", ["logging.report_to=[wandb]"])
    assert caught.value.field == "logging.report_to"
    assert not (tmp_path / "run").exists()


def test_cli_run_prints_config_and_reports_errors_without_traceback(recipe_path, tmp_path, capsys):
    assert main(["run", str(recipe_path), "base.tokenizer.vocab_size=lots", "--output", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "field 'stages[1].config.tokenizer.vocab_size'" in err and "Traceback" not in err
    assert main(["run", str(recipe_path), "stages.0.config.num_cases.train=6", "--output", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "train: 6" in out  # the resolved config is printed at start
    assert "[2/2] base (tiny_model): done" in out


def test_rerun_rebuilds_named_stages_and_what_reads_them(recipe_path, tmp_path):
    """--rerun STAGE rebuilds a finished, unchanged stage (its code changed) and the stages that read it, without
    --force; an unknown name is refused before any stage runs; a changed config still needs --force."""
    run_dir = tmp_path / "run"
    run(recipe_path, run_dir)
    before = {name: manifest(run_dir / name)["build_id"] for name in ("world", "base")}
    (run_dir / "base" / "stray.txt").write_text("from the previous build")
    lines: list[str] = []
    run_recipe(load_recipe(recipe_path, run_dir=run_dir), force=False, echo=lines.append, rerun=("world",))
    assert any("world (world): named by --rerun; --rerun: rebuilding" in line for line in lines)
    assert any("base (tiny_model)" in line and "--rerun: rebuilding" in line for line in lines), lines
    assert not (run_dir / "base" / "stray.txt").exists()  # rebuilt from scratch
    assert manifest(run_dir / "base")["inputs"][0]["manifest_sha256"] == file_sha256(run_dir / "world" / "stage_manifest.json")
    after = {name: manifest(run_dir / name)["build_id"] for name in ("world", "base")}
    assert all(after[name] != before[name] for name in after)

    lines = []  # only the named stage when nothing reads it
    run_recipe(load_recipe(recipe_path, run_dir=run_dir), force=False, echo=lines.append, rerun=("base",))
    assert any("world (world): finished earlier" in line for line in lines)
    assert any("base (tiny_model): named by --rerun" in line for line in lines)

    with pytest.raises(InputError, match="--rerun names no stage of this recipe: sft"):
        run_recipe(load_recipe(recipe_path, run_dir=run_dir), force=False, echo=print, rerun=("sft",))
    with pytest.raises(InputError, match="different config.*--force"):
        run_recipe(load_recipe(recipe_path, ["base.tokenizer.vocab_size=500"], run_dir=run_dir), force=False,
                   echo=print, rerun=("base",))
    assert main(["run", str(recipe_path), "--output", str(run_dir), "--rerun", "base"]) == 0
