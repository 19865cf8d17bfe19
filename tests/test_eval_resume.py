"""Kill-and-resume: `medreasoner eval` SIGKILLed mid-run, its torn tail, then the same command again.

The rerun must skip finished items, never duplicate or lose a line, and end with the same metrics as
an uninterrupted run.

Run: .venv/bin/python -m pytest tests/test_eval_resume.py -q
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from eval_support import tiny_model, write_medqa

from medreasoner.cli import main
from medreasoner.errors import InputError

pytestmark = pytest.mark.slow
N_ITEMS = 10


def eval_args(model, data, output, *extra):
    return ["eval", "--model", str(model), "--benchmark", "medqa", "--data", str(data), "--mode", "answer",
            "--batch-size", "2", "--max-new-tokens", "8", "--output", str(output), "--no-progress", *extra]


def read_lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_sigkill_then_rerun_finishes_without_duplicates_and_same_metrics(tmp_path_factory, tmp_path):
    model = tiny_model(tmp_path_factory)
    data = write_medqa(tmp_path / "medqa.jsonl", N_ITEMS)
    predictions = tmp_path / "killed" / "medqa_answer" / "predictions.jsonl"
    process = subprocess.Popen([sys.executable, "-m", "medreasoner.cli", *eval_args(model, data, tmp_path / "killed")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if predictions.exists() and predictions.read_bytes().count(b"\n") >= 2:
            break
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    survived = read_lines(predictions)
    assert 2 <= len(survived) < N_ITEMS, "the run must be killed mid-way"
    with open(predictions, "a", encoding="utf-8") as handle:
        handle.write('{"id": "torn", "prompt_hash": "')  # what a kill during a write leaves behind

    assert main(eval_args(model, data, tmp_path / "killed")) == 0
    resumed = read_lines(predictions)
    assert len(resumed) == N_ITEMS and len({r["id"] for r in resumed}) == N_ITEMS
    assert resumed[:len(survived)] == survived  # finished lines were kept, not regenerated

    assert main(eval_args(model, data, tmp_path / "clean")) == 0
    clean = {r["id"]: r["response"] for r in read_lines(tmp_path / "clean" / "medqa_answer" / "predictions.jsonl")}
    assert {r["id"]: r["response"] for r in resumed} == clean
    results = [json.loads((tmp_path / run / "medqa_answer" / "results.json").read_text()) for run in ("killed", "clean")]
    for key in ("metrics", "summary", "correct_by_id", "prompt", "generation"):
        assert results[0][key] == results[1][key]

    # A third run has nothing to do and changes nothing.
    before = predictions.read_bytes()
    assert main(eval_args(model, data, tmp_path / "killed")) == 0
    assert predictions.read_bytes() == before


def test_resume_with_other_settings_is_refused(tmp_path_factory, tmp_path):
    model = tiny_model(tmp_path_factory)
    data = write_medqa(tmp_path / "medqa.jsonl", 2)
    assert main(eval_args(model, data, tmp_path / "out")) == 0
    with pytest.raises(InputError, match="other settings"):
        from medreasoner.cli import parse_args

        args = parse_args(eval_args(model, data, tmp_path / "out", "--temperature", "0.5"))
        args._module.run(args)
    assert main(eval_args(model, data, tmp_path / "out", "--temperature", "0.5")) == 2  # CLI: message, exit 2


def _perturb_weights(model_dir):
    from safetensors.torch import load_file, save_file

    path = model_dir / "model.safetensors"
    tensors = load_file(path)
    name = min(tensors)
    tensors[name] = tensors[name] + 1.0
    save_file(tensors, path, metadata={"format": "pt"})


def test_resume_with_another_model_at_the_same_path_is_refused(tmp_path_factory, tmp_path):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_model(tmp_path_factory), model)
    original = (model / "model.safetensors").read_bytes()
    data = write_medqa(tmp_path / "medqa.jsonl", 4)
    out = tmp_path / "out"
    assert main(eval_args(model, data, out, "--limit", "2")) == 0  # model A: two items
    run_dir = out / "medqa_answer"
    identity = json.loads((run_dir / "model_identity.json").read_text())
    assert identity["kind"] == "local" and set(identity["files"]) >= {"model.safetensors", "config.json"}
    assert json.loads((run_dir / "results.json").read_text())["model_identity"] == identity

    _perturb_weights(model)  # model B: other weights, same path string, same settings
    from medreasoner.cli import parse_args

    args = parse_args(eval_args(model, data, out))
    with pytest.raises(InputError) as caught:
        args._module.run(args)
    message = str(caught.value)
    assert "\n" not in message and str(run_dir) in message
    assert f"sha256:{identity['sha256'][:12]}" in message  # the stored identity...
    assert "sha256:" in message.split("not of the model evaluated now", 1)[1]  # ...and the current one
    assert main(eval_args(model, data, out)) == 2  # CLI: one-line message, exit 2
    assert len(read_lines(run_dir / "predictions.jsonl")) == 2  # nothing was mixed in

    (model / "model.safetensors").write_bytes(original)  # model A again: the resume finishes the run
    assert main(eval_args(model, data, out)) == 0
    assert len(read_lines(run_dir / "predictions.jsonl")) == 4
    assert json.loads((run_dir / "model_identity.json").read_text())["sha256"] == identity["sha256"]


def test_identity_of_endpoints_and_directories(tmp_path):
    from medreasoner.eval.provenance import check_identity, model_identity

    endpoint = model_identity({"backend": "openai", "endpoint": "http://127.0.0.1:8000/v1", "model": "m1"})
    assert endpoint == {"kind": "endpoint", "endpoint": "http://127.0.0.1:8000/v1", "model": "m1"}
    check_identity(tmp_path, endpoint, has_predictions=False)
    check_identity(tmp_path, endpoint, has_predictions=True)  # same endpoint and model: fine
    other = {**endpoint, "model": "m2"}
    with pytest.raises(InputError, match="endpoint http://127.0.0.1:8000/v1 model m1.*model m2"):
        check_identity(tmp_path, other, has_predictions=True)

    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"x" * 3_000_000)  # several 1 MiB chunks
    (model / "training_args.bin").write_bytes(b"ignored")
    first = model_identity({"backend": "hf", "model": str(model)})
    assert set(first["files"]) == {"config.json", "model.safetensors"}
    moved = tmp_path / "moved"
    model.rename(moved)
    assert model_identity({"backend": "hf", "model": str(moved)})["sha256"] == first["sha256"]  # content, not path
    (moved / "tokenizer.json").write_text("{}")
    assert model_identity({"backend": "hf", "model": str(moved)})["sha256"] != first["sha256"]
