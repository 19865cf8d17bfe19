"""The grpo: section's vLLM fields (schema only, no model, no vLLM): modes, ports, the paper recipes.

Run: .venv/bin/pytest tests/test_stage_grpo_vllm.py -q
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest
from pydantic import ValidationError
from trl import GRPOConfig

from medreasoner.errors import InputError
from medreasoner.recipe import load_recipe
from medreasoner.stages import grpo

ROOT = Path(__file__).resolve().parents[1]
PAPER_RECIPES = ["s2_grpo_rules", "s3_grpo_vrm", "s4_grpo_clinical"]
COLOCATE = {"use_vllm": True, "vllm_mode": "colocate", "vllm_gpu_memory_utilization": 0.3,
            "vllm_tensor_parallel_size": 2, "vllm_max_model_length": 16384, "vllm_enable_sleep_mode": True}
SERVER = {"use_vllm": True, "vllm_mode": "server", "vllm_server_host": "10.0.0.5", "vllm_server_port": 8001}
VLLM_FIELDS = [name for names in grpo.VLLM_MODE_FIELDS.values() for name in names]


def grpo_stage(recipe: str):
    loaded = load_recipe(ROOT / "recipes" / "wingpt3" / f"{recipe}.yaml")
    return next(stage for stage in loaded.stages if stage.kind == "grpo")


@pytest.fixture(scope="module")
def s3_config() -> dict:
    """The S3 recipe's grpo stage (a served judge at localhost:8000) as plain data, without vLLM fields."""
    config = grpo_stage("s3_grpo_vrm").config.model_dump()
    for name in VLLM_FIELDS:
        config["grpo"][name] = None
    config["grpo"].update(use_vllm=False, vllm_mode=None)
    return config


def with_grpo(config: dict, **fields) -> dict:
    out = copy.deepcopy(config)
    out["grpo"].update(fields)
    return out


def error_of(config: dict) -> dict:
    with pytest.raises(ValidationError) as caught:
        grpo.Config.model_validate(config)
    return caught.value.errors()[0]


@pytest.mark.parametrize("recipe", PAPER_RECIPES)
def test_paper_recipes_generate_with_colocated_vllm(recipe):
    stage = grpo_stage(recipe)
    section = stage.config.grpo
    assert section.use_vllm and section.vllm_mode == "colocate"
    assert section.vllm_max_model_length == stage.config.data.max_prompt_length + section.max_completion_length
    # The keywords run() passes to TRL: exactly the colocate fields, under TRL's own names.
    arguments = grpo.vllm_arguments(section)
    assert set(arguments) == {"vllm_mode", *grpo.VLLM_MODE_FIELDS["colocate"]}
    assert arguments["vllm_gpu_memory_utilization"] == section.vllm_gpu_memory_utilization


def test_field_names_are_grpo_config_fields():
    trl_fields = {field.name for field in dataclasses.fields(GRPOConfig)}
    assert set(VLLM_FIELDS) <= trl_fields


def test_trl_accepts_the_arguments_of_each_mode(s3_config, tmp_path):
    for fields in (COLOCATE, SERVER):
        section = grpo.Config.model_validate(with_grpo(s3_config, **fields)).grpo
        args = GRPOConfig(output_dir=str(tmp_path), use_cpu=True, report_to=[], use_vllm=True,
                          **grpo.vllm_arguments(section))
        for name, value in grpo.vllm_arguments(section).items():
            assert getattr(args, name) == value
    assert grpo.vllm_arguments(grpo.Config.model_validate(s3_config).grpo) == {}


@pytest.mark.parametrize("missing", grpo.VLLM_MODE_FIELDS["colocate"])
def test_colocate_requires_each_of_its_fields(s3_config, missing):
    error = error_of(with_grpo(s3_config, **{**COLOCATE, missing: None}))
    assert error["loc"] == ("grpo", missing) and "required with vllm_mode: colocate" in error["msg"]


@pytest.mark.parametrize("missing", grpo.VLLM_MODE_FIELDS["server"])
def test_server_requires_host_and_port(s3_config, missing):
    error = error_of(with_grpo(s3_config, **{**SERVER, missing: None}))
    assert error["loc"] == ("grpo", missing) and "required with vllm_mode: server" in error["msg"]


@pytest.mark.parametrize("fields, stray, value", [
    (SERVER, "vllm_gpu_memory_utilization", 0.5),
    (COLOCATE, "vllm_server_port", 8001),
    (COLOCATE, "vllm_server_host", "localhost"),
    ({"use_vllm": False}, "vllm_tensor_parallel_size", 1),
    ({"use_vllm": False}, "vllm_server_port", 8001),
])
def test_fields_of_another_mode_are_refused(s3_config, fields, stray, value):
    error = error_of(with_grpo(s3_config, **{**fields, stray: value}))
    assert error["loc"] == ("grpo", stray) and "only read with vllm_mode" in error["msg"]


@pytest.mark.parametrize("field, value", [
    ("vllm_gpu_memory_utilization", 0.0), ("vllm_gpu_memory_utilization", 1.5),
    ("vllm_tensor_parallel_size", 0), ("vllm_max_model_length", 0),
])
def test_colocate_values_are_bounded(s3_config, field, value):
    assert error_of(with_grpo(s3_config, **{**COLOCATE, field: value}))["loc"] == ("grpo", field)


@pytest.mark.parametrize("port", [0, 65536])
def test_server_port_is_a_tcp_port(s3_config, port):
    assert error_of(with_grpo(s3_config, **{**SERVER, "vllm_server_port": port}))["loc"] == ("grpo", "vllm_server_port")


def test_context_must_hold_the_longest_prompt_and_completion(s3_config):
    needed = s3_config["data"]["max_prompt_length"] + s3_config["grpo"]["max_completion_length"]
    error = error_of(with_grpo(s3_config, **{**COLOCATE, "vllm_max_model_length": needed - 1}))
    assert error["loc"] == ("grpo", "vllm_max_model_length") and str(needed) in error["msg"]
    grpo.Config.model_validate(with_grpo(s3_config, **{**COLOCATE, "vllm_max_model_length": needed}))


def test_server_port_of_the_judge_is_refused(s3_config):
    judge = s3_config["rewards"][0]["params"]["judge_endpoint"]
    assert judge == "http://localhost:8000/v1"  # the S3 recipe's served VRM, on TRL's default server port
    error = error_of(with_grpo(s3_config, **{**SERVER, "vllm_server_port": 8000}))
    assert error["loc"] == ("grpo", "vllm_server_port") and "rewards[0].params.judge_endpoint" in error["msg"]
    grpo.Config.model_validate(with_grpo(s3_config, **SERVER))  # 8001: no clash


@pytest.mark.parametrize("endpoint, port", [("http://judge.internal/v1", 80), ("https://judge.internal/v1", 443)])
def test_judge_url_without_port_uses_its_scheme_default(s3_config, endpoint, port):
    config = with_grpo(s3_config, **{**SERVER, "vllm_server_port": port})
    config["rewards"][0]["params"]["judge_endpoint"] = endpoint
    assert error_of(config)["loc"] == ("grpo", "vllm_server_port")


def test_recipe_error_names_file_line_and_field():
    # The S3 recipe switched to server mode on the judge's port, through command-line overrides.
    path = ROOT / "recipes" / "wingpt3" / "s3_grpo_vrm.yaml"
    overrides = [f"grpo.grpo.{name}=null" for name in grpo.VLLM_MODE_FIELDS["colocate"]]
    overrides += ["grpo.grpo.vllm_mode=server", "grpo.grpo.vllm_server_host=localhost",
                  "grpo.grpo.vllm_server_port=8000"]
    with pytest.raises(InputError) as caught:
        load_recipe(path, overrides)
    assert caught.value.field.endswith("config.grpo.vllm_server_port")
    assert "vllm_server_port=8000" in str(caught.value) and "judge" in str(caught.value)


def test_yaml_error_points_at_the_stray_key(tmp_path):
    # A server-mode key left in a colocate recipe is reported at its own line.
    text = (ROOT / "recipes" / "wingpt3" / "s2_grpo_rules.yaml").read_text(encoding="utf-8")
    text = text.replace("        vllm_mode: colocate\n", "        vllm_mode: colocate\n        vllm_server_port: 8001\n")
    path = tmp_path / "s2.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_recipe(path)
    line = text.splitlines().index("        vllm_server_port: 8001") + 1
    assert caught.value.line == line and caught.value.field.endswith("config.grpo.vllm_server_port")
