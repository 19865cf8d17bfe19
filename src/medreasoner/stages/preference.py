"""Preference optimisation: DPO, or RPO = DPO + α·NLL on the chosen response (Preferred-MedLLM).

Data -> model -> trainer -> train -> save: ``preference/train.jsonl`` pairs train the policy with TRL's
``DPOTrainer``. The reference model is the starting checkpoint: TRL reloads it from ``model.path``
(frozen), or with ``precompute_ref_log_probs: true`` computes its log-probabilities once before training
and frees it; with a ``peft:`` section the reference is the base with adapters disabled.

Losses (TRL 1.16 ``loss_type``/``loss_weights``; TRL's old ``rpo_alpha`` field no longer exists):

- ``dpo``: ``-log σ(β·[(log π(y_w) - log π_ref(y_w)) - (log π(y_l) - log π_ref(y_l))])``, sequence
  log-probs summed over completion tokens (Rafailov et al. 2023, arXiv 2305.18290).
- ``rpo``: ``loss_type: [sigmoid, sft]``, ``loss_weights: [1, α]``: the DPO term plus α times the NLL of
  the chosen completions (Pang et al. 2024, arXiv 2404.19733, the "DPO+NLL" loss).

Differences from the papers: Preferred-MedLLM-Qwen-72B (arXiv 2504.18080, https://arxiv.org/abs/2504.18080)
applies RPO to its CPT model with pairs built from sampled correct/incorrect reasoning; those details
were not recovered. Pang et al. normalise the NLL per sequence by its length; TRL averages over all
chosen completion tokens of the batch (equal when chosen lengths are equal). Pang et al. iterate,
using the previous iteration as the reference; one stage is one iteration (chain stages to iterate).

Launch (1 GPU / CPU, and multi-GPU with ZeRO-3)::

    medreasoner run recipe.yaml
    accelerate launch --config_file configs/accelerate/zero3.yaml -m medreasoner.cli run recipe.yaml
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from trl import DPOConfig, DPOTrainer

from medreasoner.model import load_tokenizer
from medreasoner.recipe_inputs import InputPath
from medreasoner.stages.context import StageContext
from medreasoner.stages.datasets import load_preferences
from medreasoner.stages.peft_section import ChatModelSection, PeftSection, load_trainable_model, lora_config
from medreasoner.stages.template_probe import use_chat_template
from medreasoner.stages.optim import optim_section, section_owners
from medreasoner.stages.trainer_logging import attach_trackers
from medreasoner.stages.training import MetricsCallback, save_final_model, train, training_arguments


class DataSection(BaseModel):
    """Preference pairs (``margin`` is ignored here).

    Attributes:
        train: preference JSONL (e.g. ``${world}/preference/train.jsonl``).
        max_length: tokens per prompt + completion; longer pairs are truncated (prompt kept first).
    """

    model_config = ConfigDict(extra="forbid")
    train: InputPath
    max_length: int = Field(ge=1)


class PreferenceSection(BaseModel):
    """The ``preference:`` section.

    Attributes:
        loss: ``dpo`` or ``rpo``.
        beta: DPO temperature β (0.1 in both DPO and RPO papers).
        rpo_alpha: weight α of the NLL term; required by, and only read by, ``rpo`` (the RPO paper uses 1).
        precompute_ref_log_probs: compute the reference log-probs before training instead of keeping
            a frozen reference model in memory.
    """

    model_config = ConfigDict(extra="forbid")
    loss: Literal["dpo", "rpo"]
    beta: float = Field(gt=0)  # DPO divides nothing by it, but beta 0 makes the loss constant
    rpo_alpha: float | None = Field(None, ge=0)
    precompute_ref_log_probs: bool

    @model_validator(mode="after")
    def _check(self) -> "PreferenceSection":
        if (self.loss == "rpo") != (self.rpo_alpha is not None):
            raise ValueError("preference.rpo_alpha is required by, and only read by, loss: rpo")
        return self


def loss_arguments(preference: PreferenceSection) -> dict:
    """``DPOConfig`` loss keywords: RPO is the sigmoid DPO loss plus α times TRL's ``sft`` (NLL) term."""
    if preference.loss == "rpo":
        return {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, preference.rpo_alpha]}
    return {"loss_type": ["sigmoid"], "loss_weights": [1.0]}


# optim: takes any DPOConfig field except those run() sets from data: and preference:.
OptimSection = optim_section(DPOConfig, {**section_owners("data", DataSection, DPOConfig),
                                         **section_owners("preference", PreferenceSection, DPOConfig),
                                         "loss_type": "set it with preference.loss",
                                         "loss_weights": "set it with preference.loss and preference.rpo_alpha",
                                         "eval_strategy": "preference has no evaluation data"}, module=__name__)


class Config(BaseModel):
    """``kind: preference`` stage configuration (``peft`` omitted = full training)."""

    model_config = ConfigDict(extra="forbid")
    model: ChatModelSection
    data: DataSection
    preference: PreferenceSection
    optim: OptimSection
    peft: PeftSection | None = None


def run(config: Config, ctx: StageContext) -> dict:
    """Preference-train ``config.model``; save the merged model at ``ctx.out_dir``."""
    train_dataset = load_preferences(config.data.train, with_margin=False, cache_dir=ctx.out_dir / "dataset_cache")
    tokenizer = load_tokenizer(config.model.path, padding_side="right")
    use_chat_template(tokenizer, config.model.chat_template, stage_dir=ctx.out_dir, trainer="preference")

    args = DPOConfig(
        **training_arguments(config.optim, ctx),
        **loss_arguments(config.preference),
        beta=config.preference.beta,
        max_length=config.data.max_length,
        precompute_ref_log_probs=config.preference.precompute_ref_log_probs,
    )
    model = load_trainable_model(config.model, config.peft)

    trainer = DPOTrainer(
        model=model,
        ref_model=None,  # rebuilt from model.path (see the module docstring)
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
