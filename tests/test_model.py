"""Tiny model + local tokenizer: build, reload, chat template, generation.

Run: .venv/bin/python -m pytest tests/test_model.py -q
"""

from __future__ import annotations

import pytest
import torch

from medreasoner.model import TINY_SIZES, build_tiny_model, load_model, load_tokenizer

CORPUS = ["A 54-year-old man has fever and productive cough. \\boxed{Pneumonia}"] * 20 + ["発熱と咳。診断: 肺炎"] * 5


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("m") / "tiny", size="tiny-0.5m", corpus=CORPUS,
                            seed=0, vocab_size=600, max_position_embeddings=256)


def test_reload_gives_identical_logits(tiny_dir):
    model_a, model_b = load_model(tiny_dir, dtype="float32"), load_model(tiny_dir, dtype="float32")
    ids = torch.tensor([[1, 2, 3, 4]])
    assert torch.equal(model_a(ids).logits, model_b(ids).logits)
    assert sum(p.numel() for p in model_a.parameters()) < 1_000_000


def test_chat_template_renders_think_and_tools(tiny_dir):
    tokenizer = load_tokenizer(tiny_dir, padding_side="left")
    messages = [{"role": "user", "content": "Fever?"},
                {"role": "assistant", "content": "\\boxed{Pneumonia}", "reasoning_content": "fever + cough"}]
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    assert "<think>\nfever + cough\n</think>\n\n\\boxed{Pneumonia}<|im_end|>" in text
    tools = [{"type": "function", "function": {"name": "request_exam", "parameters": {"type": "object"}}}]
    assert "<tools>" in tokenizer.apply_chat_template(messages[:1], tools=tools, tokenize=False)
    # Special tokens stay single tokens (the template and tool parsing depend on it).
    assert len(tokenizer("<think>", add_special_tokens=False)["input_ids"]) == 1
    # ... and survive decoding with skip_special_tokens (TRL decodes completions that way).
    ids = tokenizer("<think>\nx\n</think>\n\n\\boxed{y}<|im_end|>", add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == "<think>\nx\n</think>\n\n\\boxed{y}"
    # Japanese round-trips through byte-level BPE.
    assert tokenizer.decode(tokenizer("診断: 肺炎")["input_ids"]) == "診断: 肺炎"


def test_left_padded_generation_and_reward_head(tiny_dir):
    tokenizer = load_tokenizer(tiny_dir, padding_side="left")
    model = load_model(tiny_dir, dtype="float32")
    batch = tokenizer(["fever and cough", "a"], return_tensors="pt", padding=True)
    out = model.generate(**batch, max_new_tokens=4, do_sample=False)
    assert out.shape == (2, batch["input_ids"].shape[1] + 4)
    reward_model = load_model(tiny_dir, dtype="float32", num_labels=1)
    assert reward_model(**batch).logits.shape == (2, 1)


def test_unknown_size_and_existing_dir_are_refused(tiny_dir, tmp_path):
    with pytest.raises(ValueError, match="unknown tiny model size"):
        build_tiny_model(tmp_path / "x", size="huge", corpus=CORPUS, seed=0, vocab_size=600,
                         max_position_embeddings=64)
    with pytest.raises(FileExistsError):
        build_tiny_model(tiny_dir, size="tiny-0.5m", corpus=CORPUS, seed=0, vocab_size=600,
                         max_position_embeddings=64)
    assert set(TINY_SIZES) >= {"tiny-0.5m", "tiny-3m", "tiny-5m"}
