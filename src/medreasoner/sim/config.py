"""The world's configuration: every knob ``build_world`` reads, typed, with no defaults in code.

A YAML file (``configs/world/*.yaml``) holds exactly these keys; ``medreasoner data build-world``
and the ``world`` pipeline stage both validate it with :class:`WorldConfig`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from medreasoner.errors import InputError
from medreasoner.recipe_inputs import InputPath
from medreasoner.sim.chain import Verbosity


class SplitSizes(BaseModel):
    """Number of unique cases per split: train feeds SFT/preference/GRPO/env, validation and test feed
    eval, and rl feeds only the RL candidate pool (``pool/rl.jsonl``, ``grpo/rl.jsonl``; 0 = none)."""

    model_config = ConfigDict(extra="forbid")
    train: Annotated[int, Field(gt=0)]
    validation: Annotated[int, Field(ge=0)]
    test: Annotated[int, Field(ge=0)]
    rl: Annotated[int, Field(ge=0)]


class WorldConfig(BaseModel):
    """Knobs of the synthetic world.

    Attributes:
        seed: the world's own seed (not the recipe's: retraining with another seed keeps the data).
        knowledge_base: path of a knowledge-base YAML, or null for the packaged one.
        setting_weights: care setting -> sampling weight (keys from the KB's ``settings``).
        noise: probability that a recorded finding is flipped (0 = exact sens/spec); more noise,
            lower Bayes-optimal accuracy.
        enable_pertinent_negatives: list absent symptoms and history ("Denies: ...") in summaries;
            off, summaries are shorter (tiny models) and unlisted means absent (same information).
        num_exams_revealed: exam results shown in each item's question (difficulty: fewer = harder).
        num_options: options of MCQ and multi-select items (one answer + distractors).
        chain_verbosity: ``short`` (one line of key evidence; tiny models) or ``full`` (every
            likelihood-ratio update and the evidence for/against the leading differentials).
        plausible_threshold: post-test probability from which a diagnosis counts as plausible
            (multi-select "plausible diagnoses" items).
        num_cases: unique cases per split. The ``rl`` cases are drawn after the others, with a generator
            of their own (so the other splits and every file built from them are unchanged by it), and
            skip every signature the other splits hold; their rows go only to ``pool/rl.jsonl`` and
            ``grpo/rl.jsonl``: RL candidates that no SFT row covers (WiNGPT-3.0 draws its RL pool
            from a question pool far larger than its SFT mix; docs/sim.md).
        train_tasks: item kinds turned into SFT and GRPO rows (``diagnosis`` = open answer,
            what a tiny model learns in minutes; ``mcq`` = letter answer).
        cpt_languages: languages of the continued-pretraining corpus (textbook paragraphs).
        num_cpt_case_reports: training cases also written as English case reports (summary, all
            results, full diagnostic chain) in the CPT corpus; at most ``num_cases.train``.
        num_calculator_tasks: MedCalc-Bench-format calculator tasks to add (0 = none).
        cpt_only_conditions: condition ids whose knowledge reaches a model only through the CPT
            corpus (Preferred-MedLLM's premise: continued pretraining adds domain knowledge the
            fine-tuning data lacks). Training cases labelled with one of them give no SFT, pool,
            preference, GRPO or environment row; every such case is written as a CPT case report
            instead, and the eval items they label are also written to
            ``eval/<split>_diagnosis_cpt_only.jsonl``. Empty = every condition is in every file.
    """

    model_config = ConfigDict(extra="forbid")
    seed: int
    knowledge_base: InputPath | None
    setting_weights: dict[str, Annotated[float, Field(gt=0)]]
    noise: Annotated[float, Field(ge=0.0, lt=0.5)]
    enable_pertinent_negatives: bool
    num_exams_revealed: Annotated[int, Field(ge=0)]
    num_options: Annotated[int, Field(ge=2, le=26)]
    chain_verbosity: Verbosity
    plausible_threshold: Annotated[float, Field(gt=0.0, lt=1.0)]
    num_cases: SplitSizes
    train_tasks: Annotated[list[Literal["diagnosis", "mcq"]], Field(min_length=1)]
    cpt_languages: Annotated[list[Literal["en", "ja"]], Field(min_length=1)]
    num_cpt_case_reports: Annotated[int, Field(ge=0)]
    num_calculator_tasks: Annotated[int, Field(ge=0)]
    cpt_only_conditions: list[str]

    @model_validator(mode="after")
    def _reports_within_train(self) -> "WorldConfig":
        if self.num_cpt_case_reports > self.num_cases.train:
            raise ValueError(f"num_cpt_case_reports ({self.num_cpt_case_reports}) exceeds num_cases.train")
        return self


def load_world_config(path: str | Path) -> WorldConfig:
    """Read and validate a world config YAML; errors name the file and the key."""
    path = Path(path)
    from medreasoner.files import read_text_utf8
    from medreasoner.recipe import parse_yaml  # bounded alias expansion; imported here: recipe imports the stages

    data, _ = parse_yaml(path, read_text_utf8(path))
    try:
        return WorldConfig.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        raise InputError(path, first["msg"], field=field) from None
