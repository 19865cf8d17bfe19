"""CPT stage and the training-data loaders' errors. Run: .venv/bin/python -m pytest tests/test_stage_cpt.py -q"""

from __future__ import annotations

import json
import math

import pytest

from medreasoner.errors import InputError
from medreasoner.stages import cpt
from medreasoner.stages.datasets import load_conversations, load_preferences, load_text_corpus
from stage_testing import build_model, changed_tensors, cpu_optim, generate, make_ctx, write_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("cpt")
    files = write_world(root)
    return root, files, build_model(root, files)


@pytest.mark.slow
@pytest.mark.parametrize("packing", [None, "bfd"])
def test_cpt_trains_on_raw_text(world, packing):
    root, files, model = world
    out = root / f"run-{packing}" / "cpt"
    logged = []
    config = cpt.Config.model_validate({
        "model": {"path": str(model), "dtype": "float32"},
        "data": {"path": str(files["cpt"]), "max_length": 64, "packing": packing is not None,
                 "packing_strategy": packing},
        "optim": cpu_optim(),
    })
    metrics = cpt.run(config, make_ctx(out, logged))
    assert metrics["global_step"] == 3 and math.isfinite(metrics["train_loss"])
    assert list((out / "dataset_cache" / "generator").iterdir())  # the corpus is cached inside the run
    assert changed_tensors(model, out)
    generate(out)


def test_corpus_directory_reads_txt_and_jsonl(tmp_path):
    (tmp_path / "a.txt").write_text("first document", encoding="utf-8")
    (tmp_path / "b.jsonl").write_text('{"text": "second"}\n\n{"text": "third"}\n', encoding="utf-8")
    (tmp_path / "notes.md").write_text("ignored", encoding="utf-8")
    assert load_text_corpus(tmp_path)["text"] == ["first document", "second", "third"]


def test_bad_rows_name_file_line_and_field(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text('{"text": "ok"}\n{"text": 3}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"data.jsonl:2: field 'text'"):
        load_text_corpus(path)
    path.write_text('{"text": "ok"}\nnot json\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"data.jsonl:2: not valid JSON"):
        load_text_corpus(path)
    user = {"role": "user", "content": "q"}
    path.write_text(json.dumps({"messages": [user]}) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r":1: field 'messages': the last message must be the assistant's"):
        load_conversations(path)
    path.write_text(json.dumps({"messages": [{"role": "doctor", "content": "q"}]}) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"field 'messages\[0\]': role must be one of"):
        load_conversations(path)
    reply = [{"role": "assistant", "content": "a"}]
    path.write_text(json.dumps({"prompt": [user], "chosen": reply, "rejected": reply, "margin": -1}) + "\n")
    with pytest.raises(InputError, match=r"field 'margin': margin must be a positive number"):
        load_preferences(path, with_margin=True)
    with pytest.raises(InputError, match="file not found"):
        load_text_corpus(tmp_path / "missing.jsonl")
