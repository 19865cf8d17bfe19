"""What a saved checkpoint needs to generate well for whoever loads it: the KV cache on, and the right stops.

The transformers Trainer sets the model's ``use_cache`` to ``TrainingArguments.use_cache`` (false by
default: no KV cache while training) and ``save_pretrained`` writes that into ``config.json``, so every
later ``generate`` would recompute the whole prefix at each token. And ``generation_config.json`` stops only
at the tokenizer's EOS, while a chat model ends its turn with the chat template's end-of-turn token
(``<|im_end|>`` in ChatML, ``<|eot_id|>`` in Llama 3). :func:`finish_inference_config` sets
``use_cache: true`` and makes ``eos_token_id`` a list: the template's end-of-turn token, the
tokenizer's EOS, the ids the base's generation config already had, and the document-end token of the
vocabulary where present (``<|endoftext|>``, ``<|end_of_text|>``), as Qwen's and Llama's own
generation configs list them.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import TemplateError
from transformers import AutoConfig, GenerationConfig
from trl.data_utils import common_prefix_length

from medreasoner.stages.template_probe import probe_conversation

# Pretraining document ends (Qwen, Llama 3): a chat model can still emit them after a turn.
DOCUMENT_END_TOKENS = ("<|endoftext|>", "<|end_of_text|>")


def finish_inference_config(directory: Path, tokenizer, *, causal_lm: bool) -> None:
    """Set ``use_cache: true`` in ``directory/config.json`` and, for a causal LM, the stop tokens and
    pad token of ``directory/generation_config.json`` (created from the model config if missing).

    Args:
        directory: a saved Hugging Face model directory (rewritten in place).
        tokenizer: the tokenizer saved with it, carrying the chat template the model was trained with.
        causal_lm: False for a sequence-classification model (a reward model), which does not generate.
    """
    directory = Path(directory)
    config = AutoConfig.from_pretrained(directory)
    config.use_cache = True
    config.get_text_config().use_cache = True  # the same object for text-only models
    config.save_pretrained(directory)
    if not causal_lm:
        return
    generation = (GenerationConfig.from_pretrained(directory) if (directory / "generation_config.json").is_file()
                  else GenerationConfig.from_model_config(config))
    generation.eos_token_id = stop_token_ids(tokenizer, generation.eos_token_id)
    generation.pad_token_id = tokenizer.pad_token_id
    generation.save_pretrained(directory)


def stop_token_ids(tokenizer, existing: int | list[int] | None) -> list[int]:
    """The ids generation should stop at, end-of-turn token first (see the module docstring)."""
    existing = [] if existing is None else [existing] if isinstance(existing, int) else list(existing)
    tokens = [end_of_turn_token(tokenizer), tokenizer.eos_token]
    vocabulary = tokenizer.get_vocab()
    ids = [tokenizer.convert_tokens_to_ids(t) for t in tokens if t is not None and t in vocabulary]
    ids += existing + [vocabulary[t] for t in DOCUMENT_END_TOKENS if t in vocabulary]
    return list(dict.fromkeys(ids))


def end_of_turn_token(tokenizer) -> str | None:
    """The first special token the chat template renders after an assistant turn's text (``<|im_end|>``,
    ``<|eot_id|>``, or the EOS for a plain template); None without a usable chat template."""
    if not getattr(tokenizer, "chat_template", None):
        return None
    messages = probe_conversation()
    try:
        prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=True, return_dict=True,
                                               add_generation_prompt=True)
        full = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)
    except (TemplateError, TypeError, ValueError):
        return None
    prompt_ids, full_ids = list(prompt["input_ids"]), list(full["input_ids"])
    special = set(tokenizer.all_special_ids)
    turn = [i for i in full_ids[common_prefix_length(prompt_ids, full_ids):] if i in special]
    return tokenizer.convert_ids_to_tokens(turn[0]) if turn else None
