"""SFT stage on a tiny model (CPU, seconds). Run: .venv/bin/python -m pytest tests/test_stage_sft.py -q"""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError
from trl.chat_template_utils import get_training_chat_template

from medreasoner.model import load_tokenizer
from medreasoner.stages import sft
from medreasoner.stages.training import last_checkpoint
from stage_testing import LORA, build_model, changed_tensors, cpu_optim, generate, make_ctx, write_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("sft")
    files = write_world(root)
    return root, files, build_model(root, files)


def _config(model, files, **overrides):
    config = {"model": {"path": str(model), "dtype": "float32", "chat_template": "model"},
              "data": {"train": str(files["sft"]), "max_length": 128, "packing": False, "assistant_only_loss": True},
              "optim": cpu_optim()}
    config.update(overrides)
    return sft.Config.model_validate(config)


def test_assistant_mask_covers_think_block_and_end_of_turn(world):
    # TRL recognises the tiny model's Qwen3 template and swaps in its copy with generation markers.
    _, _, model = world
    tokenizer = load_tokenizer(model, padding_side="right")
    messages = [{"role": "user", "content": "Case: fever. Diagnosis?"},
                {"role": "assistant", "content": "Answer: gout", "reasoning_content": "fever points to gout."}]
    encoded = tokenizer.apply_chat_template(messages, chat_template=get_training_chat_template(tokenizer),
                                            return_dict=True, return_assistant_tokens_mask=True)
    target = [t for t, m in zip(encoded["input_ids"], encoded["assistant_masks"]) if m]
    text = tokenizer.decode(target)
    assert text.startswith("<think>") and "fever points to gout." in text
    assert text.endswith("Answer: gout<|im_end|>\n")  # TRL's training template also masks in the newline
    assert "Diagnosis?" not in text


@pytest.mark.slow
def test_sft_trains_saves_and_resumes(world):
    root, files, model = world
    logged = []
    out = root / "run" / "sft"
    metrics = sft.run(_config(model, files), make_ctx(out, logged))
    assert metrics["global_step"] == 3 and math.isfinite(metrics["train_loss"])
    losses = [m["loss"] for _, m in logged if "loss" in m]
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses)
    assert changed_tensors(model, out)  # full fine-tuning moved the weights
    assert (out / "config.json").is_file() and last_checkpoint(out).endswith("checkpoint-3")
    generate(out)

    # A second run with a higher max_steps resumes from checkpoint-3 instead of restarting.
    logged.clear()
    metrics = sft.run(_config(model, files, optim=cpu_optim(max_steps=4)), make_ctx(out, logged))
    assert metrics["global_step"] == 4
    assert [step for step, m in logged if "loss" in m] == [4]


@pytest.mark.slow
def test_sft_lora_saves_merged_model_and_adapter(world):
    root, files, model = world
    out = root / "lora" / "sft"
    sft.run(_config(model, files, peft=LORA), make_ctx(out, []))
    assert (out / "adapter" / "adapter_config.json").is_file()
    changed = changed_tensors(model, out)
    # LoRA merged into the linear layers only; embeddings and norms untouched.
    assert changed and all("proj" in name for name in changed)
    generate(out)


def test_config_requires_one_schedule_length(world):
    _, files, model = world
    with pytest.raises(ValidationError, match="exactly one"):
        _config(model, files, optim=cpu_optim(num_train_epochs=1))
    with pytest.raises(ValidationError, match="min_lr_rate"):
        _config(model, files, optim=cpu_optim(lr_scheduler_type="cosine_with_min_lr"))
    with pytest.raises(ValidationError, match="extra"):
        _config(model, files, optimizer={"lr": 1})


@pytest.mark.skipif(torch.cuda.is_available(), reason="QLoRA can run here")
def test_qlora_without_cuda_is_a_clear_error(world, tmp_path):
    _, files, model = world
    config = _config(model, files, peft={**LORA, "load_in_4bit": True})
    with pytest.raises(ValueError, match="load_in_4bit: true needs (bitsandbytes|a CUDA GPU)"):
        sft.run(config, make_ctx(tmp_path / "sft", []))
