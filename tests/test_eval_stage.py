"""The `eval` pipeline stage: typed config (every knob required, unknown keys refused) and a tiny run.

Run: .venv/bin/python -m pytest tests/test_eval_stage.py -q
"""

from __future__ import annotations

import json

import pydantic
import pytest
from eval_support import tiny_model, write_medqa

from medreasoner.stages import load_stage
from medreasoner.stages.context import StageContext


def config_dict(model, data) -> dict:
    return {"model": str(model), "backend": "hf", "dtype": "auto", "mode": "both", "prompt_style": "chat",
            "grading": "normalized",
            "generation": {"max_new_tokens": 4, "temperature": 0.0, "top_p": 1.0, "num_samples": 1, "batch_size": 4,
                           "thinking_budget": None},
            "benchmarks": [{"name": "medqa", "data": str(data), "limit": 3, "igakuqa_prompts": None}]}


def test_config_requires_every_knob_and_forbids_unknown_ones(tmp_path):
    stage = load_stage("eval")
    good = config_dict(tmp_path / "m", tmp_path / "d.jsonl")
    stage.Config.model_validate(good)
    with pytest.raises(pydantic.ValidationError, match="temperature"):
        generation = {k: v for k, v in good["generation"].items() if k != "temperature"}
        stage.Config.model_validate({**good, "generation": generation})
    with pytest.raises(pydantic.ValidationError, match="extra"):
        stage.Config.model_validate({**good, "num_beams": 4})
    with pytest.raises(pydantic.ValidationError, match="medqa"):
        stage.Config.model_validate({**good, "benchmarks": [{**good["benchmarks"][0], "name": "pubmedqa"}]})


@pytest.mark.slow
def test_stage_run_writes_results_and_returns_metrics(tmp_path_factory, tmp_path):
    stage = load_stage("eval")
    data = write_medqa(tmp_path / "q.jsonl", 5)
    config = stage.Config.model_validate(config_dict(tiny_model(tmp_path_factory), data))
    logged = []
    ctx = StageContext(run_dir=tmp_path, out_dir=tmp_path / "eval", seed=3,
                       log=lambda m, step: logged.append((m, step)))
    metrics = stage.run(config, ctx)
    assert set(metrics) == {"medqa/answer/accuracy", "medqa/answer/no_answer_rate", "medqa/explain/accuracy",
                            "medqa/explain/no_answer_rate", "medqa/delta"}
    assert logged == [(metrics, 0)]
    results = json.loads((tmp_path / "eval" / "medqa_explain" / "results.json").read_text())
    assert results["metrics"]["n"] == 3 and results["generation"]["seed"] == 3  # the recipe's seed
    assert metrics["medqa/delta"] == results["stability"]["delta"]
