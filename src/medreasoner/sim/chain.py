r"""The evidence-based diagnostic chain: pre-test probability, likelihood ratios, post-test ranking.

For a presentation with differential D and setting s, the pre-test probability of condition c is
its prevalence in s renormalised over D. Each observed finding f updates the odds of every c that
lists it by its likelihood ratio (Sackett's evidence-based medicine, and McGee, Evidence-Based
Physical Diagnosis, ch. 2):

    LR+ = sens / (1 - spec)         (finding present)
    LR- = (1 - sens) / spec         (finding absent)

with ``sens``, ``spec`` replaced by their noisy versions when the world adds measurement noise
(:func:`medreasoner.sim.sampler.flip`). A condition that does not list f has P(f) = 1 - spec, the
reference rate, so its LR is 1. Treating findings as conditionally independent given the condition
(naive Bayes) is an approximation for real patients, but it is exactly how the sampler generates
them, so here the posterior is exact and its argmax is the Bayes-optimal diagnosis: the label of
every generated item. The chain text names the evidence for and against the leading differentials
and concludes with the posterior-best diagnosis, which the answer then states in ``\boxed{}``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal

from medreasoner.sim.kb import KnowledgeBase
from medreasoner.sim.sampler import flip

Verbosity = Literal["short", "full"]


@dataclass(frozen=True)
class Evidence:
    """One observed finding's effect on one condition."""

    finding: str
    present: bool
    likelihood_ratio: float


@dataclass(frozen=True)
class Posterior:
    """Pre- and post-test probabilities over a differential (same order as ``conditions``)."""

    conditions: tuple[str, ...]
    prior: tuple[float, ...]
    posterior: tuple[float, ...]
    evidence: dict[str, tuple[Evidence, ...]]

    @functools.cached_property
    def best(self) -> str:
        """The Bayes-optimal diagnosis (first of the differential on an exact tie)."""
        return self.conditions[max(range(len(self.conditions)), key=lambda i: (self.posterior[i], -i))]

    def ranked(self) -> list[tuple[str, float]]:
        """``(condition id, posterior)`` from most to least probable."""
        order = sorted(range(len(self.conditions)), key=lambda i: (-self.posterior[i], i))
        return [(self.conditions[i], self.posterior[i]) for i in order]

    def probability(self, condition_id: str) -> float:
        return self.posterior[self.conditions.index(condition_id)]


@dataclass(frozen=True)
class ProbabilityModel:
    """The knowledge base's generative model at one noise level, with every number precomputed.

    Attributes:
        kb: the knowledge base.
        noise: probability that a recorded finding is flipped.
        present: ``(condition id, finding id) -> P(recorded present)`` for every finding of the
            condition's presentation.
        ratios: ``(condition id, finding id) -> (LR+, LR-)`` for every finding the condition lists.
    """

    kb: KnowledgeBase
    noise: float
    present: dict[tuple[str, str], float]
    ratios: dict[tuple[str, str], tuple[float, float]]


def probability_model(kb: KnowledgeBase, noise: float) -> ProbabilityModel:
    """Precompute P(present) and likelihood ratios (LR+ = sens/(1-spec), LR- = (1-sens)/spec, noisy)."""
    present, ratios = {}, {}
    for condition in kb.conditions:
        for finding_id in kb.presentation_findings(condition.presentation):
            present[condition.id, finding_id] = flip(kb.probability_present(condition, finding_id), noise)
        for entry in condition.findings:
            p_condition = present[condition.id, entry.f]
            p_reference = flip(1.0 - kb.findings[entry.f].spec, noise)
            ratios[condition.id, entry.f] = (p_condition / p_reference, (1.0 - p_condition) / (1.0 - p_reference))
    return ProbabilityModel(kb, noise, present, ratios)


def posterior(model: ProbabilityModel, setting: str, presentation: str, observed: dict[str, bool]) -> Posterior:
    """Naive-Bayes posterior over the presentation's differential given the observed findings."""
    differential = model.kb.differential(presentation)
    total = sum(c.prevalence[setting] for c in differential)
    prior = [c.prevalence[setting] / total for c in differential]
    log_scores, evidence = [], {}
    for condition, p in zip(differential, prior):
        items = tuple(
            Evidence(entry.f, observed[entry.f], model.ratios[condition.id, entry.f][0 if observed[entry.f] else 1])
            for entry in condition.findings
            if entry.f in observed
        )
        evidence[condition.id] = items
        log_scores.append(math.log(p) + sum(math.log(e.likelihood_ratio) for e in items))
    top = max(log_scores)  # subtract the max before exponentiating: avoids underflow on long chains
    weights = [math.exp(s - top) for s in log_scores]
    norm = sum(weights)
    return Posterior(
        conditions=tuple(c.id for c in differential),
        prior=tuple(prior),
        posterior=tuple(w / norm for w in weights),
        evidence=evidence,
    )


def _phrase(kb: KnowledgeBase, e: Evidence) -> str:
    name = kb.findings[e.finding].en
    return name if e.present else f"no {name}"


def _for_against(kb: KnowledgeBase, items: tuple[Evidence, ...]) -> tuple[list[str], list[str]]:
    """Findings raising (LR > 1) and lowering (LR < 1) a condition's odds, strongest first."""
    ordered = sorted(items, key=lambda e: -abs(math.log(e.likelihood_ratio)))
    supporting = [f"{_phrase(kb, e)} (LR {e.likelihood_ratio:.2g})" for e in ordered if e.likelihood_ratio > 1.0]
    opposing = [f"{_phrase(kb, e)} (LR {e.likelihood_ratio:.2g})" for e in ordered if e.likelihood_ratio < 1.0]
    return supporting, opposing


def chain_text(
    kb: KnowledgeBase,
    post: Posterior,
    setting: str,
    presentation: str,
    verbosity: Verbosity,
    conclusion: str | None = None,
) -> str:
    r"""The reasoning text, ending with the concluded diagnosis (the answer goes in ``\boxed{}`` after it).

    ``short`` names the strongest evidence for the conclusion in one line (what a tiny model can
    learn in minutes); ``full`` walks pre-test probabilities, each update, the post-test ranking
    and the evidence for and against the three leading differentials. ``conclusion`` (a condition
    id) overrides the posterior-best diagnosis: preference data uses it to build a chain whose
    evidence is right but whose conclusion is wrong.
    """
    best = kb.condition(post.best if conclusion is None else conclusion)
    if verbosity == "short":
        supporting, _ = _for_against(kb, post.evidence[best.id])
        reasons = ", ".join(s.split(" (LR")[0] for s in supporting[:3]) or "the pre-test probability"
        return f"Key evidence: {reasons}. Most likely: {best.en}."
    lines = [
        f"Initial consultation: {kb.presentations[presentation].en} in the {kb.settings[setting].en}.",
        "Pre-test probabilities (prevalence in this setting): "
        + ", ".join(f"{kb.condition(c).en} {p:.0%}" for c, p in zip(post.conditions, post.prior)) + ".",
        "Likelihood-ratio updates (findings treated as independent given the diagnosis):",
    ]
    for condition_id in post.conditions:
        items = post.evidence[condition_id]
        if items:
            updates = "; ".join(f"{_phrase(kb, e)} x{e.likelihood_ratio:.2g}" for e in items)
            lines.append(f"- {kb.condition(condition_id).en}: {updates}.")
    ranked = post.ranked()
    lines.append("Post-test probabilities: " + ", ".join(f"{kb.condition(c).en} {p:.0%}" for c, p in ranked) + ".")
    for condition_id, p in ranked[:3]:
        supporting, opposing = _for_against(kb, post.evidence[condition_id])
        lines.append(
            f"{kb.condition(condition_id).en} ({p:.0%}). For: {', '.join(supporting) or 'nothing specific'}. "
            f"Against: {', '.join(opposing) or 'nothing specific'}."
        )
    lines.append(f"Conclusion: {best.en} is the most probable diagnosis.")
    return "\n".join(lines)
