"""Aggregations of `medreasoner.scoring` on hand-built items and grades (expected values by hand).

Run: .venv/bin/python -m pytest tests/test_scoring_units.py -q
"""

from __future__ import annotations

import math

import pytest

from medreasoner.benchmarks.item import Item
from medreasoner.scoring import summarize
from medreasoner.scoring.accuracy import accuracy_stats, micro_f1
from medreasoner.scoring.igakuqa import required_minimum
from medreasoner.verify import Grade


def right(extracted="A"):
    return Grade(extracted, True, 1.0, None)


def wrong(extracted="B"):
    return Grade(extracted, False, 0.0, None)


def mcq_item(item_id: str, verifier: str = "mcq") -> Item:
    return Item(item_id, "Q?", {"A": "x", "B": "y", "C": "z"}, frozenset({"A"}), verifier, {})


def test_accuracy_and_stderr():
    stats = accuracy_stats(3, 4)
    assert stats["accuracy"] == 0.75
    # sample standard deviation of [1, 1, 1, 0] over sqrt(4)
    assert stats["stderr"] == pytest.approx(math.sqrt(0.75 * 0.25 / 3))
    assert accuracy_stats(0, 0)["accuracy"] is None


def test_micro_f1_sums_counts_before_dividing():
    # item 1: tp=2 fp=0 fn=0 (F1 1.0); item 2: tp=0 fp=2 fn=1 (F1 0.0)
    result = micro_f1([(2, 0, 0), (0, 2, 1)])
    assert result["precision"] == 0.5 and result["recall"] == pytest.approx(2 / 3)
    assert result["micro_f1"] == pytest.approx(4 / 7)  # 2tp / (2tp + fp + fn), not the mean 0.5


def test_summarize_mcq_with_multiselect_and_coverage():
    items = [mcq_item("1"), mcq_item("2"), mcq_item("3", "multiselect"), mcq_item("4", "multiselect"), mcq_item("5")]
    grades = [
        right(),
        wrong(),
        Grade(frozenset("AB"), False, 2 / 3, (1, 1, 0)),
        Grade(frozenset("A"), True, 1.0, (1, 0, 0)),
        None,  # no prediction
    ]
    body = summarize("mcq", items, grades)
    assert body["n"] == 4
    assert body["coverage"] == {"n_scored": 4, "n_total": 5, "fraction": 0.8, "missing_ids": ["5"]}
    overall = body["overall"]
    assert (overall["correct"], overall["n"], overall["accuracy"]) == (2, 4, 0.5)
    assert overall["mean_score"] == pytest.approx((1 + 0 + 2 / 3 + 1) / 4)
    assert (overall["tp"], overall["fp"], overall["fn"]) == (2, 1, 0)
    assert overall["micro_f1"] == pytest.approx(4 / 5)
    assert body["by_verifier"]["mcq"]["accuracy"] == 0.5 and body["by_verifier"]["multiselect"]["n"] == 2


def test_summarize_rejects_misaligned_and_unknown():
    with pytest.raises(ValueError, match="2 items but 1 grades"):
        summarize("medqa", [mcq_item("1"), mcq_item("2")], [right()])
    with pytest.raises(ValueError, match="unknown benchmark"):
        summarize("pubmedqa", [], [])
    with pytest.raises(ValueError, match="unknown mode"):
        summarize("medqa", [], [], mode="lenient")


def medcalc_item(item_id: str, category: str) -> Item:
    return Item(item_id, "task", {}, 1.0, "medcalc", {"category": category})


def test_medcalc_official_aggregation():
    items = [medcalc_item(str(k), "lab") for k in range(4)] + [medcalc_item(str(k), "risk") for k in range(4, 6)]
    grades = [right(), right(), right(), wrong(), wrong(), right()]
    body = summarize("medcalc", items, grades)
    assert body["categories"]["lab"] == {"average": 75.0, "std": round(math.sqrt(0.75 * 0.25 / 4), 2), "correct": 3, "n": 4}
    assert body["categories"]["risk"] == {"average": 50.0, "std": round(math.sqrt(0.25 / 2), 2), "correct": 1, "n": 2}
    p = 4 / 6
    assert body["overall"]["average"] == round(100 * p, 2) == 66.67
    assert body["overall"]["std"] == round(math.sqrt(p * (1 - p) / 1047), 2) == 0.01  # official hard-coded n
    assert body["overall"]["std_scored_n"] == round(math.sqrt(p * (1 - p) / 6), 4)


def igaku_item(item_id: str, section: str, points: int, kinki_raw=(), year: int = 2020) -> Item:
    kinki = sorted({c for c in "".join(kinki_raw).replace(" ", "").replace("ａ", "a").replace("ｂ", "b")})
    meta = {"year": year, "exam": year - 1906, "section": section, "number": 1, "points": points,
            "kinki": kinki, "kinki_raw": list(kinki_raw), "category": "x", "text_only": True,
            "num_answers": 1, "answer_raw": ["a"]}
    return Item(item_id, "Q", {"a": "1", "b": "2"}, frozenset({"a"}), "igakuqa", meta)


def exam_2020(num_kinki_hits: int) -> tuple[list[Item], list]:
    """A 2020 exam in miniature: B 100 + E 97 points (need 158), A 150 + C 75 + D 74 + F 0 = 299 (need 217)."""
    items = [igaku_item("114B1", "B", 100), igaku_item("114E1", "E", 97), igaku_item("114A1", "A", 150),
             igaku_item("114C1", "C", 75), igaku_item("114D1", "D", 74), igaku_item("114F1", "F", 0)]
    grades = [right(("a",)) for _ in items]
    # Extra 0-point questions answered with a prohibited letter: they cost no points, only kinki.
    for k in range(num_kinki_hits):
        items.append(igaku_item(f"114F{k + 2}", "F", 0, kinki_raw=["b"]))
        grades.append(wrong(("b",)))
    return items, grades


def test_igakuqa_pass_rule_points():
    items, grades = exam_2020(0)
    year = summarize("igakuqa", items, grades, mode="official")["years"]["2020"]
    assert year["required"] == {"score": 197, "total": 197, "minimum": 158}
    assert year["general"] == {"score": 299, "total": 299, "minimum": 217}
    assert year["passed"] is True and year["complete"] is True
    grades[0] = wrong(("b",))  # B lost: 97 < 158
    assert summarize("igakuqa", items, grades, mode="official")["years"]["2020"]["passed"] is False
    items, grades = exam_2020(0)
    grades[2] = wrong(("b",))  # A lost: 149 < 217
    year = summarize("igakuqa", items, grades, mode="official")["years"]["2020"]
    assert (year["general"]["score"], year["passed"]) == (149, False)


def test_igakuqa_pass_rule_prohibited_choices():
    for hits, passed in [(3, True), (4, False)]:
        items, grades = exam_2020(hits)
        year = summarize("igakuqa", items, grades, mode="official")["years"]["2020"]
        assert (year["kinki_questions"], year["passed"]) == (hits, passed)
        assert year["score"] == 496 and year["correct"] == 6
        assert year["question_accuracy"] == 6 / (6 + hits)  # 0-point rows stay in the denominator


def test_igakuqa_incomplete_year_has_no_verdict():
    items, grades = exam_2020(0)
    grades[3] = None
    body = summarize("igakuqa", items, grades, mode="official")
    assert body["years"]["2020"]["passed"] is None and body["years"]["2020"]["complete"] is False
    assert body["coverage"]["missing_ids"] == ["114C1"]
    assert body["overall"]["years_passed"] == 0 and body["overall"]["years_failed"] == 0
    # Only some sections present: no verdict either, even with every present item graded.
    assert summarize("igakuqa", items[:2], grades[:2], mode="official")["years"]["2020"]["passed"] is None


def test_igakuqa_kinki_raw_in_official_mode_normalised_otherwise():
    items = [igaku_item("115A1", "A", 1, kinki_raw=["ｂ"], year=2021), igaku_item("115A2", "A", 1, kinki_raw=["cde"], year=2021),
             igaku_item("115A3", "A", 1, kinki_raw=["a", " b"], year=2021)]
    grades = [wrong(("b",)), wrong(("a", "d")), wrong(("a", " b"))]
    official = summarize("igakuqa", items, grades, mode="official")["years"]["2021"]
    # ｂ never equals b; "d" is in "cde"; token "a" is written as "a" in the raw annotation.
    assert official["kinki_ids"] == ["115A2", "115A3"]
    normalized = summarize("igakuqa", items, grades, mode="normalized")["years"]["2021"]
    assert normalized["kinki_ids"] == ["115A1", "115A2", "115A3"]
    # No answer selects nothing.
    assert summarize("igakuqa", items[:1], [wrong(None)], mode="normalized")["years"]["2021"]["kinki_questions"] == 0


def test_required_minimum_rounds_up():
    assert [required_minimum(total) for total in (200, 197, 199, 5)] == [160, 158, 160, 4]


def test_igakuqa_per_section_and_year_without_threshold():
    items = [igaku_item("117A1", "A", 1, year=2023), igaku_item("117B1", "B", 3, year=2023)]
    body = summarize("igakuqa", items, [right(("a",)), wrong(("b",))], mode="official")
    year = body["years"]["2023"]
    assert year["sections"]["A"] == {"score": 1, "total": 1, "question_accuracy": 1.0, "correct": 1, "n": 1}
    assert year["sections"]["B"]["score"] == 0 and year["general"]["minimum"] is None and year["passed"] is None
    assert body["overall"]["score"] == 1 and body["overall"]["total"] == 4
