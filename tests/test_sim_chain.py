"""Diagnostic chain: likelihood ratios, exact posterior, and a conclusion equal to the posterior argmax.

Run: .venv/bin/python -m pytest tests/test_sim_chain.py -q
"""

from __future__ import annotations

import math
import random

import pytest

from medreasoner.sim.chain import chain_text, posterior, probability_model
from medreasoner.sim.kb import load_knowledge_base
from medreasoner.sim.sampler import flip, sample_case

SETTINGS = {"primary_care": 1.0, "emergency": 1.0, "inpatient": 1.0}


@pytest.fixture(scope="module")
def kb():
    return load_knowledge_base()


def test_likelihood_ratios_follow_sens_and_spec(kb):
    model = probability_model(kb, noise=0.0)
    # troponin for ACS: sens 0.90 (Reichlin 2009), spec 0.88 -> LR+ 7.5, LR- 0.114
    lr_pos, lr_neg = model.ratios["acute_coronary_syndrome", "troponin_elevated"]
    assert lr_pos == pytest.approx(0.90 / 0.12) and lr_neg == pytest.approx(0.10 / 0.88)
    # noise pulls every likelihood ratio towards 1
    noisy_pos, noisy_neg = probability_model(kb, noise=0.2).ratios["acute_coronary_syndrome", "troponin_elevated"]
    assert 1 < noisy_pos < lr_pos and lr_neg < noisy_neg < 1


def _brute_force(kb, noise, setting, presentation, observed):
    """P(c | observed) from the generative model directly: prior x product of P(value | c), every finding."""
    scores = {}
    for condition in kb.differential(presentation):
        log_p = math.log(condition.prevalence[setting])
        for finding_id, present in observed.items():
            p = flip(kb.probability_present(condition, finding_id), noise)
            log_p += math.log(p if present else 1.0 - p)
        scores[condition.id] = log_p
    top = max(scores.values())
    total = sum(math.exp(s - top) for s in scores.values())
    return {c: math.exp(s - top) / total for c, s in scores.items()}


@pytest.mark.parametrize("noise", [0.0, 0.1])
def test_posterior_is_the_exact_bayes_posterior_and_chains_conclude_its_argmax(kb, noise):
    model = probability_model(kb, noise)
    rng = random.Random(7)
    for _ in range(150):
        case = sample_case(kb, model.present, rng, SETTINGS)
        exams = rng.sample(kb.presentation_exams(case.presentation), 2)
        observed = case.observed(kb, exams)
        post = posterior(model, case.setting, case.presentation, observed)
        exact = _brute_force(kb, noise, case.setting, case.presentation, observed)
        assert [exact[c] for c in post.conditions] == pytest.approx(list(post.posterior), rel=1e-9, abs=1e-12)
        best = max(exact, key=exact.get)
        assert post.best == best
        name = kb.condition(best).en
        assert chain_text(kb, post, case.setting, case.presentation, "short").endswith(f"Most likely: {name}.")
        full = chain_text(kb, post, case.setting, case.presentation, "full")
        assert full.endswith(f"Conclusion: {name} is the most probable diagnosis.")


def test_full_chain_names_evidence_for_and_against_the_leading_differentials(kb):
    model = probability_model(kb, 0.0)
    observed = {"pleuritic_pain": True, "sudden_dyspnea": True, "d_dimer_elevated": True, "ctpa_filling_defect": True,
                "troponin_elevated": False}
    post = posterior(model, "emergency", "chest_pain", observed)
    assert post.best == "pulmonary_embolism"
    text = chain_text(kb, post, "emergency", "chest_pain", "full")
    assert "Pre-test probabilities" in text and "Post-test probabilities" in text
    pe_line = next(line for line in text.splitlines() if line.startswith("Pulmonary embolism ("))
    assert "For: filling defect in a pulmonary artery (LR 21)" in pe_line
    assert "Against: no elevated troponin (LR 0.8)" in pe_line
    # every update is shown, including the ones that sink a differential (ACS: LR- of troponin 0.11)
    assert "- Acute coronary syndrome: pleuritic pain x0.2; no elevated troponin x0.11." in text
    assert text.count(" (") >= 3 and len([line for line in text.splitlines() if ". For: " in line]) == 3


def test_forced_conclusion_changes_only_the_conclusion(kb):
    model = probability_model(kb, 0.0)
    post = posterior(model, "emergency", "chest_pain", {"pleuritic_pain": True})
    runner_up = post.ranked()[1][0]
    wrong = chain_text(kb, post, "emergency", "chest_pain", "full", conclusion=runner_up)
    right = chain_text(kb, post, "emergency", "chest_pain", "full")
    assert wrong.splitlines()[:-1] == right.splitlines()[:-1]
    assert kb.condition(runner_up).en in wrong.splitlines()[-1]


def test_difficulty_knobs_move_the_bayes_optimal_accuracy(kb):
    from medreasoner.sim.items import present

    def accuracy(noise: float, num_exams: int) -> float:
        model = probability_model(kb, noise)
        rng = random.Random(5)
        cases = [sample_case(kb, model.present, rng, SETTINGS) for _ in range(400)]
        shown = [present(model, case, rng, num_exams, False) for case in cases]
        return sum(s.label == s.case.truth for s in shown) / len(shown)

    assert accuracy(0.0, 4) > accuracy(0.0, 0) + 0.05  # more exam results shown: easier
    assert accuracy(0.0, 4) > accuracy(0.25, 4) + 0.1  # measurement noise: harder
