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
        from medreasoner.cli import build_parser

        args = build_parser("eval").parse_args(eval_args(model, data, tmp_path / "out", "--temperature", "0.5"))
        args._module.run(args)
    assert main(eval_args(model, data, tmp_path / "out", "--temperature", "0.5")) == 2  # CLI: message, exit 2
