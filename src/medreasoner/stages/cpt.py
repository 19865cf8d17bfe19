"""Continued pretraining: causal-LM loss on raw text (Preferred-MedLLM's medical CPT; WiNGPT has none).

Data -> model -> trainer -> train -> save: ``{"text"}`` rows (``cpt/train.jsonl``, or a directory of
``.txt``/``.jsonl`` files) are trained with TRL's ``SFTTrainer`` as a language-modelling dataset (every
token is a target; TRL appends the EOS token to each document).

- ``packing: false``: one document per row, truncated to ``max_length`` tokens.
- ``packing: true, packing_strategy: bfd``: documents are packed into ``max_length`` rows without
  padding; attention stays within each document (TRL passes ``position_ids`` and ``use_cache=False``,
  so transformers builds the block-diagonal mask; see docs/stages.md).
- ``packing_strategy: wrapped``: the classic GPT recipe: concatenate everything and cut fixed blocks
  (documents attend to their predecessors in the same block).

Differences from Preferred-MedLLM-Qwen-72B (arXiv 2504.18080, https://arxiv.org/abs/2504.18080):
the paper continues pretraining Qwen2.5-72B on a large Japanese medical corpus whose size, mixture and
hyperparameters were not recovered; here corpus, length and schedule are all recipe knobs, and the
CPU demo uses the synthetic world's EN + JA text.

Launch (1 GPU / CPU, and multi-GPU with ZeRO-3)::

    medreasoner run recipe.yaml
    accelerate launch --config_file configs/accelerate/zero3.yaml -m medreasoner.cli run recipe.yaml
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from trl import SFTConfig, SFTTrainer

from medreasoner.model import load_tokenizer
from medreasoner.recipe_inputs import InputPath
from medreasoner.stages.context import StageContext
from medreasoner.stages.datasets import load_text_corpus
from medreasoner.stages.peft_section import ModelSection, PeftSection, load_trainable_model, lora_config
from medreasoner.stages.optim import optim_section, section_owners
from medreasoner.stages.trainer_logging import attach_trackers
from medreasoner.stages.training import MetricsCallback, save_final_model, train, training_arguments


class DataSection(BaseModel):
    """Raw-text corpus.

    Attributes:
        path: ``{"text"}`` JSONL file or a directory of ``.txt``/``.jsonl`` files.
        max_length: tokens per training row.
        packing: pack several documents per row (see the module docstring).
        packing_strategy: ``bfd`` (per-document attention) or ``wrapped`` (fixed blocks); only with packing.
    """

    model_config = ConfigDict(extra="forbid")
    path: InputPath
    max_length: int = Field(ge=1)
    packing: bool
    packing_strategy: Literal["bfd", "wrapped"] | None = None

    @model_validator(mode="after")
    def _check(self) -> "DataSection":
        if self.packing != (self.packing_strategy is not None):
            raise ValueError("data.packing_strategy is required with, and only read with, data.packing: true")
        return self


# optim: takes any SFTConfig field except those run() sets from data: (cpt has no evaluation data).
OptimSection = optim_section(SFTConfig, {**section_owners("data", DataSection, SFTConfig),
                                         "dataset_text_field": "the stage reads data.path into a text column",
                                         "eval_strategy": "cpt has no evaluation data"}, module=__name__)


class Config(BaseModel):
    """``kind: cpt`` stage configuration (``peft`` omitted = full training)."""

    model_config = ConfigDict(extra="forbid")
    model: ModelSection
    data: DataSection
    optim: OptimSection
    peft: PeftSection | None = None


def run(config: Config, ctx: StageContext) -> dict:
    """Continue pretraining ``config.model`` on the corpus; save the model at ``ctx.out_dir``."""
    train_dataset = load_text_corpus(config.data.path, cache_dir=ctx.out_dir / "dataset_cache")

    packing_kwargs = {"packing_strategy": config.data.packing_strategy} if config.data.packing else {}
    args = SFTConfig(
        **training_arguments(config.optim, ctx),
        dataset_text_field="text",
        max_length=config.data.max_length,
        packing=config.data.packing,
        **packing_kwargs,
    )
    model = load_trainable_model(config.model, config.peft)
    tokenizer = load_tokenizer(config.model.path, padding_side="right")

    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        processing_class=tokenizer,
        peft_config=lora_config(config.peft, task_type="CAUSAL_LM") if config.peft else None,
        callbacks=[MetricsCallback(ctx)],
    )
    attach_trackers(trainer, ctx, config)
    metrics = train(trainer, ctx)
    save_final_model(trainer, tokenizer, ctx, config, metrics=metrics)
    return metrics
