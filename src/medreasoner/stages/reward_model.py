"""Scalar reward model trained on preference pairs (WiNGPT-3.0's WiNGPT-32B-RM, sec. 4.4).

Data -> model -> trainer -> train -> save: ``preference/train.jsonl`` pairs (``prompt``, ``chosen``,
``rejected``, optional ``margin``) train an ``AutoModelForSequenceClassification`` with one output (a
linear head on the last token's hidden state) with TRL's ``RewardTrainer`` and one of two losses:

- ``bradley_terry``: ``-log σ(r_chosen - r_rejected)`` (TRL's default; the ``margin`` column is dropped).
- ``scaled_bradley_terry``: ``-m · log σ(r_chosen - r_rejected)`` with m the pair's ``margin`` (preference
  magnitude, 1 when absent), from HelpSteer2-Preference (Wang et al. 2024, arXiv 2410.01257, sec. 4),
  the loss WiNGPT-3.0 reports as slightly better. TRL's own ``margin`` option computes
  ``-log σ(r_c - r_r - m)`` (a margin *inside* the sigmoid), which is a different loss, so
  :class:`ScaledBradleyTerryTrainer` overrides ``compute_loss`` (a few lines) and keeps TRL's metrics.

Differences from WiNGPT-3.0 (arXiv 2505.17387, https://arxiv.org/abs/2505.17387): the paper starts
from WiNGPT-2.8-32B and trains on 100K internal medical pairs plus HelpSteer3, INF-ORM-Preference-
Magnitude-80K and MedAlign; its hyperparameters are not stated. Here any causal LM directory is the
start and the synthetic world's pairs the data.

Launch (1 GPU / CPU, and multi-GPU with ZeRO-3)::

    medreasoner run recipe.yaml
    accelerate launch --config_file configs/accelerate/zero3.yaml -m medreasoner.cli run recipe.yaml
"""

from __future__ import annotations

from typing import Literal

import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from trl import RewardConfig, RewardTrainer

from medreasoner.model import load_tokenizer
from medreasoner.recipe_inputs import InputPath
from medreasoner.stages.context import StageContext
from medreasoner.stages.datasets import load_preferences
from medreasoner.stages.peft_section import ChatModelSection, PeftSection, load_trainable_model, lora_config
from medreasoner.stages.template_probe import use_chat_template
from medreasoner.stages.optim import optim_section, section_owners
from medreasoner.stages.trainer_logging import attach_trackers
from medreasoner.stages.training import MetricsCallback, save_final_model, train, training_arguments


class ScaledBradleyTerryTrainer(RewardTrainer):
    """``RewardTrainer`` with the scaled Bradley-Terry loss ``mean_i(-m_i · log σ(r_chosen,i - r_rejected,i))``."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        margin = inputs.pop("margin")  # (B,) preference magnitudes m
        # TRL's loss without its margin: we only reuse its forward pass and its logged metrics.
        _, outputs = super().compute_loss(model, inputs, return_outputs=True)
        rewards_chosen, rewards_rejected = outputs.logits.squeeze(-1).chunk(2)  # batch is [chosen; rejected]
        loss = -(margin * F.logsigmoid(rewards_chosen - rewards_rejected)).mean()
        if self.args.center_rewards_coefficient is not None:
            loss = loss + self.args.center_rewards_coefficient * ((rewards_chosen + rewards_rejected) ** 2).mean()
        return (loss, outputs) if return_outputs else loss


TRAINERS = {"bradley_terry": RewardTrainer, "scaled_bradley_terry": ScaledBradleyTerryTrainer}


class DataSection(BaseModel):
    """Preference pairs.

    Attributes:
        train: preference JSONL (e.g. ``${world}/preference/train.jsonl``).
        max_length: tokens per prompt + response; longer sequences are truncated.
    """

    model_config = ConfigDict(extra="forbid")
    train: InputPath
    max_length: int = Field(ge=1)


class RewardSection(BaseModel):
    """The ``reward:`` section.

    Attributes:
        loss: ``bradley_terry`` or ``scaled_bradley_terry`` (see the module docstring).
        center_rewards_coefficient: weight of ``mean((r_c + r_r)^2)`` that keeps rewards centred
            (Eisenstein et al. 2023, arXiv 2312.09244); null disables it (TRL's default).
    """

    model_config = ConfigDict(extra="forbid")
    loss: Literal["bradley_terry", "scaled_bradley_terry"]
    center_rewards_coefficient: float | None = Field(None, ge=0)


# optim: takes any RewardConfig field except those run() sets from data: and reward:.
OptimSection = optim_section(RewardConfig, {**section_owners("data", DataSection, RewardConfig),
                                            **section_owners("reward", RewardSection, RewardConfig),
                                            "eval_strategy": "reward_model has no evaluation data"}, module=__name__)


class Config(BaseModel):
    """``kind: reward_model`` stage configuration (``peft`` omitted = full training)."""

    model_config = ConfigDict(extra="forbid")
    model: ChatModelSection
    data: DataSection
    reward: RewardSection
    optim: OptimSection
    peft: PeftSection | None = None


def run(config: Config, ctx: StageContext) -> dict:
    """Train a scalar reward model from ``config.model``; save it at ``ctx.out_dir``."""
    scaled = config.reward.loss == "scaled_bradley_terry"
    train_dataset = load_preferences(config.data.train, with_margin=scaled, cache_dir=ctx.out_dir / "dataset_cache")
    tokenizer = load_tokenizer(config.model.path, padding_side="right")
    use_chat_template(tokenizer, config.model.chat_template, stage_dir=ctx.out_dir, trainer="reward_model")

    args = RewardConfig(
        **training_arguments(config.optim, ctx),
        max_length=config.data.max_length,
        center_rewards_coefficient=config.reward.center_rewards_coefficient,
    )
    model = load_trainable_model(config.model, config.peft, num_labels=1)

    trainer = TRAINERS[config.reward.loss](
        model=model,
        args=args,
        train_dataset=train_dataset,
        processing_class=tokenizer,
        peft_config=lora_config(config.peft, task_type="SEQ_CLS") if config.peft else None,
        callbacks=[MetricsCallback(ctx)],
    )
    attach_trackers(trainer, ctx, config)
    metrics = train(trainer, ctx)
    save_final_model(trainer, tokenizer, ctx, config, metrics=metrics, num_labels=1)
    return metrics
