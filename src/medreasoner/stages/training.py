"""What every training stage shares: the ``optim:`` section, metric logging, resume and the final save.

Output convention (all training stages and ``merge``)::

    <out_dir>/                     final Hugging Face model: config.json, model.safetensors, tokenizer files
    <out_dir>/checkpoints/checkpoint-<step>/   Trainer checkpoints (weights + optimizer + RNG), for resume
    <out_dir>/adapter/             LoRA adapters, only when the stage had a ``peft:`` section

so a later stage names the model as ``${stage}``. The final model is always a full (merged) model,
loadable by ``AutoModelForCausalLM`` / ``AutoModelForSequenceClassification`` and by vLLM.
"""

from __future__ import annotations

import math
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator
from transformers import TrainerCallback

from medreasoner.model import load_model
from medreasoner.stages.context import StageContext
from medreasoner.stages.peft_section import ModelSection, PeftSection


class OptimSection(BaseModel):
    """The ``optim:`` section: optimisation and checkpointing knobs shared by every trainer.

    Exactly one of ``num_train_epochs`` / ``max_steps`` is set. Fields with defaults:
    ``min_lr_rate`` (only read by ``cosine_with_min_lr``; WiNGPT-3.0 anneals to 10 % -> 0.1),
    ``save_total_limit`` (null keeps every checkpoint, the transformers default),
    ``deepspeed`` (null: no DeepSpeed; a path such as ``configs/deepspeed/zero3.json`` otherwise),
    ``report_to`` (``[none]``: metrics already go to the run's metrics.jsonl through the pipeline),
    ``dataloader_num_workers`` (0: load in the main process, the transformers default).

    Attributes:
        learning_rate: peak AdamW learning rate.
        warmup_steps: linear warmup length in optimizer steps.
        lr_scheduler_type: schedule after warmup.
        per_device_train_batch_size: sequences (GRPO: completions) per device per micro-step.
        gradient_accumulation_steps: micro-steps per optimizer step.
        logging_steps / save_steps: optimizer steps between logs / checkpoints.
        bf16: bf16 autocast (CPUs with AVX512_BF16 and Ampere+ GPUs).
        gradient_checkpointing: recompute activations (saves memory, ~45 % slower on CPU).
        use_cpu: train on CPU even when a GPU is visible.
    """

    model_config = ConfigDict(extra="forbid")
    learning_rate: float
    num_train_epochs: float | None = None
    max_steps: int | None = None
    per_device_train_batch_size: int
    gradient_accumulation_steps: int
    warmup_steps: int
    lr_scheduler_type: Literal["constant", "constant_with_warmup", "linear", "cosine", "cosine_with_min_lr"]
    min_lr_rate: float | None = None
    weight_decay: float
    max_grad_norm: float
    bf16: bool
    gradient_checkpointing: bool
    use_cpu: bool
    logging_steps: int
    save_steps: int
    save_total_limit: int | None = None
    deepspeed: str | None = None
    report_to: list[str] = ["none"]
    dataloader_num_workers: int = 0

    @model_validator(mode="after")
    def _check(self) -> "OptimSection":
        if (self.num_train_epochs is None) == (self.max_steps is None):
            raise ValueError("set exactly one of optim.num_train_epochs and optim.max_steps")
        if (self.lr_scheduler_type == "cosine_with_min_lr") != (self.min_lr_rate is not None):
            raise ValueError("optim.min_lr_rate is required by, and only read by, lr_scheduler_type cosine_with_min_lr")
        return self


def checkpoints_dir(out_dir: Path) -> Path:
    """Where a stage's Trainer checkpoints go."""
    return Path(out_dir) / "checkpoints"


def training_arguments(optim: OptimSection, ctx: StageContext) -> dict:
    """The keyword arguments common to every TRL ``*Config`` (a ``TrainingArguments`` subclass).

    TRL's configs default to ``gradient_checkpointing=True`` and ``bf16=True``; both are set
    explicitly here from the recipe.
    """
    return {
        "output_dir": str(checkpoints_dir(ctx.out_dir)),
        "learning_rate": optim.learning_rate,
        "num_train_epochs": optim.num_train_epochs if optim.num_train_epochs is not None else 1.0,
        "max_steps": optim.max_steps if optim.max_steps is not None else -1,
        "per_device_train_batch_size": optim.per_device_train_batch_size,
        "gradient_accumulation_steps": optim.gradient_accumulation_steps,
        "warmup_steps": optim.warmup_steps,
        "lr_scheduler_type": optim.lr_scheduler_type,
        "lr_scheduler_kwargs": {"min_lr_rate": optim.min_lr_rate} if optim.min_lr_rate is not None else None,
        "weight_decay": optim.weight_decay,
        "max_grad_norm": optim.max_grad_norm,
        "bf16": optim.bf16,
        "gradient_checkpointing": optim.gradient_checkpointing,
        "use_cpu": optim.use_cpu,
        "logging_steps": optim.logging_steps,
        "save_strategy": "steps",
        "save_steps": optim.save_steps,
        "save_total_limit": optim.save_total_limit,
        "deepspeed": optim.deepspeed,
        "report_to": optim.report_to,
        "dataloader_num_workers": optim.dataloader_num_workers,
        "seed": ctx.seed,
        "data_seed": ctx.seed,
    }


def _as_float(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class MetricsCallback(TrainerCallback):
    """Forward every Trainer log (loss, lr, grad_norm, TRL's per-reward means...) to ``ctx.log``.

    Values are parsed to floats (transformers 5 formats some as strings); non-numeric entries are dropped.
    """

    def __init__(self, ctx: StageContext):
        self.ctx = ctx

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        metrics = {key: number for key, value in logs.items() if (number := _as_float(value)) is not None}
        if metrics:
            self.ctx.log(metrics, state.global_step)


def last_checkpoint(out_dir: Path) -> str | None:
    """The newest complete ``checkpoints/checkpoint-<step>`` of a stage, or None when there is none.

    A checkpoint counts only once its ``trainer_state.json`` exists: the Trainer writes it last, so a
    process killed in the middle of a save leaves a directory without it, which is skipped.
    """
    directory = checkpoints_dir(out_dir)
    if not directory.is_dir():
        return None
    steps = [int(m.group(1)) for p in directory.iterdir()
             if (m := re.fullmatch(r"checkpoint-(\d+)", p.name)) and (p / "trainer_state.json").is_file()]
    return str(directory / f"checkpoint-{max(steps)}") if steps else None


def train(trainer, ctx: StageContext) -> dict:
    """Run ``trainer.train``, resuming from the stage's last checkpoint if one exists.

    Returns:
        the Trainer's final metrics (train_loss, train_runtime in s, ...) plus ``global_step``.
    """
    result = trainer.train(resume_from_checkpoint=last_checkpoint(ctx.out_dir))
    metrics = {key: number for key, value in result.metrics.items() if (number := _as_float(value)) is not None}
    metrics["global_step"] = trainer.state.global_step
    return metrics


def _publish(source: Path, out_dir: Path) -> None:
    # Move the finished files into out_dir one by one (each os.replace is atomic), weights last,
    # so an interrupted save never leaves a config pointing at missing weights.
    files = sorted(source.iterdir(), key=lambda p: p.suffix == ".safetensors")
    for path in files:
        target = out_dir / path.name
        if path.is_dir():
            if target.exists():
                shutil.rmtree(target)
        os.replace(path, target)
    source.rmdir()


@contextmanager
def _without_zero3_init():
    # Only the main process reloads the base to merge adapters; under ZeRO-3 transformers would build it
    # with deepspeed.zero.Init, a collective the other ranks never join. transformers has no public
    # "suspend" switch, so the global it reads is cleared and restored.
    from transformers.integrations import deepspeed as hf_deepspeed

    saved = hf_deepspeed._hf_deepspeed_config_weak_ref
    hf_deepspeed.unset_hf_deepspeed_config()
    try:
        yield
    finally:
        hf_deepspeed._hf_deepspeed_config_weak_ref = saved


def save_final_model(trainer, tokenizer, ctx: StageContext, model: ModelSection, peft: PeftSection | None,
                     *, num_labels: int | None = None) -> None:
    """Save the trained model (LoRA adapters merged into the base) and tokenizer at ``ctx.out_dir``.

    With a ``peft:`` section the base is reloaded from ``model.path`` in ``model.dtype`` (unquantised
    even after QLoRA) and the adapters are merged into it; the adapters alone stay in ``adapter/``.
    """
    out_dir = Path(ctx.out_dir)
    staging, adapter_dir = out_dir / ".final.tmp", out_dir / ".adapter.tmp"
    if trainer.accelerator.is_main_process:  # leftovers of a save that was interrupted
        for stale in (staging, adapter_dir):
            shutil.rmtree(stale, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()
    trainer.save_model(str(staging))  # collective under DeepSpeed/FSDP: every rank must call it
    if trainer.accelerator.is_main_process:
        if peft is not None:
            from peft import PeftModel

            os.replace(staging, adapter_dir)
            with _without_zero3_init():
                base = load_model(model.path, dtype=model.dtype, num_labels=num_labels)
            merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
            merged.save_pretrained(staging)
            os.replace(adapter_dir, staging / "adapter")
        for leftover in (staging / "training_args.bin", staging / "adapter" / "training_args.bin"):
            leftover.unlink(missing_ok=True)
        tokenizer.save_pretrained(staging)
        _publish(staging, out_dir)
    trainer.accelerator.wait_for_everyone()
