"""Models and tokenizers: build a tiny Qwen2 model with a locally trained tokenizer, load any HF model.

No model hub is reachable on the machines this project is tested on, so the CPU pipeline starts from a
model built from a config and a byte-level BPE tokenizer trained on text we generate. Both are saved as
a normal Hugging Face directory, which every stage then loads from disk (TRL's DPO and GRPO reload the
reference model from ``config._name_or_path``: a model that only ever lived in memory breaks them).

The chat template is TRL's copy of the Qwen3 template, so the tiny model behaves like the real Qwen
models of the papers: ``<think>`` reasoning from ``reasoning_content``, tool calls, and TRL recognises
it (it swaps in its training variant with ``{% generation %}`` markers for assistant-only loss, and
knows its response schema for tool-call parsing in GRPO environments).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import torch
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedTokenizerFast,
    Qwen2Config,
)
from trl.chat_template_utils import qwen3_chat_template

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# Single tokens that are NOT special, as in the Qwen tokenizers: decoding with
# ``skip_special_tokens=True`` (what TRL does to completions) must keep them, or format rewards
# and tool-call parsing never see the tags.
MARKUP_TOKENS = ["<think>", "</think>", "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>"]

# Named sizes for CPU runs (vocab ~700-2000, tied embeddings); bench/train_throughput.py measures their
# training throughput on 2 cores.
TINY_SIZES = {
    "tiny-0.5m": {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
                  "num_key_value_heads": 2, "intermediate_size": 384},
    "tiny-3m": {"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4,
                "num_key_value_heads": 2, "intermediate_size": 768},
    "tiny-5m": {"hidden_size": 256, "num_hidden_layers": 6, "num_attention_heads": 4,
                "num_key_value_heads": 2, "intermediate_size": 768},
}


def train_tokenizer(corpus: list[str], *, vocab_size: int) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer on ``corpus`` and wrap it with the Qwen3 chat template.

    Byte-level BPE can encode any text (Japanese included) even where the corpus has no merges for it.
    ``vocab_size`` is an upper bound: BPE stops early when merges run out on a small corpus.
    """
    if not corpus:
        raise ValueError("tokenizer corpus is empty")
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    # The template's own strings are in the corpus so chat markup tokenizes compactly.
    backend.train_from_iterator([*corpus, qwen3_chat_template], trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=SPECIAL_TOKENS[1:],
    )
    tokenizer.add_tokens([AddedToken(token, special=False, normalized=False) for token in MARKUP_TOKENS])
    tokenizer.chat_template = qwen3_chat_template
    return tokenizer


def build_tiny_model(out_dir: str | Path, *, size: str, corpus: list[str], seed: int,
                     vocab_size: int, max_position_embeddings: int) -> Path:
    """Build a randomly initialised Qwen2 causal LM and its tokenizer; save both to ``out_dir``.

    Args:
        out_dir: destination Hugging Face directory (written into a fresh temp dir beside it, then renamed).
        size: a key of :data:`TINY_SIZES` (parameter counts 0.5M-5M).
        corpus: texts to train the tokenizer on.
        seed: seed for the weight initialisation.
        vocab_size: upper bound on the tokenizer vocabulary.
        max_position_embeddings: context length in tokens.

    Returns:
        ``out_dir`` as a Path.
    """
    if size not in TINY_SIZES:
        raise ValueError(f"unknown tiny model size {size!r}; choose one of {sorted(TINY_SIZES)}")
    out_dir = Path(out_dir)
    if out_dir.exists():
        raise FileExistsError(f"{out_dir} already exists; refusing to overwrite a model")
    tokenizer = train_tokenizer(corpus, vocab_size=vocab_size)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        max_position_embeddings=max_position_embeddings,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        **TINY_SIZES[size],
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # A temp dir of its own: two builds of the same out_dir at once (e.g. every rank of a launch) must
    # not write into, or delete, each other's files; the loser of the final rename fails. A build
    # killed midway leaves its hidden temp dir (the tiny_model stage deletes its scratch on rerun).
    tmp_dir = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.", suffix=".tmp"))
    try:
        model.save_pretrained(tmp_dir)
        tokenizer.save_pretrained(tmp_dir)
        os.replace(tmp_dir, out_dir)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    return out_dir


def load_tokenizer(name_or_path: str | Path, *, padding_side: str):
    """Load a tokenizer from a local directory or a hub id.

    ``padding_side`` is explicit because ``save_pretrained`` does not persist it: generation needs
    ``"left"``, training ``"right"``.
    """
    tokenizer = AutoTokenizer.from_pretrained(str(name_or_path), padding_side=padding_side)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(name_or_path: str | Path, *, dtype: str, num_labels: int | None = None):
    """Load a causal LM (or, with ``num_labels``, a sequence-classification model) from disk or the hub.

    Args:
        name_or_path: local Hugging Face directory or hub id (hub ids need internet).
        dtype: ``"float32"``, ``"bfloat16"`` or ``"float16"``.
        num_labels: if given, load ``AutoModelForSequenceClassification`` with this many outputs
            (1 for a scalar reward model); a fresh head is initialised when the checkpoint has none.
    """
    torch_dtype = getattr(torch, dtype)
    if num_labels is None:
        return AutoModelForCausalLM.from_pretrained(str(name_or_path), dtype=torch_dtype)
    model = AutoModelForSequenceClassification.from_pretrained(
        str(name_or_path), dtype=torch_dtype, num_labels=num_labels
    )
    if model.config.pad_token_id is None:
        model.config.pad_token_id = model.config.eos_token_id
    return model
