"""Per-stage metric logs: ``metrics.jsonl`` always, plus TensorBoard, Weights & Biases or MLflow on request.

``metrics.jsonl`` is opened in append mode and flushed after every line, so a stage killed mid-run
keeps every metric it logged and a resumed run adds to the same file (steps logged between the last
checkpoint and the kill appear twice; readers keep the last line per step). It is the durable record;
the trackers are views of it. W&B and MLflow are optional dependencies: asking for one that is not
installed is an error before any stage runs.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import time
from pathlib import Path

from medreasoner.errors import InputError

TRACKER_PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}


def check_trackers(recipe_path: Path, report_to: tuple[str, ...]) -> None:
    """Raise InputError naming ``logging.report_to`` when a requested tracker is not installed."""
    for tracker in report_to:
        if importlib.util.find_spec(TRACKER_PACKAGES[tracker]) is None:
            raise InputError(recipe_path, f"{tracker} is not installed (pip install {TRACKER_PACKAGES[tracker]}), "
                             "or remove it from the list", field="logging.report_to")


class MetricsLog:
    """Metrics of one stage run; ``log`` is what :class:`~medreasoner.stages.context.StageContext` exposes.

    Args:
        out_dir: the stage directory (``metrics.jsonl`` and ``tb/`` go there).
        report_to: trackers besides the JSONL file.
        project: the recipe name (W&B project / MLflow experiment).
        stage_name: the stage name (tracker run name).
        config: the stage's resolved config (sent to W&B/MLflow).
        enabled: False on non-main processes of a distributed run: nothing is written.
    """

    def __init__(self, out_dir: Path, *, report_to: tuple[str, ...], project: str, stage_name: str,
                 config: dict, enabled: bool):
        self.out_dir = Path(out_dir)
        self.enabled = enabled
        self._jsonl = open(self.out_dir / "metrics.jsonl", "a", encoding="utf-8") if enabled else None
        self._tensorboard = None
        self._wandb = None
        self._mlflow = None
        if not enabled:
            return
        if "tensorboard" in report_to:
            from torch.utils.tensorboard import SummaryWriter

            self._tensorboard = SummaryWriter(log_dir=str(self.out_dir / "tb"))
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
        """Append ``metrics`` (name -> number) at optimizer step ``step`` to every destination."""
        if not self.enabled:
            return
        record = {"step": step, "time": round(time.time(), 3), **metrics}
        self._jsonl.write(json.dumps(record, default=str) + "\n")
        self._jsonl.flush()
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
