"""Acceptance: official baseline outputs re-scored with `medreasoner score` match the published numbers.

IgakuQA (gpt4, chatgpt, 2018-2022) against the recomputed table of ../shared/benchmarks/igakuqa/README.md;
MedCalc-Bench gpt-4o-mini direct answer against the repository's results JSON and per-row `Result`.
Skipped when ../shared/benchmarks is absent.

Run: .venv/bin/python -m pytest tests/test_scoring_real.py -q
"""

from __future__ import annotations

import json

import pytest

from medreasoner.cli import main

# year -> (correct questions of 400, score, total, required score, general score, kinki questions)
# from the "Results (recomputed ...)" table of the IgakuQA data README (official rule).
IGAKUQA_EXPECTED = {
    "gpt4": {
        "2018": (302, 382, 499, 161, 221, 1),
        "2019": (304, 385, 496, 170, 215, 1),
        "2020": (306, 387, 496, 168, 219, 0),
        "2021": (308, 398, 500, 173, 225, 0),
        "2022": (314, 392, 494, 164, 228, 1),
    },
    "chatgpt": {
        "2018": (208, 266, 499, 123, 143, 4),
        "2019": (205, 250, 496, 100, 150, 5),
        "2020": (212, 266, 496, 118, 148, 2),
        "2021": (225, 297, 500, 143, 154, 3),
        "2022": (230, 287, 494, 124, 163, 2),
    },
}
IGAKUQA_PASSED = {"gpt4": True, "chatgpt": False}
# chatgpt answers that select a prohibited choice annotated with a full-width letter (ｃ, ｂ, ｃ):
# counted only in normalized mode.
FULL_WIDTH_KINKI_HITS = {"2020": "114F70", "2021": "115F46", "2022": "116C67"}


def _score(tmp_path, *args: str) -> dict:
    output = tmp_path / "results.json"
    assert main(["score", *args, "--output", str(output)]) == 0
    return json.loads(output.read_text(encoding="utf-8"))


@pytest.mark.parametrize("model", ["gpt4", "chatgpt"])
def test_igakuqa_official_baselines(shared_benchmarks, tmp_path, model):
    root = shared_benchmarks / "igakuqa"
    results = _score(tmp_path, "--benchmark", "igakuqa", "--data", str(root), "--predictions",
                     str(root / "baseline_results"), "--model-name", model, "--grading", "official")
    assert results["coverage"]["n_scored"] == results["coverage"]["n_total"] == 2000
    for year, (correct, score, total, required, general, kinki) in IGAKUQA_EXPECTED[model].items():
        row = results["years"][year]
        measured = (row["correct"], row["score"], row["total"], row["required"]["score"], row["general"]["score"],
                    row["kinki_questions"])
        assert measured == (correct, score, total, required, general, kinki), year
        assert row["question_accuracy"] == correct / 400
        assert row["passed"] is IGAKUQA_PASSED[model], year
    expected_passes = 5 if IGAKUQA_PASSED[model] else 0
    assert (results["overall"]["years_passed"], results["overall"]["years_failed"]) == (expected_passes, 5 - expected_passes)


def test_igakuqa_normalized_counts_full_width_prohibited_choices(shared_benchmarks, tmp_path):
    root = shared_benchmarks / "igakuqa"
    results = _score(tmp_path, "--benchmark", "igakuqa", "--data", str(root / "data"), "--predictions",
                     str(root / "baseline_results"), "--model-name", "chatgpt", "--grading", "normalized")
    for year, problem_id in FULL_WIDTH_KINKI_HITS.items():
        assert problem_id in results["years"][year]["kinki_ids"]
        assert results["years"][year]["kinki_questions"] >= IGAKUQA_EXPECTED["chatgpt"][year][5] + 1
        assert results["years"][year]["passed"] is False


def test_medcalc_gpt4o_mini_direct_answer(shared_benchmarks, tmp_path):
    bench = shared_benchmarks / "medcalc_bench"
    outputs = bench / "model_outputs" / "openai_gpt-4o-mini_direct_answer.jsonl"
    items_out = tmp_path / "items.jsonl"
    results = _score(tmp_path, "--benchmark", "medcalc", "--data", str(bench / "test_data_v1.0.csv"),
                     "--predictions", str(outputs), "--grading", "official", "--items-out", str(items_out))
    official = json.loads((bench / "model_outputs" / "results_gpt-4o-mini_direct_answer.json").read_text())
    assert results["overall"]["average"] == official["overall"]["average"] == 20.63
    assert results["overall"]["std"] == official["overall"]["std"]
    assert set(results["categories"]) == set(official) - {"overall"}
    for category, values in official.items():
        if category != "overall":
            assert results["categories"][category]["average"] == values["average"], category
            assert results["categories"][category]["std"] == values["std"], category
    stored = {}
    for line in outputs.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        stored[str(row["Row Number"])] = (row["Result"] == "Correct", row)
    ours = [json.loads(line) for line in items_out.read_text(encoding="utf-8").splitlines()]
    agree = sum(stored[row["id"]][0] == row["correct"] for row in ours)
    assert (agree, len(ours)) == (1047, 1047)
    # The 20 ID-69 rows carry the v1.0 extraction exception as their answer: all Incorrect.
    exception_rows = [row for row in ours if "ground_truth" in stored[row["id"]][1]["LLM Answer"]]
    assert len(exception_rows) == 20 and not any(row["correct"] for row in exception_rows)
