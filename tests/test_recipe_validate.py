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
    assert main(["validate", str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert re.search(rf"FAIL {re.escape(str(bad))}:\d+: field 'stages\[0\]\.config\.models\[0\]\.weigth'", out)
    assert "1/2 recipes valid" in out
    assert main(["validate", str(tmp_path / "missing.yaml")]) == 2
    assert "no such recipe" in capsys.readouterr().err
    assert os.path.exists(good)
