r"""Turn a simulated case into canonical items, SFT examples and preference pairs.

Every item's label is the Bayes-optimal diagnosis given what its question shows (the consultation
summary plus ``num_exams_revealed`` exam results), not the patient's true condition; ``meta``
keeps both so the Bayes-optimal accuracy of a split can be reported.

Tasks (``Item.verifier`` in brackets):

- ``diagnosis`` [diagnosis]: open question, gold = condition name, ``meta["synonyms"]`` its
  synonyms and Japanese name.
- ``mcq`` [mcq]: the most likely diagnosis among ``num_options`` (distractors from the same
  differential first, then from other presentations).
- ``multiselect`` [multiselect], scored by micro-F1 as in WiNGPT-3.0's MedReMCQ: either which
  exams bear on the leading differentials (distractors: exams that reveal nothing for this
  complaint) or which diagnoses remain plausible (post-test probability >= a threshold).

Prompts are rendered with the evaluation's own ``items``/``answer`` template, so a model trained
on these rows sees exactly the prompt it is evaluated with.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

from medreasoner.benchmarks.item import Item
from medreasoner.eval.prompts import PromptBuilder
from medreasoner.sim.chain import Posterior, ProbabilityModel, Verbosity, chain_text, posterior
from medreasoner.sim.kb import KnowledgeBase
from medreasoner.sim.sampler import Case, render_exam, render_summary

_PROMPTS = PromptBuilder("items", "answer", "chat", [], None)


@dataclass(frozen=True)
class Presented:
    """A case as one question shows it: the summary plus some exam results, and its posterior."""

    case: Case
    exams: tuple[str, ...]
    posterior: Posterior
    text: str

    @property
    def label(self) -> str:
        """Bayes-optimal diagnosis (condition id) given what the text shows."""
        return self.posterior.best


def present(
    model: ProbabilityModel, case: Case, rng: random.Random, num_exams_revealed: int, enable_pertinent_negatives: bool
) -> Presented:
    """Reveal ``num_exams_revealed`` exams of the presentation's menu (at random) and compute the posterior."""
    kb = model.kb
    menu = kb.presentation_exams(case.presentation)
    chosen = set(rng.sample(menu, min(num_exams_revealed, len(menu))))
    exams = tuple(exam for exam in menu if exam in chosen)
    lines = [render_summary(kb, case, enable_pertinent_negatives, "en")]
    if exams:
        lines.append("Results: " + " ".join(f"{kb.exams[e].en}: {render_exam(kb, case, e)}." for e in exams))
    post = posterior(model, case.setting, case.presentation, case.observed(kb, list(exams)))
    return Presented(case, exams, post, "\n".join(lines))


def item_meta(kb: KnowledgeBase, shown: Presented, task: str) -> dict:
    """An item's ``meta``: its task, the case's signature, setting and complaint, true and label condition
    (English names), whether they agree, the label's posterior and the exams the question shows."""
    return {
        "task": task,
        "case": shown.case.signature(),
        "setting": shown.case.setting,
        "presentation": shown.case.presentation,
        "truth": kb.condition(shown.case.truth).en,
        "label": kb.condition(shown.label).en,
        "bayes_correct": shown.label == shown.case.truth,
        "label_posterior": round(shown.posterior.probability(shown.label), 6),
        "exams_revealed": list(shown.exams),
    }


def synonyms(kb: KnowledgeBase, condition_id: str) -> list[str]:
    """Accepted alternative names of a condition: English synonyms, then the Japanese name."""
    condition = kb.condition(condition_id)
    return [*condition.synonyms, condition.ja]


def diagnosis_item(kb: KnowledgeBase, shown: Presented, item_id: str) -> Item:
    """Open-ended diagnosis item (verifier ``diagnosis``)."""
    meta = {**item_meta(kb, shown, "diagnosis"), "synonyms": synonyms(kb, shown.label)}
    question = f"{shown.text}\nWhat is the most likely diagnosis?"
    return Item(item_id, question, {}, kb.condition(shown.label).en, "diagnosis", meta)


def _letters(options: list[str]) -> dict[str, str]:
    return dict(zip(string.ascii_uppercase, options))


def _distractors(kb: KnowledgeBase, shown: Presented, rng: random.Random, count: int) -> list[str]:
    """Condition ids: the rest of the differential (shuffled) first, then other presentations'."""
    same = [c.id for c in kb.differential(shown.case.presentation) if c.id != shown.label]
    other = [c.id for c in kb.conditions if c.presentation != shown.case.presentation]
    rng.shuffle(same)
    rng.shuffle(other)
    return (same + other)[:count]


def mcq_item(kb: KnowledgeBase, shown: Presented, rng: random.Random, num_options: int, item_id: str) -> Item:
    """Single-answer diagnosis MCQ (verifier ``mcq``); gold = the letter of the Bayes-optimal diagnosis."""
    choices = [shown.label, *_distractors(kb, shown, rng, num_options - 1)]
    rng.shuffle(choices)
    options = _letters([kb.condition(c).en for c in choices])
    gold = string.ascii_uppercase[choices.index(shown.label)]
    question = f"{shown.text}\nWhich is the most likely diagnosis?"
    return Item(item_id, question, options, frozenset(gold), "mcq", item_meta(kb, shown, "mcq"))


def key_exams(kb: KnowledgeBase, presentation: str, condition_ids: list[str]) -> list[str]:
    """Exams of the presentation's menu that reveal a finding listed by any of ``condition_ids``."""
    listed = {entry.f for c in condition_ids for entry in kb.condition(c).findings}
    revealing = {kb.findings[f].exam for f in listed}
    return [exam for exam in kb.presentation_exams(presentation) if exam in revealing]


def exams_multiselect_item(
    kb: KnowledgeBase, shown: Presented, rng: random.Random, num_options: int, item_id: str
) -> Item | None:
    """Which exams bear on the two leading diagnoses? Distractors reveal nothing for this complaint.

    Exams already shown are not offered unless nothing else is relevant; ``None`` when no exam
    bears on the leading diagnoses (e.g. two headache syndromes diagnosed from history alone).
    """
    leading = [c for c, _ in shown.posterior.ranked()[:2]]
    bearing = key_exams(kb, shown.case.presentation, leading)
    if not bearing:
        return None
    relevant = [e for e in bearing if e not in shown.exams] or bearing
    menu = set(kb.presentation_exams(shown.case.presentation))
    useless = [e for e in kb.exams if e not in menu]
    rng.shuffle(relevant)
    rng.shuffle(useless)
    picked_relevant = relevant[: max(1, num_options // 2)]
    choices = picked_relevant + useless[: num_options - len(picked_relevant)]
    rng.shuffle(choices)
    options = _letters([kb.exams[e].en for e in choices])
    gold = frozenset(string.ascii_uppercase[i] for i, e in enumerate(choices) if e in picked_relevant)
    question = (
        f"{shown.text}\nWhich of the following examinations would give evidence for or against the "
        "leading diagnoses? Select all that apply."
    )
    return Item(item_id, question, options, gold, "multiselect", item_meta(kb, shown, "multiselect_exams"))


def plausible_multiselect_item(
    kb: KnowledgeBase, shown: Presented, rng: random.Random, num_options: int, threshold: float, item_id: str
) -> Item:
    """Which diagnoses remain plausible (post-test probability >= ``threshold``; the best always is)?

    One option always comes from another presentation (posterior 0), so the answer never names
    every option (which the verifier scores as an abstention).
    """
    outside = rng.choice([c.id for c in kb.conditions if c.presentation != shown.case.presentation])
    rest = [c for c in _distractors(kb, shown, rng, num_options) if c != outside][: num_options - 2]
    choices = [shown.label, outside, *rest]
    rng.shuffle(choices)
    in_differential = set(shown.posterior.conditions)
    plausible = {
        c for c in choices if c == shown.label or (c in in_differential and shown.posterior.probability(c) >= threshold)
    }
    options = _letters([kb.condition(c).en for c in choices])
    gold = frozenset(string.ascii_uppercase[i] for i, c in enumerate(choices) if c in plausible)
    question = (
        f"{shown.text}\nWhich of the following diagnoses remain plausible (post-test probability of "
        f"at least {threshold:.0%})? Select all that apply."
    )
    meta = {**item_meta(kb, shown, "multiselect_plausible"), "threshold": threshold}
    return Item(item_id, question, options, gold, "multiselect", meta)


def prompt_messages(item: Item) -> list[dict]:
    """The chat prompt of an item, rendered by the evaluation template (``items``, ``answer`` mode)."""
    return [dict(message) for message in _PROMPTS.render(item).messages]


def answer_text(item: Item) -> str:
    r"""The reference answer: ``\boxed{<diagnosis>}`` or ``\boxed{<letters>}``."""
    answer = item.gold if isinstance(item.gold, str) else ", ".join(sorted(item.gold))
    return f"\\boxed{{{answer}}}"


def reference_message(kb: KnowledgeBase, shown: Presented, item: Item, verbosity: Verbosity) -> dict:
    """Assistant message: the diagnostic chain as ``reasoning_content`` and the boxed answer as content."""
    reasoning = chain_text(kb, shown.posterior, shown.case.setting, shown.case.presentation, verbosity)
    if item.options:
        reasoning += f" That is option {', '.join(sorted(item.gold))}."
    return {"role": "assistant", "content": answer_text(item), "reasoning_content": reasoning}


def sft_example(kb: KnowledgeBase, shown: Presented, item: Item, verbosity: Verbosity) -> dict:
    """One SFT row: ``{"messages": [prompt..., assistant with reasoning_content]}``."""
    return {"messages": [*prompt_messages(item), reference_message(kb, shown, item, verbosity)]}


def chain_preference_pair(kb: KnowledgeBase, shown: Presented, item: Item, verbosity: Verbosity) -> dict | None:
    """Correct chain (Bayes-optimal conclusion) over the same evidence concluding the runner-up.

    ``margin`` = posterior(best) - posterior(runner-up), in (0, 1]: how much better the chosen
    conclusion is, usable by TRL's reward trainer (``margin`` column) or ignored by DPO. ``None``
    when the two are exactly tied (no preference to learn).
    """
    runner_up, p_runner = shown.posterior.ranked()[1]
    if p_runner == shown.posterior.probability(shown.label):
        return None
    wrong_item = Item(item.id, item.question, {}, kb.condition(runner_up).en, "diagnosis", item.meta)
    wrong_reasoning = chain_text(
        kb, shown.posterior, shown.case.setting, shown.case.presentation, verbosity, conclusion=runner_up
    )
    rejected = {"role": "assistant", "content": answer_text(wrong_item), "reasoning_content": wrong_reasoning}
    return {
        "prompt": prompt_messages(item),
        "chosen": [reference_message(kb, shown, item, verbosity)],
        "rejected": [rejected],
        "margin": round(shown.posterior.probability(shown.label) - p_runner, 6),
    }
