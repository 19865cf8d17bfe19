"""Held-out diagnosis items asked in Japanese: the same cases, questions and labels, the case written in Japanese.

Finding 3 of the reproduce run asks whether CPT adds knowledge the fine-tuning data lacks, and Preferred-MedLLM's
CPT is Japanese medical text for a Japanese exam. In the world, every SFT and RL row is English, while the CPT
corpus has Japanese paragraphs as well (``cpt_languages``): what each Japanese setting, complaint, finding and
condition name means, and which findings each condition shows, reaches a model only through CPT. An item here is
the English held-out item of the same case (same id, exams shown, label and gold, so the two are paired), with
the question written from the knowledge base's ``ja`` names, the names the Japanese corpus uses. The eval
template's instruction line stays English, as the SFT rows have it; the diagnosis verifier accepts the English
name, its synonyms and the Japanese name (``meta.synonyms``).

An absent finding is written ``<name>なし`` ("no <name>"): the English items' own wording of a normal result
(``Finding.neg``, e.g. "neck supple") has no Japanese text in the knowledge base, and the corpus names only the
finding itself.
"""

from __future__ import annotations

from medreasoner.benchmarks.item import Item, item_to_dict
from medreasoner.sim.items import Presented, item_meta, synonyms
from medreasoner.sim.kb import KnowledgeBase
from medreasoner.sim.sampler import Case, render_summary


def render_exam_ja(kb: KnowledgeBase, case: Case, exam_id: str) -> str:
    """:func:`medreasoner.sim.sampler.render_exam` in Japanese: every finding the exam reveals, absent ones included."""
    return "、".join(kb.findings[f].ja if present else f"{kb.findings[f].ja}なし"
                    for f, present in case.findings if kb.findings[f].exam == exam_id)


def diagnosis_item_ja(kb: KnowledgeBase, shown: Presented, item_id: str, enable_pertinent_negatives: bool) -> Item:
    """The open diagnosis item of ``shown`` (:func:`medreasoner.sim.items.diagnosis_item`), asked in Japanese."""
    lines = [render_summary(kb, shown.case, enable_pertinent_negatives, "ja")]
    if shown.exams:
        lines.append("検査結果: " + "".join(f"{kb.exams[e].ja}: {render_exam_ja(kb, shown.case, e)}。"
                                           for e in shown.exams))
    meta = {**item_meta(kb, shown, "diagnosis"), "synonyms": synonyms(kb, shown.label), "language": "ja"}
    question = "\n".join(lines) + "\n最も可能性の高い診断は何か。"
    return Item(item_id, question, {}, kb.condition(shown.label).en, "diagnosis", meta)


def japanese_files(kb: KnowledgeBase, shown: list[Presented], ids: list[str], cpt_only_conditions: list[str],
                   enable_pertinent_negatives: bool, split: str) -> dict[str, list[dict]]:
    """``eval/<split>_ja_diagnosis.jsonl`` (one item per presented case, ``ids`` in order) and, when the world has
    CPT-only conditions, ``eval/<split>_ja_diagnosis_cpt_only.jsonl`` (the items labelled with one of them)."""
    items = [diagnosis_item_ja(kb, case, item_id, enable_pertinent_negatives)
             for case, item_id in zip(shown, ids, strict=True)]
    files = {f"eval/{split}_ja_diagnosis.jsonl": [item_to_dict(item) for item in items]}
    if cpt_only_conditions:
        files[f"eval/{split}_ja_diagnosis_cpt_only.jsonl"] = [
            item_to_dict(item) for item, case in zip(items, shown, strict=True) if case.label in cpt_only_conditions]
    return files
