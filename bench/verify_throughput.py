"""Throughput of the verifiers (medreasoner.verify) and their worst case on 1 MB adversarial inputs.

Prints two tables: completions/s for MCQ extraction over a realistic mix of answer formats and for
MedCalc-Bench official extraction over realistic JSON outputs (both against a one-regex baseline
measured in the same run); and, per adversarial input, the slowest single grade across all verifiers
and modes at 1 MB, the same verifier and mode's grade at 256 kB and their ratio, and the largest such
ratio of any verifier and mode whose 1 MB grade takes at least 5 ms: linear scaling gives about 4x, a
quadratic pass 16x (the property that once lived in a timed test; timings belong here).

Run: .venv/bin/python bench/verify_throughput.py [--completions 2000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import random
import re
import time

from medreasoner.benchmarks.item import GestationalAge, Item
from medreasoner.verify import MODES, grade

FIVE = {letter: f"option {letter}" for letter in "ABCDE"}
MCQ_ITEM = Item("m", "q", FIVE, frozenset("C"), "mcq")
MEDCALC_ITEM = Item("c", "t", {}, 25.2, "medcalc",
                    {"calculator_id": 2, "ground_truth": "25.2", "lower_limit": "23.94", "upper_limit": "26.46"})
ALL_ITEMS = [
    MCQ_ITEM,
    Item("s", "q", FIVE, frozenset("BD"), "multiselect"),
    Item("112A1", "q", {k: k for k in "abcde"}, frozenset("be"), "igakuqa"),
    MEDCALC_ITEM,
    Item("i", "t", {}, 3.0, "medcalc", {"calculator_id": 4, "ground_truth": "3"}),
    Item("d", "t", {}, dt.date(2014, 9, 3), "medcalc", {"calculator_id": 13}),
    Item("g", "t", {}, GestationalAge(14, 1), "medcalc", {"calculator_id": 69}),
    Item("x", "q", {}, "Influenza", "diagnosis"),
    Item("b", "q", {}, "1", "boxed"),
]
MCQ_ENDINGS = [
    "The answer is C.", "Answer: C", "**Answer:** (C)", "\\boxed{C}", "答え：Ｃ", "So the correct option is (C).",
    "C. option C", "The answer is A or C", "A B C D E", "I am not sure.",
]
MEDCALC_ANSWERS = ["25.2", "str(round((140 - 87) * 48 / (72 * 1.4), 1))", "25.2 mL/min", "24.9%", "N/A", "str(sqrt(635))"]
MEGABYTE = 1_000_000


def _filler(rng: random.Random, words: int) -> str:
    vocabulary = ["the", "patient", "presents", "with", "fever", "and", "creatinine", "is", "1.4", "mg/dL", "so", "option",
                  "A", "seems", "unlikely", "because", "of", "the", "history", "胸痛", "があり", "。"]
    return " ".join(rng.choice(vocabulary) for _ in range(words))


def mcq_completions(rng: random.Random, count: int) -> list[str]:
    """Completions of ~1-3 KB: a think block, an explanation, one of several answer formats."""
    return [f"<think>{_filler(rng, rng.randint(100, 400))}</think>\n{_filler(rng, 60)}\n{rng.choice(MCQ_ENDINGS)}" for _ in range(count)]


def medcalc_completions(rng: random.Random, count: int) -> list[str]:
    """Official-format JSON outputs with a ~1 KB step-by-step field."""
    return ['{"step_by_step_thinking": "' + _filler(rng, rng.randint(100, 300)) + '", "answer": "' + rng.choice(MEDCALC_ANSWERS) + '"}'
            for _ in range(count)]


def rate(function, texts: list[str]) -> float:
    """Completions per second of ``function`` over ``texts``."""
    start = time.perf_counter()
    for text in texts:
        function(text)
    return len(texts) / (time.perf_counter() - start)


def adversarial_inputs(size: int = MEGABYTE) -> dict[str, str]:
    """Inputs of about ``size`` characters aimed at each extractor's worst case."""

    def repeat(piece: str) -> str:
        return (piece * (size // len(piece) + 1))[:size]

    return {
        "\\boxed{ * N": repeat("\\boxed{"),
        "nested braces": "\\boxed{" + "{" * (size // 2) + "}" * (size // 2),
        '"answer is " * N': repeat("answer is "),
        "unclosed <think>": "<think>" + repeat("The answer is B. "),
        "digits": repeat("1234567890"),
        "digits and commas": repeat("1,"),
        '"answer": keys': repeat('"answer": '),
        "space run": "1" + " " * size + "x",
        "答え： labels": repeat("答え："),
        "str( expression": '{"answer": "str(' + "1+" * (size // 4) + '1)"}',
        # the issue-10 patterns (tests/test_verify_adversarial.py grades each at 1 MB; the ratio column shows
        # how the time scales)
        "combining marks": "a" + "".join(chr(0x300 + i % 40) for i in range(size)),
        "repeated \\boxed{A}": "\\boxed{A}" * (size // 10),
        "mixed width": repeat("Ａaｂ答え：Ｂ１2"),
        '"not " * N': repeat("not "),
        '"not B " * N': repeat("not B "),
        '"A, " * N': repeat("A, "),
        "negated names": repeat("pneumonia is ruled out "),
        "Japanese negation": repeat("eではない"),
        "ranges": repeat("1 to 2 "),
    }


def best_grade_seconds(text: str, item: Item, mode: str, repeats: int = 3) -> float:
    """Best of ``repeats`` wall-clock seconds to grade ``text``: the minimum discounts a scheduler's
    interruptions, and the garbage collector is off while timing (as timeit does), so that a collection
    of the whole heap is not charged to one grade."""
    times = []
    gc.disable()
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            grade(text, item, mode)
            times.append(time.perf_counter() - start)
    finally:
        gc.enable()
    return min(times)


def grade_seconds(text: str) -> dict[str, float]:
    """Seconds to grade ``text`` (best of three) per verifier (calculator) and mode, keyed
    ``verifier/calculator/mode``."""
    return {f"{item.verifier}/{item.meta.get('calculator_id', '')}/{mode}": best_grade_seconds(text, item, mode)
            for item in ALL_ITEMS for mode in MODES}


# A ratio of two grades under this (1 MB) is timer and cache noise, not scaling.
RATIO_FLOOR_SECONDS = 0.005


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--completions", type=int, default=2000, help="completions per throughput row")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    mcq_texts = mcq_completions(rng, args.completions)
    medcalc_texts = medcalc_completions(rng, args.completions)
    baseline_mcq = re.compile(r"answer is \(?([A-E])")
    baseline_medcalc = re.compile(r'answer":\s*"([^"]*)"')
    rows = [
        ("MCQ normalized (realistic mix)", rate(lambda t: grade(t, MCQ_ITEM), mcq_texts), rate(baseline_mcq.findall, mcq_texts)),
        ("MedCalc official (JSON outputs)", rate(lambda t: grade(t, MEDCALC_ITEM, "official"), medcalc_texts),
         rate(baseline_medcalc.findall, medcalc_texts)),
    ]
    print(f"{'throughput':<36} {'completions/s':>14} {'1-regex baseline/s':>19} {'slowdown':>9}")
    for name, ours, baseline in rows:
        print(f"{name:<36} {ours:>14,.0f} {baseline:>19,.0f} {baseline / ours:>8.1f}x")
    print()
    print(f"{'adversarial input':<36} {'worst s, 1 MB':>14} {'256 kB':>8} {'ratio':>6} {'max ratio':>10}  "
          f"slowest verifier/calculator/mode; largest ratio's")
    quarter = adversarial_inputs(MEGABYTE // 4)
    for name, text in adversarial_inputs().items():
        big, small = grade_seconds(text), grade_seconds(quarter[name])
        slowest = max(big, key=big.get)
        # Ratios per (verifier, mode): the slowest grade at 1 MB and at 256 kB can be different verifiers.
        ratios = {key: big[key] / max(small[key], 1e-9) for key in big if big[key] >= RATIO_FLOOR_SECONDS}
        steepest = max(ratios, key=ratios.get) if ratios else None
        steep = f"{ratios[steepest]:>9.1f}x  {slowest}; {steepest}" if steepest else f"{'-':>10}  {slowest}"
        print(f"{name:<36} {big[slowest]:>14.3f} {small[slowest]:>8.3f} {big[slowest] / max(small[slowest], 1e-9):>5.1f}x "
              f"{steep}")


if __name__ == "__main__":
    main()
