"""What a training stage sends to the recipe's trackers (``logging.report_to``), through the libraries' callbacks.

The recipe's trackers are the Trainer's ``report_to``, so transformers' integration callbacks
(``TensorBoardCallback``, ``WandbCallback``, ``MLflowCallback``) log every Trainer log under namespaced
tags (``train/loss``, ``train/rewards/<name>/mean``, ``eval/loss``) at the optimizer step:

- TensorBoard writes to ``<stage dir>/tb`` (transformers' default would be ``checkpoints/runs/<date>``)
  and gets the TrainingArguments and model config as text from its callback; :class:`TensorBoardExtras`
  adds the hparams (TrainingArguments plus the stage's resolved config, ``stage/<field>``), the
  resolved config as YAML text, and, for GRPO with ``optim.log_completions: true``, a text summary of
  the sampled prompt / completion / reward rows of every logging step (TRL logs these tables to W&B
  and Trackio only; it also writes them to ``checkpoints/completions/completions_<step>.parquet``,
  which this callback reads).
- W&B and MLflow: under the pipeline the run is opened before the stage starts
  (:class:`medreasoner.tracking.MetricsLog`: project or experiment = recipe name, run = stage name,
  the resolved config as run config), and the integration callbacks join it and add the
  TrainingArguments; TRL logs GRPO completion tables to W&B itself.

``metrics.jsonl`` is written by :class:`medreasoner.stages.training.MetricsCallback` either way.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel
from transformers import TrainerCallback
from transformers.integrations import TensorBoardCallback

from medreasoner.pipeline import flatten_config
from medreasoner.stages.context import StageContext
from medreasoner.tracking import CONFIG_TAG, config_markdown

TENSORBOARD_DIR = "tb"
COMPLETIONS_TAG = "train/completion_samples"


def tracker_arguments(ctx: StageContext) -> dict:
    """TrainingArguments keywords naming the trackers: ``report_to`` (the recipe's ``logging.report_to``;
    ``["none"]`` when empty) and ``run_name`` (the stage name, the W&B/MLflow run name)."""
    return {"report_to": list(ctx.report_to) or ["none"], "run_name": Path(ctx.out_dir).name}


def attach_trackers(trainer, ctx: StageContext, config: BaseModel) -> None:
    """Point the Trainer's TensorBoard callback at ``<stage dir>/tb`` and add :class:`TensorBoardExtras`.

    Call after the Trainer is built and before it trains. Does nothing without ``tensorboard`` in
    ``ctx.report_to``.

    Args:
        trainer: a transformers/TRL Trainer built with :func:`tracker_arguments`.
        ctx: the stage context (``out_dir``, ``report_to``).
        config: the stage's validated config (logged as hparams and text).
    """
    if "tensorboard" not in ctx.report_to:
        return
    log_dir = Path(ctx.out_dir) / TENSORBOARD_DIR
    for callback in trainer.callback_handler.callbacks:
        if isinstance(callback, TensorBoardCallback):
            callback.logging_dir = str(log_dir)  # read when training begins
    # TRL's GRPO writes each logging step's samples there with log_completions (a GRPOConfig field, set in optim:).
    logs_completions = getattr(trainer.args, "log_completions", False)
    completions = Path(trainer.args.output_dir) / "completions" if logs_completions else None
    trainer.add_callback(TensorBoardExtras(log_dir, config.model_dump(mode="json"), completions_dir=completions,
                                           rows=getattr(trainer.args, "num_completions_to_print", None)))


class TensorBoardExtras(TrainerCallback):
    """Hparams, the resolved config and GRPO completion samples in TensorBoard (see the module docstring).

    Args:
        log_dir: the TensorBoard directory (the same as the integration callback's).
        config: the stage's resolved config (plain data).
        completions_dir: where TRL writes ``completions_<step>.parquet`` (None: not logging completions).
        rows: completion rows shown per logging step (TRL's ``num_completions_to_print``; None = all).
    """

    def __init__(self, log_dir: Path, config: dict, *, completions_dir: Path | None, rows: int | None):
        self.log_dir, self.config = Path(log_dir), config
        self.completions_dir, self.rows = completions_dir, rows
        self.writer = None
        self.written: set[str] = set()

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.tensorboard.summary import hparams

        self.writer = SummaryWriter(log_dir=str(self.log_dir))
        self.writer.add_text(CONFIG_TAG, config_markdown(self.config), state.global_step)
        values = {**args.to_sanitized_dict(), **{f"stage/{k}": v for k, v in flatten_config(self.config).items()}}
        # hparams takes int/float/str/bool; the metric links the hparams view to the loss curve.
        for summary in hparams({k: _hparam(v) for k, v in values.items()}, {"train/loss": None}):
            self.writer.file_writer.add_summary(summary, state.global_step)
        # Completion files already there were logged by the segment that wrote them (a resumed run).
        self.written = set(_completion_files(self.completions_dir))
        self.writer.flush()

    def on_step_begin(self, args, state, control, **kwargs):
        # TRL writes a step's completions just after its on_log, so they are picked up here, one step later.
        self._write_completions()

    def on_train_end(self, args, state, control, **kwargs):
        if self.writer is None:
            return
        self._write_completions()
        self.writer.close()
        self.writer = None

    def _write_completions(self) -> None:
        if self.writer is None:
            return
        import pandas

        new = [name for name in _completion_files(self.completions_dir) if name not in self.written]
        for name in new:
            self.written.add(name)
            frame = pandas.read_parquet(self.completions_dir / name)
            if len(frame):
                step = int(frame["step"].iloc[0])
                self.writer.add_text(COMPLETIONS_TAG, completions_markdown(frame, self.rows), step)
        if new:
            self.writer.flush()


def completions_markdown(frame, rows: int | None) -> str:
    """A Markdown summary of TRL's completions table (columns ``step``, ``prompt``, ``completion``, one
    per reward function, ``advantage``, extras): for each of the first ``rows`` rows, its rewards and
    advantage, then the prompt and the completion as indented (verbatim) blocks."""
    parts = []
    shown = frame if rows is None else frame.head(rows)
    scores = [c for c in frame.columns if c not in ("step", "prompt", "completion", "image")]
    for number, (_, row) in enumerate(shown.iterrows(), start=1):
        values = ", ".join(f"{c} {_number(row[c])}" for c in scores)
        parts.append(f"**row {number}**: {values}\n\nprompt:\n\n{_indented(row['prompt'])}\n\n"
                     f"completion:\n\n{_indented(row['completion'])}")
    return "\n\n---\n\n".join(parts)


def _completion_files(directory: Path | None) -> list[str]:
    if directory is None or not directory.is_dir():
        return []
    return sorted(p.name for p in directory.glob("completions_*.parquet"))


def _indented(value) -> str:
    # A conversation (list of {role, content}) as "role: content" lines; a string as it is.
    if isinstance(value, str):
        text = value
    else:
        text = "\n".join(f"{m.get('role')}: {m.get('content')}" if isinstance(m, dict) else str(m) for m in value)
    return "\n".join("    " + line for line in (text.splitlines() or [""]))


def _number(value) -> str:
    try:
        return f"{float(value):.4g}"
    except (TypeError, ValueError):
        return str(value)


def _hparam(value):
    return value if isinstance(value, bool | int | float | str) else json.dumps(value, default=str)
