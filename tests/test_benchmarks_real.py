"""Loaders on the real benchmark files in ../shared/benchmarks (skipped when absent).

Run: .venv/bin/python -m pytest tests/test_benchmarks_real.py -q
"""

from __future__ import annotations

import collections
import datetime as dt

import pytest

from medreasoner.benchmarks import load_benchmark
from medreasoner.benchmarks.item import GestationalAge
from medreasoner.scoring.igakuqa import GENERAL_SECTIONS, GENERAL_THRESHOLDS


@pytest.mark.parametrize("name, num_options", [("US_4_options_phrases_no_exclude_test.jsonl", 4), ("US_5_options_test.jsonl", 5)])
def test_medqa_test_sets(shared_benchmarks, name, num_options):
    items = load_benchmark("medqa", shared_benchmarks / "medqa" / name)
    assert len(items) == 1273
    for item in items:
        (letter,) = item.gold
        assert item.options[letter] == item.meta["answer_text"]
        assert item.meta["num_options"] == num_options == len(item.options)


def test_medcalc_v1_0(shared_benchmarks):
    items = load_benchmark("medcalc", shared_benchmarks / "medcalc_bench" / "test_data_v1.0.csv")
    assert [item.id for item in items] == [str(k) for k in range(1, 1048)]
    assert collections.Counter(item.meta["category"] for item in items) == {
        "lab": 327, "risk": 240, "physical": 240, "severity": 80, "diagnosis": 60, "date": 60, "dosage": 40}
    gold_types = collections.Counter(type(item.gold) for item in items)
    assert gold_types == {float: 987, dt.date: 40, GestationalAge: 20}
    assert len({item.meta["calculator_id"] for item in items}) == 55
    assert all(isinstance(item.meta["relevant_entities"], dict) for item in items)
    assert items[0].gold == 25.238 and items[0].meta["lower_limit"] == "23.9761"


def test_igakuqa_all_years(shared_benchmarks):
    items = load_benchmark("igakuqa", shared_benchmarks / "igakuqa")
    assert len(items) == 2000
    by_id = {item.id: item for item in items}
    assert by_id["112B30"].gold == "a or d"
    numeric = sorted(item.id for item in items if not item.options)
    assert numeric == sorted(["112C66", "112F84", "113A75", "113F84", "114C75", "114D75", "114F75", "115C75",
                              "115F75", "116B50", "116C75", "116F74"])
    assert all(isinstance(by_id[i].gold, str) for i in numeric)
    assert len(by_id["113F83"].options) == 8 and by_id["113F83"].gold == frozenset({"g"})
    assert by_id["112A27"].meta["kinki"] == ["c", "d", "e"]
    assert sum(1 for item in items if item.meta["kinki"]) == 135
    assert sum(1 for item in items if item.meta["points"] == 0) == 11
    # The threshold table's A/C/D/F totals equal the points in the data, year by year.
    for year, threshold in GENERAL_THRESHOLDS.items():
        total = sum(i.meta["points"] for i in items if i.meta["year"] == year and i.meta["section"] in GENERAL_SECTIONS)
        assert total == threshold["total"], year


def test_igakuqa_year_directory(shared_benchmarks):
    items = load_benchmark("igakuqa", shared_benchmarks / "igakuqa" / "data" / "2020")
    assert len(items) == 400 and {item.meta["year"] for item in items} == {2020}
