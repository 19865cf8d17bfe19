"""What the pipeline hands every stage: where to write, the run's seed, a metrics logger, and the run's identity."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class StageProvenance:
    """What a stage was built from, computed once by the pipeline before the stage runs.

    The stage manifest and the model card both record it; computing it once means a large training
    file is hashed once, and the two records cannot disagree when a file or the source tree changes
    while the stage runs.

    Attributes:
        inputs: every path the config names (:func:`medreasoner.pipeline.stage_inputs`): an earlier
            stage's output as ``{"field", "path", "stage", "manifest_sha256"}``, any other existing
            path as ``{"field", "path", "sha256"}``.
        versions: the library versions (:func:`medreasoner.pipeline.library_versions`).
        git_commit: the source's commit (:func:`medreasoner.source_commit.source_commit`).
    """

    inputs: list[dict]
    versions: dict[str, str | None]
    git_commit: str | None


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
        provenance: what the stage manifest will record, for the model card to repeat. None outside a
            recipe, and on ranks other than 0, which write neither card nor manifest; the card then
            computes its own.
    """

    run_dir: Path
    out_dir: Path
    seed: int
    log: Callable[[dict, int], None]
    report_to: tuple[str, ...] = ()
    recipe: Path | None = None
    provenance: StageProvenance | None = None
