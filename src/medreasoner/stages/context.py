"""What the pipeline hands every stage: where to write, the run's seed, and a metrics logger."""

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
            Hugging Face checkpoint or data files here.
        seed: the recipe's seed (stages derive their own seeds from it).
        log: ``log(metrics, step)`` appends metrics to the stage's JSONL/TensorBoard logs.
    """

    run_dir: Path
    out_dir: Path
    seed: int
    log: Callable[[dict, int], None]
