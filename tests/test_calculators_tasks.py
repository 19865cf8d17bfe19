"""The synthetic MedCalc-style task generator."""

from __future__ import annotations

import ast
import csv

import pytest

from medreasoner.calculators import CALCULATORS
from medreasoner.calculators.check import COLUMNS, agrees, check_rows, read_rows
from medreasoner.calculators.dosage import MME_FACTOR, STEROID_EQUIVALENT_MG
from medreasoner.benchmarks import load_benchmark
from medreasoner.calculators.tasks import OPIOIDS, STEROIDS, generate_tasks, write_csv


def test_every_calculator_generates_rows_that_recompute_exactly(tmp_path):
    rows = generate_tasks(2 * len(CALCULATORS), seed=7)
    assert {int(r["Calculator ID"]) for r in rows} == set(CALCULATORS)
    for row in rows:
        assert list(row) == list(COLUMNS)
        assert row["Ground Truth Explanation"].strip() and row["Patient Note"].strip()
        cid = int(row["Calculator ID"])
        answer = CALCULATORS[cid].compute(ast.literal_eval(row["Relevant Entities"])).answer
        assert agrees(cid, answer, row["Ground Truth Answer"], row["Lower Limit"], row["Upper Limit"]), row
        if CALCULATORS[cid].output_type == "decimal":
            low, high, gt = float(row["Lower Limit"]), float(row["Upper Limit"]), float(row["Ground Truth Answer"])
            assert low <= gt <= high and low == pytest.approx(min(0.95 * gt, 1.05 * gt), abs=1e-4)
        else:
            assert row["Lower Limit"] == row["Upper Limit"] == row["Ground Truth Answer"]
    path = tmp_path / "synthetic.csv"
    write_csv(rows, path)
    report = check_rows(read_rows(path))
    assert report["overall"] == {"agree": len(rows), "total": len(rows)}


def test_deterministic_and_languages():
    first = generate_tasks(10, seed=3, calculator_ids=[2, 24, 49, 69])
    assert first == generate_tasks(10, seed=3, calculator_ids=[2, 24, 49, 69])
    assert first != generate_tasks(10, seed=4, calculator_ids=[2, 24, 49, 69])
    japanese = generate_tasks(10, seed=3, calculator_ids=[2, 24, 49, 69], language="ja")
    # Same patients, same answers; only the wording changes.
    assert [r["Ground Truth Answer"] for r in japanese] == [r["Ground Truth Answer"] for r in first]
    assert all("患者" in r["Question"] for r in japanese)
    assert "year-old" in first[0]["Patient Note"] and "歳" in japanese[0]["Patient Note"]
    with pytest.raises(ValueError):
        generate_tasks(1, seed=0, language="fr")
    with pytest.raises(ValueError):
        generate_tasks(1, seed=0, calculator_ids=[1000])


def test_note_states_the_entities():
    row = generate_tasks(1, seed=11, calculator_ids=[6])[0]
    entities = ast.literal_eval(row["Relevant Entities"])
    for value, unit in entities.values():
        assert f"{value:g} {unit}" in row["Patient Note"]


def test_drug_tables_cover_generator_names():
    assert {name.lower() for name in STEROIDS} == set(STEROID_EQUIVALENT_MG)
    assert {name.lower() for name in OPIOIDS} == set(MME_FACTOR)


def test_write_csv_is_readable_by_csv_and_the_benchmark_loader(tmp_path):
    rows = generate_tasks(20, seed=5)
    path = tmp_path / "tasks.csv"
    write_csv(rows, path)
    with path.open(encoding="utf-8", newline="") as handle:
        assert list(csv.DictReader(handle)) == rows
    items = load_benchmark("medcalc", path)
    assert [item.meta["calculator_id"] for item in items] == [int(r["Calculator ID"]) for r in rows]
