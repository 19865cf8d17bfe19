"""IgakuQA aggregation: points, question accuracy, prohibited choices and the pass rule per year.

Correctness per question is the verifier's (``medreasoner.verify`` ``igakuqa``: the official
``scripts/evaluate_main.py`` set match, 116A71 always correct, 112B30 "a" or "d"). Here we add up:

* ``score`` = sum of ``points`` of correct questions; ``total`` = sum of ``points`` of the scored
  questions; ``question_accuracy`` = correct / questions, where 0-point (MHLW-excluded) questions
  still count in the denominator, as the official script does.
* ``kinki_questions`` = questions whose answer contains a letter annotated as prohibited (禁忌肢).
  Official mode compares the prediction's comma-separated tokens with the letters exactly as written
  in the metadata (this reproduces the recomputed table of the data README; full-width annotations
  such as "ｂ" then never match); normalized mode compares the extracted letters with the
  NFKC-normalised annotations.
* Pass rule (Kasai et al. 2023, arXiv 2303.18027 §2.2, after MHLW): required sections B+E
  >= 80 % of their points, sections A/C/D/F >= the year's threshold, and prohibited choices in at most
  3 questions. ``passed`` is None unless every question of all six sections of the year was scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from medreasoner.benchmarks.item import Item

REQUIRED_SECTIONS = ("B", "E")
GENERAL_SECTIONS = ("A", "C", "D", "F")
# Required (必修) sections pass at 80 % of their available points, rounded up (2020: 158/197).
REQUIRED_NUMERATOR, REQUIRED_DENOMINATOR = 4, 5
# Four or more questions with a prohibited choice selected fail the exam regardless of points.
MAX_KINKI_QUESTIONS = 3
# year -> minimum points in A, C, D, F and the points available there (MHLW announcements, as
# collected in the IgakuQA data README; the totals equal the data's `points`).
GENERAL_THRESHOLDS = {
    2018: {"minimum": 208, "total": 299},  # jmedj.co.jp/journal/paper/detail.php?id=9588
    2019: {"minimum": 209, "total": 296},  # jmedj.co.jp/journal/paper/detail.php?id=11988
    2020: {"minimum": 217, "total": 299},  # igaku-shoin.co.jp paperDetail PA03367_03
    2021: {"minimum": 209, "total": 300},  # newtongym8.com, 第115回 合格発表
    2022: {"minimum": 214, "total": 297},  # doctor.mynavi.jp/column/kokushi2022
}


def required_minimum(total: int) -> int:
    """Points needed in the required sections: ceil(80 % of ``total``), in exact integer arithmetic.

    >>> required_minimum(200), required_minimum(197)
    (160, 158)
    """
    return -(-REQUIRED_NUMERATOR * total // REQUIRED_DENOMINATOR)


def selected_letters(extracted: Any) -> set[str]:
    """The tokens an answer selects: a str is split on commas (the official tokenisation)."""
    if extracted is None:
        return set()
    if isinstance(extracted, str):
        return set(extracted.split(","))
    return {str(token) for token in extracted}


def prohibited_letters(item: Item, mode: str) -> set[str]:
    """The item's prohibited letters: raw file characters in official mode, normalised otherwise."""
    if mode == "official":
        return set("".join(item.meta["kinki_raw"]))
    return set(item.meta["kinki"])


def _tally(pairs: list[tuple[Item, Any]]) -> dict[str, Any]:
    correct = [bool(grade.correct) for _, grade in pairs]
    return {
        "score": sum(item.meta["points"] for (item, _), ok in zip(pairs, correct) if ok),
        "total": sum(item.meta["points"] for item, _ in pairs),
        "question_accuracy": sum(correct) / len(pairs) if pairs else None,
        "correct": sum(correct),
        "n": len(pairs),
    }


def _year_summary(year: int, year_items: list[Item], year_grades: list[Any], mode: str) -> dict[str, Any]:
    pairs = [(item, grade) for item, grade in zip(year_items, year_grades) if grade is not None]
    summary = _tally(pairs)
    by_section = {}
    for section in sorted({item.meta["section"] for item, _ in pairs}):
        by_section[section] = _tally([(i, g) for i, g in pairs if i.meta["section"] == section])
    required = _tally([(i, g) for i, g in pairs if i.meta["section"] in REQUIRED_SECTIONS])
    general = _tally([(i, g) for i, g in pairs if i.meta["section"] in GENERAL_SECTIONS])
    kinki = [i.id for i, g in pairs if selected_letters(g.extracted) & prohibited_letters(i, mode)]
    complete = len(pairs) == len(year_items) and {i.meta["section"] for i in year_items} == set("ABCDEF")
    passed = None
    required_min = required_minimum(required["total"])
    general_min = GENERAL_THRESHOLDS[year]["minimum"] if year in GENERAL_THRESHOLDS else None
    if complete and general_min is not None:
        passed = (
            required["score"] >= required_min
            and general["score"] >= general_min
            and len(kinki) <= MAX_KINKI_QUESTIONS
        )
    summary.update(
        {
            "required": {"score": required["score"], "total": required["total"], "minimum": required_min},
            "general": {"score": general["score"], "total": general["total"], "minimum": general_min},
            "kinki_questions": len(kinki),
            "kinki_ids": kinki,
            "complete": complete,
            "passed": passed,
            "sections": by_section,
        }
    )
    return summary


def summarize_igakuqa(items: Sequence[Item], grades: Sequence[Any], mode: str) -> dict[str, Any]:
    """``{"overall": {...}, "years": {"2018": {...}, ...}}`` (``grades[i]`` None = not predicted).

    Each year: ``score``, ``total``, ``question_accuracy``, ``correct``, ``n``, ``required`` and
    ``general`` (``score``, ``total``, ``minimum``), ``kinki_questions`` (count) and ``kinki_ids``,
    ``complete``, ``passed`` (None when incomplete or the year has no threshold) and ``sections``.
    """
    years: dict[str, Any] = {}
    for year in sorted({item.meta["year"] for item in items}):
        indices = [k for k, item in enumerate(items) if item.meta["year"] == year]
        years[str(year)] = _year_summary(year, [items[k] for k in indices], [grades[k] for k in indices], mode)
    overall = _tally([(item, grade) for item, grade in zip(items, grades) if grade is not None])
    overall["kinki_questions"] = sum(year["kinki_questions"] for year in years.values())
    overall["years_passed"] = sum(year["passed"] is True for year in years.values())
    overall["years_failed"] = sum(year["passed"] is False for year in years.values())
    return {"overall": overall, "years": years}
