"""Supervised fine-tuning on conversations with ``<think>`` reasoning (WiNGPT-3.0 stage S1).

Data -> model -> trainer -> train -> save: ``sft/train.jsonl`` conversations (the assistant turn carries
``reasoning_content``, rendered by the chat template as ``<think>...</think>`` before the answer) are
trained with TRL's ``SFTTrainer``; with ``assistant_only_loss: true`` only assistant tokens (reasoning,
answer and the end-of-turn token) count in the loss. ``model.chat_template`` picks the template; before the
model loads, :mod:`medreasoner.stages.template_probe` checks that it renders and masks the reasoning (Qwen2.5's
own template drops it). The tiny model's template is TRL's Qwen3 template, which TRL recognises and
replaces during training by its copy with ``{% generation %}`` markers; the shipped ones carry their own.

Differences from WiNGPT-3.0 (arXiv 2505.17387, https://arxiv.org/abs/2505.17387), sec. 4.2 S1:
the paper trains Qwen2.5-32B for 2 epochs at 16K context with lr 1e-5, 500 warmup steps and cosine
decay to 10 % under DeepSpeed ZeRO-3 (``recipes`` set these through ``optim:``); it does not state the
loss masking, batch size or packing, which are explicit knobs here.

Launch (1 GPU / CPU, and multi-GPU with ZeRO-3)::

    medreasoner run recipe.yaml
    accelerate launch --config_file configs/accelerate/zero3.yaml -m medreasoner.cli run recipe.yaml
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator
from trl import SFTConfig, SFTTrainer

from medreasoner.model import load_tokenizer
from medreasoner.recipe_inputs import InputPath
from medreasoner.stages.context import StageContext
from medreasoner.stages.datasets import load_conversations
from medreasoner.stages.peft_section import ChatModelSection, PeftSection, load_trainable_model, lora_config
from medreasoner.stages.template_probe import use_chat_template
from medreasoner.stages.optim import optim_section, section_owners
from medreasoner.stages.trainer_logging import attach_trackers
from medreasoner.stages.training import MetricsCallback, save_final_model, train, training_arguments


class DataSection(BaseModel):
    """SFT data.

    Attributes:
        train: ``{"messages"}`` JSONL (e.g. ``${world}/sft/train.jsonl``).
        validation: optional held-out JSONL, evaluated every ``eval_steps`` (both or neither).
        max_length: tokens per conversation; longer ones are truncated.
        packing: pack conversations into ``max_length`` rows (padding-free; pays off on GPU with
            flash-attention, slower on CPU).
        assistant_only_loss: loss on assistant tokens only (the prompt is context, not target).
    """

    model_config = ConfigDict(extra="forbid")
    train: InputPath
    validation: InputPath | None = None
    eval_steps: int | None = Field(None, ge=1)
    max_length: int = Field(ge=1)
    packing: bool
    assistant_only_loss: bool

    @model_validator(mode="after")
    def _check(self) -> "DataSection":
        if (self.validation is None) != (self.eval_steps is None):
            raise ValueError("data.validation and data.eval_steps go together")
        return self


# optim: takes any SFTConfig field except those run() sets from data:.
OptimSection = optim_section(SFTConfig, {**section_owners("data", DataSection, SFTConfig),
                                         "eval_strategy": "set by data.validation and data.eval_steps"},
                             module=__name__)


class Config(BaseModel):
    """``kind: sft`` stage configuration (``peft`` omitted = full fine-tuning)."""

    model_config = ConfigDict(extra="forbid")
    model: ChatModelSection
    data: DataSection
    optim: OptimSection
    peft: PeftSection | None = None


def run(config: Config, ctx: StageContext) -> dict:
    """Fine-tune ``config.model`` on ``config.data``; save the merged model at ``ctx.out_dir``."""
    cache_dir = ctx.out_dir / "dataset_cache"  # Arrow cache in the run: self-contained, shared by ranks
    train_dataset = load_conversations(config.data.train, cache_dir=cache_dir)
    eval_dataset = load_conversations(config.data.validation, cache_dir=cache_dir) if config.data.validation else None
    # The template is checked before anything heavy (training arguments, the model) is built.
    tokenizer = load_tokenizer(config.model.path, padding_side="right")
    use_chat_template(tokenizer, config.model.chat_template, stage_dir=ctx.out_dir, trainer="sft",
                      assistant_only_loss=config.data.assistant_only_loss)

    args = SFTConfig(
        **training_arguments(config.optim, ctx),
        max_length=config.data.max_length,
        packing=config.data.packing,
        assistant_only_loss=config.data.assistant_only_loss,
        eval_strategy="steps" if eval_dataset is not None else "no",
        eval_steps=config.data.eval_steps,
    )
    model = load_trainable_model(config.model, config.peft)

    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
        peft_config=lora_config(config.peft, task_type="CAUSAL_LM") if config.peft else None,
        callbacks=[MetricsCallback(ctx)],
    )
    attach_trackers(trainer, ctx, config)
    metrics = train(trainer, ctx)
    if eval_dataset is not None:
        metrics.update(trainer.evaluate())
    save_final_model(trainer, tokenizer, ctx, config, metrics=metrics)
    return metrics
