"""Reward-model stage (scaled Bradley-Terry). Run: .venv/bin/python -m pytest tests/test_stage_reward_model.py -q"""

from __future__ import annotations

import math

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForSequenceClassification

from medreasoner.model import load_tokenizer
from medreasoner.stages import reward_model
from stage_testing import LORA, build_model, cpu_optim, make_ctx, write_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("rm")
    files = write_world(root)
    return root, files, build_model(root, files)


@pytest.mark.slow
@pytest.mark.parametrize("loss,peft", [("scaled_bradley_terry", None), ("bradley_terry", LORA)])
def test_reward_model_trains_and_scores(world, loss, peft):
    root, files, model = world
    out = root / f"run-{loss}" / "rm"
    logged = []
    config = reward_model.Config.model_validate({
        "model": {"path": str(model), "dtype": "float32", "chat_template": "model"},
        "data": {"train": str(files["preference"]), "max_length": 128},
        "reward": {"loss": loss},
        "optim": cpu_optim(),
        "peft": peft,
    })
    metrics = reward_model.run(config, make_ctx(out, logged))
    assert metrics["global_step"] == 3 and math.isfinite(metrics["train_loss"])
    assert any("accuracy" in m for _, m in logged)  # TRL's metrics survive the scaled-BT override

    # The saved model (adapters merged) is a scalar reward model with a trained head.
    scorer = AutoModelForSequenceClassification.from_pretrained(out)
    assert scorer.config.num_labels == 1
    tokenizer = load_tokenizer(out, padding_side="right")
    batch = tokenizer(["Case 1: fever. Answer: gout"], return_tensors="pt")
    with torch.no_grad():
        assert scorer(**batch).logits.shape == (1, 1)
    trained = load_file(str(out / "model.safetensors"))
    initial = load_file(str(model / "model.safetensors"))
    name = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(trained[name], initial[name])  # backbone (or its merged LoRA) was trained
