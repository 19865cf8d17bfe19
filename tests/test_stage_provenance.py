"""A training stage's provenance is taken once: its model card repeats the stage manifest's commit,
versions and data hashes, and each data file is hashed once per stage.

The recipe is the cheapest one with a training stage: a dedup step over the SFT rows, then one SFT
step on a 0.5M-parameter model, trained on an external file and validated on the dedup step's output,
so the card shows both kinds of input (an external file's hash, an earlier stage's file).

Run: .venv/bin/python -m pytest tests/test_stage_provenance.py -q
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest
import yaml
from huggingface_hub import ModelCard

from medreasoner import files as files_module
from medreasoner import pipeline
from medreasoner.pipeline import run_recipe
from medreasoner.recipe import load_recipe
from medreasoner.stages.model_card import card_data_files
from stage_testing import build_model, cpu_optim, write_world


def recipe(tmp_path: Path, model: Path, train: Path) -> Path:
    pool = tmp_path / "pool.jsonl"  # a copy: the dedup stage's own manifest would hash `train` too
    pool.write_bytes(train.read_bytes())
    stages = [
        {"name": "clean", "kind": "dedup", "config": {
            "input": str(pool), "text_fields": ["messages"], "message_roles": ["user"], "threshold": 0.9, "shingle": 5,
            "char_shingle": 10, "num_perm": 128, "false_negative_weight": 0.9, "seed": 1, "embedding": None}},
        {"name": "sft", "kind": "sft", "config": {
            "model": {"path": str(model), "dtype": "float32", "chat_template": "model"},
            "data": {"train": str(train), "validation": "${clean}/data.jsonl", "eval_steps": 1,
                     "max_length": 64, "packing": False, "assistant_only_loss": False},
            "optim": cpu_optim(max_steps=1, save_steps=1)}},
    ]
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({"name": "prov", "seed": 0, "logging": {"report_to": []}, "stages": stages}))
    return path


@pytest.mark.slow
def test_card_repeats_the_manifest_and_each_data_file_is_hashed_once(tmp_path, monkeypatch):
    files = write_world(tmp_path / "world", num_rows=8)
    model = build_model(tmp_path, files)
    hashed: Counter[str] = Counter()
    real_sha256 = files_module.file_sha256

    def counting_sha256(path):
        hashed[str(path)] += 1
        return real_sha256(path)

    # The manifest's and the card's hashing go through files.path_sha256 (data files) and
    # pipeline's own file_sha256 (stage manifests) -> count both names.
    monkeypatch.setattr(files_module, "file_sha256", counting_sha256)
    monkeypatch.setattr(pipeline, "file_sha256", counting_sha256)
    run_dir = tmp_path / "run"
    run_recipe(load_recipe(recipe(tmp_path, model, files["sft"]), [], run_dir=run_dir), force=False,
               echo=lambda line: None)

    manifest = json.loads((run_dir / "sft" / "stage_manifest.json").read_text())
    lineage = ModelCard.load(run_dir / "sft" / "README.md").data.to_dict()["medreasoner"]
    assert lineage["git_commit"] == manifest["git_commit"]
    assert lineage["versions"] == manifest["versions"]
    inputs = {i["field"]: i for i in manifest["inputs"]}
    validation = run_dir / "clean" / "data.jsonl"
    assert lineage["data"] == [
        {"field": "data.train", "path": str(files["sft"]), "sha256": inputs["data.train"]["sha256"]},
        # The manifest links the earlier stage by its manifest's hash; the card shows the file's own bytes.
        {"field": "data.validation", "path": str(validation),
         "sha256": hashlib.sha256(validation.read_bytes()).hexdigest()},
    ]
    assert inputs["data.train"]["sha256"] == hashlib.sha256(files["sft"].read_bytes()).hexdigest()
    assert inputs["data.validation"]["stage"] == "clean"
    assert hashed[str(files["sft"])] == 1  # for the manifest, and the card reused it
    assert hashed[str(validation)] == 1  # for the card only: the manifest names the stage that wrote it


def test_card_data_keeps_the_data_section_and_hashes_only_stage_outputs(tmp_path):
    produced = tmp_path / "earlier" / "rows.jsonl"
    produced.parent.mkdir()
    produced.write_text('{"a": 1}\n')
    inputs = [
        {"field": "model.path", "path": "/m", "sha256": "m" * 64},
        {"field": "data.train", "path": "/t.jsonl", "sha256": "t" * 64},
        {"field": "data.files[0]", "path": str(produced), "stage": "earlier", "manifest_sha256": "x" * 64},
        {"field": "data.validation", "path": str(tmp_path / "earlier" / "absent.jsonl"), "stage": "earlier",
         "manifest_sha256": "x" * 64},
        {"field": "database", "path": "/d", "sha256": "d" * 64},
    ]
    assert card_data_files(inputs) == [
        {"field": "data.train", "path": "/t.jsonl", "sha256": "t" * 64},
        {"field": "data.files[0]", "path": str(produced), "sha256": hashlib.sha256(produced.read_bytes()).hexdigest()},
    ]
