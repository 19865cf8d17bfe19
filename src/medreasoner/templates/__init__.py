"""Chat templates shipped with medreasoner: reasoning-aware, with ``{% generation %}`` markers.

Each template renders an assistant turn's ``reasoning_content`` as ``<think>\\n...\\n</think>\\n\\n``
before its content and wraps the assistant's whole output (think block, answer, end-of-turn token) in
``{% generation %}`` ... ``{% endgeneration %}``, so ``return_assistant_tokens_mask=True`` (TRL's
``assistant_only_loss``) trains the reasoning as well as the answer. A recipe picks one per stage with
``model.chat_template`` (see docs/stages.md, "Chat templates").
"""

from __future__ import annotations

from importlib.resources import files

from trl.chat_template_utils import qwen3_template

from medreasoner.files import read_text_utf8

# name -> file in this package. Literal on purpose: the set of shipped templates is read here, not discovered.
TEMPLATES = {
    "qwen2.5-think": "qwen2_5_think.jinja",  # Qwen2.5 / QwQ ChatML (<|im_start|>role ... <|im_end|>)
    "qwen3-think": "qwen3_think.jinja",  # Qwen3 ChatML; every assistant turn keeps its reasoning
    "llama3-think": "llama3_think.jinja",  # Llama 3.x headers (<|start_header_id|>role<|end_header_id|>)
    "plain-fewshot": "plain_fewshot.jinja",  # base models without chat tokens (Qwen2.5-72B base)
}

# name -> transformers response template that parses a generated assistant turn back into reasoning, content
# and tool calls (GRPO environments). Both Qwen templates write calls as TRL's Qwen3 parser expects
# ("<think>...</think>", "<tool_call>{json}</tool_call>", "<|im_end|>"); the others render no tool calls.
RESPONSE_TEMPLATES = {"qwen2.5-think": qwen3_template, "qwen3-think": qwen3_template}

# The recipe value that keeps the tokenizer's own template.
MODEL_TEMPLATE = "model"


def shipped_template(name: str) -> str:
    """The Jinja source of the shipped template ``name`` (a key of :data:`TEMPLATES`)."""
    if name not in TEMPLATES:
        raise KeyError(f"unknown chat template {name!r}; shipped: {', '.join(TEMPLATES)}")
    return files(__package__).joinpath(TEMPLATES[name]).read_text(encoding="utf-8")


def resolve_template(choice: str, tokenizer) -> str:
    """The Jinja source a recipe's ``model.chat_template`` value selects.

    Args:
        choice: ``"model"`` (the tokenizer's own template), a key of :data:`TEMPLATES`, or a path to a
            ``.jinja`` file (relative to the working directory, like every recipe path).
        tokenizer: the stage's tokenizer, read only for ``"model"``.

    Raises:
        ValueError: ``"model"`` with a tokenizer that has no chat template (a base model).
    """
    if choice == MODEL_TEMPLATE:
        if not tokenizer.chat_template:
            raise ValueError("model.chat_template: model, but the tokenizer has no chat template (a base model?); "
                             f"pick one of {', '.join(TEMPLATES)}")
        # A template shipped as named variants loads as a dict; "default" is the one chat turns use.
        own = tokenizer.chat_template
        return own["default"] if isinstance(own, dict) else own
    if choice in TEMPLATES:
        return shipped_template(choice)
    return read_text_utf8(choice, "chat template")
