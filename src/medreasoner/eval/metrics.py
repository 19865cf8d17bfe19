"""Accuracy with confidence intervals, answer-vs-explain (or model-vs-model) paired comparison, stats.

Intervals:

- A proportion (accuracy = correct / n) gets the Wilson score interval (Wilson, *JASA* 22:209-212,
  1927; recommended over the Wald and percentile-bootstrap intervals by Brown, Cai & DasGupta,
  *Statistical Science* 16:101-133, 2001, and Newcombe, *Statistics in Medicine* 17:857-872, 1998,
  method 3)::

      centre = (p + z^2 / 2n) / (1 + z^2 / n)
      half   = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / 4n^2)

  with p = successes / n and z the standard normal (1 + confidence) / 2 quantile. Unlike a bootstrap
  of 0/1 values it does not collapse at the boundaries: 0/200 gives [0, 1.88 %], not [0, 0].
- The difference of two paired means (the same items under two modes or two models) gets a BCa
  bootstrap interval (bias-corrected and accelerated; Efron, *JASA* 82:171-185, 1987; Efron &
  Tibshirani, *An Introduction to the Bootstrap*, 1993, ch. 14), resampling items jointly
  (``scipy.stats.bootstrap(..., paired=True, method="BCa")``) with a fixed seed, so a rerun on the
  same predictions gives the same interval. When every item has the same difference the bootstrap
  distribution is a single point and BCa is undefined; for 0/1 correctness that happens only with
  no discordant items (difference 0 everywhere) or all items discordant in one direction (+1 or -1
  everywhere), and the interval is then taken from the Wilson interval of the discordant share
  (see :func:`constant_difference_ci`). Should BCa still fail (non-finite bounds), the percentile
  interval of the same resamples is used; the method used is recorded next to every interval.

Paired tests pair the items (McNemar, *Psychometrika* 12:153-157, 1947): with ``b`` = items right
under the first and wrong under the second (flips to wrong) and ``c`` = the reverse, the exact test
is a two-sided binomial test of ``c`` successes in ``b + c`` trials at p = 0.5 (the exact
conditional McNemar test; Fagerland, Lydersen & Laake, *BMC Medical Research Methodology* 13:91,
2013), computed with ``scipy.stats.binomtest``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import binomtest, bootstrap, norm


@dataclass(frozen=True)
class BootstrapSpec:
    """How paired-difference intervals are computed; recorded in results.json next to every interval."""

    n_resamples: int
    confidence: float
    seed: int
    method: str = "BCa"

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return asdict(self)


# The project's fixed choice: 10,000 resamples (Monte Carlo error of a 95 % bound ~0.2 points at
# n = 1,000 items), seed 0 so intervals depend on the predictions only.
BOOTSTRAP = BootstrapSpec(n_resamples=10_000, confidence=0.95, seed=0)


def wilson_ci(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (closed form in the module docstring).

    Hand check for 0/200 at 95 % (z = 1.959964): centre = (z^2/400) / (1 + z^2/200) = 0.0094227,
    half = the same value (p = 0), so the interval is [0, 0.0188453].

    >>> [round(x, 6) for x in wilson_ci(0, 200)]
    [0.0, 0.018845]
    >>> [round(x, 4) for x in wilson_ci(7, 10)]  # centre 0.644493, half 0.247715 by hand
    [0.3968, 0.8922]
    """
    if n <= 0:
        return (float("nan"), float("nan"))
    if not 0 <= successes <= n:
        raise ValueError(f"successes must lie in [0, n]; got {successes} of {n}")
    z = float(norm.ppf((1 + confidence) / 2))
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # The exact bounds at the boundaries are 0 and 1; clip the rounding error of the closed form.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return (low, high)


def mover_ci(terms: list[tuple[float, int, int]], confidence: float = 0.95) -> tuple[float, float]:
    """Interval of a linear combination ``sum(c_k * p_k)`` of independent binomial proportions
    ``p_k = x_k / n_k``, each term given as ``(c_k, x_k, n_k)``.

    MOVER with Wilson limits ``[l_k, u_k]`` (Zou & Donner, *Statistics in Medicine* 27:1693-1702,
    2008; for linear functions of proportions Zou, Huang & Zhang, *Computational Statistics & Data
    Analysis* 53:1080-1085, 2009)::

        lower = theta - sqrt(sum(c_k^2 (p_k - l_k)^2 for c_k > 0) + sum(c_k^2 (u_k - p_k)^2 for c_k < 0))
        upper = theta + sqrt(sum(c_k^2 (u_k - p_k)^2 for c_k > 0) + sum(c_k^2 (p_k - l_k)^2 for c_k < 0))

    For ``p1 - p2`` it is Newcombe's hybrid score interval (*Statistics in Medicine* 17:873-890, 1998,
    method 10); his worked example (a), 56/70 vs 48/80, gives 0.0524 to 0.3339:

    >>> [round(x, 4) for x in mover_ci([(1, 56, 70), (-1, 48, 80)])]
    [0.0524, 0.3339]
    """
    if not terms or any(n <= 0 for _, _, n in terms):
        return (float("nan"), float("nan"))
    theta, below, above = 0.0, 0.0, 0.0
    for coefficient, successes, n in terms:
        p = successes / n
        low, high = wilson_ci(successes, n, confidence)
        theta += coefficient * p
        # The bound that moves theta down is a term's lower limit when its coefficient is positive.
        down, up = (p - low, high - p) if coefficient > 0 else (high - p, p - low)
        below += (coefficient * down) ** 2
        above += (coefficient * up) ** 2
    return (theta - math.sqrt(below), theta + math.sqrt(above))


def constant_difference_ci(difference: float, n: int, confidence: float) -> tuple[float, float]:
    """Interval of a paired 0/1 difference when all ``n`` items have the same ``difference``.

    With ``pi_c`` / ``pi_b`` the shares of items that flip to right / to wrong, the mean difference is
    ``pi_c - pi_b``, so ``|delta| <= pi_b + pi_c`` (the discordant share) and
    ``delta >= 2 pi_c - 1``. Bounding those by the Wilson interval of the observed count:

    - difference 0 everywhere (no discordant item): ``[-u, u]`` with ``u`` the Wilson upper bound
      of 0 discordant in ``n``;
    - +1 everywhere (every item flips to right): ``[2 l - 1, 1]`` with ``l`` the Wilson lower bound
      of ``n`` in ``n``; -1 everywhere mirrors it.

    Any other constant (not a 0/1 difference) carries no information on its spread and gives the
    point itself, ``(difference, difference)``.
    """
    if n <= 0:
        return (float("nan"), float("nan"))
    if difference == 0:
        upper = wilson_ci(0, n, confidence)[1]
        return (-upper, upper)
    if abs(difference) == 1:
        lower = wilson_ci(n, n, confidence)[0]
        return (2 * lower - 1, 1.0) if difference > 0 else (-1.0, 1 - 2 * lower)
    return (float(difference), float(difference))


def _paired_mean_difference(first, second, axis=-1):
    return np.mean(second - first, axis=axis)


def _mean(values, axis=-1):
    return np.mean(values, axis=axis)


def _bootstrap(data: tuple, statistic, paired: bool, spec: BootstrapSpec) -> tuple[float, float, str]:
    # BCa first; its jackknife acceleration or bias correction can be undefined on near-degenerate
    # data (scipy then warns and returns NaN), in which case the percentile interval is used.
    for method in dict.fromkeys((spec.method, "percentile")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy's DegenerateDataWarning: handled by the fallback
            result = bootstrap(data, statistic, paired=paired, vectorized=True, n_resamples=spec.n_resamples,
                               confidence_level=spec.confidence, method=method,
                               rng=np.random.default_rng(spec.seed), batch=1000)
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
        if math.isfinite(low) and math.isfinite(high):
            return (low, high, method)
    return (float("nan"), float("nan"), "failed")


def paired_delta_ci(first: list[float], second: list[float], spec: BootstrapSpec) -> tuple[float, float, str]:
    """Interval of ``mean(second) - mean(first)`` over paired items, and the method that produced it.

    Returns:
        ``(low, high, method)`` with method ``"BCa"``, ``"percentile"`` (BCa gave non-finite bounds),
        ``"constant-difference Wilson"`` (every item has the same difference;
        :func:`constant_difference_ci`) or ``"none"`` (no items: NaN bounds).
    """
    a, b = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    if a.shape != b.shape:
        raise ValueError("paired lists must have the same length")
    if a.size == 0:
        return (float("nan"), float("nan"), "none")
    differences = b - a
    if np.all(differences == differences[0]):
        low, high = constant_difference_ci(float(differences[0]), int(a.size), spec.confidence)
        return (low, high, "constant-difference Wilson")
    return _bootstrap((a, b), _paired_mean_difference, True, spec)


def paired_bootstrap_delta_ci(first: list[float], second: list[float], spec: BootstrapSpec) -> tuple[float, float]:
    """``(low, high)`` of :func:`paired_delta_ci`: paired BCa bootstrap of ``mean(second) - mean(first)``."""
    low, high, _ = paired_delta_ci(first, second, spec)
    return (low, high)


def bootstrap_ci(values: list[float], spec: BootstrapSpec) -> tuple[float, float]:
    """Bootstrap interval (``spec.method``, BCa by default) of the mean of per-item ``values``.

    For 0/1 correctness use :func:`wilson_ci` (a bootstrap of 0/1 values collapses to a point at
    0 % and 100 %); this is for other per-item values (scores). Constant values give the point.

    >>> bootstrap_ci([0.5] * 10, BOOTSTRAP)
    (0.5, 0.5)
    """
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return (float("nan"), float("nan"))
    if np.all(data == data[0]):
        return (float(data[0]), float(data[0]))
    low, high, _ = _bootstrap((data,), _mean, False, spec)
    return (low, high)


def mcnemar_exact_p(flips_to_wrong: int, flips_to_right: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts (1.0 when there are none).

    >>> round(mcnemar_exact_p(1, 6), 4)  # 2 * P(X <= 1), X ~ Binomial(7, 0.5) = 2 * 8/128
    0.125
    """
    discordant = flips_to_wrong + flips_to_right
    if discordant == 0:
        return 1.0
    return float(binomtest(flips_to_right, discordant, 0.5, alternative="two-sided").pvalue)


def right_or_wrong(cell: dict[str, bool | float]) -> bool:
    """Whether a cell's per-item values are right/wrong (bools), not shares of right samples (floats: an item
    sampled k times, a case's episodes, a tied vote); McNemar's test applies only to the former."""
    return all(isinstance(value, bool) for value in cell.values())


def stability(answer_correct: dict[str, bool | float], explain_correct: dict[str, bool | float],
              spec: BootstrapSpec) -> dict:
    """Paired comparison of two cells (answer vs explain mode, or two models) over the items in both.

    A cell's values are right/wrong (bools) or, for a sampled cell, each item's share of right samples
    (floats, pass@1). McNemar's test counts items that flipped between right and wrong, so it applies
    only when both cells are bools; with shares its p and flip counts are None.

    Returns:
        ``{"n", "answer_accuracy", "explain_accuracy", "delta" (explain - answer), "ci_low",
        "ci_high" (paired BCa bootstrap, :func:`paired_delta_ci`), "mcnemar_p" (exact),
        "flips_to_wrong", "flips_to_right", "bootstrap" (the spec), "interval_method"}``.
    """
    ids = sorted(set(answer_correct) & set(explain_correct))
    a = [float(answer_correct[i]) for i in ids]
    e = [float(explain_correct[i]) for i in ids]
    binary = right_or_wrong(answer_correct) and right_or_wrong(explain_correct)
    to_wrong = sum(1 for x, y in zip(a, e) if x and not y) if binary else None
    to_right = sum(1 for x, y in zip(a, e) if y and not x) if binary else None
    low, high, method = paired_delta_ci(a, e, spec)
    answer_acc = float(np.mean(a)) if ids else float("nan")
    explain_acc = float(np.mean(e)) if ids else float("nan")
    return {
        "n": len(ids), "answer_accuracy": answer_acc, "explain_accuracy": explain_acc,
        "delta": explain_acc - answer_acc, "ci_low": low, "ci_high": high,
        "mcnemar_p": mcnemar_exact_p(to_wrong, to_right) if binary else None,
        "flips_to_wrong": to_wrong, "flips_to_right": to_right, "bootstrap": spec.to_dict(),
        "interval_method": method,
    }


def distribution(values: list[float]) -> dict:
    """``{"mean", "p50", "p95"}`` of ``values`` (linear-interpolated quantiles); NaN when empty."""
    if not values:
        return {"mean": float("nan"), "p50": float("nan"), "p95": float("nan")}
    data = np.asarray(values, dtype=float)
    return {"mean": float(data.mean()), "p50": float(np.quantile(data, 0.5)), "p95": float(np.quantile(data, 0.95))}


def accuracy_block(correct: list[bool], scores: list[float], answered: list[bool], spec: BootstrapSpec) -> dict:
    """Accuracy (share of items graded correct) with its Wilson interval, mean score and no-answer rate.

    ``spec`` gives the confidence level (the interval itself is closed-form, no resampling).
    """
    n = len(correct)
    n_correct = int(sum(bool(c) for c in correct))
    low, high = wilson_ci(n_correct, n, spec.confidence)
    return {
        "n": n,
        "n_correct": n_correct,
        "accuracy": n_correct / n if n else float("nan"),
        "ci_low": low,
        "ci_high": high,
        "mean_score": float(np.mean(scores)) if n else float("nan"),
        "no_answer_rate": (n - sum(answered)) / n if n else float("nan"),
        "interval": {"method": "wilson", "confidence": spec.confidence},
    }


def majority_score(votes: list, correct: list[bool]) -> float:
    """maj@k of one item or case (Wang et al. 2023, self-consistency): 1.0 when the answer most of its
    samples gave is right, 0.0 when it is wrong; a tie between answers scores the share of the tied answers
    that are right (the expected score of breaking the tie at random, so no answer wins by its position).

    ``votes`` holds each sample's vote key (:func:`medreasoner.verify.result.vote_key` for items,
    :func:`medreasoner.eval.episodes.vote_key` for episodes) and ``correct`` its grade. A sample that commits
    to no answer (vote None) votes too, for "no answer", which is wrong: were silence left out of the
    count, one right sample among seven silent ones would outvote three right ones against five alike wrong
    ones, and a policy that answers less would gain.

    >>> majority_score(["a", "b", "b", None], [False, True, True, False])
    1.0
    >>> majority_score(["b", "a", "c"], [True, False, False])
    0.3333333333333333
    >>> majority_score([None, None, "b"], [False, False, True])
    0.0
    """
    groups: dict = {}
    for vote, right in zip(votes, correct, strict=True):
        groups.setdefault(vote, []).append(bool(right) and vote is not None)
    if not groups:
        raise ValueError("maj@k of no samples")
    most = max(len(outcomes) for outcomes in groups.values())
    tied = [outcomes for outcomes in groups.values() if len(outcomes) == most]
    # every sample of one answer is graded alike; the mean guards a grader that is not a function of it
    return sum(sum(outcomes) / len(outcomes) for outcomes in tied) / len(tied)


def sampled_accuracy_block(correct: list[list[bool]], scores: list[list[float]], answered: list[list[bool]],
                           votes: list[list], spec: BootstrapSpec) -> dict:
    """:func:`accuracy_block` of items sampled k times each (the lists hold each item's k samples).

    ``accuracy`` is pass@1: the mean over items of each item's share of right samples, with a bootstrap
    interval over items (an item's k samples are not independent trials, so a Wilson interval over all
    samples would be too narrow). ``pass_at_k``: the share of items with some right sample; ``maj_at_k``: the
    mean of :func:`majority_score` over items (``votes`` holds each sample's vote key).
    Together they tell a model that is right on most tries from one that is right on some.
    ``n_correct`` counts right samples; ``mean_score`` and ``no_answer_rate`` are over all samples.
    """
    n = len(correct)
    shares = [sum(map(bool, c)) / len(c) for c in correct]
    if n and any(share != shares[0] for share in shares):
        low, high, method = _bootstrap((np.asarray(shares, dtype=float),), _mean, False, spec)
        method += " bootstrap over items"
    else:
        # Every item has the same share: a bootstrap collapses to a point (0 % [0, 0] for 200 items all
        # wrong), so the interval is Wilson's for that share of the n items, as for one answer per item.
        low, high = wilson_ci(round(shares[0] * n), n, spec.confidence) if n else (float("nan"), float("nan"))
        method = "wilson (every item the same share)"
    flat_scores = [x for item in scores for x in item]
    flat_answered = [x for item in answered for x in item]
    return {
        "n": n,
        "num_samples": len(correct[0]) if n else 0,
        "n_correct": int(sum(sum(map(bool, c)) for c in correct)),
        "accuracy": float(np.mean(shares)) if n else float("nan"),
        "ci_low": low,
        "ci_high": high,
        "pass_at_k": float(np.mean([any(c) for c in correct])) if n else float("nan"),
        "maj_at_k": float(np.mean([majority_score(v, c) for c, v in zip(correct, votes)])) if n else float("nan"),
        "mean_score": float(np.mean(flat_scores)) if n else float("nan"),
        "no_answer_rate": (len(flat_answered) - sum(flat_answered)) / len(flat_answered) if n else float("nan"),
        "interval": {"method": method, "confidence": spec.confidence},
    }
