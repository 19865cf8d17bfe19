"""Scalar reward-model reward: a sequence-classification checkpoint scores (prompt, completion).

This is the WiNGPT-32B-RM shape (PAPERS.md 1.3 (a)): a causal LM whose output layer is a linear
head giving one logit for prompt + response, as trained by the ``reward_model`` stage. The model and
its tokenizer load once per (path, device, dtype) from a LOCAL directory and stay cached for the
run. Conversational prompts are rendered with the checkpoint's chat template, the completion added
as the assistant turn, exactly what the reward model saw in training; string prompts are
concatenated with the completion.

The reward is ``(logit - offset) * scale``: offset and scale come from the recipe, e.g. the mean
and 1/std of the logits on held-out data, so this reward can be summed with 0/1 rewards on a
comparable scale.

torch and transformers are imported inside the functions that need them, so importing the reward
registry (e.g. to validate a recipe) stays fast.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field

from medreasoner.errors import InputError
from medreasoner.rewards.completion import column, completion_text, prompt_messages
from medreasoner.verify.text import strip_think

Device = Literal["cpu", "cuda"]
DType = Literal["float32", "bfloat16", "float16"]


def resolve_device(device: Device):
    """``"cuda"`` means this process's current CUDA device (one per rank under accelerate)."""
    import torch

    return torch.device("cuda", torch.cuda.current_device()) if device == "cuda" else torch.device("cpu")


def check_local_dir(path: str, param: str) -> Path:
    """The checkpoint directory named by recipe parameter ``param``; never a hub id (no downloads)."""
    directory = Path(path)
    if not (directory / "config.json").is_file():
        raise InputError(directory, "not a local Hugging Face model directory (no config.json)", field=param)
    return directory


@functools.lru_cache(maxsize=2)
def load_reward_model(model_path: str, device: Device, dtype: DType):
    """Load (model, tokenizer) once; later calls with the same arguments return the cached pair."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    directory = check_local_dir(model_path, "model_path")
    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        directory, num_labels=1, dtype=getattr(torch, dtype), local_files_only=True
    )
    if tokenizer.pad_token_id is None:
        raise InputError(directory, "the reward model's tokenizer has no pad token", field="model_path")
    # The classification head reads the last non-pad token, found through config.pad_token_id.
    model.config.pad_token_id = tokenizer.pad_token_id
    return model.to(resolve_device(device)).eval(), tokenizer


def render(prompt: Any, answer: str, tokenizer) -> str:
    """One scoring text: chat template over prompt + assistant answer, or plain concatenation.

    An empty concatenation is scored as a lone EOS token, since a model cannot run on zero tokens.
    """
    if isinstance(prompt, str) or tokenizer.chat_template is None:
        context = prompt if isinstance(prompt, str) else "\n".join(m["content"] for m in prompt_messages(prompt))
        return context + answer or tokenizer.eos_token
    messages = prompt_messages(prompt) + [{"role": "assistant", "content": answer}]
    return tokenizer.apply_chat_template(messages, tokenize=False)


def reward_model_reward(
    completions: list[Any],
    *,
    model_path: str,
    device: Device,
    dtype: DType,
    batch_size: Annotated[int, Field(gt=0)],
    max_length: Annotated[int, Field(gt=0)],
    strip_reasoning: bool,
    offset: float,
    scale: float,
    **columns: Any,
) -> list[float]:
    """``(logit - offset) * scale`` of a sequence-classification reward model per completion.

    Args:
        completions: TRL completions (strings or message lists).
        model_path: local directory of an ``AutoModelForSequenceClassification`` checkpoint with
            its tokenizer (and chat template for conversational data).
        device: ``"cpu"`` or ``"cuda"`` (this rank's device).
        dtype: weights dtype.
        batch_size: completions per forward pass.
        max_length: tokens kept per text; longer texts lose their START (the answer is what is judged).
        strip_reasoning: score the answer without its ``<think>`` block (True) or the full text.
        offset: subtracted from the logit.
        scale: multiplies the centred logit.
        **columns: TRL passes ``prompts`` (the prompt of each completion); needed.

    Returns:
        One float per completion.
    """
    import torch

    prompts = column(columns, "prompts", "reward_model_reward", len(completions))
    model, tokenizer = load_reward_model(model_path, device, dtype)
    texts = []
    for prompt, completion in zip(prompts, completions):
        answer = completion_text(completion)
        texts.append(render(prompt, strip_think(answer).strip() if strip_reasoning else answer, tokenizer))
    logits: list[float] = []
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(
            texts[start : start + batch_size],
            return_tensors="pt",
            padding=True,
            padding_side="right",
            truncation=True,
            truncation_side="left",
            max_length=max_length,
            add_special_tokens=False,
        ).to(model.device)
        with torch.inference_mode():
            logits.extend(model(**batch).logits[:, 0].float().tolist())  # (B,)
    return [(logit - offset) * scale for logit in logits]
