"""The report's provenance block, its warning for different item sets, and its latency/throughput columns.

Backends here answer from a fixed plan, so every recorded timing is known: a batched backend takes
a set time per batch, an endpoint-like one a set time per request. The provenance case runs a real
pipeline (one eval stage, its backend replaced by the planned one), so the commit, data hash and
model hash in the report are the ones the run recorded. A standalone eval (no stage manifest) reports
the data hash and commit its results.json recorded, and "not recorded" for a results.json without them.

Run: .venv/bin/python -m pytest tests/test_report_provenance.py -q
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import yaml

from medreasoner.cli import main
from medreasoner.eval.generation import Completion, GenerationSettings
from medreasoner.eval.runner import RESULTS_SCHEMA, EvalRequest, run_eval, source_record
from medreasoner.files import path_sha256
from medreasoner.source_commit import source_commit

COMPLETION_TOKENS = 5


class PlannedBackend:
    """Replies ``Answer: A`` to every prompt. ``per_batch`` (a local engine): one call per
    ``batch_size`` prompts, call k taking ``latencies[k]`` seconds for each of its rows; otherwise
    (an endpoint) one request per prompt, prompt k taking ``latencies[k]``."""

    def __init__(self, describe: dict, latencies: list[float], per_batch: bool):
        self.described, self.latencies, self.per_batch = describe, latencies, per_batch

    def describe(self) -> dict:
        return dict(self.described)

    def generate(self, prompts, settings, on_batch=None):
        size = settings.batch_size if self.per_batch else 1
        completions = []
        for call, start in enumerate(range(0, len(prompts), size)):
            indices = list(range(start, min(start + size, len(prompts))))
            batch = [Completion("Answer: A", 10, COMPLETION_TOKENS, self.latencies[call], "stop") for _ in indices]
            completions += batch
            on_batch(indices, batch)
        return completions


def write_mcq(path: Path, ids: list[str]) -> Path:
    rows = [{"id": i, "question": f"Question {i}?", "options": {"A": "yes", "B": "no"}, "answer": "A"} for i in ids]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def evaluate(output: Path, data: Path, backend: PlannedBackend, batch_size: int = 2) -> None:
    settings = GenerationSettings(max_new_tokens=8, temperature=0.0, top_p=1.0,
                                  seed=0, thinking_budget=None, batch_size=batch_size)
    request = EvalRequest(benchmark="mcq", data=data, mode="answer", limit=None, output=output, prompt_style="chat",
                          igakuqa_prompts=None, grading="normalized", settings=settings, num_samples=1)
    run_eval(request, backend, show_progress=False)


def local_model(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    (path / "model.safetensors").write_bytes(b"not really weights, but hashed like them")
    return path


def report(tmp_path: Path, *run_dirs: Path) -> str:
    output = tmp_path / "report"
    assert main(["report", *map(str, run_dirs), "--output", str(output)]) == 0
    return (output / "report.md").read_text(encoding="utf-8")


def table(markdown: str, section: str) -> list[dict[str, str]]:
    """The rows of a section's table as {column: cell}."""
    lines = [line for line in markdown.split(f"## {section}\n", 1)[1].split("\n## ")[0].splitlines()
             if line.startswith("|")]
    cells = [[c.strip() for c in line.strip().strip("|").split(" | ")] for line in lines]
    return [dict(zip(cells[0], row)) for row in cells[2:]]


def test_provenance_block_names_model_hash_data_hash_and_commit(tmp_path, monkeypatch):
    model = local_model(tmp_path / "model")
    data = write_mcq(tmp_path / "mcq.jsonl", ["q1", "q2", "q3", "q4"])
    backend = PlannedBackend({"backend": "hf", "model": str(model)}, [1.0, 1.0], per_batch=True)
    monkeypatch.setattr("medreasoner.stages.evaluate.load_backend", lambda *args, **kwargs: backend)
    recipe = {"name": "t", "seed": 0, "logging": {"report_to": []}, "stages": [{"name": "eval_m", "kind": "eval", "config": {
        "model": str(model), "backend": "hf", "dtype": "float32", "mode": "answer", "prompt_style": "chat",
        "grading": "normalized", "generation": {"max_new_tokens": 8, "temperature": 0.0, "top_p": 1.0, "num_samples": 1,
                                                "batch_size": 2, "thinking_budget": None},
        "benchmarks": [{"name": "mcq", "data": str(data), "limit": None, "igakuqa_prompts": None}]}}]}
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    run = tmp_path / "run"
    assert main(["run", str(tmp_path / "recipe.yaml"), "--output", str(run)]) == 0

    manifest = json.loads((run / "eval_m" / "stage_manifest.json").read_text())
    assert manifest["git_commit"] == source_commit()  # recorded when the stage ran
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True,
                          check=False)
    if manifest["git_commit"] is not None:  # a git checkout: the commit is HEAD's
        assert manifest["git_commit"].split("+")[0] == head.stdout.strip()
    identity = json.loads((run / "eval_m" / "mcq_answer" / "model_identity.json").read_text())

    [row] = table(report(tmp_path, run), "Provenance")
    assert row["run"] == "run/eval_m" and row["benchmark"] == "mcq" and row["modes"] == "answer"
    assert row["model"] == str(model) and row["model sha256"] == identity["sha256"] and len(identity["sha256"]) == 64
    assert row["data"] == str(data) and row["data sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert row["commit"] == (manifest["git_commit"] or "not recorded")
    assert row["date"] == manifest["started_at"][:10]


def test_standalone_eval_records_data_hash_and_commit_in_results(tmp_path, monkeypatch):
    """No stage manifest: results.json carries the data hash and commit, hashed once for both modes."""
    monkeypatch.setattr("medreasoner.eval.runner.source_commit", lambda: "0123abcd+dirty")
    hashed = []
    monkeypatch.setattr("medreasoner.eval.runner.path_sha256",
                        lambda path: hashed.append(path) or hashlib.sha256(path.read_bytes()).hexdigest())
    data = write_mcq(tmp_path / "mcq.jsonl", ["q1", "q2"])
    expected = hashlib.sha256(data.read_bytes()).hexdigest()
    settings = GenerationSettings(max_new_tokens=8, temperature=0.0, top_p=1.0,
                                  seed=0, thinking_budget=None, batch_size=2)
    request = EvalRequest(benchmark="mcq", data=data, mode="both", limit=None, output=tmp_path / "ep",
                          prompt_style="chat", igakuqa_prompts=None, grading="normalized", settings=settings,
                          num_samples=1)
    run_eval(request, PlannedBackend({"backend": "endpoint", "endpoint": "http://h/v1", "model": "m"},
                                     [1.0] * 4, per_batch=False), show_progress=False)
    assert hashed == [data]  # once per run_eval call, not per mode
    for mode in ("answer", "explain"):
        body = json.loads((tmp_path / "ep" / f"mcq_{mode}" / "results.json").read_text())
        assert (body["data_sha256"], body["git_commit"]) == (expected, "0123abcd+dirty")
        assert body["schema_version"] == RESULTS_SCHEMA == 1

    [row] = table(report(tmp_path, tmp_path / "ep"), "Provenance")
    assert row["model"] == "endpoint http://h/v1 (model m)" and row["modes"] == "answer, explain"
    assert row["data"] == str(data) and row["data sha256"] == expected and row["commit"] == "0123abcd+dirty"


def test_standalone_eval_of_a_directory_hashes_it_like_a_stage_manifest(tmp_path, monkeypatch):
    monkeypatch.setattr("medreasoner.eval.runner.source_commit", lambda: None)
    folder = tmp_path / "igakuqa"
    folder.mkdir()
    (folder / "2018.jsonl").write_text("{}\n")
    settings = GenerationSettings(max_new_tokens=8, temperature=0.0, top_p=1.0,
                                  seed=0, thinking_budget=None, batch_size=2)
    request = EvalRequest(benchmark="igakuqa", data=folder, mode="answer", limit=None, output=tmp_path / "o",
                          prompt_style="chat", igakuqa_prompts=None, grading="normalized", settings=settings,
                          num_samples=1)
    assert source_record(request) == {"data_sha256": path_sha256(folder), "git_commit": None}


def test_results_without_data_hash_or_commit_say_not_recorded(tmp_path):
    """A results.json written before the fields existed (or outside a git checkout) still reports."""
    data = write_mcq(tmp_path / "mcq.jsonl", ["q1", "q2"])
    evaluate(tmp_path / "ep", data, PlannedBackend({"backend": "endpoint", "endpoint": "http://h/v1", "model": "m"},
                                                   [1.0, 1.0], per_batch=False))
    path = tmp_path / "ep" / "mcq_answer" / "results.json"
    body = json.loads(path.read_text())
    del body["data_sha256"], body["git_commit"]
    path.write_text(json.dumps(body))
    [row] = table(report(tmp_path, tmp_path / "ep"), "Provenance")
    assert row["model"] == "endpoint http://h/v1 (model m)"
    assert row["data sha256"] == "not recorded" and row["commit"] == "not recorded"


def test_different_item_sets_of_the_same_size_get_a_warning(tmp_path):
    model = local_model(tmp_path / "model")
    same = write_mcq(tmp_path / "a.jsonl", ["q1", "q2", "q3", "q4"])
    other = write_mcq(tmp_path / "b.jsonl", ["q1", "q2", "q3", "q5"])  # as many items, one of them another
    for name, data in (("base", same), ("rpo", other), ("sft", same)):
        evaluate(tmp_path / name, data, PlannedBackend({"backend": "hf", "model": str(model)}, [1.0, 1.0], True))

    paired = report(tmp_path, tmp_path / "base", tmp_path / "sft")
    assert "Warning" not in paired and "different items" not in paired

    markdown = report(tmp_path, tmp_path / "base", tmp_path / "rpo")
    assert markdown.index("## Warning: results side by side were computed on different items") < markdown.index(
        "## Accuracy")
    rows = {row["run"]: row for row in table(markdown, "Warning: results side by side were computed on different items")}
    assert rows["base"]["items"] == rows["rpo"]["items"] == "4"
    assert (rows["base"]["first missing ids"], rows["rpo"]["first missing ids"]) == ("q5", "q4")
    html = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert '<div class="warning"><h2>Warning: results side by side' in html
    assert "Warning: results side by side" in (tmp_path / "report" / "summary.md").read_text(encoding="utf-8")


def test_latency_per_request_and_throughput_come_from_the_recorded_timings(tmp_path):
    model = local_model(tmp_path / "model")
    data = write_mcq(tmp_path / "mcq.jsonl", [f"q{k}" for k in range(8)])
    # 4 batches of 2: 1 s, 1 s (two batches of equal time stay two), 2 s, 4 s. A request waits for its
    # batch: latencies 1,1,1,1,2,2,4,4 -> median 1.5 s. Wall time 1+1+2+4 = 8 s: 8 items / 8 s = 1 item/s,
    # 8 x 5 tokens / 8 s = 5 tokens/s.
    evaluate(tmp_path / "hf", data, PlannedBackend({"backend": "hf", "model": str(model)}, [1.0, 1.0, 2.0, 4.0], True))
    # An endpoint, 2 requests in flight, requests of 1..8 s: median 4.5 s; wall time ~ 36 s / 2 = 18 s,
    # so 8 / 18 = 0.444 items/s and 40 / 18 = 2.22 tokens/s, marked as estimates.
    evaluate(tmp_path / "ep", data, PlannedBackend({"backend": "endpoint", "endpoint": "http://h/v1", "model": "m"},
                                                   [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], False))
    recorded = [json.loads(line)["latency_s"] for line in (tmp_path / "hf" / "mcq_answer" / "predictions.jsonl")
                .read_text().splitlines()]
    assert recorded == [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 4.0, 4.0]

    rows = {row["run"]: row for row in table(report(tmp_path, tmp_path / "hf", tmp_path / "ep"), "Details")}
    columns = ("latency / request s (p50)", "throughput items/s", "throughput tokens/s")
    assert [rows["hf"][c] for c in columns] == ["1.50", "1", "5"]
    assert [rows["ep"][c] for c in columns] == ["4.50", "≈0.444", "≈2.22"]
