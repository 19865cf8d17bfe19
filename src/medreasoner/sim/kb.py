"""The clinical knowledge base of the synthetic world: typed schema, loader and lookups.

The data lives in ``sim/knowledge/conditions.yaml`` (see its header for the probability model).
:func:`load_knowledge_base` validates the file twice: field types and ranges (pydantic), then
cross-references (every finding, exam, presentation and source a value names exists; every value
has a source or is marked ``assumed``). Either failure raises :class:`InputError` naming the file,
the YAML line and the dotted key, e.g. ``conditions.yaml:412: field 'conditions[3].findings[1].sens':
Input should be less than 1``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from medreasoner.errors import InputError

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: ~20x faster
DEFAULT_KB_PATH = Path(__file__).parent / "knowledge" / "conditions.yaml"

# Open interval: a sensitivity or specificity of exactly 0 or 1 makes a likelihood ratio infinite
# or zero, so one finding could veto a diagnosis; published "100%" values are entered as 0.99.
Probability = Annotated[float, Field(gt=0.0, lt=1.0)]
FindingKind = Literal["symptom", "history", "exam", "lab", "imaging"]
SUMMARY_KINDS = ("symptom", "history")  # shown in the consultation summary; the rest sit behind exams


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Named(_Strict):
    """A name in English and Japanese (care settings, specialties)."""

    en: str
    ja: str


class Presentation(_Strict):
    """A chief complaint; every condition with this presentation is in its differential."""

    en: str
    ja: str
    sex: Literal["any", "female", "male"]
    age: tuple[int, int]


class Exam(_Strict):
    """An orderable examination or test; ``cost`` in relative units (bedside examination = 0.5)."""

    en: str
    ja: str
    cost: Annotated[float, Field(gt=0.0)]


class Finding(_Strict):
    """A finding and its specificity (``1 - spec`` = its rate in patients without the listed diseases)."""

    en: str
    ja: str
    kind: FindingKind
    exam: str | None = None
    pos: str | None = None
    neg: str | None = None
    spec: Probability
    src: str | None = None
    assumed: bool = False

    @property
    def positive_text(self) -> str:
        return self.pos or self.en

    @property
    def negative_text(self) -> str:
        return self.neg or f"no {self.en}"


class FindingEntry(_Strict):
    """One finding of a condition with its sensitivity for that condition."""

    f: str
    sens: Probability
    src: str | None = None
    assumed: bool = False


class Condition(_Strict):
    id: str
    en: str
    ja: str
    synonyms: list[str]
    specialty: str
    presentation: str
    prevalence: dict[str, Annotated[float, Field(gt=0.0)]]
    prevalence_assumed: bool
    findings: list[FindingEntry]


class KnowledgeBase(_Strict):
    """The whole knowledge base; build with :func:`load_knowledge_base`, then use the lookups."""

    version: int
    settings: dict[str, Named]
    sources: dict[str, str]
    specialties: dict[str, Named]
    presentations: dict[str, Presentation]
    exams: dict[str, Exam]
    findings: dict[str, Finding]
    conditions: list[Condition]
    _index: dict[str, Condition] = PrivateAttr()
    _sens: dict[tuple[str, str], float] = PrivateAttr()
    _differential: dict[str, list[Condition]] = PrivateAttr()
    _findings: dict[str, list[str]] = PrivateAttr()
    _exams: dict[str, list[str]] = PrivateAttr()

    def model_post_init(self, context) -> None:
        # Lookups the sampler and the chain call per finding per case: precomputed once.
        self._index = {c.id: c for c in self.conditions}
        self._sens = {(c.id, e.f): e.sens for c in self.conditions for e in c.findings}
        self._differential, self._findings, self._exams = {}, {}, {}
        for name in self.presentations:
            conditions = [c for c in self.conditions if c.presentation == name]
            findings = list(dict.fromkeys(e.f for c in conditions for e in c.findings))
            used = {self.findings[f].exam for f in findings if f in self.findings}
            self._differential[name] = conditions
            self._findings[name] = findings
            self._exams[name] = [exam for exam in self.exams if exam in used]

    def condition(self, condition_id: str) -> Condition:
        """The condition with this id (KeyError if unknown)."""
        return self._index[condition_id]

    def differential(self, presentation: str) -> list[Condition]:
        """Conditions of a presentation, in file order (the order breaks posterior ties)."""
        return list(self._differential[presentation])

    def presentation_findings(self, presentation: str) -> list[str]:
        """Findings any condition of the presentation lists, in order of first appearance."""
        return list(self._findings[presentation])

    def presentation_exams(self, presentation: str) -> list[str]:
        """The exam menu of a presentation: exams revealing at least one of its findings, KB order."""
        return list(self._exams[presentation])

    def probability_present(self, condition: Condition, finding_id: str) -> float:
        """P(finding present | condition): its sensitivity if listed, else 1 - the finding's spec."""
        sens = self._sens.get((condition.id, finding_id))
        return sens if sens is not None else 1.0 - self.findings[finding_id].spec


def _yaml_line(root: yaml.Node, loc: tuple) -> int | None:
    """1-based line of the node at ``loc`` (a pydantic error location), or of its deepest parent."""
    node, line = root, root.start_mark.line + 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = [value for k, value in node.value if k.value == str(key)]
            if not match:
                break
            node = match[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


def _dotted(loc: tuple) -> str:
    text = ""
    for key in loc:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text


def _check_references(kb: KnowledgeBase, fail) -> None:
    """Cross-reference rules pydantic cannot express; ``fail(loc, message)`` raises."""
    for name, finding in kb.findings.items():
        if finding.kind in SUMMARY_KINDS and finding.exam is not None:
            fail(("findings", name, "exam"), f"a {finding.kind} finding is shown in the summary; remove 'exam'")
        if finding.kind not in SUMMARY_KINDS and finding.exam not in kb.exams:
            fail(("findings", name, "exam"), f"unknown exam {finding.exam!r} (kind {finding.kind} needs one)")
        _check_source(kb, finding.src, finding.assumed, ("findings", name), fail)
    ids = [c.id for c in kb.conditions]
    for index, condition in enumerate(kb.conditions):
        loc = ("conditions", index)
        if ids.count(condition.id) > 1:
            fail((*loc, "id"), f"duplicate condition id {condition.id!r}")
        if condition.specialty not in kb.specialties:
            fail((*loc, "specialty"), f"unknown specialty {condition.specialty!r}")
        if condition.presentation not in kb.presentations:
            fail((*loc, "presentation"), f"unknown presentation {condition.presentation!r}")
        if set(condition.prevalence) != set(kb.settings):
            fail((*loc, "prevalence"), f"needs exactly the settings {sorted(kb.settings)}")
        listed = [entry.f for entry in condition.findings]
        for position, entry in enumerate(condition.findings):
            if entry.f not in kb.findings:
                fail((*loc, "findings", position, "f"), f"unknown finding {entry.f!r}")
            if listed.count(entry.f) > 1:
                fail((*loc, "findings", position, "f"), f"finding {entry.f!r} listed twice")
            _check_source(kb, entry.src, entry.assumed, (*loc, "findings", position), fail)
    for name in kb.presentations:
        if len(kb.differential(name)) < 2:
            fail(("presentations", name), "a presentation needs at least two conditions (a differential)")


def _check_source(kb: KnowledgeBase, src: str | None, assumed: bool, loc: tuple, fail) -> None:
    if src is None and not assumed:
        fail((*loc, "src"), "a value needs a source ('src') or 'assumed: true'")
    if src is not None and src not in kb.sources:
        fail((*loc, "src"), f"unknown source {src!r}; add it under 'sources'")


def load_knowledge_base(path: str | Path | None = None) -> KnowledgeBase:
    """Load and validate a knowledge-base YAML (``None``: the packaged one, cached).

    Raises:
        InputError: unreadable YAML, a wrong type or range, or a dangling reference, with the
            file, line and dotted key.
    """
    if path is None:
        return _load_default()
    return _load(Path(path))


@functools.cache
def _load_default() -> KnowledgeBase:
    return _load(DEFAULT_KB_PATH)


def _load(path: Path) -> KnowledgeBase:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(path, f"cannot read knowledge base: {error.strerror}") from None
    try:
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise InputError(path, f"invalid YAML: {error}", line=mark.line + 1 if mark else None) from None
    if not isinstance(data, dict):
        raise InputError(path, "a knowledge base is a YAML mapping")

    def fail(loc: tuple, message: str):
        # Composing the node tree is slow in pure Python, so line numbers are looked up only on error.
        line = _yaml_line(yaml.compose(text, Loader=_LOADER), loc)
        raise InputError(path, message, line=line, field=_dotted(loc)) from None

    try:
        kb = KnowledgeBase.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        fail(tuple(first["loc"]), first["msg"])
    _check_references(kb, fail)
    return kb
