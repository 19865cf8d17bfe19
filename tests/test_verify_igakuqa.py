"""Tables for the ``igakuqa`` verifier and a reproduction of the official baseline scores.

Run: .venv/bin/python -m pytest tests/test_verify_igakuqa.py -q
"""

from __future__ import annotations

import json

import pytest

from medreasoner.benchmarks.item import Item
from medreasoner.verify import grade, igakuqa

CHOICES = {letter: f"選択肢{letter}" for letter in "abcde"}
ONE = Item("112A1", "問題", CHOICES, frozenset("e"), "igakuqa", {"kinki": ["a"]})
TWO = Item("112A2", "問題", CHOICES, frozenset("be"), "igakuqa", {"kinki": ["c", "d"]})
NUMERIC = Item("112C66", "問題", {}, "04", "igakuqa")
EITHER = Item("112B30", "問題", CHOICES, "a or d", "igakuqa")
RULED = Item("116A71", "問題", CHOICES, frozenset("c"), "igakuqa")

OFFICIAL_CASES = [
    # exact letter
    ("e", ONE, ("e",), True),
    # comma list in gold order
    ("b,e", TWO, ("b", "e"), True),
    # reordered letters are sorted before comparing
    ("e,b", TWO, ("b", "e"), True),
    # a space after the comma makes the part " e": wrong, as officially
    ("b, e", TWO, (" e", "b"), False),
    # no lower-casing in the official scorer
    ("E", ONE, ("E",), False),
    # no stripping either
    ("e\n", ONE, ("e\n",), False),
    # free text is one part, wrong
    ("画像がないため回答できません", ONE, ("画像がないため回答できません",), False),
    # numeric entry compared as a string
    ("04", NUMERIC, ("04",), True),
    # numeric entry: 0.4 is not the string "04"
    ("0.4", NUMERIC, ("0.4",), False),
    # "a or d": a alone is correct
    ("a", EITHER, ("a",), True),
    # "a or d": d alone is correct
    ("d", EITHER, ("d",), True),
    # "a or d": both together are wrong
    ("a,d", EITHER, ("a", "d"), False),
    # 116A71: every answer is correct (MHLW ruling)
    ("x", RULED, ("x",), True),
]


@pytest.mark.parametrize(("text", "item", "extracted", "correct"), OFFICIAL_CASES)
def test_official_table(text, item, extracted, correct):
    graded = grade(text, item, "official")
    assert graded.extracted == extracted
    assert graded.correct is correct


NORMALIZED_CASES = [
    # the baseline format
    ("b,e", TWO, ("b", "e"), True),
    # spaces around the comma are removed
    ("b , e", TWO, ("b", "e"), True),
    # full-width letters and comma, upper case
    ("Ｂ，Ｅ", TWO, ("b", "e"), True),
    # Japanese list comma
    ("b、e", TWO, ("b", "e"), True),
    # the last 答え: line after free-form reasoning
    ("aは誤り。cも誤り。\n答え: b, e\n以上です。", TWO, ("b", "e"), True),
    # the last 答え line wins
    ("答え: a\n見直すと\n答え：e", ONE, ("e",), True),
    # 正解は
    ("正解はeです", ONE, ("e",), True),
    # "b と e"
    ("答え: b と e", TWO, ("b", "e"), True),
    # boxed answer
    ("\\boxed{e}", ONE, ("e",), True),
    # think block ignored
    ("<think>答え: a</think>答え: e", ONE, ("e",), True),
    # unclosed think: no answer
    ("<think>答え: e", ONE, None, False),
    # an unlabelled answer opening the completion, explanation after
    ("b,e\n\n解説: aとcは誤り", TWO, ("b", "e"), True),
    # a remark opening the completion is not a choice
    ("aは誤り。\nよく分からない", TWO, None, False),
    # a refusal has no answer
    ("画像がないため回答できません", ONE, None, False),
    # one of two letters
    ("答え: b", TWO, ("b",), False),
    # all letters: wrong (exact set match)
    ("答え: a,b,c,d,e", TWO, ("a", "b", "c", "d", "e"), False),
    # numeric entry after the label
    ("計算すると\n答え: 04", NUMERIC, ("04",), True),
    # "a or d" item, normalized
    ("答え：Ｄ", EITHER, ("d",), True),
]


@pytest.mark.parametrize(("text", "item", "extracted", "correct"), NORMALIZED_CASES)
def test_normalized_table(text, item, extracted, correct):
    graded = grade(text, item, "normalized")
    assert graded.extracted == extracted
    assert graded.correct is correct


KINKI_CASES = [
    # a prohibited letter alone
    (("c",), TWO, True),
    # a prohibited letter inside a list
    (("b", "d"), TWO, True),
    # " d" (space kept, official split) is not a choice
    (("b", " d"), TWO, False),
    # allowed letters only
    (("b", "e"), TWO, False),
    # no answer
    (None, TWO, False),
    # item without kinki
    (("a",), EITHER, False),
]


@pytest.mark.parametrize(("answer", "item", "selected"), KINKI_CASES)
def test_kinki_table(answer, item, selected):
    assert igakuqa.selects_kinki(answer, item) is selected


# Shared README, "Results" table (recomputed there with the official rule): per exam year,
# (correct rows of 400, total score, questions with a kinki choice selected).
README_RESULTS = {
    "gpt4": {"2018": (302, 382, 1), "2019": (304, 385, 1), "2020": (306, 387, 0), "2021": (308, 398, 0), "2022": (314, 392, 1)},
    "chatgpt": {"2018": (208, 266, 4), "2019": (205, 250, 5), "2020": (212, 266, 2), "2021": (225, 297, 3), "2022": (230, 287, 2)},
}


def _read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _section_items(data_dir, stem):
    questions = _read_jsonl(data_dir / f"{stem}.jsonl")
    metadata = _read_jsonl(data_dir / f"{stem}_metadata.jsonl")
    for question, meta in zip(questions, metadata, strict=True):
        answer = question["answer"]
        gold = answer[0] if (not question["choices"] or " or " in answer[0]) else frozenset(answer)
        kinki = [letter for entry in meta["kinki"] for letter in entry]
        options = {chr(ord("a") + i): choice for i, choice in enumerate(question["choices"])}
        meta_out = {"kinki": kinki, "points": int(question["points"])}
        yield Item(question["problem_id"], question["problem_text"], options, gold, "igakuqa", meta_out)


@pytest.mark.parametrize("model", sorted(README_RESULTS))
def test_official_mode_reproduces_baseline_results(shared_benchmarks, model):
    root = shared_benchmarks / "igakuqa"
    for year, expected in README_RESULTS[model].items():
        correct = score = kinki = 0
        for question_file in sorted((root / "data" / year).glob("*-?.jsonl")):
            stem = question_file.stem
            predictions = _read_jsonl(root / "baseline_results" / year / f"{stem}_{model}.jsonl")
            for item, prediction in zip(_section_items(question_file.parent, stem), predictions, strict=True):
                assert item.id == prediction["problem_id"]
                graded = grade(prediction["prediction"], item, "official")
                correct += graded.correct
                score += item.meta["points"] * graded.correct
                kinki += igakuqa.selects_kinki(graded.extracted, item)
        assert (correct, score, kinki) == expected, (model, year)
