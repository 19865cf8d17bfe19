"""Metrics of the evaluation runner: bootstrap intervals, exact McNemar, stability flips, stats.

Run: .venv/bin/python -m pytest tests/test_eval_metrics.py -q
"""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest

import medreasoner.eval.metrics as metrics_module
from medreasoner.eval.metrics import (
    BOOTSTRAP,
    BootstrapSpec,
    accuracy_block,
    bootstrap_ci,
    distribution,
    mcnemar_exact_p,
    paired_bootstrap_delta_ci,
    stability,
)

SMALL = BootstrapSpec(n_resamples=2000, confidence=0.95, seed=3)


@pytest.mark.parametrize("correct", [7, 30, 55, 99])
def test_bootstrap_interval_contains_the_point_estimate_and_is_seeded(correct):
    values = [1.0] * correct + [0.0] * (100 - correct)
    low, high = bootstrap_ci(values, SMALL)
    assert low <= correct / 100 <= high
    assert low < high
    assert bootstrap_ci(values, SMALL) == (low, high)  # same seed, same interval


def test_bootstrap_width_matches_the_normal_approximation():
    # For p = 0.5, n = 400 the binomial standard error is 0.025: a 95 % interval is ~±0.049.
    values = [1.0, 0.0] * 200
    low, high = bootstrap_ci(values, BOOTSTRAP)
    assert (high - low) / 2 == pytest.approx(1.96 * 0.025, abs=0.005)


def test_mcnemar_exact_matches_hand_computation():
    # b = 2 flips to wrong, c = 8 flips to right: P = 2 * sum_{k<=2} C(10, k) / 2^10 = 2 * 56 / 1024.
    assert mcnemar_exact_p(2, 8) == pytest.approx(2 * (1 + 10 + 45) / 1024)
    assert mcnemar_exact_p(8, 2) == pytest.approx(2 * (1 + 10 + 45) / 1024)  # symmetric
    assert mcnemar_exact_p(5, 5) == pytest.approx(1.0)
    assert mcnemar_exact_p(0, 0) == 1.0
    assert mcnemar_exact_p(0, 6) == pytest.approx(2 / 64)


def test_stability_counts_flips_and_pairs_by_id():
    answer = {"q1": True, "q2": True, "q3": False, "q4": False, "q5": True, "only_answer": True}
    explain = {"q1": True, "q2": False, "q3": True, "q4": True, "q5": False, "only_explain": False}
    block = stability(answer, explain, SMALL)
    assert block["n"] == 5
    assert (block["flips_to_wrong"], block["flips_to_right"]) == (2, 2)  # q2, q5 / q3, q4
    assert block["answer_accuracy"] == pytest.approx(3 / 5)
    assert block["explain_accuracy"] == pytest.approx(3 / 5)
    assert block["delta"] == pytest.approx(0.0)
    assert block["mcnemar_p"] == pytest.approx(1.0)
    assert block["ci_low"] <= 0.0 <= block["ci_high"]


def test_paired_delta_interval_is_narrower_than_unpaired_when_modes_agree():
    rng = np.random.default_rng(0)
    answer = (rng.random(300) < 0.6).astype(float)
    explain = answer.copy()
    explain[:15] = 0.0  # explain loses a few items it had right
    low, high = paired_bootstrap_delta_ci(list(answer), list(explain), SMALL)
    delta = explain.mean() - answer.mean()
    assert low <= delta <= high < 0.0  # a consistent loss is detected by pairing
    a_low, a_high = bootstrap_ci(list(answer), SMALL)
    assert high - low < a_high - a_low


def test_accuracy_block_and_distribution():
    block = accuracy_block([True, False, True, True], [1.0, 0.0, 1.0, 0.5], [True, False, True, True], SMALL)
    assert block["accuracy"] == 0.75 and block["n_correct"] == 3 and block["no_answer_rate"] == 0.25
    assert block["mean_score"] == pytest.approx(0.625)
    stats = distribution([1.0, 2.0, 3.0, 4.0, 100.0])
    assert stats["mean"] == pytest.approx(22.0) and stats["p50"] == 3.0
    assert stats["p95"] == pytest.approx(4 + 0.8 * 96)
    assert math.isnan(distribution([])["mean"])


def test_wilson_interval_matches_the_hand_computation_and_scipy():
    from scipy.stats import binomtest

    from medreasoner.eval.metrics import wilson_ci

    # 7/10 at 95 %: z = 1.959964, z^2 = 3.841459; denominator 1 + z^2/10 = 1.384146;
    # centre = (0.7 + z^2/20) / 1.384146 = 0.644493; half = z/1.384146 * sqrt(0.021 + z^2/400) = 0.247715.
    low, high = wilson_ci(7, 10)
    assert (low, high) == (pytest.approx(0.644493 - 0.247715, abs=2e-6), pytest.approx(0.644493 + 0.247715, abs=2e-6))
    for successes, n in [(0, 200), (1, 200), (37, 120), (199, 200), (200, 200)]:
        expected = binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert wilson_ci(successes, n) == (pytest.approx(expected.low, abs=1e-12), pytest.approx(expected.high, abs=1e-12))


def test_accuracy_intervals_do_not_collapse_at_0_and_100_percent():
    none = accuracy_block([False] * 200, [0.0] * 200, [True] * 200, BOOTSTRAP)
    assert none["accuracy"] == 0.0 and none["ci_low"] == 0.0
    assert none["ci_high"] > 0.01  # 0/200: upper bound z^2/(n + z^2) = 1.88 %, not 0
    assert none["ci_high"] == pytest.approx(1.959964 ** 2 / (200 + 1.959964 ** 2), abs=1e-6)
    every = accuracy_block([True] * 200, [1.0] * 200, [True] * 200, BOOTSTRAP)
    assert every["ci_high"] == 1.0 and every["ci_low"] < 1.0
    assert every["ci_low"] == pytest.approx(1 - none["ci_high"])
    assert none["interval"] == {"method": "wilson", "confidence": 0.95}
    empty = accuracy_block([], [], [], BOOTSTRAP)
    assert math.isnan(empty["accuracy"]) and math.isnan(empty["ci_low"])


def test_paired_interval_is_bca_and_handles_constant_differences():
    from medreasoner.eval.metrics import constant_difference_ci, paired_delta_ci, wilson_ci

    rng = np.random.default_rng(1)
    first = (rng.random(200) < 0.5).astype(float)
    second = first.copy()
    second[:30] = 1.0 - second[:30]
    low, high, method = paired_delta_ci(list(first), list(second), SMALL)
    assert method == "BCa" and low < (second - first).mean() < high
    assert paired_delta_ci(list(first), list(second), SMALL)[:2] == (low, high)  # seeded

    # Two models agreeing on every item (0 discordant of 200): not [0, 0] but +-(Wilson upper of 0/200).
    same = [1.0] * 120 + [0.0] * 80
    low, high, method = paired_delta_ci(same, same, SMALL)
    assert method == "constant-difference Wilson"
    assert (low, high) == (-wilson_ci(0, 200)[1], wilson_ci(0, 200)[1]) and high > 0.01
    # Every item flips to right: delta = 1 with a lower bound below 1.
    low, high, _ = paired_delta_ci([0.0] * 200, [1.0] * 200, SMALL)
    assert high == 1.0 and low == pytest.approx(2 * wilson_ci(200, 200)[0] - 1) and low < 1.0
    assert paired_delta_ci([1.0] * 50, [0.0] * 50, SMALL)[:2] == (-1.0, pytest.approx(1 - 2 * wilson_ci(50, 50)[0]))
    assert constant_difference_ci(0.25, 10, 0.95) == (0.25, 0.25)  # not a 0/1 difference: the point
    assert math.isnan(paired_delta_ci([], [], SMALL)[0])
    block = stability({"a": True, "b": False}, {"a": True, "b": False}, SMALL)
    assert block["delta"] == 0.0 and block["ci_low"] < 0.0 < block["ci_high"] and block["mcnemar_p"] == 1.0
    assert block["interval_method"] == "constant-difference Wilson"


def test_docstring_examples():
    """The examples in the metrics docstrings (maj@k's vote rule among them) are what the code returns."""
    result = doctest.testmod(metrics_module)
    assert result.failed == 0 and result.attempted > 0
