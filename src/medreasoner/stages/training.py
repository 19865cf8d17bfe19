"""What every training stage shares: the Trainer arguments, metric logging, resume and the final save.

The ``optim:`` schema is :mod:`medreasoner.stages.optim`; the trackers :mod:`medreasoner.stages.trainer_logging`.

Output convention (all training stages and ``merge``)::

    <out_dir>/                     final Hugging Face model: config.json, model.safetensors, tokenizer files,
                                   generation_config.json, README.md (model card; not written by merge)
    <out_dir>/checkpoints/checkpoint-<step>/   Trainer checkpoints (weights + optimizer + RNG), for resume
    <out_dir>/adapter/             LoRA adapters, only when the stage had a ``peft:`` section

so a later stage names the model as ``${stage}``. The final model is always a full (merged) model,
loadable by ``AutoModelForCausalLM`` / ``AutoModelForSequenceClassification`` and by vLLM.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
import zipfile
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel
from transformers import TrainerCallback

from medreasoner.files import write_json_atomic
from medreasoner.model import load_model
from medreasoner.stages.context import StageContext
from medreasoner.stages.inference_config import finish_inference_config
from medreasoner.stages.model_card import write_model_card
from medreasoner.stages.optim import OptimSection, trl_keywords
from medreasoner.stages.trainer_logging import tracker_arguments


def checkpoints_dir(out_dir: Path) -> Path:
    """Where a stage's Trainer checkpoints go."""
    return Path(out_dir) / "checkpoints"


def training_arguments(optim: OptimSection, ctx: StageContext) -> dict:
    """The keyword arguments common to every TRL ``*Config`` (a ``TrainingArguments`` subclass).

    The explicit ``optim:`` fields, the trackers (:func:`~medreasoner.stages.trainer_logging.tracker_arguments`),
    the recipe's seed, and the section's extra keys (fields of the stage's TRL config, checked when the
    recipe loaded; see :mod:`medreasoner.stages.optim`). TRL's configs default to
    ``gradient_checkpointing=True`` and ``bf16=True``; both are set explicitly here from the recipe.
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
        "dataloader_num_workers": optim.dataloader_num_workers,
        "seed": ctx.seed,
        "data_seed": ctx.seed,
        **tracker_arguments(ctx),
        **trl_keywords(optim),  # never one of the keys above: optim_section refuses those (COMMON_OWNERS)
    }


def _as_float(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class MetricsCallback(TrainerCallback):
    """Forward every Trainer log (loss, lr, grad_norm, TRL's per-reward means...) to ``ctx.log``
    (``metrics.jsonl``, under their Trainer names: ``loss``, ``rewards/<name>/mean``). The trackers
    get the same logs from transformers' own callbacks (:mod:`medreasoner.stages.trainer_logging`).

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


def last_checkpoint(out_dir: Path, world_size: int = 1) -> str | None:
    """The newest complete ``checkpoints/checkpoint-<step>`` of a stage, or None when there is none.

    ``world_size``: the number of training processes that will resume it. A checkpoint counts as complete when
    :func:`checkpoint_complete` says so; an incomplete one (a process killed in the middle of a save) is
    skipped and the one before it is used. Checked newest first, so older checkpoints are not read.
    """
    directory = checkpoints_dir(out_dir)
    if not directory.is_dir():
        return None
    steps = sorted((int(m.group(1)) for p in directory.iterdir()
                    if (m := re.fullmatch(r"checkpoint-(\d+)", p.name))), reverse=True)
    return next((str(directory / f"checkpoint-{step}") for step in steps
                 if checkpoint_complete(directory / f"checkpoint-{step}", world_size)), None)


def checkpoint_complete(checkpoint: Path, world_size: int = 1) -> bool:
    """Whether a Trainer checkpoint can be resumed by ``world_size`` processes.

    Rank 0 writes ``trainer_state.json`` last, but it does not wait for the other ranks: in a distributed
    run each rank saves its own ``rng_state_<rank>.pth`` (and, under DeepSpeed, its parameter and optimizer
    partitions), so a rank killed during a save leaves a checkpoint that has ``trainer_state.json`` and a
    truncated or missing file of that rank, and resuming from it fails on the truncated file (EOFError).
    Complete, then: ``trainer_state.json`` exists; every torch-saved file below the checkpoint is a whole
    zip archive (torch.save writes zip, whose central directory comes last, so a cut-off write is not
    one); and a checkpoint saved by several processes holds the RNG state of each of ``world_size`` ranks.
    """
    if not (checkpoint / "trainer_state.json").is_file():
        return False
    if not all(zipfile.is_zipfile(path) for pattern in ("*.pt", "*.pth", "*.bin")
               for path in checkpoint.rglob(pattern)):
        return False
    saved_distributed = any(checkpoint.glob("rng_state_*.pth"))
    return not saved_distributed or world_size <= 1 or all(
        (checkpoint / f"rng_state_{rank}.pth").is_file() for rank in range(world_size))


SEGMENTS_FILE = "medreasoner_segments.json"


class SegmentsCallback(TrainerCallback):
    """Record, in every checkpoint, the training segments (runs of ``trainer.train``) that led to it.

    ``checkpoint-<step>/medreasoner_segments.json`` = ``[{"start_step", "end_step", "runtime_s"}]``:
    the segments before this one (read from the checkpoint it resumed from) plus this one up to the
    save. A resumed stage adds them up, so its manifest's runtime covers the whole run.
    """

    def __init__(self, previous: list[dict], start_step: int):
        self.previous, self.start_step, self.started = previous, start_step, time.perf_counter()

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.perf_counter()

    def on_save(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if checkpoint.is_dir():
            segment = {"start_step": self.start_step, "end_step": state.global_step,
                       "runtime_s": round(time.perf_counter() - self.started, 3)}
            write_json_atomic(checkpoint / SEGMENTS_FILE, self.previous + [segment])


def _previous_segments(checkpoint: str | None) -> list[dict]:
    if checkpoint is None:
        return []
    step = int(Path(checkpoint).name.rsplit("-", 1)[1])
    path = Path(checkpoint) / SEGMENTS_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        # A checkpoint saved before segments were recorded (or killed between the two files).
        return [{"start_step": 0, "end_step": step, "runtime_s": None}]


def whole_run_loss(log_history: list[dict], start_step: int, segment_loss: float | None,
                   segment_steps: int) -> float | None:
    """Mean training loss per optimizer step over the whole run, resumed segments included.

    The Trainer's own ``train_loss`` averages only the steps of the last ``train()`` call. Each
    ``loss`` entry of the log history (kept in ``trainer_state.json`` across resumes) is the mean
    over the steps since the previous entry, so the steps up to ``start_step`` contribute
    ``sum(loss_i * (step_i - step_{i-1}))`` and the last segment ``segment_loss * segment_steps``;
    dividing by the steps covered gives the mean an uninterrupted run reports (exactly, when the
    checkpoint step is a logged step; steps between the last log and the checkpoint are not in the
    log and are left out otherwise).
    """
    total, steps, previous = 0.0, 0, 0
    for entry in log_history:
        step = entry.get("step")
        if "loss" not in entry or step is None or step > start_step or (loss := _as_float(entry["loss"])) is None:
            continue
        total += loss * (step - previous)
        steps += step - previous
        previous = step
    if segment_loss is not None and segment_steps > 0:
        total += segment_loss * segment_steps
        steps += segment_steps
    return total / steps if steps else segment_loss


def train(trainer, ctx: StageContext) -> dict:
    """Run ``trainer.train``, resuming from the stage's last checkpoint if one exists.

    Returns:
        The Trainer's final metrics, over the whole run when it was resumed: ``train_loss`` (mean
        loss per step, :func:`whole_run_loss`), ``train_runtime`` (s, summed over the segments that
        led to the final weights; work lost after a segment's last checkpoint is not counted),
        ``train_steps_per_second`` / ``train_samples_per_second`` recomputed from them,
        ``total_flos`` (the Trainer keeps it across resumes); plus ``global_step``, ``train_segments``
        (count) and ``segments`` (``[{"start_step", "end_step", "runtime_s", "train_loss"}]``, one per
        ``trainer.train`` call; runtime None when a checkpoint predates segment records), and
        ``distributed`` (:func:`distributed_info`).
    """
    checkpoint = last_checkpoint(ctx.out_dir, trainer.args.world_size)
    start_step = int(Path(checkpoint).name.rsplit("-", 1)[1]) if checkpoint else 0
    previous = _previous_segments(checkpoint)
    trainer.add_callback(SegmentsCallback(previous, start_step))
    result = trainer.train(resume_from_checkpoint=checkpoint)
    metrics = {key: number for key, value in result.metrics.items() if (number := _as_float(value)) is not None}
    end_step = trainer.state.global_step
    segment_steps = end_step - start_step
    segment = {"start_step": start_step, "end_step": end_step, "runtime_s": metrics.get("train_runtime"),
               "train_loss": metrics.get("train_loss")}
    segments = previous + [segment]
    if previous:
        loss = whole_run_loss(trainer.state.log_history, start_step, metrics.get("train_loss"), segment_steps)
        if loss is not None:
            metrics["train_loss"] = loss
        runtimes = [s["runtime_s"] for s in segments if s["runtime_s"] is not None]
        if "train_runtime" in metrics and runtimes:
            runtime = sum(runtimes)
            steps_per_second = metrics.get("train_steps_per_second")
            samples_per_step = (metrics["train_samples_per_second"] / steps_per_second
                                if steps_per_second and "train_samples_per_second" in metrics else None)
            metrics["train_runtime"] = round(runtime, 4)
            if runtime > 0 and steps_per_second is not None:
                metrics["train_steps_per_second"] = round(end_step / runtime, 3)
                if samples_per_step is not None:
                    metrics["train_samples_per_second"] = round(end_step * samples_per_step / runtime, 3)
    metrics["global_step"] = end_step
    metrics["train_segments"] = len(segments)
    metrics["segments"] = segments
    metrics["distributed"] = distributed_info(trainer)
    return metrics


def distributed_info(trainer) -> dict:
    """How the Trainer split the work: ``distributed_type`` (accelerate's: ``NO``, ``MULTI_CPU``,
    ``MULTI_GPU``, ``FSDP``, ``DEEPSPEED``), ``num_processes`` and ``global_batch_size`` (sequences,
    GRPO: completions, per optimizer step = per-device batch x accumulation x processes)."""
    args = trainer.args
    return {"distributed_type": trainer.accelerator.distributed_type.value,
            "num_processes": trainer.accelerator.num_processes,
            "global_batch_size": args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size}


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


def save_final_model(trainer, tokenizer, ctx: StageContext, config: BaseModel, *, metrics: dict,
                     num_labels: int | None = None) -> None:
    """Save the trained model (LoRA adapters merged into the base) and tokenizer at ``ctx.out_dir``.

    With a ``peft:`` section the base is reloaded from ``model.path`` in ``model.dtype`` (unquantised
    even after QLoRA) and the adapters are merged into it; the adapters alone stay in ``adapter/``.
    The saved model is ready for others to load: ``use_cache: true`` and the chat template's stop
    tokens in its configs (:mod:`~medreasoner.stages.inference_config`), and a model card with its
    lineage (:mod:`~medreasoner.stages.model_card`).

    Args:
        trainer: the trained Trainer.
        tokenizer: the stage's tokenizer (with the chat template it trained with).
        ctx: the stage context.
        config: the stage's validated config (``model``, ``peft``, ``data`` sections).
        metrics: the stage's final metrics, listed in the model card.
        num_labels: 1 for a reward model (sequence classification); None for a causal LM.
    """
    model, peft = config.model, getattr(config, "peft", None)
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
        finish_inference_config(staging, tokenizer, causal_lm=num_labels is None)
        model_class = "AutoModelForCausalLM" if num_labels is None else "AutoModelForSequenceClassification"
        write_model_card(staging, ctx=ctx, config=config, trainer_name=type(trainer).__name__,
                         model_class=model_class, metrics=metrics)
        _publish(staging, out_dir)
    trainer.accelerator.wait_for_everyone()
