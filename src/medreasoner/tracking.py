"""Per-stage metric logs: ``metrics.jsonl`` always, plus TensorBoard, Weights & Biases or MLflow on request.

``metrics.jsonl`` is opened in append mode and flushed after every line, so a stage killed mid-run
keeps every metric it logged and a resumed run adds to the same file (steps logged between the last
checkpoint and the kill appear twice; readers keep the last line per step). It is the durable record;
the trackers are views of it. W&B and MLflow are optional dependencies: asking for one that is not
installed is an error before any stage runs.

Who writes to the trackers:

- a training stage (``trainer_stage=True``): its Trainer, through transformers' integration callbacks
  (``report_to`` = the recipe's trackers; namespaced tags such as ``train/loss``; see
  :mod:`medreasoner.stages.trainer_logging`). :class:`MetricsLog` only opens the W&B / MLflow run
  (project or experiment = recipe name, run = stage name, the resolved config), which those callbacks
  join, and writes ``metrics.jsonl``; it writes nothing to TensorBoard, so no tag is logged twice;
- every other stage (data steps, ``eval``...) and the ``eval`` / ``report`` commands: :class:`MetricsLog`
  itself, metrics under the names the stage gives them (``medqa/answer/accuracy``), and the resolved
  config as TensorBoard text (``medreasoner/resolved_config``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import time
from pathlib import Path

import yaml

from medreasoner.errors import InputError

TRACKER_PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}
CONFIG_TAG = "medreasoner/resolved_config"  # TensorBoard text tag of a stage's (or command's) config


def config_markdown(config: dict) -> str:
    """A config as YAML in an indented Markdown code block (how TensorBoard's text plugin shows it verbatim)."""
    return "\n".join("    " + line for line in yaml.safe_dump(config, sort_keys=False).splitlines())


def check_trackers(source: str | Path, report_to: tuple[str, ...] | list[str], *,
                   field: str | None = "logging.report_to") -> None:
    """Raise InputError naming ``source`` (the recipe, or a CLI option) and ``field`` when a requested
    tracker is not installed."""
    for tracker in report_to:
        if importlib.util.find_spec(TRACKER_PACKAGES[tracker]) is None:
            raise InputError(source, f"{tracker} is not installed (pip install {TRACKER_PACKAGES[tracker]}), "
                             "or remove it from the list", field=field)


class MetricsLog:
    """Metrics of one stage run; ``log`` is what :class:`~medreasoner.stages.context.StageContext` exposes.

    Args:
        out_dir: the stage directory (``metrics.jsonl`` and ``tb/`` go there).
        report_to: trackers besides the JSONL file.
        project: the recipe name (W&B project / MLflow experiment).
        stage_name: the stage name (tracker run name).
        config: the stage's resolved config (W&B/MLflow run config, TensorBoard text).
        enabled: False on non-main processes of a distributed run: nothing is written.
        trainer_stage: True for a stage whose Trainer logs to the trackers itself (see the module docstring).
    """

    def __init__(self, out_dir: Path, *, report_to: tuple[str, ...], project: str, stage_name: str,
                 config: dict, enabled: bool, trainer_stage: bool):
        self.out_dir = Path(out_dir)
        self.enabled = enabled
        self.trainer_stage = trainer_stage
        self._jsonl = open(self.out_dir / "metrics.jsonl", "a", encoding="utf-8") if enabled else None
        self._tensorboard = None
        self._wandb = None
        self._mlflow = None
        if not enabled:
            return
        if "tensorboard" in report_to and not trainer_stage:
            from torch.utils.tensorboard import SummaryWriter

            self._tensorboard = SummaryWriter(log_dir=str(self.out_dir / "tb"))
            self._tensorboard.add_text(CONFIG_TAG, config_markdown(config), 0)
        if "wandb" in report_to:
            import wandb

            # A stable id (from the stage directory) makes a resumed stage continue the same W&B run.
            run_id = hashlib.sha1(str(self.out_dir.resolve()).encode()).hexdigest()[:16]
            self._wandb = wandb.init(project=project, name=stage_name, id=run_id, resume="allow",
                                     config=config, dir=str(self.out_dir))
        if "mlflow" in report_to:
            import mlflow

            mlflow.set_experiment(project)
            self._mlflow = mlflow
            mlflow.start_run(run_name=stage_name)
            mlflow.log_dict(config, "resolved_config.json")

    def log(self, metrics: dict, step: int) -> None:
        """Append ``metrics`` (name -> number) at optimizer step ``step`` to ``metrics.jsonl`` and, unless
        this is a training stage, to every tracker."""
        if not self.enabled:
            return
        record = {"step": step, "time": round(time.time(), 3), **metrics}
        self._jsonl.write(json.dumps(record, default=str) + "\n")
        self._jsonl.flush()
        if self.trainer_stage:
            return  # the Trainer's integration callbacks log the same values to the trackers
        numbers = {k: float(v) for k, v in metrics.items()
                   if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)}
        if self._tensorboard is not None:
            for key, value in numbers.items():
                self._tensorboard.add_scalar(key, value, step)
            self._tensorboard.flush()
        if self._wandb is not None:
            self._wandb.log(numbers, step=step)
        if self._mlflow is not None:
            self._mlflow.log_metrics(numbers, step=step)

    def close(self) -> None:
        """Flush and close every destination."""
        if self._jsonl is not None:
            self._jsonl.close()
        if self._tensorboard is not None:
            self._tensorboard.close()
        if self._wandb is not None:
            self._wandb.finish()
        if self._mlflow is not None:
            self._mlflow.end_run()


def log_once(out_dir: Path, metrics: dict, *, report_to: tuple[str, ...] | list[str], project: str,
             run_name: str, config: dict) -> None:
    """Log one set of headline metrics (step 0) to ``out_dir/metrics.jsonl`` and ``report_to``: what the
    ``eval`` and ``report`` commands send to the trackers (TensorBoard in ``out_dir/tb``).

    Args:
        out_dir: an existing directory (the command's output).
        metrics: name -> number (``medqa/answer/accuracy``...).
        report_to: trackers (``tensorboard``, ``wandb``, ``mlflow``), already checked as installed.
        project: W&B project / MLflow experiment.
        run_name: the tracker run name.
        config: the command's settings (run config, TensorBoard text).
    """
    log = MetricsLog(Path(out_dir), report_to=tuple(report_to), project=project, stage_name=run_name,
                     config=config, enabled=True, trainer_stage=False)
    try:
        log.log(metrics, 0)
    finally:
        log.close()


def command_settings(args) -> dict:
    """A command's parsed options (an ``argparse.Namespace``) as plain data for a tracker's run config:
    paths and other objects as strings."""
    plain = (str, int, float, bool, type(None))
    return {key: value if isinstance(value, plain) else [str(v) for v in value] if isinstance(value, list | tuple)
            else str(value) for key, value in vars(args).items()}
