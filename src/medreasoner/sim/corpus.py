"""A textbook-style corpus written from the knowledge base, in English and Japanese (CPT data).

Each condition gives an overview (specialty, presentation, prevalence by setting), its findings
with sensitivity, specificity and likelihood ratios, and its place in the differential; each
presentation gives its differential and exam menu. Case reports (a sampled patient, every exam
result, and the full diagnostic chain as the discussion) add worked examples. The numbers are the knowledge base's, so the
continued-pretraining corpus and the diagnostic chain teach the same facts.
"""

from __future__ import annotations

from medreasoner.sim.chain import ProbabilityModel, chain_text, posterior
from medreasoner.sim.kb import Condition, KnowledgeBase
from medreasoner.sim.sampler import Case, exam_module, render_summary


def _lr_pair(kb: KnowledgeBase, sens: float, finding_id: str) -> tuple[float, float]:
    spec = kb.findings[finding_id].spec
    return sens / (1.0 - spec), (1.0 - sens) / spec  # LR+, LR- (Sackett; McGee ch. 2)


def _en_condition(kb: KnowledgeBase, c: Condition) -> list[str]:
    presentation = kb.presentations[c.presentation]
    prevalence = ", ".join(f"{c.prevalence[s]:g} in the {kb.settings[s].en}" for s in kb.settings)
    overview = (
        f"{c.en} ({', '.join(c.synonyms)}) is managed in {kb.specialties[c.specialty].en} and typically presents "
        f"with {presentation.en}. Its relative frequency per 1,000 encounters is about {prevalence}."
    )
    stats = []
    for entry in c.findings:
        finding = kb.findings[entry.f]
        lr_pos, lr_neg = _lr_pair(kb, entry.sens, entry.f)
        stats.append(
            f"{finding.en} (sensitivity {entry.sens:.0%}, specificity {finding.spec:.0%}, "
            f"LR+ {lr_pos:.2g}, LR- {lr_neg:.2g})"
        )
    findings = f"Findings in {c.en}: " + "; ".join(stats) + "."
    strongest = max(c.findings, key=lambda e: _lr_pair(kb, e.sens, e.f)[0])
    rule_out = min(c.findings, key=lambda e: _lr_pair(kb, e.sens, e.f)[1])
    others = [d.en for d in kb.differential(c.presentation) if d.id != c.id]
    differential = (
        f"In a patient with {presentation.en}, {c.en} must be distinguished from {', '.join(others)}. "
        f"The finding that raises its probability most is {kb.findings[strongest.f].en}; the absence of "
        f"{kb.findings[rule_out.f].en} lowers it most."
    )
    return [overview, findings, differential]


def _ja_condition(kb: KnowledgeBase, c: Condition) -> list[str]:
    presentation = kb.presentations[c.presentation]
    prevalence = "、".join(f"{kb.settings[s].ja}で約{c.prevalence[s]:g}" for s in kb.settings)
    overview = (
        f"{c.ja}（{c.en}）は{kb.specialties[c.specialty].ja}で扱う疾患であり、主に{presentation.ja}を呈する。"
        f"受診1,000件あたりの相対頻度は{prevalence}である。"
    )
    stats = []
    for entry in c.findings:
        finding = kb.findings[entry.f]
        lr_pos, lr_neg = _lr_pair(kb, entry.sens, entry.f)
        stats.append(
            f"{finding.ja}（感度{entry.sens:.0%}、特異度{finding.spec:.0%}、陽性尤度比{lr_pos:.2g}、陰性尤度比{lr_neg:.2g}）"
        )
    findings = f"{c.ja}の所見：" + "、".join(stats) + "。"
    others = [d.ja for d in kb.differential(c.presentation) if d.id != c.id]
    differential = f"{presentation.ja}の患者では、{c.ja}を{'、'.join(others)}と鑑別する必要がある。"
    return [overview, findings, differential]


def _en_presentation(kb: KnowledgeBase, presentation_id: str) -> str:
    conditions = ", ".join(c.en for c in kb.differential(presentation_id))
    exams = ", ".join(kb.exams[e].en for e in kb.presentation_exams(presentation_id))
    return (
        f"The differential diagnosis of {kb.presentations[presentation_id].en} includes {conditions}. "
        f"Useful examinations are {exams}. Start from the prevalence in the care setting, then update "
        "the odds with the likelihood ratio of each finding."
    )


def _ja_presentation(kb: KnowledgeBase, presentation_id: str) -> str:
    conditions = "、".join(c.ja for c in kb.differential(presentation_id))
    exams = "、".join(kb.exams[e].ja for e in kb.presentation_exams(presentation_id))
    return (
        f"{kb.presentations[presentation_id].ja}の鑑別診断には{conditions}がある。有用な検査は{exams}である。"
        "受診の場における有病率から出発し、各所見の尤度比でオッズを更新する。"
    )


# language -> (condition writer, presentation writer)
WRITERS = {"en": (_en_condition, _en_presentation), "ja": (_ja_condition, _ja_presentation)}


def corpus_texts(kb: KnowledgeBase, languages: list[str]) -> list[str]:
    """Every paragraph of the corpus, in a fixed order (language, then KB order)."""
    texts = []
    for language in languages:
        write_condition, write_presentation = WRITERS[language]
        for condition in kb.conditions:
            texts.extend(write_condition(kb, condition))
        for presentation_id in kb.presentations:
            texts.append(write_presentation(kb, presentation_id))
    return texts


def case_report(model: ProbabilityModel, case: Case) -> str:
    """A worked case in English: summary, every exam result, diagnosis, the full chain as discussion.

    The sections follow the CARE case-report guideline (Gagnier et al. 2013, Glob Adv Health Med
    2:38-43): clinical findings, then diagnostic assessment (the diagnosis), then discussion. The order
    matters at small context lengths: the discussion is about 700 tokens, so a diagnosis written after
    it never shares a 512-token training block with the findings, and the corpus could not teach
    which findings point to which condition.
    """
    kb = model.kb
    results = " ".join(f"{kb.exams[e].en}: {text}." for e, text in exam_module(kb, case).items())
    post = posterior(model, case.setting, case.presentation, case.observed(kb, None))
    discussion = chain_text(kb, post, case.setting, case.presentation, "full")
    return (
        f"Case report.\n{render_summary(kb, case, True, 'en')}\nResults: {results}\n"
        f"Final diagnosis: {kb.condition(post.best).en}.\nDiscussion:\n{discussion}"
    )
