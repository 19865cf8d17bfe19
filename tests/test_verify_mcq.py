"""Tables for the ``mcq`` and ``multiselect`` verifiers.

Run: .venv/bin/python -m pytest tests/test_verify_mcq.py -q
"""

from __future__ import annotations

import json

import pytest

from medreasoner.benchmarks.item import Item
from medreasoner.verify import grade, multiselect

FIVE = {letter: f"option {letter}" for letter in "ABCDE"}
SINGLE = Item("q1", "Which one?", FIVE, frozenset("B"), "mcq")
DOUBLE = Item("q2", "Which two?", FIVE, frozenset("AC"), "mcq")

MCQ_CASES = [
    # plain English statement
    ("The answer is B.", SINGLE, "B", True),
    # "Answer:" label
    ("Answer: B", SINGLE, "B", True),
    # markdown emphasis around label and letter
    ("**Answer:** **B**", SINGLE, "B", True),
    # "correct option is (X)" with parentheses
    ("After review, the correct option is (B).", SINGLE, "B", True),
    # the word "option" between statement and letter
    ("The answer is option B", SINGLE, "B", True),
    # letter followed by the option text
    ("The answer is (B) Tell the attending", SINGLE, "B", True),
    # boxed answer
    ("Final answer: \\boxed{B}", SINGLE, "B", True),
    # LaTeX \text inside the box
    ("$\\boxed{\\text{B}}$", SINGLE, "B", True),
    # lowercase letter inside a box is folded to the option's case
    ("\\boxed{b}", SINGLE, "B", True),
    # the last box wins
    ("First \\boxed{A}, on reflection \\boxed{B}", SINGLE, "B", True),
    # a later statement corrects an earlier box: the last committed answer wins
    ("\\boxed{A} though the answer is B", SINGLE, "B", True),
    # the last statement wins
    ("Answer: B\nWait, actually the answer is D", SINGLE, "D", False),
    # reasoning inside <think> is ignored
    ("<think>The answer is B</think>The answer is C", SINGLE, "C", False),
    # unclosed <think>: no answer outside the thought
    ("<think>The answer is B", SINGLE, None, False),
    # Japanese label with full-width colon and letter
    ("答え：Ｂ", SINGLE, "B", True),
    # Japanese "正解は"
    ("よって正解はBです。", SINGLE, "B", True),
    # Japanese "答えは" with spaces
    ("答えは B です", SINGLE, "B", True),
    # a hedge between two letters is a set, wrong for a single-answer item
    ("The answer is A or B", SINGLE, "AB", False),
    # listing every letter is never correct
    ("A B C D E", SINGLE, "ABCDE", False),
    # every letter concatenated in a box
    ("\\boxed{ABCDE}", SINGLE, "ABCDE", False),
    # every letter after a label
    ("Answer: A, B, C, D, E", SINGLE, "ABCDE", False),
    # English article "a" is not option A
    ("The answer is a tension pneumothorax", SINGLE, None, False),
    # "A 45-year-old" is an article, not an option
    ("A 45-year-old man presents with chest pain.", SINGLE, None, False),
    # a letter not among the options gives no answer
    ("The answer is F", SINGLE, None, False),
    # statement tail that is not a letter
    ("I think the answer is unclear.", SINGLE, None, False),
    # the last line's standalone letter
    ("Let me weigh the options carefully.\nB", SINGLE, "B", True),
    # standalone letter followed by "is"
    ("Reasoning...\nB is correct.", SINGLE, "B", True),
    # option-style last line "B. text"
    ("B. Tell the attending that he cannot fail to disclose this mistake", SINGLE, "B", True),
    # a line opening with an option marker names that option only (not the "B" inside the text)
    ("D. Anti-B antibodies", SINGLE, "D", False),
    # a letter inside a medical name is not an option
    ("The patient most likely has hepatitis B.", SINGLE, None, False),
    # ... nor after a hyphen
    ("Cause: anti-B antibodies", SINGLE, None, False),
    # two letters on the last line without a marker: the whole set
    ("Between B and C, C fits best", SINGLE, "BC", False),
    # a statement stops at the first non-letter: "B. C is wrong" -> B
    ("The answer is B. C is wrong.", SINGLE, "B", True),
    # empty completion
    ("", SINGLE, None, False),
    # multi-answer item: "A and C"
    ("The answers are A and C.", DOUBLE, "AC", True),
    # multi-answer item: comma list on the last line
    ("Both apply:\nA, C", DOUBLE, "AC", True),
    # multi-answer item: only one of two letters
    ("The answer is A", DOUBLE, "A", False),
    # multi-answer item: more letters than the gold
    ("The answer is A, C, D", DOUBLE, "ACD", False),
    # multi-answer item: boxed concatenation
    ("\\boxed{AC}", DOUBLE, "AC", True),
]


@pytest.mark.parametrize(("text", "item", "letters", "correct"), MCQ_CASES)
def test_mcq_table(text, item, letters, correct):
    for mode in ("normalized", "official"):
        graded = grade(text, item, mode)
        assert graded.extracted == (None if letters is None else frozenset(letters))
        assert graded.correct is correct
        assert graded.score == (1.0 if correct else 0.0)
        assert graded.counts is None


MULTI = Item("m1", "Select all that apply", FIVE, frozenset("AC"), "multiselect")

MULTISELECT_CASES = [
    # exact set: full credit
    ("A, C", (2, 0, 0), 1.0, True),
    # one of two: informedness 1/2 - 0
    ("Answer: A", (1, 0, 1), 0.5, False),
    # one right, one wrong: 1/2 - 1/3
    ("Answer: A and B", (1, 1, 1), 1 / 6, False),
    # both right plus two wrong: 1 - 2/3
    ("Answer: A, B, C, D", (2, 2, 0), 1 / 3, False),
    # one right, three wrong: worse than chance, so no true positive is credited
    ("Answer: A, B, D, E", (0, 3, 2), 0.0, False),
    # every option: no credit, its false positives still count
    ("A B C D E", (0, 3, 2), 0.0, False),
    # no answer
    ("I am not sure.", (0, 0, 2), 0.0, False),
    # boxed concatenation
    ("\\boxed{CA}", (2, 0, 0), 1.0, True),
]


@pytest.mark.parametrize(("text", "counts", "score", "correct"), MULTISELECT_CASES)
def test_multiselect_table(text, counts, score, correct):
    graded = grade(text, MULTI)
    assert graded.counts == counts
    assert graded.score == pytest.approx(score)
    assert graded.correct is correct


def test_multiselect_never_rewards_listing_everything_more_than_a_partial_answer():
    everything = grade("A, B, C, D, E", MULTI)
    partial = grade("A", MULTI)
    assert everything.score == 0.0 < partial.score
    assert multiselect.f1(*everything.counts) == 0.0


def test_medqa_gold_self_check(shared_benchmarks):
    """Over all real MedQA 4-option rows: the gold letter stated is correct, hacks and wrong letters are not."""
    path = shared_benchmarks / "medqa" / "US_4_options_phrases_no_exclude_test.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 1273
    for number, row in enumerate(rows):
        item = Item(str(number), row["question"], row["options"], frozenset(row["answer_idx"]), "mcq")
        wrong = next(letter for letter in "ABCD" if letter != row["answer_idx"])
        assert grade(f"The answer is {row['answer_idx']}.", item).correct
        option_line = row["answer"].splitlines()[0]  # a few option texts carry a stray newline
        assert grade(f"{row['answer_idx']}. {option_line}", item).correct
        assert not grade(f"The answer is {wrong}.", item).correct
        assert not grade("\\boxed{ABCD}", item).correct
