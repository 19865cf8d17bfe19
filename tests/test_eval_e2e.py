"""End to end: a tiny model evaluated in both modes on fixture files of every benchmark format.

Run: .venv/bin/python -m pytest tests/test_eval_e2e.py -q   (~1 min on 2 CPU cores)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eval_support import tiny_model, write_igakuqa, write_medcalc, write_medqa

from medreasoner.benchmarks import load_benchmark
from medreasoner.eval.backends.hf import FORCED_CLOSE, HFBackend
from medreasoner.eval.generation import GenerationSettings
from medreasoner.eval.prompts import PromptBuilder
from medreasoner.eval.report import write_report
from medreasoner.eval.runner import EvalRequest, run_eval

pytestmark = pytest.mark.slow
SETTINGS = GenerationSettings(max_new_tokens=8, temperature=0.0, top_p=1.0, seed=0, thinking_budget=None, batch_size=4)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval_e2e")
    data = {"medqa": write_medqa(root / "medqa.jsonl", 5), "medcalc": write_medcalc(root / "medcalc.csv"),
            "igakuqa": write_igakuqa(root / "IgakuQA")}
    return HFBackend(str(tiny_model(tmp_path_factory)), dtype="auto"), data, root / "out"


def request(benchmark: str, data: Path, output: Path, **changes) -> EvalRequest:
    fields = dict(benchmark=benchmark, data=data, mode="both", limit=None, output=output, prompt_style="chat",
                  igakuqa_prompts=None, grading="normalized", settings=SETTINGS, num_samples=1)
    return EvalRequest(**{**fields, **changes})


@pytest.mark.parametrize("benchmark,n_items", [("medqa", 5), ("medcalc", 4), ("igakuqa", 4)])
def test_both_modes_write_predictions_and_results(setup, benchmark, n_items):
    backend, data, output = setup
    results = run_eval(request(benchmark, data[benchmark], output, limit=n_items), backend, show_progress=False)
    assert set(results) == {"answer", "explain"}
    for mode in ("answer", "explain"):
        run_dir = output / f"{benchmark}_{mode}"
        lines = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
        assert len(lines) == n_items and len({line["id"] for line in lines}) == n_items
        for line in lines:
            assert set(line) >= {"id", "prompt_hash", "response", "extracted", "correct", "score", "prompt_tokens",
                                 "completion_tokens", "latency_s", "finish_reason"}
            assert 1 <= line["completion_tokens"] <= 8 and line["prompt_tokens"] > 10
        body = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
        assert body == results[mode]
        assert body["generation"] == {**SETTINGS.to_dict(), "prompt_style": "chat", "num_samples": 1}
        assert body["prompt"]["template"] == f"{'mcq' if benchmark == 'medqa' else benchmark}_{mode}.yaml"
        assert len(body["prompt"]["template_sha256"]) == 64 and "version: 1" in body["prompt"]["template_text"]
        assert body["metrics"]["n"] == n_items
        assert body["metrics"]["ci_low"] <= body["metrics"]["accuracy"] <= body["metrics"]["ci_high"]
        assert body["summary"]["n"] == n_items
        assert set(body["tokens"]) == {"prompt", "completion"} and body["latency_s"]["p95"] > 0
        over = sum(line["prompt_tokens"] + line["completion_tokens"] > 512 for line in lines)
        assert body["context"] == {"context_length": 512, "n_over_context": over}
        stability = body["stability"]
        assert {"delta", "ci_low", "ci_high", "mcnemar_p", "flips_to_wrong", "flips_to_right"} <= set(stability)
    if benchmark == "igakuqa":
        assert results["answer"]["prompt"]["fewshot_ids"] == ["90A1", "90A2", "90B3"]
        assert results["answer"]["summary"]["years"]["2018"]["total"] == 4  # A1-A3 + B1
    if benchmark == "medcalc":
        assert set(results["answer"]["summary"]["categories"]) >= {"physical", "risk", "date"}


def test_report_over_the_e2e_outputs(setup, tmp_path):
    backend, data, output = setup
    run_eval(request("medqa", data["medqa"], output, limit=5), backend, show_progress=False)
    paths = write_report([output], tmp_path / "report", labels=["tiny"])
    markdown = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "| tiny |" in markdown and "medqa answer" in markdown
    assert {p.name for p in paths} >= {"report.md", "report.html", "accuracy.png", "stability.png"}


def test_batched_greedy_equals_one_by_one(setup, tmp_path):
    backend, data, _ = setup
    one = GenerationSettings(max_new_tokens=8, temperature=0.0, top_p=1.0, seed=0, thinking_budget=None, batch_size=1)
    batched = run_eval(request("medqa", data["medqa"], tmp_path / "b", mode="answer", limit=4), backend,
                       show_progress=False)
    single = run_eval(request("medqa", data["medqa"], tmp_path / "s", mode="answer", settings=one, limit=4), backend,
                      show_progress=False)
    read = lambda d: {json.loads(x)["id"]: json.loads(x)["response"] for x in  # noqa: E731
                      (d / "medqa_answer" / "predictions.jsonl").read_text().splitlines()}
    assert read(tmp_path / "b") == read(tmp_path / "s")
    assert len(set(read(tmp_path / "b").values())) > 1  # the scrambled model's answers differ per prompt
    assert batched["answer"]["metrics"] == single["answer"]["metrics"]


def test_thinking_budget_force_closes_the_think_block(setup, monkeypatch):
    backend, data, _ = setup
    from medreasoner.benchmarks import load_benchmark
    from medreasoner.eval.prompts import PromptBuilder

    items = load_benchmark("medqa", data["medqa"])[:2]
    prompts = [PromptBuilder("medqa", "explain", "chat", [], None).render(item) for item in items]
    settings = GenerationSettings(max_new_tokens=10, temperature=0.0, top_p=1.0,
                                  seed=0, thinking_budget=3, batch_size=2)
    tokenizer = backend.tokenizer
    forced_ids = tokenizer(FORCED_CLOSE, add_special_tokens=False)["input_ids"]
    # Record the token rows of each generate call: the budget is about tokens, and decoded text
    # cannot be re-tokenized reliably (a random model emits partial UTF-8 bytes).
    calls = []
    real_run = backend._run
    monkeypatch.setattr(backend, "_run", lambda *a, **k: calls.append(real_run(*a, **k)) or calls[-1])
    completions = backend.generate(prompts, settings)
    thinking = calls[0]
    assert all(len(row) <= 3 for row in thinking)  # phase 1 stops at the budget
    close_id = tokenizer.convert_tokens_to_ids("</think>")
    for completion, row in zip(completions, thinking):
        closed_by_model = bool(row) and row[-1] == close_id
        expected_think = tokenizer.decode(tokenizer("<think>\n", add_special_tokens=False)["input_ids"] + row
                                          + ([] if closed_by_model else forced_ids))
        assert completion.text.startswith(expected_think)
        assert completion.completion_tokens <= 10 + len(forced_ids)


def test_completion_style_and_sampling_are_reproducible(setup, tmp_path):
    backend, data, _ = setup
    sampled = GenerationSettings(max_new_tokens=6, temperature=0.9, top_p=1.0,
                                 seed=7, thinking_budget=None, batch_size=2)
    runs = [run_eval(request("medqa", data["medqa"], tmp_path / name, mode="answer", prompt_style="completion", limit=2,
                             settings=sampled), backend, show_progress=False) for name in ("x", "y")]
    texts = [(tmp_path / n / "medqa_answer" / "predictions.jsonl").read_text() for n in ("x", "y")]
    strip = lambda t: [{k: v for k, v in json.loads(x).items() if k != "latency_s"} for x in t.splitlines()]  # noqa: E731
    assert strip(texts[0]) == strip(texts[1])
    assert runs[0]["answer"]["prompt"]["example"]["style"] == "completion"


def test_top_p_reaches_the_hf_backend(setup):
    # A nucleus too small to hold a second token leaves only the likeliest one: sampling then replays
    # greedy decoding, token for token, while the full distribution (top_p 1) at temperature 5 strays.
    backend, data, _ = setup
    items = load_benchmark("medqa", data["medqa"])[:3]
    prompts = [PromptBuilder("medqa", "answer", "chat", [], None).render(item) for item in items]
    greedy = backend.generate(prompts, SETTINGS)
    hot = dict(max_new_tokens=8, temperature=5.0, seed=3, thinking_budget=None, batch_size=4)
    narrow = backend.generate(prompts, GenerationSettings(**hot, top_p=1e-6))
    wide = backend.generate(prompts, GenerationSettings(**hot, top_p=1.0))
    assert [c.text for c in narrow] == [c.text for c in greedy]
    assert [c.text for c in wide] != [c.text for c in greedy]
