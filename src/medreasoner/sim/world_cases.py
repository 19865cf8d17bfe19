"""A built world's hidden cases, redrawn from its manifest: what the exams an episode ordered were worth.

An ``env/*.jsonl`` row carries what the environment shows (summary, exam results as text, label), not
the world's finding vector, so the Bayes decision from the summary and a *subset* of the exams cannot
be taken from a row. A world is a deterministic function of its config and knowledge base
(:func:`medreasoner.sim.world.draw_cases` draws the cases from ``config.seed``), so the cases are
drawn again from ``manifest.json``'s config. The knowledge base's hash is checked against the
manifest's, and each episode's label against the redrawn case's, so a world edited or built by other
code fails loudly instead of scoring against the wrong cases.

The Bayes decision given the exams an episode ordered separates its two skills: choosing exams (how
accurate a reader that decides perfectly from those results would be) and reading them (the episode's
own accuracy). It is the expert's decision rule (:func:`medreasoner.sim.expert.expert_diagnosis`) on the
model's exams. The expert's own exams for a case tell whether an episode stayed on the path its SFT
demonstrations showed (behaviour cloning is reliable there and not off it).
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from medreasoner.errors import InputError
from medreasoner.sim.chain import ProbabilityModel, posterior, probability_model
from medreasoner.sim.config import WorldConfig
from medreasoner.sim.expert import expert_continuation, expert_diagnosis, expert_exams
from medreasoner.sim.kb import DEFAULT_KB_PATH, Condition, load_knowledge_base
from medreasoner.sim.sampler import Case
from medreasoner.sim.world import SPLITS, draw_cases
from medreasoner.verify.names import normalize_name


@dataclass(frozen=True)
class WorldCases:
    """The probability model and the hidden cases of a built world, by episode id (``validation-000012``)."""

    path: Path
    model: ProbabilityModel
    cases: dict[str, Case]

    def case(self, case_id: str, label: str) -> Case:
        """The redrawn case of an episode whose env row names ``label`` (``case.label.name``); a missing case or
        another label means the world on disk is not the one its manifest describes."""
        if case_id not in self.cases:
            raise InputError(self.path / "manifest.json", f"no case {case_id!r} in the world its config draws",
                             field="config")
        kb, case = self.model.kb, self.cases[case_id]
        full = kb.condition(posterior(self.model, case.setting, case.presentation, case.observed(kb, None)).best).en
        if full != label:
            raise InputError(self.path / "manifest.json",
                             f"case {case_id}: the redrawn case's label is {full!r}, the episode's {label!r}; "
                             "the world's files do not match its manifest", field="config")
        return case

    def condition_named(self, answer: str | None) -> str | None:
        """Id of the knowledge-base condition whose English name, synonym or Japanese name ``answer`` is after
        the grader's normalisation (:func:`medreasoner.verify.names.normalize_name`, as an episode's label is
        matched); None for no answer, a name of no condition, or a name two conditions share. Episodes that
        name one condition in different words then count as one answer in a majority vote."""
        key = normalize_name(answer) if answer else ""
        return self._condition_by_name.get(key) if key else None

    @cached_property
    def _condition_by_name(self) -> dict[str, str | None]:
        names: dict[str, str | None] = {}
        for condition in self.model.kb.conditions:
            for name in {normalize_name(n) for n in (condition.en, condition.ja, *condition.synonyms)} - {""}:
                names[name] = condition.id if names.get(name, condition.id) == condition.id else None
        return names

    def bayes_answer(self, case_id: str, exams: list[str], label: str) -> str:
        """English name of the Bayes decision from the summary and the results of ``exams`` (exam ids) for the
        episode ``case_id`` labelled ``label`` (checked as :meth:`case` does)."""
        return self.model.kb.condition(expert_diagnosis(self.model, self.case(case_id, label), list(exams))).en

    def expert_exams(self, case_id: str) -> list[str]:
        """Exam ids the label-blind expert of ``env/sft_train.jsonl`` orders for the case, in order."""
        return expert_exams(self.model, self.cases[case_id])

    def expert_takeover(self, case_id: str, ordered: list[str], label: str) -> tuple[list[str], Condition]:
        """What the expert does in the episode ``case_id`` (labelled ``label``, checked as :meth:`case` does)
        after the exams ``ordered`` (ids): the exam ids it orders next and the condition it states."""
        case = self.case(case_id, label)
        exams = expert_continuation(self.model, case, list(ordered))
        return exams, self.model.kb.condition(expert_diagnosis(self.model, case, [*ordered, *exams]))


def world_config(world_dir: str | Path) -> WorldConfig:
    """The config of the world built in ``world_dir`` (a ``kind: world`` stage's output), from its manifest,
    after checking that the knowledge base it names is the one the world was built from."""
    path = Path(world_dir)
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        raise InputError(path, "not a world directory: no manifest.json (the output of a kind: world stage)")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("generator") != "medreasoner.sim.world.build_world":
        raise InputError(manifest_path, f"not a world's manifest: generator {manifest.get('generator')!r}",
                         field="generator")
    # a world built before the rl split existed had none
    config = WorldConfig(**{**manifest["config"], "num_cases": {"rl": 0, **manifest["config"]["num_cases"]}})
    kb_path = Path(config.knowledge_base) if config.knowledge_base else DEFAULT_KB_PATH
    if hashlib.sha256(kb_path.read_bytes()).hexdigest() != manifest["knowledge_base"]["sha256"]:
        raise InputError(manifest_path, f"the knowledge base {kb_path} changed since this world was built",
                         field="knowledge_base.sha256")
    return config


def load_world_cases(world_dir: str | Path) -> WorldCases:
    """Redraw the cases of the world in ``world_dir`` (a ``kind: world`` stage's output) from its manifest."""
    config = world_config(world_dir)
    model = probability_model(load_knowledge_base(config.knowledge_base), config.noise)
    drawn = draw_cases(model, config, random.Random(config.seed))
    cases = {f"{split}-{index:06d}": case for split in SPLITS for index, case in enumerate(drawn[split])}
    return WorldCases(Path(world_dir), model, cases)
