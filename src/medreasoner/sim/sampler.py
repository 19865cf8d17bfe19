"""Sample patients from the knowledge base and render what a clinician would see.

A case is drawn top-down (the generative model the diagnostic chain inverts):

1. setting ~ the world's setting mixture;
2. true condition ~ prevalence in that setting (over every condition of the knowledge base);
3. age and sex ~ uniform within the presentation's range (they carry no diagnostic information);
4. each finding of the presentation is present with probability ``sens`` if the condition lists it,
   else ``1 - spec``; with measurement noise ``e`` each value is then flipped with probability ``e``.

Because findings are drawn independently given the condition, the naive-Bayes posterior of
:mod:`medreasoner.sim.chain` is the exact posterior, and its argmax is the Bayes-optimal
diagnosis. Findings are noisy, so the true condition is not always recoverable.

The case is split as in WiNGPT-3.0 S4: an initial consultation summary (chief complaint, present
illness, history) and a hidden exam module (exam -> result text, normal results included).
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from typing import Literal

from medreasoner.sim.kb import SUMMARY_KINDS, KnowledgeBase

Language = Literal["en", "ja"]


@dataclass(frozen=True)
class Case:
    """One simulated patient.

    Attributes:
        setting: key of ``kb.settings``.
        presentation: key of ``kb.presentations`` (the chief complaint).
        age: years.
        sex: ``"female"`` or ``"male"``.
        truth: id of the condition the patient has.
        findings: ``(finding id, present)`` for every finding of the presentation, in KB order.
    """

    setting: str
    presentation: str
    age: int
    sex: str
    truth: str
    findings: tuple[tuple[str, bool], ...]

    def signature(self) -> str:
        """Hash of the observable content (setting, complaint, findings); equal signatures = same case."""
        payload = json.dumps([self.setting, self.presentation, self.findings], separators=(",", ":"))
        return hashlib.sha1(payload.encode("utf-8")).hexdigest()[:16]

    def observed(self, kb: KnowledgeBase, exams: list[str] | None) -> dict[str, bool]:
        """Findings visible after the summary plus ``exams`` (``None``: every exam)."""
        shown = {}
        for finding_id, present in self.findings:
            finding = kb.findings[finding_id]
            if finding.kind in SUMMARY_KINDS or exams is None or finding.exam in exams:
                shown[finding_id] = present
        return shown


def flip(probability: float, noise: float) -> float:
    """P(recorded present) when the true value is present with ``probability`` and flipped w.p. ``noise``."""
    return probability * (1.0 - noise) + (1.0 - probability) * noise


def sample_case(
    kb: KnowledgeBase, present: dict[tuple[str, str], float], rng: random.Random, setting_weights: dict[str, float]
) -> Case:
    """Draw one case (see the module docstring for the generative model).

    ``present`` maps ``(condition id, finding id)`` to P(recorded present), noise included
    (:attr:`medreasoner.sim.chain.ProbabilityModel.present`).
    """
    settings = list(setting_weights)
    setting = rng.choices(settings, weights=[setting_weights[s] for s in settings])[0]
    condition = rng.choices(kb.conditions, weights=[c.prevalence[setting] for c in kb.conditions])[0]
    presentation = kb.presentations[condition.presentation]
    age = rng.randint(*presentation.age)
    sex = presentation.sex if presentation.sex != "any" else rng.choice(("female", "male"))
    findings = tuple(
        (finding_id, rng.random() < present[condition.id, finding_id])
        for finding_id in kb.presentation_findings(condition.presentation)
    )
    return Case(setting, condition.presentation, age, sex, condition.id, findings)


# The words of a rendered summary per language, for the knowledge base's names in that language ("ja": the
# Japanese held-out items of sim/japanese.py; both languages give the same lines with the same findings).
_WORDS = {
    "en": {"patient": "Setting: {setting}. Patient: {age}-year-old {person}.",
           "complaint": "Chief complaint: {name}.", "person": {"female": "woman", "male": "man"},
           "title": {"symptom": "Present illness", "history": "History"}, "line": "{title}: {names}.", "join": "; ",
           "nothing": "nothing further reported", "denies": " Denies: {names}."},
    "ja": {"patient": "受診の場: {setting}。患者: {age}歳{person}。", "complaint": "主訴: {name}。",
           "person": {"female": "女性", "male": "男性"}, "title": {"symptom": "現病歴", "history": "既往歴"},
           "line": "{title}: {names}。", "join": "、", "nothing": "特記事項なし", "denies": "否定: {names}。"},
}


def render_summary(kb: KnowledgeBase, case: Case, enable_pertinent_negatives: bool, language: Language) -> str:
    """The initial consultation summary: setting, patient, chief complaint, present illness, history.

    With ``enable_pertinent_negatives`` the absent symptoms and history are listed ("Denies: ...");
    without, the summary is shorter and, as every summary finding is always recorded, anything not
    mentioned is absent: the information, hence the posterior, is the same. ``language`` picks the
    knowledge base's names (``en`` or ``ja``) and the words around them.
    """
    words = _WORDS[language]
    lines = [
        words["patient"].format(setting=getattr(kb.settings[case.setting], language), age=case.age,
                                person=words["person"][case.sex]),
        words["complaint"].format(name=getattr(kb.presentations[case.presentation], language)),
    ]
    for kind in ("symptom", "history"):
        present = [getattr(kb.findings[f], language) for f, value in case.findings
                   if kb.findings[f].kind == kind and value]
        absent = [getattr(kb.findings[f], language) for f, value in case.findings
                  if kb.findings[f].kind == kind and not value]
        if not present and not (absent and enable_pertinent_negatives):
            continue
        line = words["line"].format(title=words["title"][kind],
                                    names=words["join"].join(present) if present else words["nothing"])
        if absent and enable_pertinent_negatives:
            line += words["denies"].format(names=words["join"].join(absent))
        lines.append(line)
    return "\n".join(lines)


def render_exam(kb: KnowledgeBase, case: Case, exam_id: str) -> str:
    """Result text of one exam for this case (every finding it reveals, normal results included)."""
    parts = []
    for finding_id, present in case.findings:
        finding = kb.findings[finding_id]
        if finding.exam == exam_id:
            parts.append(finding.positive_text if present else finding.negative_text)
    return "; ".join(parts)


def exam_module(kb: KnowledgeBase, case: Case) -> dict[str, str]:
    """The hidden exam module: exam id -> result text, for the presentation's exam menu."""
    return {exam_id: render_exam(kb, case, exam_id) for exam_id in kb.presentation_exams(case.presentation)}
