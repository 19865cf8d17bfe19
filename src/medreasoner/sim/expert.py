"""The label-blind expert of the diagnostic-chain environment (WiNGPT-3.0 S4): which exams, when to stop.

WiNGPT-3.0 builds its S4 episodes so that "the reasoning model decides whether an auxiliary
diagnostic conclusion can be reached from the summary; if it cannot, it must ask for further
relevant examinations". The expert whose episodes ``env/sft_train.jsonl`` demonstrates makes that
decision with what a physician in the episode can see, the summary and the results returned so far,
and never with the case's label:

1. the posterior over the differential given the visible findings (:func:`medreasoner.sim.chain.posterior`,
   exact in this world);
2. for every exam not yet ordered, the expected accuracy of the Bayes decision after reading its
   results, summed over the joint outcomes of the findings it reveals (findings are independent given
   the condition, so ``P(outcome | c)`` is a product);
3. order the exam with the largest expected gain over deciding now (ties: the cheaper exam), unless
   that gain is below :data:`MIN_GAIN`, or :data:`MAX_EXAMS` exams have been ordered;
4. answer the posterior's best diagnosis given everything seen.

Step 3 is the myopic (one-step look-ahead) value of information of sequential diagnosis (Gorry and
Barnett, "Experience with a model of sequential diagnosis", Comput. Biomed. Res. 1968; Howard,
"Information value theory", IEEE Trans. Syst. Sci. Cybern. 1966), with expected accuracy as the
utility because accuracy is what the episode is graded on.

An earlier expert ordered the key exams of the *label* (the exams revealing a finding of the
Bayes-optimal diagnosis with every exam) and then stated the label. Its exam choice was a function
of the hidden answer, so in its episodes the answer could be read off the exams ordered and the
results never mattered; a model trained on them learned to guess first and order that guess's exams
(``docs/sim.md``, "S4 at tiny scale").
"""

from __future__ import annotations

import itertools

from medreasoner.sim.chain import Posterior, ProbabilityModel, posterior
from medreasoner.sim.sampler import Case

# At most this many exams per episode, so an expert episode fits an environment with max_turns >= 3.
MAX_EXAMS = 3
# Smallest expected gain in accuracy (a fraction: 0.01 = one point) worth an exam.
MIN_GAIN = 0.01


def exam_findings(model: ProbabilityModel, presentation: str, exam: str) -> list[str]:
    """Findings of the presentation that ``exam`` reveals (its result text reports each one)."""
    kb = model.kb
    return [f for f in kb.presentation_findings(presentation) if kb.findings[f].exam == exam]


def expected_accuracy(model: ProbabilityModel, case: Case, observed: dict[str, bool], exam: str) -> float:
    """Expected accuracy (a probability) of the Bayes decision after ``exam``'s results are read.

    Sum over the joint outcomes o of the exam's findings of max_c P(c | observed) P(o | c).
    """
    now = posterior(model, case.setting, case.presentation, observed)
    return _expected_accuracy(model, now, exam_findings(model, case.presentation, exam))


def _expected_accuracy(model: ProbabilityModel, now: Posterior, findings: list[str]) -> float:
    """:func:`expected_accuracy` from the current posterior ``now`` and the exam's ``findings``."""
    total = 0.0
    for outcome in itertools.product((True, False), repeat=len(findings)):
        best = 0.0
        for condition, p in zip(now.conditions, now.posterior):
            for finding, present in zip(findings, outcome):
                q = model.present[condition, finding]
                p *= q if present else 1.0 - q
            best = max(best, p)
        total += best
    return total


def expert_exams(model: ProbabilityModel, case: Case) -> list[str]:
    """Exam ids the expert orders for ``case``, in order (see the module docstring); uses only the
    summary findings and the results of the exams already ordered."""
    return expert_continuation(model, case, [])


def expert_continuation(model: ProbabilityModel, case: Case, ordered: list[str]) -> list[str]:
    """Exam ids the expert orders for ``case`` after the exams ``ordered`` (ids, by anyone: the expert, or
    a model whose episode the expert takes over), in order; :data:`MAX_EXAMS` counts ``ordered`` too."""
    kb = model.kb
    menu = kb.presentation_exams(case.presentation)
    exams = list(ordered)
    while len(exams) < MAX_EXAMS:
        now = posterior(model, case.setting, case.presentation, case.observed(kb, exams))  # once per step
        options = [(_expected_accuracy(model, now, exam_findings(model, case.presentation, e)) - max(now.posterior),
                    -kb.exams[e].cost, e)
                   for e in menu if e not in exams]
        if not options:
            break
        gain, _, exam = max(options)
        if gain < MIN_GAIN:
            break
        exams.append(exam)
    return exams[len(ordered):]


def expert_diagnosis(model: ProbabilityModel, case: Case, exams: list[str]) -> str:
    """Condition id the expert states: the posterior's best given the summary and ``exams``' results."""
    return posterior(model, case.setting, case.presentation, case.observed(model.kb, exams)).best
