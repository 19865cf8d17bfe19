"""Apply a recipe's chat template to the tokenizer and probe it before any model loads.

A template that ignores ``reasoning_content`` (Qwen2.5's own ChatML does) makes a long-CoT stage train
on ``\\boxed{...}<|im_end|>`` alone, silently: the loss still falls. So every stage that trains on
conversations first renders a probe conversation (system + user + an assistant turn whose
``reasoning_content`` is a sentinel and whose content is ``\\boxed{X}``) with the template the TRL
trainer will really use, tokenized the way that trainer tokenizes, and stops with a one-line
:class:`~medreasoner.errors.InputError` when the sentinel is not in the assistant's part.

What each TRL 1.16 trainer renders with (read from its ``__init__`` and tokenize functions):

- ``SFTTrainer``: with ``assistant_only_loss`` and a template without ``{% generation %}`` markers it
  swaps in TRL's training variant (``get_training_chat_template``; an error for unknown templates) and
  takes the loss on ``return_assistant_tokens_mask``; otherwise the tokenizer's template.
- ``DPOTrainer``: the tokenizer's template; the completion is what follows the common token prefix of
  the prompt (rendered with the generation prompt) and prompt + completion.
- ``RewardTrainer``: the tokenizer's template on prompt + completion.
- ``GRPOTrainer``: the tokenizer's template for prompts; with tools (an environment) it needs a response
  parser (``add_response_schema``, known templates only) and swaps in the training variant when the
  template is not prefix-preserving.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from jinja2 import TemplateError
from trl.chat_template_utils import (
    add_response_schema,
    get_training_chat_template,
    has_generation_markers,
    is_chat_template_prefix_preserving,
    supports_tool_calling,
)
from trl.data_utils import common_prefix_length

from medreasoner.errors import InputError
from medreasoner.templates import RESPONSE_TEMPLATES, TEMPLATES, resolve_template

TrainerKind = Literal["sft", "preference", "reward_model", "grpo"]

# Distinctive words (no markup), so they survive any tokenizer and decoding.
REASONING_SENTINEL = "probe reasoning sentinel seven"
PROBE_ANSWER = "\\boxed{X}"
FIELD = "model.chat_template"


def probe_conversation() -> list[dict]:
    """System + user + an assistant turn with sentinel reasoning and a boxed answer."""
    return [
        {"role": "system", "content": "You are a careful physician."},
        {"role": "user", "content": "Which diagnosis fits best?"},
        {"role": "assistant", "reasoning_content": REASONING_SENTINEL, "content": PROBE_ANSWER},
    ]


def use_chat_template(tokenizer, choice: str, *, stage_dir: str | Path, trainer: TrainerKind,
                      assistant_only_loss: bool = False, tools: bool = False) -> None:
    """Set the recipe's chat template on ``tokenizer`` (so the saved checkpoint carries it) and probe it.

    A shipped template also sets the tokenizer's ``response_template`` (the parser of generated turns:
    Qwen's for the Qwen templates, none for the others), which is saved with the checkpoint too.

    Args:
        tokenizer: the stage's tokenizer; its ``chat_template`` is replaced.
        choice: the recipe's ``model.chat_template`` (``model``, a shipped name, or a ``.jinja`` path).
        stage_dir: the stage's output directory (named in errors; its name is the stage's).
        trainer: which TRL trainer will render the conversations.
        assistant_only_loss: SFT's ``assistant_only_loss`` (the mask must cover the reasoning).
        tools: GRPO with an environment (tool calls must render and parse).

    Raises:
        InputError: naming the stage directory and ``model.chat_template`` when the template drops or
            does not train the reasoning, or cannot serve the trainer.
    """
    try:
        tokenizer.chat_template = resolve_template(choice, tokenizer)
    except ValueError as error:
        raise InputError(stage_dir, str(error), field=FIELD) from None
    if choice in TEMPLATES:
        # The parser of generated turns (tool calls in GRPO environments and episodes) must match the template;
        # TRL only knows its own templates' parsers. It is saved with the tokenizer, so later stages have it too.
        tokenizer.response_template = RESPONSE_TEMPLATES.get(choice)
    problem = probe_problem(tokenizer, trainer=trainer, assistant_only_loss=assistant_only_loss, tools=tools)
    if problem:
        raise InputError(stage_dir, f"stage {Path(stage_dir).name!r}: chat template {choice!r} {problem}; "
                         f"set model.chat_template to {suggest_template(tokenizer)}", field=FIELD)


def probe_problem(tokenizer, *, trainer: TrainerKind, assistant_only_loss: bool, tools: bool) -> str | None:
    """What is wrong with ``tokenizer.chat_template`` for ``trainer``, in words; None when the probe passes."""
    if tools:
        problem = _tool_problem(tokenizer)
        if problem:
            return problem
    try:
        template = trainer_template(tokenizer, trainer=trainer, assistant_only_loss=assistant_only_loss, tools=tools)
    except ValueError as error:  # TRL has no training variant of an unknown template
        return f"cannot be used by TRL's {trainer} trainer ({error})"
    messages = probe_conversation()
    try:
        prompt_ids = _ids(tokenizer, messages[:-1], template, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(messages, chat_template=template, tokenize=True, return_dict=True,
                                             return_assistant_tokens_mask=assistant_only_loss and trainer == "sft")
    except (TemplateError, TypeError, ValueError) as error:
        return f"fails on the probe conversation ({error})"
    full_ids = list(full["input_ids"])
    completion = tokenizer.decode(full_ids[common_prefix_length(prompt_ids, full_ids):])
    if REASONING_SENTINEL not in completion:
        where = ("renders the reasoning outside the assistant's turn" if REASONING_SENTINEL in tokenizer.decode(full_ids)
                 else "drops the assistant's reasoning_content")
        return f"{where} (the probe's assistant turn renders as {completion!r}), so training would never see the <think> block"
    if assistant_only_loss and trainer == "sft":
        masked = tokenizer.decode([i for i, keep in zip(full_ids, full["assistant_masks"]) if keep])
        if REASONING_SENTINEL not in masked:
            return (f"leaves the reasoning out of the assistant mask of assistant_only_loss (masked tokens: "
                    f"{masked!r}), so the loss would skip the <think> block")
    return None


def trainer_template(tokenizer, *, trainer: TrainerKind, assistant_only_loss: bool, tools: bool) -> str:
    """The template the TRL trainer renders with: the tokenizer's, or TRL's training variant of it."""
    own = tokenizer.chat_template
    swap = ((trainer == "sft" and assistant_only_loss and not has_generation_markers(own))
            or (trainer == "grpo" and tools and not is_chat_template_prefix_preserving(tokenizer)))
    return (get_training_chat_template(tokenizer) or own) if swap else own


def suggest_template(tokenizer) -> str:
    """The shipped template(s) matching the tokenizer's chat tokens, for error messages."""
    vocab = tokenizer.get_vocab()
    if "<|im_start|>" in vocab:
        return "qwen2.5-think (Qwen2.5, QwQ) or qwen3-think (Qwen3)"
    if "<|start_header_id|>" in vocab:
        return "llama3-think"
    return f"plain-fewshot (a base model without chat tokens) or one of {', '.join(TEMPLATES)}"


def _tool_problem(tokenizer) -> str | None:
    if not supports_tool_calling(tokenizer):
        return "does not render tool calls and tool responses, which the GRPO environment needs"
    if getattr(tokenizer, "response_template", None) is None and getattr(tokenizer, "response_schema", None) is None:
        try:
            add_response_schema(tokenizer)  # what GRPOTrainer does; it raises for templates it does not know
        except ValueError:
            return "has no response parser for tool calls (TRL knows only its own templates' parsers)"
    return None


def _ids(tokenizer, messages: list[dict], template: str, *, add_generation_prompt: bool) -> list[int]:
    return list(tokenizer.apply_chat_template(messages, chat_template=template, tokenize=True, return_dict=True,
                                              add_generation_prompt=add_generation_prompt)["input_ids"])
