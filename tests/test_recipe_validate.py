"""`medreasoner validate`: every shipped recipe loads and type-checks; broken recipes are listed.

Run: .venv/bin/python -m pytest tests/test_recipe_validate.py -q
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from medreasoner.cli import main

REPO = Path(__file__).resolve().parents[1]


def test_every_shipped_recipe_validates(capsys, monkeypatch):
    monkeypatch.chdir(REPO)  # no argument: every *.yaml under ./recipes
    status = main(["validate"])
    out = capsys.readouterr().out
    shipped = sorted(str(p.relative_to(REPO)) for p in (REPO / "recipes").rglob("*.yaml"))
    assert status == 0, out
    assert sorted(re.findall(r"^ok\s+(\S+)", out, flags=re.M)) == shipped
    assert f"{len(shipped)}/{len(shipped)} recipes valid" in out
    assert {"recipes/tiny/pipeline.yaml", "recipes/wingpt3/s1_sft.yaml", "recipes/preferred_medllm/rpo.yaml"} <= set(shipped)


def test_shipped_recipes_start_with_purpose_and_launch_comment():
    for path in (REPO / "recipes").rglob("*.yaml"):
        header = path.read_text().split("\nname:")[0]
        assert header.startswith("#") and "medreasoner" in header and "run" in header, path


def test_scale_recipes_mark_unstated_values():
    s1 = (REPO / "recipes" / "wingpt3" / "s1_sft.yaml").read_text()
    # Paper values (WiNGPT-3.0 sec. 4.2) plain; the batch size is not in the paper.
    assert re.search(r"learning_rate: 1\.0e-5\n", s1) and re.search(r"warmup_steps: 500\n", s1)
    assert re.search(r"min_lr_rate: 0\.1 ", s1) and re.search(r"num_train_epochs: 2\n", s1)
    assert re.search(r"per_device_train_batch_size: 1 +# assumed", s1)


def test_failures_are_listed_and_exit_nonzero(tmp_path, capsys):
    good = REPO / "recipes" / "wingpt3" / "merge.yaml"
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("weight: 0.5\n        - path", "weigth: 0.5\n        - path"))
    assert main(["validate", str(good), str(bad)]) == 2
    out = capsys.readouterr().out
    assert re.search(rf"FAIL {re.escape(str(bad))}:\d+: field 'stages\[0\]\.config\.models\[0\]\.weigth'", out)
    assert "1/2 recipes valid" in out
    assert main(["validate", str(tmp_path / "missing.yaml")]) == 2
    assert "no such recipe" in capsys.readouterr().err
    assert os.path.exists(good)


def test_duplicate_eval_benchmark_names_are_refused_at_their_line(tmp_path, capsys):
    shipped = REPO / "recipes" / "tiny" / "eval.yaml"
    text = shipped.read_text()
    assert main(["validate", str(shipped)]) == 0
    capsys.readouterr()
    duplicate = tmp_path / "duplicate.yaml"
    duplicate.write_text(text.replace("name: items_diagnosis, kind: items", "name: items_mcq, kind: items"))
    line = next(n for n, row in enumerate(duplicate.read_text().splitlines(), 1) if "test_diagnosis.jsonl" in row)
    assert main(["validate", str(duplicate)]) == 2  # bad input: status 2, like every command
    out = capsys.readouterr().out
    assert f"FAIL {duplicate}:{line}: field 'stages[2].config.benchmarks[1].name': benchmark name 'items_mcq' is used twice" in out
    # The old form (two entries both named after the benchmark) is refused the same way.
    old = tmp_path / "old.yaml"
    old.write_text(text.replace("name: items_mcq, kind: items", "name: items").replace("name: items_diagnosis, kind: items", "name: items"))
    assert main(["validate", str(old)]) == 2
    assert "benchmark name 'items' is used twice" in capsys.readouterr().out
    # A name that is not a benchmark needs kind:.
    unnamed = tmp_path / "unnamed.yaml"
    unnamed.write_text(text.replace("name: items_mcq, kind: items", "name: items_mcq"))
    assert main(["validate", str(unnamed)]) == 2
    assert "name 'items_mcq' is not a benchmark" in capsys.readouterr().out
