"""Every command given malformed input: exit status 2, one `error:` line naming the file (and line or
field), no traceback, nothing written over earlier output, and no model loaded first.

Cases run the CLI in-process through ``medreasoner.cli.main``. No case loads a model: the checks that
reject them run before any load, which is the point (a model directory here is a stub ``config.json``).

Run: .venv/bin/python -m pytest tests/test_cli_malformed.py -q
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medreasoner.cli import main

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "benchmarks"
MCQ = str(FIXTURES / "mcq.jsonl")
# The shipped dedup settings (every one is required), so that only the output path is wrong.
DEDUP_CONFIG = str(REPO / "configs" / "data" / "dedup.yaml")
SFT = (REPO / "recipes" / "tiny" / "sft.yaml").read_text(encoding="utf-8")
GRPO = (REPO / "recipes" / "tiny" / "grpo.yaml").read_text(encoding="utf-8")
EVAL = (REPO / "recipes" / "tiny" / "eval.yaml").read_text(encoding="utf-8")
DEEP_JSON = "[" * 100_000 + "]" * 100_000
# 9 levels of 9 aliases: 414 bytes that expand to 9^9 strings.
ALIAS_BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi"))
ENDPOINT = ["--endpoint", "http://127.0.0.1:9/v1", "--model-name", "m", "--max-retries", "0", "--no-progress"]


def edited(text: str, old: str, new: str) -> str:
    assert old in text, old  # a shipped recipe changed: update the case
    return text.replace(old, new, 1)


def write(path: Path, content: str | bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return str(path)


def item_line(**changes) -> str:
    item = {"id": "i1", "question": "q", "options": {"A": "a", "B": "b"}, "gold": {"letters": ["A"]},
            "verifier": "mcq", "meta": {}}
    return json.dumps({**item, **changes}) + "\n"


def recipe(t: Path, text: str) -> list[str]:
    return [write(t / "recipe.yaml", text)]


# Each case: tmp dir -> (argv, strings the error line must contain: the file, and the line or field).
# A recipe case runs both `validate` and `run` (validate must reject all that run rejects).
RECIPE_CASES = {
    "learning_rate_negative": (lambda t: edited(SFT, "learning_rate: 2.0e-3", "learning_rate: -1"), ["learning_rate"]),
    "batch_size_zero": (lambda t: edited(SFT, "per_device_train_batch_size: 4", "per_device_train_batch_size: 0"),
                        ["per_device_train_batch_size"]),
    "max_steps_negative": (lambda t: edited(SFT, "max_steps: 20", "max_steps: -1"), ["optim.max_steps"]),
    "max_steps_zero": (lambda t: edited(SFT, "max_steps: 20", "max_steps: 0"), ["optim.max_steps"]),
    "save_steps_zero": (lambda t: edited(SFT, "save_steps: 5", "save_steps: 0"), ["save_steps"]),
    "warmup_negative": (lambda t: edited(SFT, "warmup_steps: 3", "warmup_steps: -1"), ["warmup_steps"]),
    "max_length_zero": (lambda t: edited(SFT, "max_length: 384", "max_length: 0"), ["data.max_length"]),
    "eval_max_new_tokens_zero": (lambda t: edited(EVAL, "max_new_tokens: 16", "max_new_tokens: 0"), ["max_new_tokens"]),
    "eval_limit_negative": (lambda t: edited(EVAL, "limit: 10,", "limit: -1,"), ["benchmarks[0].limit"]),
    "eval_temperature_negative": (lambda t: edited(EVAL, "temperature: 0.0,", "temperature: -1.0,"), ["temperature"]),
    "grpo_one_generation": (lambda t: edited(GRPO, "num_generations: 4", "num_generations: 1"), ["num_generations"]),
    "grpo_generations_not_dividing_batch": (lambda t: edited(GRPO, "num_generations: 4", "num_generations: 3"),
                                            ["num_generations", "must divide"]),
    "grpo_temperature_zero": (lambda t: edited(GRPO, "temperature: 1.0", "temperature: 0.0"), ["grpo.temperature"]),
    "grpo_length_budget_above_max": (lambda t: edited(
        GRPO, "        - {name: format_reward",
        "        - {name: length_penalty_reward, weight: 1.0, params: {mode: normalized, budget_tokens: 64, "
        "max_tokens: 32, incorrect_over_budget: no_penalty, chars_per_token: 4.0}}\n        - {name: format_reward"),
        ["rewards[1].params.budget_tokens"]),
    "latin1_recipe": (lambda t: ("# caf\u00e9\n" + SFT).encode("latin-1"), [":1:", "UTF-8", "byte 5"]),
    "alias_bomb": (lambda t: ALIAS_BOMB, ["alias"]),
    "deep_yaml": (lambda t: "a: " + "[" * 20_000 + "]" * 20_000 + "\n", ["nested"]),
    "duplicate_key": (lambda t: SFT + "seed: 1\n", ["seed", "twice"]),
}


def model_stub(t: Path) -> str:
    return write(t / "model" / "config.json", "{}").rsplit("/", 1)[0]


def no_config_model(t: Path) -> str:
    return write(t / "noconfig" / "model.safetensors", b"x").rsplit("/", 1)[0]


def results_dir(t: Path, body: dict) -> str:
    write(t / "runs" / "medqa_answer" / "results.json", json.dumps(body))
    return str(t / "runs")


OTHER_CASES = {
    # eval: every option and input is checked before a model would load
    "eval_limit_negative": lambda t: (["eval", *ENDPOINT, "--benchmark", "mcq", "--data", MCQ, "--limit", "-1",
                                       "--output", str(t / "out")], ["--limit"]),
    "eval_max_retries_negative": lambda t: (["eval", *ENDPOINT[:4], "--max-retries", "-1", "--benchmark", "mcq",
                                             "--data", MCQ, "--output", str(t / "out")], ["--max-retries"]),
    "eval_batch_size_zero": lambda t: (["eval", *ENDPOINT, "--benchmark", "mcq", "--data", MCQ, "--batch-size", "0",
                                        "--output", str(t / "out")], ["--batch-size"]),
    "eval_timeout_zero": lambda t: (["eval", *ENDPOINT, "--benchmark", "mcq", "--data", MCQ, "--timeout", "0",
                                     "--output", str(t / "out")], ["--timeout"]),
    "eval_samples_greedy": lambda t: (["eval", *ENDPOINT, "--benchmark", "mcq", "--data", MCQ, "--num-samples", "4",
                                       "--output", str(t / "out")], ["--num-samples", "--temperature > 0"]),
    "eval_samples_zero": lambda t: (["eval", *ENDPOINT, "--benchmark", "mcq", "--data", MCQ, "--num-samples", "0",
                                     "--output", str(t / "out")], ["--num-samples", ">= 1"]),
    "eval_top_p_above_one": lambda t: (["eval", *ENDPOINT, "--benchmark", "mcq", "--data", MCQ, "--top-p", "1.5",
                                        "--temperature", "0.6", "--output", str(t / "out")], ["--top-p", "(0, 1]"]),
    "eval_model_missing": lambda t: (["eval", "--model", str(t / "nomodel"), "--benchmark", "mcq", "--data", MCQ,
                                      "--output", str(t / "out")], ["nomodel", "does not exist"]),
    "eval_model_without_config": lambda t: (["eval", "--model", no_config_model(t), "--benchmark", "mcq", "--data",
                                             MCQ, "--output", str(t / "out")], ["noconfig/config.json"]),
    "eval_endpoint_without_model_name": lambda t: (["eval", "--endpoint", "http://127.0.0.1:9/v1", "--benchmark",
                                                    "mcq", "--data", MCQ, "--output", str(t / "out")], ["--model-name"]),
    "eval_output_is_file": lambda t: (["eval", *ENDPOINT, "--benchmark", "mcq", "--data", MCQ, "--output",
                                       str(t / "out" / "keep.json")], ["keep.json", "not a directory"]),
    "eval_deep_json_data": lambda t: (["eval", "--model", model_stub(t), "--benchmark", "medqa", "--data", write(
        t / "deep.jsonl", '{"question": "q", "options": ' + DEEP_JSON + "}\n"), "--output", str(t / "out")],
        ["deep.jsonl:1:", "nested"]),
    "eval_items_gold_not_an_option": lambda t: (["eval", "--model", model_stub(t), "--benchmark", "items", "--data",
                                                 write(t / "items.jsonl", item_line(gold={"letters": ["C"]})),
                                                 "--output", str(t / "out")], ["items.jsonl:1:", "'gold'"]),
    # score
    "score_items_gold_string": lambda t: (["score", "--benchmark", "items", "--data", write(
        t / "items.jsonl", item_line(gold={"letters": "AB"}, verifier="multiselect")), "--predictions", MCQ],
        ["items.jsonl:1:", "'gold'"]),
    "score_deep_json_predictions": lambda t: (["score", "--benchmark", "mcq", "--data", MCQ, "--predictions", write(
        t / "preds.jsonl", '{"id": "dx-1", "response": ' + DEEP_JSON + "}\n")], ["preds.jsonl:1:"]),
    "score_output_is_directory": lambda t: (["score", "--benchmark", "mcq", "--data", MCQ, "--predictions", MCQ,
                                             "--output", str(t / "out")], ["out", "is a directory"]),
    "score_items_out_below_a_file": lambda t: (["score", "--benchmark", "mcq", "--data", MCQ, "--predictions", MCQ,
                                                "--items-out", str(t / "out" / "keep.json" / "x.jsonl")], ["keep.json"]),
    "score_latin1_predictions": lambda t: (["score", "--benchmark", "mcq", "--data", MCQ, "--predictions", write(
        t / "preds.jsonl", '{"id": "dx-1", "response": "caf\u00e9"}\n'.encode("latin-1"))], ["preds.jsonl:1:", "UTF-8"]),
    "score_data_missing": lambda t: (["score", "--benchmark", "mcq", "--data", str(t / "none.jsonl"), "--predictions",
                                      MCQ], ["none.jsonl"]),
    # report
    "report_results_without_mode": lambda t: (["report", results_dir(t, {"schema_version": 1, "benchmark": "medqa"}),
                                               "--output", str(t / "out")], ["results.json", "'mode'"]),
    "report_results_not_json": lambda t: (["report", _bad_results(t), "--output", str(t / "out")], ["results.json:1:"]),
    "report_label_count": lambda t: (["report", str(t / "out"), "--label", "a", "--label", "b"], ["--label"]),
    "report_run_dir_missing": lambda t: (["report", str(t / "nothing"), "--output", str(t / "out")], ["nothing"]),
    # calc
    "calc_negative_weight": lambda t: (["calc", "compute", "6", "--entities", '{"weight": [-70, "kg"], "height": [175, "cm"]}'],
                                       ["--entities", "'weight'"]),
    "calc_zero_height": lambda t: (["calc", "compute", "6", "--entities", '{"weight": [70, "kg"], "height": [0, "cm"]}'],
                                   ["--entities", "'height'"]),
    "calc_deep_entities": lambda t: (["calc", "compute", "6", "--entities", DEEP_JSON], ["--entities"]),
    "calc_not_an_integer_id": lambda t: (["calc", "compute", "six", "--entities", "{}"], ["calculator_id"]),
    "calc_check_output_is_directory": lambda t: (["calc", "check", "--data", str(FIXTURES / "medcalc_test.csv"),
                                                  "--output", str(t / "out")], ["out", "is a directory"]),
    # serve: port and model are checked before the model loads
    "serve_port_out_of_range": lambda t: (["serve", "--model", model_stub(t), "--port", "99999"], ["--port"]),
    "serve_model_missing": lambda t: (["serve", "--model", str(t / "nomodel"), "--port", "0"], ["nomodel", "does not exist"]),
    "serve_model_without_config": lambda t: (["serve", "--model", no_config_model(t), "--port", "0"], ["noconfig/config.json"]),
    "serve_default_max_tokens_zero": lambda t: (["serve", "--model", model_stub(t), "--port", "0",
                                                 "--default-max-tokens", "0"], ["--default-max-tokens"]),
    # data steps and the world builder
    "data_dedup_threshold_above_one": lambda t: (["data", "dedup", f"input={MCQ}", "threshold=2", "--output",
                                                  str(t / "out")], ["threshold=2", "'threshold'"]),
    "data_dedup_latin1_config": lambda t: (["data", "dedup", "--config", write(t / "c.yaml", "# caf\u00e9\n".encode("latin-1")),
                                            "--output", str(t / "out")], ["c.yaml:1:", "UTF-8"]),
    "data_dedup_alias_bomb": lambda t: (["data", "dedup", "--config", write(t / "c.yaml", ALIAS_BOMB), "--output",
                                         str(t / "out")], ["c.yaml:1:", "alias"]),
    "data_dedup_output_is_file": lambda t: (["data", "dedup", "--config", DEDUP_CONFIG, f"input={MCQ}", "--output",
                                             str(t / "out" / "keep.json")], ["keep.json"]),
    "data_build_world_alias_bomb": lambda t: (["data", "build-world", "--config", write(t / "w.yaml", ALIAS_BOMB),
                                               "--output", str(t / "out")], ["w.yaml:1:"]),
    "data_build_world_missing_config": lambda t: (["data", "build-world", "--config", str(t / "w.yaml"), "--output",
                                                   str(t / "out")], ["w.yaml"]),
    "validate_missing_file": lambda t: (["validate", str(t / "none.yaml")], ["none.yaml"]),
}


def _bad_results(t: Path) -> str:
    write(t / "runs" / "medqa_answer" / "results.json", "{not json")
    return str(t / "runs")


CASES = {f"{command}-{name}": (lambda t, m=make, c=command: ([c, *recipe(t, m[0](t))] +
                                                              (["--output", str(t / "out")] if c == "run" else []),
                                                              ["recipe.yaml", *m[1]]))
         for name, make in RECIPE_CASES.items() for command in ("validate", "run")}
CASES.update(OTHER_CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_input_is_one_clear_error(name, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    keep = tmp_path / "out" / "keep.json"  # earlier output that a failing command must leave alone
    write(keep, '{"earlier": "output"}\n')
    argv, needles = CASES[name](tmp_path)
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse rejects some inputs itself
        status = exit_.code
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert status == 2, captured
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.out + captured.err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert keep.read_text() == '{"earlier": "output"}\n'
    assert sorted(p.name for p in keep.parent.iterdir()) == ["keep.json"]


def test_case_count():
    assert len(CASES) >= 40
