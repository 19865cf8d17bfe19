"""`medreasoner score` end to end on invented fixtures (tests/fixtures/benchmarks).

Run: .venv/bin/python -m pytest tests/test_score_cli.py -q
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from medreasoner.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "benchmarks"
IGAKUQA = FIXTURES / "igakuqa"
CONSOLE_SCRIPT = Path(sys.executable).with_name("medreasoner")


def run_score(tmp_path: Path, *args: str) -> tuple[dict, list[dict]]:
    output, items_out = tmp_path / "out" / "results.json", tmp_path / "out" / "items.jsonl"
    assert main(["score", *args, "--output", str(output), "--items-out", str(items_out)]) == 0
    rows = [json.loads(line) for line in items_out.read_text(encoding="utf-8").splitlines()]
    return json.loads(output.read_text(encoding="utf-8")), rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def test_igakuqa_official_directory_of_baseline_files(tmp_path, capsys):
    results, rows = run_score(tmp_path, "--benchmark", "igakuqa", "--data", str(IGAKUQA), "--predictions",
                              str(IGAKUQA / "baseline_results"), "--model-name", "mymodel", "--grading", "official")
    assert (results["benchmark"], results["mode"], results["n"]) == ("igakuqa", "official", 11)
    year = results["years"]["2019"]
    # Correct: A2 ("d,a" reordered), A3 ("04"), A4 (0 points), A5, B1 ("d" for "a or d"), B2, E1.
    # Wrong: A1, C1 ("a, b": the space makes " b"), D1 (free text), F1.
    assert (year["correct"], year["n"], year["score"], year["total"]) == (7, 11, 8, 12)
    assert year["required"] == {"score": 5, "total": 5, "minimum": 4}
    assert year["general"] == {"score": 3, "total": 7, "minimum": 209}
    # Official: raw tokens vs raw annotations: "d" in "cde" (A2), "a" (C1); "b" vs full-width "ｂ" (A1) is not counted.
    assert year["kinki_ids"] == ["113A2", "113C1"] and year["passed"] is False and year["complete"] is True
    assert year["sections"]["A"] == {"score": 3, "total": 4, "question_accuracy": 0.8, "correct": 4, "n": 5}
    by_id = {row["id"]: row for row in rows}
    assert len(rows) == 11
    assert by_id["113A2"] == {"id": "113A2", "extracted": ["a", "d"], "correct": True, "score": 1.0}
    assert by_id["113C1"]["extracted"] == [" b", "a"] and by_id["113C1"]["correct"] is False
    printed = capsys.readouterr().out
    assert "11/11 items scored" in printed and "fail" in printed


def test_igakuqa_normalized_counts_full_width_kinki(tmp_path):
    results, _ = run_score(tmp_path, "--benchmark", "igakuqa", "--data", str(IGAKUQA / "data" / "2019"),
                           "--predictions", str(IGAKUQA / "baseline_results"), "--model-name", "mymodel",
                           "--grading", "normalized")
    assert results["years"]["2019"]["kinki_ids"] == ["113A1", "113A2", "113C1"]


def test_igakuqa_partial_predictions_report_coverage(tmp_path, capsys):
    results, rows = run_score(tmp_path, "--benchmark", "igakuqa", "--data", str(IGAKUQA), "--predictions",
                              str(IGAKUQA / "baseline_results"), "--model-name", "other_model")
    assert results["coverage"]["n_scored"] == 1 and results["coverage"]["n_total"] == 11
    assert results["coverage"]["missing_ids"][:2] == ["113A2", "113A3"] and len(results["coverage"]["missing_ids"]) == 10
    assert results["years"]["2019"]["passed"] is None
    assert rows == [{"id": "113A1", "extracted": ["c"], "correct": True, "score": 1.0}]
    assert "missing predictions: 113A2" in capsys.readouterr().out


def test_igakuqa_single_prediction_file(tmp_path):
    results, _ = run_score(tmp_path, "--benchmark", "igakuqa", "--data", str(IGAKUQA / "data/2019/113-B.jsonl"),
                           "--predictions", str(IGAKUQA / "baseline_results/2019/113-B_mymodel.jsonl"))
    assert results["overall"]["score"] == 4 and results["overall"]["total"] == 4


def test_medcalc_official_output_format(tmp_path):
    common = {"Calculator Name": "x", "Result": "Incorrect"}
    predictions = write_jsonl(tmp_path / "outputs.jsonl", [
        {"Row Number": 1, "LLM Answer": "25.9", "Ground Truth Answer": "25.0", **common},  # inside 23.75..26.25
        {"Row Number": 2, "LLM Answer": "3", "Ground Truth Answer": "4", **common},  # integer: exact
        {"Row Number": 3, "LLM Answer": "10/17/2021", "Ground Truth Answer": "10/17/2021", **common},
        {"Row Number": 4, "LLM Answer": "cannot access local variable 'ground_truth' where it is not associated with a value",
         "Ground Truth Answer": "('14 weeks', '1 days')", **common},  # the v1.0 exception text
    ])
    results, rows = run_score(tmp_path, "--benchmark", "medcalc", "--data", str(FIXTURES / "medcalc_test.csv"),
                              "--predictions", str(predictions), "--grading", "official")
    assert [(row["id"], row["correct"]) for row in rows] == [("1", True), ("2", False), ("3", True), ("4", False)]
    assert results["categories"]["physical"]["average"] == 100.0
    assert results["categories"]["risk"]["average"] == 0.0
    assert results["categories"]["date"] == {"average": 50.0, "std": 0.35, "correct": 1, "n": 2}
    assert results["overall"]["average"] == 50.0 and results["coverage"]["missing_ids"] == ["5"]


def test_our_format_mcq_normalized(tmp_path):
    predictions = write_jsonl(tmp_path / "responses.jsonl", [
        {"id": "dx-1", "response": "Mucosa is dry.\nThe answer is B."},
        {"id": 2, "response": "Answer: A, C"},
    ])
    results, rows = run_score(tmp_path, "--benchmark", "mcq", "--data", str(FIXTURES / "mcq.jsonl"),
                              "--predictions", str(predictions), "--grading", "normalized")
    assert results["overall"]["accuracy"] == 1.0 and results["overall"]["micro_f1"] == 1.0
    assert results["coverage"]["missing_ids"] == ["q3"]
    assert rows[0] == {"id": "dx-1", "extracted": ["B"], "correct": True, "score": 1.0}


# (predictions file content, extra args, expected stderr fragment); each exits with status 2.
ERROR_CASES = [
    ('{"id": "dx-1", "response": "B"}\n{"id": "nope", "response": "A"}\n', [],
     "responses.jsonl:2: field 'id': id 'nope' is not in the benchmark data"),
    ('{"id": "dx-1", "response": "B"}\n{"id": "dx-1", "response": "A"}\n', [], "responses.jsonl:2: field 'id': duplicate id"),
    ('{"question": "x", "answer": "B"}\n', [], "responses.jsonl:1: unknown predictions format"),
    ('{"id": "dx-1", "response": 7}\n', [], "responses.jsonl:1: field 'response': expected a string"),
    ('{"id": "dx-1", "response": "B"}\n', ["--model-name", "gpt4"], "selects files named *_gpt4.jsonl"),
]


@pytest.mark.parametrize("content, extra, fragment", ERROR_CASES)
def test_bad_predictions_exit_2(tmp_path, capsys, content, extra, fragment):
    predictions = tmp_path / "responses.jsonl"
    predictions.write_text(content, encoding="utf-8")
    code = main(["score", "--benchmark", "mcq", "--data", str(FIXTURES / "mcq.jsonl"), "--predictions", str(predictions), *extra])
    assert code == 2
    assert fragment in capsys.readouterr().err


def test_directory_with_several_models_needs_model_name(capsys):
    code = main(["score", "--benchmark", "igakuqa", "--data", str(IGAKUQA), "--predictions", str(IGAKUQA / "baseline_results")])
    assert code == 2
    assert "choose one with --model-name: ['mymodel', 'other_model']" in capsys.readouterr().err


def test_medcalc_outputs_of_another_version_are_rejected(tmp_path, capsys):
    predictions = write_jsonl(tmp_path / "outputs.jsonl", [{"Row Number": 1, "LLM Answer": "25", "Ground Truth Answer": "26.1"}])
    code = main(["score", "--benchmark", "medcalc", "--data", str(FIXTURES / "medcalc_test.csv"), "--predictions",
                 str(predictions), "--grading", "official"])
    assert code == 2
    assert "outputs.jsonl:1: field 'Ground Truth Answer'" in capsys.readouterr().err


def test_medcalc_output_rows_only_score_medcalc_items(tmp_path, capsys):
    predictions = write_jsonl(tmp_path / "outputs.jsonl", [{"Row Number": 1, "LLM Answer": "B"}])
    code = main(["score", "--benchmark", "medqa", "--data", str(FIXTURES / "medqa_4_options.jsonl"), "--predictions",
                 str(predictions)])
    assert code == 2
    assert "outputs.jsonl:1: field 'Row Number': a MedCalc-Bench output row cannot score a 'mcq' item" in capsys.readouterr().err


def test_failed_run_keeps_earlier_output(tmp_path):
    output = tmp_path / "results.json"
    output.write_text("earlier results\n", encoding="utf-8")
    bad = tmp_path / "responses.jsonl"
    bad.write_text('{"id": "zzz", "response": "A"}\n', encoding="utf-8")
    assert main(["score", "--benchmark", "mcq", "--data", str(FIXTURES / "mcq.jsonl"), "--predictions", str(bad),
                 "--output", str(output)]) == 2
    assert output.read_text(encoding="utf-8") == "earlier results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["responses.jsonl", "results.json"]  # no temp file left


def test_console_script_prints_error_not_traceback(tmp_path):
    data = tmp_path / "questions.jsonl"
    data.write_text('{"id": "1", "question": "Q", "options": {"A": "x"}, "answer": "A"}\n{"id": "2", "question": \n',
                    encoding="utf-8")
    predictions = write_jsonl(tmp_path / "p.jsonl", [{"id": "1", "response": "A"}])
    if not CONSOLE_SCRIPT.exists():
        pytest.skip(f"console script not installed at {CONSOLE_SCRIPT}")
    completed = subprocess.run(
        [str(CONSOLE_SCRIPT), "score", "--benchmark", "mcq", "--data", str(data), "--predictions", str(predictions)],
        capture_output=True, text=True, timeout=60,
    )
    assert completed.returncode == 2
    assert completed.stderr.startswith(f"error: {data}:2: not valid JSON")
    assert "Traceback" not in completed.stderr
