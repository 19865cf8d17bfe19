"""Whether a short diagnostic chain cites only what its case shows: the evidence check of ``preferences``.

The world's ``short`` chains (:func:`medreasoner.sim.chain.chain_text`) read
``Key evidence: <finding>, no <finding>, .... Most likely: <condition>.``, each finding named by its
knowledge-base English name and ``no <name>`` for an absent one. A model's own explanation in that form
can reach the right diagnosis while citing findings the question never states (or states the opposite
of): an answer right for reasons the case does not give. WiNGPT-3.0's Think-Tracing keeps reasoning only
where it checks out against the case; here the world, which knows what each question shows, does that
check on each cited finding (a deployment on real data would ask a judge model instead).

A citation is grounded when it names a finding the question shows (a summary finding: always shown; an
exam finding: when its exam is among the question's ``exams_revealed``) with the polarity the case has.
``the pre-test probability`` (what a chain cites when no finding supports its conclusion) cites nothing
and is grounded. Every ``Key evidence:`` block of a text is checked, each ending at ``Most likely:``, at
``</think>`` or at the end of the text. A text without such a block, or whose blocks name nothing, cites no
evidence and counts as ungrounded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from medreasoner.errors import InputError
from medreasoner.sim.kb import KnowledgeBase
from medreasoner.sim.world_cases import WorldCases, load_world_cases, world_config

NO_FINDING = "the pre-test probability"
# A block ends at its conclusion, at the end of the reasoning, or at the end of the text: a chain cut off
# before "Most likely:" must not pass its answer off as a cited phrase.
_EVIDENCE = re.compile(r"Key evidence:(.*?)(?:Most likely:|</think>|$)", re.S)


def cited_phrases(text: str, kb: KnowledgeBase) -> list[str] | None:
    """The evidence phrases a short chain cites, in order, over every ``Key evidence:`` block of ``text``;
    None when it has no such block or its blocks name nothing (a chain that cites no evidence).

    Phrases are split at ``", "`` except inside a finding's own name (some names hold commas), so each
    known name, with or without ``no``, comes back whole.

    >>> from medreasoner.sim.kb import load_knowledge_base
    >>> cited_phrases("Key evidence: fever, no nausea. Most likely: Migraine.", load_knowledge_base())
    ['fever', 'no nausea']
    """
    names = _names_longest_first(kb)
    phrases = []
    for block in _EVIDENCE.findall(text):
        rest = block.strip().rstrip(".").strip()
        while rest:
            end = _name_end(rest.lower(), names)
            if end is None:
                phrase, _, rest = rest.partition(", ")
            else:
                phrase, rest = rest[:end], rest[end + 2:]
            phrases.append(phrase.strip())
    return phrases or None


def _name_end(lowered: str, names: list[str]) -> int | None:
    """Length of the known finding name (or ``no`` + name) that ``lowered`` starts with, up to ``", "`` or its
    end; None when it starts with none. A name may itself begin with "no " (a finding named by its absence),
    so the bare name is tried first."""
    for prefix in ("", "no "):
        if not lowered.startswith(prefix):
            continue
        for name in names:
            end = len(prefix) + len(name)
            if lowered[len(prefix):].startswith(name) and lowered[end:end + 2] in ("", ", "):
                return end
    return None


def _names_longest_first(kb: KnowledgeBase) -> list[str]:
    return sorted({finding.en.lower() for finding in kb.findings.values()}, key=len, reverse=True)


def ungrounded_phrases(phrases: list[str], shown: dict[str, bool], kb: KnowledgeBase) -> list[str]:
    """The phrases that do not state a finding as the question shows it.

    Args:
        phrases: :func:`cited_phrases` of one text.
        shown: finding id -> present, every finding the question shows (``Case.observed``).
    """
    by_name = {finding.en.lower(): finding_id for finding_id, finding in kb.findings.items()}
    bad = []
    for phrase in phrases:
        lowered = phrase.lower()
        if lowered == NO_FINDING:
            continue
        absent = lowered not in by_name and lowered.startswith("no ")  # a name may begin with "no "
        finding_id = by_name.get(lowered[3:] if absent else lowered)
        if finding_id is None or finding_id not in shown or shown[finding_id] == absent:
            bad.append(phrase)
    return bad


@dataclass(frozen=True)
class WorldGrounding:
    """The evidence check against the cases of one built world (its ``kind: world`` stage directory)."""

    cases: WorldCases

    @classmethod
    def load(cls, world_dir: str | Path) -> "WorldGrounding":
        """Redraw the world's cases from its manifest; its chains must be ``short`` (the form checked)."""
        config = world_config(world_dir)
        if config.chain_verbosity != "short":
            raise InputError(Path(world_dir) / "manifest.json", "the evidence check reads short chains only; this "
                             f"world writes {config.chain_verbosity!r} ones", field="config.chain_verbosity")
        return cls(load_world_cases(world_dir))

    def ungrounded(self, text: str, row: dict) -> list[str] | None:
        """The cited phrases of ``text`` that the question of pool row ``row`` does not state; None when the text
        cites no evidence at all. The row's id names its case (``train-000012-diagnosis``) and its
        ``meta.case`` signature must match the redrawn case, so a row from another world is refused."""
        kb = self.cases.model.kb
        case_id = row["id"].rsplit("-", 1)[0]
        case = self.cases.cases.get(case_id)
        meta = row["meta"] if isinstance(row.get("meta"), dict) else {}
        if case is None or case.signature() != meta.get("case"):
            raise InputError(self.cases.path / "manifest.json", f"row {row['id']!r} shows no train, validation or "
                             "test case of this world (its id or meta.case signature does not match)",
                             field="grounding_world")
        if not isinstance(meta.get("exams_revealed"), list):  # without it every exam finding would look unshown
            raise InputError(self.cases.path / "manifest.json", f"row {row['id']!r} has no meta.exams_revealed list, "
                             "so which exam results its question shows is unknown", field="meta.exams_revealed")
        phrases = cited_phrases(text, kb)
        if phrases is None:
            return None
        return ungrounded_phrases(phrases, case.observed(kb, meta["exams_revealed"]), kb)
