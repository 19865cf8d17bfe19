"""The question pool (data/pool.py), the funnel writer (data/funnel.py) and the `medreasoner data <step>` plumbing."""

from __future__ import annotations

import json

import pytest

from medreasoner.cli import main
from medreasoner.commands.data import load_step_config
from medreasoner.data import STEPS
from medreasoner.data.funnel import drop, read_funnel, write_step
from medreasoner.data.pool import pool_item, question_messages, read_pool
from medreasoner.errors import InputError
from medreasoner.stages import STAGES
from medreasoner.verify import grade

ROW = {"id": "q1", "domain": "medical", "language": "en", "question": "Fever and neck stiffness. Diagnosis?",
       "reference": "<think>\nmeningism\n</think>\n\n\\boxed{Bacterial meningitis}", "verifier": "diagnosis",
       "gold": {"text": "Bacterial meningitis"}, "options": {}, "meta": {"synonyms": ["meningitis"]}, "source": "test"}


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_pool_row_gives_the_item_the_verifier_grades(tmp_path):
    (row,) = read_pool(_write(tmp_path / "pool.jsonl", [ROW]))
    item = pool_item(row)
    assert grade(row["reference"], item).correct and not grade("\\boxed{Migraine}", item).correct
    answer, explain = question_messages(row, "answer"), question_messages(row, "explain")
    assert answer[-1]["content"].startswith(ROW["question"]) and "explain your reasoning" in explain[-1]["content"]
    unverifiable = {**ROW, "verifier": None}
    assert pool_item(unverifiable) is None
    assert question_messages(unverifiable) == [{"role": "user", "content": ROW["question"]}]


@pytest.mark.parametrize(("change", "line", "field"), [
    ({"question": ""}, 2, "question"),
    ({"verifier": "nonsense"}, 2, "verifier"),
    ({"gold": {"colour": "red"}}, 2, "gold"),
    ({"gold": None}, 2, "gold"),
    ({"id": "q1"}, 2, "id"),  # duplicate of line 1
    ({"reference": 3}, 2, "reference"),
])
def test_bad_pool_rows_name_file_line_and_field(tmp_path, change, line, field):
    path = _write(tmp_path / "pool.jsonl", [ROW, {**ROW, "id": "q2", **change}])
    with pytest.raises(InputError) as error:
        read_pool(path)
    assert (error.value.line, error.value.field) == (line, field)


def test_every_step_is_a_stage_kind_with_a_strict_config():
    for step, module in STEPS.items():
        assert STAGES[step] == module


def test_write_step_records_every_row_and_refuses_an_empty_result(tmp_path):
    rows = [{"id": str(i)} for i in range(4)]
    metrics = write_step(tmp_path / "a", "filter", rows_in=4, kept=rows[:1],
                         dropped=[drop(r, "repetition", "0.5") for r in rows[1:]], input_path="in.jsonl")
    assert metrics == {"in": 4, "out": 1, "dropped/repetition": 3}
    assert read_funnel(tmp_path / "a")["dropped"] == {"repetition": 3}
    assert len((tmp_path / "a" / "dropped.jsonl").read_text().splitlines()) == 3
    with pytest.raises(InputError, match="all 2 rows were dropped"):
        write_step(tmp_path / "b", "filter", rows_in=2, kept=[], dropped=[drop(r, "wrong_answer") for r in rows[:2]],
                   input_path="in.jsonl")
    assert read_funnel(tmp_path / "b")["out"] == 0 and not (tmp_path / "b" / "data.jsonl").exists()


def test_step_config_errors_name_the_file_line_and_field(tmp_path):
    config = tmp_path / "dedup.yaml"
    config.write_text("input: pool.jsonl\nthreshold: 7\nnot_a_knob: 1\n")
    with pytest.raises(InputError) as error:
        load_step_config("dedup", config, [])
    assert error.value.path == str(config) and error.value.line in (2, 3)
    with pytest.raises(InputError, match="not_a_knob=1"):
        load_step_config("dedup", None, ["input=pool.jsonl", "not_a_knob=1"])


def test_cli_step_error_is_one_line(tmp_path, capsys):
    assert main(["data", "select_rl", "--output", str(tmp_path / "out"), "input=" + str(tmp_path / "missing.jsonl")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")
