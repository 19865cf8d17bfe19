"""Benchmark loaders on invented fixtures in the official formats (tests/fixtures/benchmarks).

Run: .venv/bin/python -m pytest tests/test_benchmarks_loaders.py -q
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from medreasoner.benchmarks import BENCHMARKS, load_benchmark
from medreasoner.benchmarks.item import GestationalAge, item_to_json
from medreasoner.errors import InputError

FIXTURES = Path(__file__).parent / "fixtures" / "benchmarks"


def test_registry_is_data():
    from medreasoner.stages.evaluate import BENCHMARK_KINDS, BenchmarkSection

    assert set(BENCHMARKS) == {"medqa", "medcalc", "igakuqa", "mcq", "items", "rl_rows"}
    assert set(BENCHMARK_KINDS) == set(BENCHMARKS)  # an eval stage can name every registered benchmark
    assert set(BenchmarkSection.model_fields["kind"].annotation.__args__[0].__args__) == set(BENCHMARKS)
    for name, spec in BENCHMARKS.items():
        assert spec.name == name and spec.version and spec.verifiers


def test_every_benchmark_family_has_templates_fields_and_a_summary():
    """A benchmark's family is all the eval and scoring code needs: no second list of benchmark names."""
    from medreasoner.eval.prompts import FAMILIES, FIELDS, MODES, TEMPLATE_DIR
    from medreasoner.scoring import SUMMARIES

    assert FAMILIES == {name: spec.family for name, spec in BENCHMARKS.items()}
    for spec in BENCHMARKS.values():
        assert spec.family in FIELDS and spec.family in SUMMARIES, spec.name
        for mode in MODES:
            assert (TEMPLATE_DIR / f"{spec.family}_{mode}.yaml").is_file(), (spec.name, mode)


def test_medqa_four_and_five_options():
    four = load_benchmark("medqa", FIXTURES / "medqa_4_options.jsonl")
    five = load_benchmark("medqa", FIXTURES / "medqa_5_options.jsonl")
    assert [item.id for item in four] == ["1", "2", "3"]
    assert four[0].gold == frozenset({"B"}) and four[0].verifier == "mcq"
    assert four[0].meta == {"meta_info": "step1", "answer_text": "Gastrocnemius", "num_options": 4}
    assert five[1].gold == frozenset({"E"}) and five[1].meta["num_options"] == 5
    # Non-ASCII text is kept as written (no normalisation of ’ ° ↑).
    assert "’" in four[2].question and "↑" in four[2].question


def test_medcalc_typed_gold_and_multiline_fields():
    items = load_benchmark("medcalc", FIXTURES / "medcalc_test.csv")
    by_id = {item.id: item for item in items}
    assert list(by_id) == ["1", "2", "3", "4", "5"]
    assert by_id["1"].gold == 25.0 and by_id["1"].verifier == "medcalc"
    assert "\nweighs 81 kg" in by_id["1"].meta["patient_note"]  # quoted newline kept inside the field
    assert '"I feel fine"' in by_id["1"].meta["patient_note"]  # "" escape decoded
    assert by_id["1"].meta["relevant_entities"] == {"height": [180.0, "cm"], "weight": [81.0, "kg"]}
    assert by_id["2"].gold == 4.0 and isinstance(by_id["2"].gold, float)
    assert by_id["2"].meta["relevant_entities"]["Hypertension history"] is True
    assert by_id["3"].gold == dt.date(2021, 10, 17)
    assert by_id["4"].gold == GestationalAge(14, 1)  # calculator 69, labelled "integer"
    assert by_id["5"].gold == -4.0 and by_id["5"].meta["lower_limit"] == "-4.2"
    assert by_id["1"].question == by_id["1"].meta["task"]
    assert by_id["4"].meta["calculator_id"] == 69 and by_id["4"].meta["ground_truth"] == "('14 weeks', '1 days')"


@pytest.mark.parametrize("relative", ["igakuqa", "igakuqa/data", "igakuqa/data/2019"])
def test_igakuqa_directory_forms(relative):
    items = load_benchmark("igakuqa", FIXTURES / relative)
    assert len(items) == 11
    assert [item.id for item in items][:3] == ["113A1", "113A2", "113A3"]


def test_igakuqa_section_file_and_quirks():
    items = {item.id: item for item in load_benchmark("igakuqa", FIXTURES / "igakuqa/data/2019/113-A.jsonl")}
    assert len(items) == 5  # the _translate file beside it (not even JSON) is ignored
    assert items["113A1"].options["c"] == "heparin" and items["113A1"].gold == frozenset({"c"})
    assert items["113A2"].gold == frozenset({"a", "d"})
    assert items["113A3"].gold == "04" and items["113A3"].options == {}  # numeric entry: a string
    assert items["113A4"].meta["points"] == 0
    assert list(items["113A5"].options) == list("abcdefgh") and items["113A5"].options["g"] == "ｇ"
    assert items["113A1"].meta["kinki"] == ["b"] and items["113A1"].meta["kinki_raw"] == ["ｂ"]
    assert items["113A2"].meta["kinki"] == ["c", "d", "e"]  # "cde" split into letters
    assert items["113A5"].meta["kinki"] == ["a", "e"]  # " e" stripped
    meta = items["113A2"].meta
    assert (meta["year"], meta["exam"], meta["section"], meta["number"]) == (2019, 113, "A", 2)
    assert meta["text_only"] is False and meta["num_answers"] == 2 and meta["answer_raw"] == ["a", "d"]
    assert all(item.verifier == "igakuqa" for item in items.values())


def test_igakuqa_alternative_gold_is_kept_as_text():
    items = {item.id: item for item in load_benchmark("igakuqa", FIXTURES / "igakuqa/data/2019/113-B.jsonl")}
    assert items["113B1"].gold == "a or d" and items["113B1"].meta["points"] == 3


def test_mcq_single_and_multi_answer():
    items = load_benchmark("mcq", FIXTURES / "mcq.jsonl")
    assert [(item.id, item.verifier, item.gold) for item in items] == [
        ("dx-1", "mcq", frozenset({"B"})),
        ("2", "multiselect", frozenset({"A", "C"})),
        ("q3", "multiselect", frozenset({"A"})),  # a list means select-all, even with one letter
    ]
    assert items[0].meta == {"topic": "fluids"} and items[1].meta == {}


def test_items_round_trip(tmp_path):
    # Every gold type: float, date, GestationalAge (medcalc), letter sets and text (igakuqa).
    items = load_benchmark("medcalc", FIXTURES / "medcalc_test.csv") + load_benchmark("igakuqa", FIXTURES / "igakuqa")
    path = tmp_path / "items.jsonl"
    path.write_text("".join(item_to_json(item) + "\n" for item in items), encoding="utf-8")
    assert load_benchmark("items", path) == items


def test_rl_rows_are_scored_through_their_item_column(tmp_path):
    import json

    items = load_benchmark("igakuqa", FIXTURES / "igakuqa")[:3]
    rows = [{"prompt": [{"role": "user", "content": item.question}], "item": item_to_json(item), "n_correct": 1}
            for item in items]
    path = tmp_path / "select_rl.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    assert load_benchmark("rl_rows", path) == items
    bad = dict(rows[1], item=json.dumps({**json.loads(rows[1]["item"]), "verifier": 3}))
    for row, field, fragment in [(bad, "item.verifier", "expected a string"), (dict(rows[1], item="{"), "item", "not JSON"),
                                 ({"prompt": []}, "item", "missing field"), (rows[0], "item.id", "duplicate id")]:
        path.write_text(json.dumps(rows[0]) + "\n" + json.dumps(row) + "\n", encoding="utf-8")
        with pytest.raises(InputError) as error:
            load_benchmark("rl_rows", path)
        assert (error.value.line, error.value.field) == (2, field) and fragment in str(error.value)


def test_unknown_benchmark_name():
    with pytest.raises(InputError, match="unknown benchmark 'pubmedqa'"):
        load_benchmark("pubmedqa", FIXTURES / "mcq.jsonl")


def _write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


GOOD_MEDQA = '{"question": "Q?", "answer": "yes", "options": {"A": "no", "B": "yes"}, "meta_info": "step1", "answer_idx": "B"}\n'
GOOD_MCQ = '{"id": "a", "question": "Q?", "options": {"A": "x", "B": "y"}, "answer": "A"}\n'

# (benchmark, file content, expected line, expected field, message fragment); one case per row.
JSONL_CASES = [
    ("medqa", GOOD_MEDQA + "{not json\n", 2, None, "not valid JSON"),
    ("medqa", GOOD_MEDQA.replace(', "answer_idx": "B"', ""), 1, "answer_idx", "missing field"),
    ("medqa", GOOD_MEDQA.replace('"answer_idx": "B"', '"answer_idx": "F"'), 1, "answer_idx", "not one of the options"),
    ("medqa", GOOD_MEDQA.replace('"answer_idx": "B"', '"answer_idx": "A"'), 1, "answer_idx", "differs from 'answer'"),
    ("medqa", GOOD_MEDQA.replace('{"A": "no", "B": "yes"}', '["no", "yes"]'), 1, "options", "expected an object"),
    ("medqa", GOOD_MEDQA.replace('"answer_idx": "B"', '"answer_idx": 2'), 1, "answer_idx", "expected a string"),
    ("medqa", "", None, None, "empty file"),
    ("medqa", "\n  \n", None, None, "empty file"),  # blank lines only
    ("medqa", GOOD_MEDQA + "[1, 2]\n", 2, None, "expected a JSON object"),
    ("mcq", GOOD_MCQ + GOOD_MCQ, 2, "id", "duplicate id 'a'"),
    ("mcq", GOOD_MCQ.replace('"answer": "A"', '"answer": "C"'), 1, "answer", "'C' is not one of the options"),
    ("mcq", GOOD_MCQ.replace('"answer": "A"', '"answer": ["A", "Z"]'), 1, "answer", "'Z' is not one of the options"),
    ("mcq", GOOD_MCQ.replace('"answer": "A"', '"answer": ["A", "A"]'), 1, "answer", "repeated letters"),
    ("mcq", GOOD_MCQ.replace('"answer": "A"', '"answer": 1'), 1, "answer", "expected a letter"),
    ("mcq", GOOD_MCQ.replace('"answer": "A"', '"answer": []'), 1, "answer", "expected a letter"),
    ("mcq", GOOD_MCQ.replace('"id": "a", ', ""), 1, "id", "missing field"),
    ("mcq", GOOD_MCQ.replace('"id": "a"', '"id": null'), 1, "id", "expected a non-empty string"),
    ("mcq", GOOD_MCQ.replace('"options": {"A": "x", "B": "y"}', '"options": {"AB": "x"}'), 1, "options", "single letters"),
    ("mcq", GOOD_MCQ.replace('"answer": "A"', '"answer": "A", "meta": [1]'), 1, "meta", "expected an object"),
    ("items", '{"id": "1", "question": "Q", "options": {}, "gold": {"color": "red"}, "verifier": "mcq", "meta": {}}\n',
     1, "gold", "unknown gold kind"),
    ("items", '{"id": "1", "question": "Q", "options": {}, "gold": {"number": 1.0}, "meta": {}}\n', 1, "verifier", "missing field"),
]


@pytest.mark.parametrize("benchmark, content, line, field, fragment", JSONL_CASES)
def test_malformed_jsonl_raises_one_clear_error(tmp_path, benchmark, content, line, field, fragment):
    path = _write(tmp_path, "bad.jsonl", content)
    with pytest.raises(InputError, match=fragment) as caught:
        load_benchmark(benchmark, path)
    assert (caught.value.path, caught.value.line, caught.value.field) == (str(path), line, field)


def test_non_utf8_line_is_named(tmp_path):
    path = _write(tmp_path, "latin1.jsonl", (GOOD_MEDQA * 2).encode() + b'{"question": "caf\xe9"}\n')
    with pytest.raises(InputError, match="not valid UTF-8") as caught:
        load_benchmark("medqa", path)
    assert caught.value.line == 3


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        load_benchmark("medqa", tmp_path / "nope.jsonl")


def _medcalc_with(tmp_path: Path, old: str, new: str) -> Path:
    text = (FIXTURES / "medcalc_test.csv").read_text(encoding="utf-8")
    assert old in text
    return _write(tmp_path, "bad.csv", text.replace(old, new, 1))


# (text replaced in the fixture, replacement, expected line, field, message fragment). Row 2 starts on
# line 5 because row 1 spans lines 2-4 (quoted newlines), so these also check record line numbers.
CSV_CASES = [
    ("Row Number,", "Row,", 1, "Row Number", "missing column"),
    ("{'age': [76, 'years']", "__import__('os').system('true') or {'age': [76, 'years']", 5, "Relevant Entities",
     "not a Python literal"),
    ("{'age': [76, 'years'], 'sex': 'Female', 'Hypertension history': True}", "[1, 2]", 5, "Relevant Entities",
     "expected a dict literal"),
    (",4,4,4,", ",four,4,4,", 5, "Ground Truth Answer", "expected a number"),
    ("10/17/2021,10/17/2021,10/17/2021", "2021-10-17,10/17/2021,10/17/2021", 6, "Ground Truth Answer", "MM/DD/YYYY"),
    ("\"('14 weeks', '1 days')\",\"('14", "\"(14, 1)\",\"('14", 7, "Ground Truth Answer", "expected a tuple"),
    ("-4.0,-4.2,-3.8", "-4.0,low,-3.8", 8, "Lower Limit", "expected a number"),
    ("risk,integer", "risk,fraction", 5, "Output Type", "expected one of"),
    ("\n2,4,", "\n1,4,", 5, "Row Number", "duplicate id '1'"),
    ("\n3,13,", "\nthree,13,", 6, "Row Number", "expected an integer"),
    ("Add 280 days to the last period.", "Add 280 days to the last period.,extra", 6, None, "expected 14 fields"),
]


@pytest.mark.parametrize("old, new, line, field, fragment", CSV_CASES)
def test_malformed_medcalc_csv(tmp_path, old, new, line, field, fragment):
    path = _medcalc_with(tmp_path, old, new)
    with pytest.raises(InputError, match=fragment) as caught:
        load_benchmark("medcalc", path)
    assert (caught.value.line, caught.value.field) == (line, field)


def test_medcalc_empty_and_non_utf8(tmp_path):
    with pytest.raises(InputError, match="empty file"):
        load_benchmark("medcalc", _write(tmp_path, "empty.csv", ""))
    header = (FIXTURES / "medcalc_test.csv").read_text(encoding="utf-8").splitlines()[0]
    with pytest.raises(InputError, match="no data rows"):
        load_benchmark("medcalc", _write(tmp_path, "header.csv", header + "\n"))
    data = (FIXTURES / "medcalc_test.csv").read_bytes().replace(b"Delta Ratio", b"Delta R\xe4tio")
    with pytest.raises(InputError, match="not valid UTF-8") as caught:
        load_benchmark("medcalc", _write(tmp_path, "latin1.csv", data))
    assert caught.value.line == 8


def _igakuqa_copy(tmp_path: Path) -> Path:
    root = tmp_path / "igakuqa"
    shutil.copytree(FIXTURES / "igakuqa", root)
    return root


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# (file under data/2019, text replaced, replacement, file named in the error, line, field, fragment)
IGAKUQA_CASES = [
    ("113-A.jsonl", '"answer": ["c"]', '"answer": ["k"]', "113-A.jsonl", 1, "answer", "'k' is not one of the choices"),
    ("113-A.jsonl", '"answer": ["04"]', '"answer": []', "113-A.jsonl", 3, "answer", "no gold answer"),
    ("113-A.jsonl", '"problem_id": "113A2"', '"problem_id": "113B9"', "113-A.jsonl", 2, "problem_id", "not a problem of exam 113 section A"),
    ("113-A.jsonl", '"points": "0"', '"points": "zero"', "113-A.jsonl", 4, "points", "whole number"),
    ("113-A.jsonl", '"points": "0"', '"points": 0', "113-A.jsonl", 4, "points", "expected a string"),
    ("113-A.jsonl", '"text_only": true', '"text_only": "yes"', "113-A.jsonl", 1, "text_only", "expected a boolean"),
    ("113-A_metadata.jsonl", '"kinki": ["cde"]', '"kinki": ["c1"]', "113-A_metadata.jsonl", 2, "kinki", "choice letters"),
    ("113-A_metadata.jsonl", '"problem_id": "113A3"', '"problem_id": "113A33"', "113-A.jsonl", 3, "problem_id", "no row in the metadata"),
    ("113-B.jsonl", '"answer": ["a or d"]', '"answer": ["a or k"]', "113-B.jsonl", 1, "answer", "'k' is not one of the choices"),
]


@pytest.mark.parametrize("name, old, new, culprit, line, field, fragment", IGAKUQA_CASES)
def test_malformed_igakuqa(tmp_path, name, old, new, culprit, line, field, fragment):
    root = _igakuqa_copy(tmp_path)
    _replace(root / "data/2019" / name, old, new)
    with pytest.raises(InputError, match=fragment) as caught:
        load_benchmark("igakuqa", root)
    assert (Path(caught.value.path).name, caught.value.line, caught.value.field) == (culprit, line, field)


def test_igakuqa_missing_metadata_and_bad_paths(tmp_path):
    root = _igakuqa_copy(tmp_path)
    (root / "data/2019/113-C_metadata.jsonl").unlink()
    with pytest.raises(InputError, match="metadata file missing"):
        load_benchmark("igakuqa", root)
    with pytest.raises(InputError, match="named <exam>-<section>.jsonl"):
        load_benchmark("igakuqa", root / "data/2019/113-A_metadata.jsonl")
    with pytest.raises(InputError, match="no IgakuQA section files"):
        load_benchmark("igakuqa", root / "baseline_results")
    with pytest.raises(InputError, match="no such file"):
        load_benchmark("igakuqa", root / "missing")


def test_an_eval_scores_the_first_rl_rows_as_grpo_trains_on_them(tmp_path):
    """``limit: N`` on an ``rl_rows`` benchmark scores the rows ``grpo.data.limit: N`` trains on, with the
    held-out items' prompts."""
    import json

    from eval_support import ScriptedBackend

    from medreasoner.benchmarks.item import Item
    from medreasoner.eval.generation import GenerationSettings
    from medreasoner.eval.runner import EvalRequest, run_eval

    items = [Item(f"train-{k}", f"Case {k}: cough.\nWhat is the most likely diagnosis?", {}, f"Condition {k}",
                  "diagnosis", {}) for k in range(5)]
    path = tmp_path / "select_rl.jsonl"
    path.write_text("".join(json.dumps({"prompt": [], "item": item_to_json(item)}) + "\n" for item in items))
    script = {f"Case {k}:": f"\\boxed{{Condition {k if k != 1 else 9}}}" for k in range(5)}  # item 1 wrong
    request = EvalRequest(benchmark="rl_rows", data=path, mode="answer", limit=3, output=tmp_path / "eval",
                          prompt_style="chat", igakuqa_prompts=None, grading="normalized",
                          settings=GenerationSettings(max_new_tokens=8, temperature=0.0, top_p=1.0,
                                                      seed=0, thinking_budget=None,
                                                      batch_size=2), num_samples=1)
    run_eval(request, ScriptedBackend(script), show_progress=False)
    metrics = json.loads((tmp_path / "eval" / "rl_rows_answer" / "results.json").read_text())["metrics"]
    assert (metrics["n"], metrics["n_correct"]) == (3, 2)
