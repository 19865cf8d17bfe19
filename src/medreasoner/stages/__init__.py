"""The stage registry: recipe ``kind`` -> module that implements it.

Every module listed defines ``Config`` (a pydantic model with ``extra="forbid"``: every knob the stage
reads) and ``run(config, ctx) -> dict`` (final metrics). Modules are imported only when a recipe uses
their kind, so validating a data-only recipe never imports torch.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from medreasoner.data import STEPS

# kind -> module path; the whole registry. Add a stage by adding a line and a module.
STAGES = {
    "world": "medreasoner.stages.world",
    "heldout": "medreasoner.stages.heldout",
    "tiny_model": "medreasoner.stages.tiny_model",
    "cpt": "medreasoner.stages.cpt",
    "sft": "medreasoner.stages.sft",
    "reward_model": "medreasoner.stages.reward_model",
    "preference": "medreasoner.stages.preference",
    "grpo": "medreasoner.stages.grpo",
    "merge": "medreasoner.stages.merge",
    "eval": "medreasoner.stages.evaluate",
    "episodes": "medreasoner.stages.episodes",
    "probe": "medreasoner.stages.probe",
    **STEPS,  # the data engine's steps (medreasoner.data): generate, filter, dedup, decontaminate, ...
}


def load_stage(kind: str) -> ModuleType:
    """Import and return the module of stage ``kind`` (a key of :data:`STAGES`)."""
    return importlib.import_module(STAGES[kind])
