"""GRPO stage on a tiny model (HF generate, CPU). Run: .venv/bin/python -m pytest tests/test_stage_grpo.py -q"""

from __future__ import annotations

import importlib.util
import json
import math

import pytest
from pydantic import ValidationError

from medreasoner import rewards
from medreasoner.sim import environment
from medreasoner.stages import grpo
from stage_testing import changed_tensors, cpu_optim, distinct_characters_reward, generate, make_ctx, small_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return small_world(tmp_path_factory.mktemp("grpo"))


@pytest.fixture
def test_reward(monkeypatch):
    monkeypatch.setitem(rewards.REWARDS, "distinct_characters_reward", distinct_characters_reward)


def _config(model, files, **grpo_overrides):
    section = {"num_generations": 4, "beta": 0.04, "epsilon": 0.2, "temperature": 1.0, "max_completion_length": 12,
               "steps_per_generation": 1, "loss_type": "grpo", "scale_rewards": "group", "use_vllm": False}
    section.update(grpo_overrides)
    return grpo.Config.model_validate({
        "model": {"path": str(model), "dtype": "float32", "chat_template": "model"},
        "data": {"train": str(files["grpo"]), "max_prompt_length": 64, "limit": None},
        "grpo": section,
        "rewards": [{"name": "distinct_characters_reward", "weight": 1.0, "params": {"scale": 0.1}},
                    {"name": "format_reward", "weight": 0.5, "params": {"think_opened_by_template": False}}],
        "optim": cpu_optim(max_steps=2, per_device_train_batch_size=8, learning_rate=1e-2),
    })


@pytest.mark.slow
def test_grpo_trains_with_kl_reference_and_logs_each_reward(world, test_reward):
    root, files, model = world
    out = root / "run" / "grpo"
    logged = []
    metrics = grpo.run(_config(model, files), make_ctx(out, logged))
    assert metrics["global_step"] == 2 and math.isfinite(metrics["train_loss"])
    assert metrics["num_prompts_dropped_too_long"] == 0
    step_logs = [m for _, m in logged if "loss" in m]
    for name in ("distinct_characters_reward", "format_reward"):
        assert all(f"rewards/{name}/mean" in m and f"rewards/{name}/std" in m for m in step_logs)
    assert all("kl" in m for m in step_logs)  # beta > 0: the reference was reloaded from model.path
    assert changed_tensors(model, out)
    generate(out)


def test_limit_trains_on_the_first_rows_only(world, tmp_path):
    from medreasoner.model import load_tokenizer

    _, files, model = world
    rows = [json.loads(line)["prompt"] for line in files["grpo"].read_text().splitlines()]
    tokenizer = load_tokenizer(str(model), padding_side="left")
    data = grpo.DataSection(train=str(files["grpo"]), max_prompt_length=10_000, limit=3)
    dataset, dropped = grpo.training_prompts(data, tokenizer, cache_dir=tmp_path / "a")
    assert [row["prompt"] for row in dataset] == rows[:3] and dropped == 0
    every, _ = grpo.training_prompts(data.model_copy(update={"limit": None}), tokenizer, cache_dir=tmp_path / "b")
    assert len(every) == len(rows) > 3
    with pytest.raises(ValidationError, match="limit"):
        grpo.DataSection(train="x.jsonl", max_prompt_length=64, limit=0)
    with pytest.raises(ValidationError, match="limit"):
        grpo.DataSection(train="x.jsonl", max_prompt_length=64)  # required: no hidden "every row"


def test_reward_names_and_params_fail_at_load_time(world, test_reward):
    _, files, model = world
    config = _config(model, files).model_dump()
    config["rewards"][0]["name"] = "no_such_reward"
    with pytest.raises(ValidationError, match="unknown reward"):
        grpo.Config.model_validate(config)
    config["rewards"][0] = {"name": "distinct_characters_reward", "weight": 1.0, "params": {}}
    with pytest.raises(ValidationError, match="missing parameters"):
        grpo.Config.model_validate(config)
    with pytest.raises(ValidationError, match="vllm_mode"):
        _config(model, files, use_vllm=True)


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed here")
def test_use_vllm_without_vllm_is_a_clear_error(world, test_reward, tmp_path):
    _, files, model = world
    with pytest.raises(ValueError, match="needs vLLM"):
        grpo.run(_config(model, files, use_vllm=True, vllm_mode="colocate", vllm_gpu_memory_utilization=0.3,
                         vllm_tensor_parallel_size=1, vllm_max_model_length=128, vllm_enable_sleep_mode=False),
                 make_ctx(tmp_path, []))


@pytest.mark.slow
def test_grpo_with_diagnostic_environment_resets_one_instance_per_rollout(world, test_reward, monkeypatch):
    root, files, model = world
    # A hand-made hidden case with the fields the environment reads when it starts an episode.
    case = {"id": "c0", "summary": "A 60-year-old with fever and cough.",
            "menu": {"cxr": {"name": "chest x-ray", "result": "right lower lobe infiltrate"}},
            "label": {"name": "pneumonia", "synonyms": []}, "key_exams": ["cxr"]}
    rows = [{"prompt": [{"role": "user", "content": "Diagnose the patient."}], "case": json.dumps(case)}] * 4
    env_file = root / "env.jsonl"
    env_file.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    resets = []
    original_reset = environment.DiagnosticEnvironment.reset
    monkeypatch.setattr(environment.DiagnosticEnvironment, "reset",
                        lambda self, **row: resets.append(row["case"]) or original_reset(self, **row))

    config = _config(model, files).model_dump()
    config["data"]["train"] = str(env_file)
    config["rewards"] = config["rewards"][:1]
    config["environment"] = {"name": "diagnostic_chain", "params": {"max_turns": 2}, "max_tool_calling_iterations": 2}
    config["optim"]["max_steps"] = 1
    metrics = grpo.run(grpo.Config.model_validate(config), make_ctx(root / "env-run" / "grpo", []))
    assert metrics["global_step"] == 1
    assert len(resets) == 8 and set(resets) == {json.dumps(case)}  # 2 prompts x 4 generations
