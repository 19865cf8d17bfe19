"""What the pipeline hands every stage: where to write, the run's seed, a metrics logger, and the run's identity."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class StageContext:
    """Per-stage runtime context.

    Attributes:
        run_dir: the run's root directory (``runs/<recipe name>`` by default).
        out_dir: this stage's output directory (``run_dir/<stage name>``); the stage writes its
            Hugging Face checkpoint or data files here. Its name is the stage name.
        seed: the recipe's seed (stages derive their own seeds from it).
        log: ``log(metrics, step)`` appends metrics to the stage's ``metrics.jsonl`` (and, for stages
            without a Trainer, to the recipe's trackers).
        report_to: the recipe's ``logging.report_to`` (``tensorboard``, ``wandb``, ``mlflow``); training
            stages pass it to their Trainer. Empty outside a recipe (a stage run from code or a test).
        recipe: the recipe file, named in model cards; None outside a recipe.
    """

    run_dir: Path
    out_dir: Path
    seed: int
    log: Callable[[dict, int], None]
    report_to: tuple[str, ...] = ()
    recipe: Path | None = None
