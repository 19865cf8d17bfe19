"""`optim:` passes any field of the stage's TRL config to its Trainer, checked when the recipe loads: a
misspelt name gets a suggestion, a field another section sets names that section, a wrong type is refused.

Run: .venv/bin/python -m pytest tests/test_optim_passthrough.py -q
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from medreasoner.errors import InputError
from medreasoner.recipe import load_recipe
from medreasoner.stages import grpo, sft
from stage_testing import build_model, cpu_optim, make_ctx, write_world

REPO = Path(__file__).resolve().parents[1]
SFT_RECIPE = REPO / "recipes" / "tiny" / "sft.yaml"


def recipe_with_optim_lines(tmp_path: Path, *lines: str) -> tuple[Path, int]:
    """The shipped tiny sft recipe with ``lines`` added to its sft stage's optim section; returns the
    file and the 1-based line number of the first added line."""
    text = SFT_RECIPE.read_text()
    anchor = "        save_steps: 5\n"
    assert text.count(anchor) == 1
    before = text[: text.index(anchor) + len(anchor)]
    path = tmp_path / "recipe.yaml"
    path.write_text(before + "".join(f"        {line}\n" for line in lines) + text[len(before):])
    return path, before.count("\n") + 1


def load_error(tmp_path: Path, *lines: str) -> tuple[InputError, int]:
    path, line = recipe_with_optim_lines(tmp_path, *lines)
    with pytest.raises(InputError) as caught:
        load_recipe(path, run_dir=tmp_path / "run")
    return caught.value, line


def test_trl_fields_pass_validation_and_stay_in_the_resolved_config(tmp_path):
    path, _ = recipe_with_optim_lines(tmp_path, "adam_beta2: 0.95", "optim: adamw_torch", "neftune_noise_alpha: 5",
                                      "torch_compile: false")
    stage = load_recipe(path, run_dir=tmp_path / "run").stages[-1]
    assert stage.config.optim.model_extra == {"adam_beta2": 0.95, "optim": "adamw_torch", "neftune_noise_alpha": 5,
                                              "torch_compile": False}
    assert stage.config_dict()["optim"]["adam_beta2"] == 0.95  # in resolved_config.yaml and the manifest


def test_misspelt_field_is_refused_at_its_line_with_a_suggestion(tmp_path):
    error, line = load_error(tmp_path, "adam_beta3: 0.95")
    assert (error.line, error.field) == (line, "stages[3].config.optim.adam_beta3")
    assert "did you mean 'adam_beta2'?" in error.message and "SFTConfig" in error.message


def test_misspelt_enum_value_is_refused_with_a_suggestion(tmp_path):
    error, line = load_error(tmp_path, "optim: adamw_torhc")
    assert (error.line, error.field) == (line, "stages[3].config.optim.optim")
    assert "did you mean 'adamw_torch'?" in error.message


def test_wrong_value_type_is_refused(tmp_path):
    error, line = load_error(tmp_path, "torch_compile: 1")
    assert (error.line, error.field) == (line, "stages[3].config.optim.torch_compile")
    assert "SFTConfig.torch_compile takes bool, not int" in error.message


@pytest.mark.parametrize(("line", "owner"), [
    ("max_length: 128", "data.max_length"),
    ("eval_strategy: steps", "data.validation"),
    ("report_to: [wandb]", "logging.report_to"),
    ("seed: 3", "top-level seed"),
    ("output_dir: elsewhere", "<stage dir>/checkpoints"),
])
def test_field_set_by_another_section_is_refused_naming_it(tmp_path, line, owner):
    error, number = load_error(tmp_path, line)
    name = line.split(":")[0]
    assert (error.line, error.field) == (number, f"stages[3].config.optim.{name}")
    assert f"optim cannot set '{name}'" in error.message and owner in error.message


def test_grpo_refuses_fields_of_its_grpo_and_rewards_sections():
    # The grpo schema is checked against GRPOConfig; its grpo: section owns beta, rewards[] the weights.
    with pytest.raises(ValueError, match="optim cannot set 'beta': set it with grpo.beta"):
        grpo.OptimSection.model_validate(cpu_optim(beta=0.1))
    with pytest.raises(ValueError, match="rewards\\[\\].weight"):
        grpo.OptimSection.model_validate(cpu_optim(reward_weights=[1.0]))
    assert grpo.OptimSection.model_validate(cpu_optim(log_completions=True)).model_extra == {"log_completions": True}


@pytest.mark.slow
def test_trl_fields_reach_the_trainer_and_its_optimizer(tmp_path):
    files = write_world(tmp_path / "world", num_rows=8)
    model = build_model(tmp_path, files)
    config = sft.Config.model_validate({
        "model": {"path": str(model), "dtype": "float32", "chat_template": "model"},
        "data": {"train": str(files["sft"]), "max_length": 64, "packing": False, "assistant_only_loss": False},
        "optim": cpu_optim(max_steps=1, save_steps=1, adam_beta2=0.95, optim="adamw_torch", neftune_noise_alpha=5.0),
    })
    out = tmp_path / "run" / "sft"
    sft.run(config, make_ctx(out, []))
    checkpoint = out / "checkpoints" / "checkpoint-1"
    args = torch.load(checkpoint / "training_args.bin", weights_only=False)
    assert (args.adam_beta2, args.optim, args.neftune_noise_alpha) == (0.95, "adamw_torch", 5.0)
    optimizer = torch.load(checkpoint / "optimizer.pt", weights_only=False)
    assert all(group["betas"] == (0.9, 0.95) for group in optimizer["param_groups"])
