"""An eval stage generates a prompt once across its benchmarks (a subset file reuses the superset's
completions), and only an identical rendered prompt is reused.

Run: .venv/bin/python -m pytest tests/test_eval_shared.py -q
"""

from __future__ import annotations

import json

from eval_support import ScriptedBackend, write_medqa

from medreasoner.eval.generation import GenerationSettings
from medreasoner.eval.runner import EvalRequest, run_eval

SETTINGS = GenerationSettings(max_new_tokens=8, temperature=0.0, top_p=1.0, seed=0, thinking_budget=None, batch_size=4)


class CountingBackend(ScriptedBackend):
    """The scripted backend, counting the prompts it is asked to generate."""

    def __init__(self, script):
        super().__init__(script)
        self.generated = 0

    def generate(self, prompts, settings, on_batch=None):
        self.generated += len(prompts)
        return super().generate(prompts, settings, on_batch)


def request(output, name, data):
    return EvalRequest(benchmark="medqa", name=name, data=data, mode="both", limit=None, output=output,
                       prompt_style="chat", igakuqa_prompts=None, grading="normalized", settings=SETTINGS,
                       num_samples=1)


def responses(output, name, mode):
    lines = (output / f"{name}_{mode}" / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    return {row["id"]: row["response"] for row in map(json.loads, lines)}


def test_a_subset_benchmark_reuses_the_supersets_completions(tmp_path):
    full = write_medqa(tmp_path / "full.jsonl", 8)
    subset = tmp_path / "subset.jsonl"
    subset.write_text("".join(full.read_text(encoding="utf-8").splitlines(keepends=True)[:3]), encoding="utf-8")
    script = {f"A {20 + 3 * k}-year-old": f"Answer: {'ABCD'[k % 4]}" for k in range(8)}
    backend, shared = CountingBackend(script), {}

    run_eval(request(tmp_path, "full", full), backend, show_progress=False, shared=shared)
    assert backend.generated == 16  # 8 items x (answer, explain): the two modes' prompts differ
    results = run_eval(request(tmp_path, "subset", subset), backend, show_progress=False, shared=shared)
    assert backend.generated == 16  # nothing new: every subset prompt was already generated
    assert results["answer"]["metrics"]["n"] == 3
    for mode in ("answer", "explain"):
        subset_responses = responses(tmp_path, "subset", mode)
        assert subset_responses == {k: v for k, v in responses(tmp_path, "full", mode).items() if k in subset_responses}


def test_without_a_shared_map_every_benchmark_generates(tmp_path):
    full = write_medqa(tmp_path / "full.jsonl", 4)
    backend = CountingBackend({})
    run_eval(request(tmp_path, "a", full), backend, show_progress=False)
    run_eval(request(tmp_path, "b", full), backend, show_progress=False)
    assert backend.generated == 16
