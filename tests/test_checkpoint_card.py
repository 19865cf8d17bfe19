"""A trained checkpoint is usable by others: KV cache on, the chat template's stop tokens in its generation
config, and a model card with its lineage (base, recipe and stage, data sha256, metrics, versions).

Run: .venv/bin/python -m pytest tests/test_checkpoint_card.py -q
"""

from __future__ import annotations

import hashlib
import json

import pytest
from huggingface_hub import ModelCard
from transformers import AutoConfig, AutoTokenizer, GenerationConfig

from medreasoner.model import load_tokenizer
from medreasoner.stages import reward_model, sft
from medreasoner.stages.context import StageContext
from medreasoner.stages.inference_config import end_of_turn_token, stop_token_ids
from medreasoner.templates import TEMPLATES, resolve_template
from stage_testing import LORA, build_model, cpu_optim, write_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("card")
    files = write_world(root, num_rows=8)
    return root, files, build_model(root, files)


def recipe_ctx(out_dir, recipe) -> StageContext:
    out_dir.mkdir(parents=True, exist_ok=True)
    return StageContext(run_dir=out_dir.parent, out_dir=out_dir, seed=0, log=lambda metrics, step: None,
                        recipe=recipe)


def sft_config(model, files, **extra) -> sft.Config:
    return sft.Config.model_validate({
        "model": {"path": str(model), "dtype": "float32", "chat_template": "model"},
        "data": {"train": str(files["sft"]), "max_length": 64, "packing": False, "assistant_only_loss": False},
        "optim": cpu_optim(max_steps=2, save_steps=2), **extra})


@pytest.mark.slow
def test_sft_checkpoint_has_cache_stop_tokens_and_a_lineage_card(world, tmp_path):
    root, files, model = world
    recipe = tmp_path / "recipe.yaml"  # named in the card; the stage does not read it
    out = root / "run" / "sft"
    metrics = sft.run(sft_config(model, files), recipe_ctx(out, recipe))

    assert AutoConfig.from_pretrained(out).use_cache is True
    assert AutoConfig.from_pretrained(model).use_cache is True  # the base had it; training turned it off
    assert json.loads((out / "checkpoints" / "checkpoint-2" / "config.json").read_text())["use_cache"] is False

    tokenizer = AutoTokenizer.from_pretrained(out)
    eos = GenerationConfig.from_pretrained(out).eos_token_id
    assert eos[0] == tokenizer.convert_tokens_to_ids("<|im_end|>")  # the end-of-turn token, first
    assert tokenizer.convert_tokens_to_ids("<|endoftext|>") in eos

    card = ModelCard.load(out / "README.md")
    lineage = card.data.to_dict()["medreasoner"]
    sha256 = hashlib.sha256(files["sft"].read_bytes()).hexdigest()
    assert lineage["base_model_path"] == str(model) and lineage["recipe"] == str(recipe) and lineage["stage"] == "sft"
    assert lineage["data"] == [{"field": "data.train", "path": str(files["sft"]), "sha256": sha256}]
    assert lineage["final_metrics"]["train_loss"] == pytest.approx(metrics["train_loss"])
    assert lineage["versions"]["trl"] and lineage["trainer"] == "SFTTrainer"
    for text in (str(model), str(recipe), sha256, "train_loss"):
        assert text in card.text  # the readable body says the same
    assert "huggingface.co" not in card.text  # no links that make local paths look like Hub repositories

    # A model trained from this one names it as its base, and this one's base as the base's origin.
    child = root / "run" / "sft2"
    sft.run(sft_config(out, files, peft=LORA), recipe_ctx(child, recipe))
    child_lineage = ModelCard.load(child / "README.md").data.to_dict()["medreasoner"]
    assert (child_lineage["base_model_path"], child_lineage["base_model_origin"]) == (str(out), str(model))
    assert AutoConfig.from_pretrained(child).use_cache is True  # merged LoRA path too


@pytest.mark.slow
def test_reward_model_card_loads_it_as_a_sequence_classifier(world):
    root, files, model = world
    config = reward_model.Config.model_validate({
        "model": {"path": str(model), "dtype": "float32", "chat_template": "model"},
        "data": {"train": str(files["preference"]), "max_length": 64},
        "reward": {"loss": "bradley_terry", "center_rewards_coefficient": None},
        "optim": cpu_optim(max_steps=1, save_steps=1)})
    out = root / "run" / "rm"
    reward_model.run(config, recipe_ctx(out, None))
    card = ModelCard.load(out / "README.md")
    assert "AutoModelForSequenceClassification.from_pretrained" in card.text and "outside a recipe" in card.text
    assert AutoConfig.from_pretrained(out).use_cache is True


@pytest.mark.parametrize(("template", "end_of_turn"), [("qwen2.5-think", "<|im_end|>"), ("qwen3-think", "<|im_end|>"),
                                                        ("llama3-think", "<|eot_id|>")])
def test_end_of_turn_token_is_read_from_the_chat_template(world, template, end_of_turn):
    _, _, model = world
    tokenizer = load_tokenizer(model, padding_side="left")
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|eot_id|>", "<|start_header_id|>",
                                                                "<|end_header_id|>", "<|begin_of_text|>"]})
    tokenizer.chat_template = resolve_template(template, tokenizer)
    assert template in TEMPLATES and end_of_turn_token(tokenizer) == end_of_turn
    ids = stop_token_ids(tokenizer, existing=None)
    assert ids[0] == tokenizer.convert_tokens_to_ids(end_of_turn) and tokenizer.eos_token_id in ids


def test_plain_template_stops_at_eos(world):
    _, _, model = world
    tokenizer = load_tokenizer(model, padding_side="left")
    tokenizer.chat_template = resolve_template("plain-fewshot", tokenizer)
    assert end_of_turn_token(tokenizer) == tokenizer.eos_token
