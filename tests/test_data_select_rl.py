"""`select_rl` (WiNGPT-3.0 RL candidate selection) on sample rows written for the test.

Run: .venv/bin/python -m pytest tests/test_data_select_rl.py -q
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from stage_testing import override_args

from medreasoner.benchmarks.item import item_from_json
from medreasoner.cli import main
from medreasoner.data import select_rl
from medreasoner.data.pool import pool_item, question_messages
from medreasoner.errors import InputError
from medreasoner.stages.context import StageContext
from medreasoner.stages.datasets import load_prompts

DIAGNOSES = ["pneumonia", "asthma", "anemia", "gout", "migraine"]
# Every setting a select_rl config must spell out: verifier grades, no cap, no difficulty filter.
SETTINGS = {"mode": "normalized", "min_samples": 2, "unverifiable": "drop", "score_field": "rm_score", "max_score": None,
            "class_field": "rl_class", "default_class": None, "caps": None, "difficulty_field": "difficulty",
            "difficulty_filter": None, "seed": None}
CLI_SETTINGS = override_args(SETTINGS)


def sample_rows(item_id: str, outcomes: list[bool], *, extra: dict | None = None, verifiable: bool = True) -> list[dict]:
    """One pool item (gold: a diagnosis) answered once per outcome: right (True) or wrong (False)."""
    gold = DIAGNOSES[sum(map(ord, item_id)) % len(DIAGNOSES)]
    wrong = next(d for d in DIAGNOSES if d != gold)
    pool = {"id": item_id, "domain": "medical", "language": "en", "question": f"Case {item_id}: fever. Diagnosis?",
            "reference": f"<think>\nfever points to {gold}\n</think>\n\n\\boxed{{{gold}}}", "source": "test",
            "verifier": "diagnosis" if verifiable else None, "gold": {"text": gold} if verifiable else None,
            "options": {}, "meta": {}, **(extra or {})}
    rows = []
    for index, correct in enumerate(outcomes):
        answer = f"\\boxed{{{gold if correct else wrong}}}"
        rows.append({**pool, "sample": index, "prompt": question_messages(pool, "answer"),
                     "train_prompt": question_messages(pool, "answer"),
                     "response": f"<think>\nattempt {index}\n</think>\n\n{answer}", "reasoning_content": f"attempt {index}",
                     "content": answer, "finish_reason": "stop", "prompt_tokens": 10, "completion_tokens": 5,
                     "generator": "test"})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def run_step(tmp_path: Path, rows: list[dict], **config) -> tuple[list[dict], list[dict], dict]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = write_jsonl(tmp_path / "samples.jsonl", rows)
    out = tmp_path / "out"
    select_rl.run(select_rl.Config(input=str(path), **{**SETTINGS, **config}),
                  StageContext(tmp_path, out, 0, lambda m, s: None))
    kept = [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]
    dropped = [json.loads(line) for line in (out / "dropped.jsonl").read_text().splitlines()]
    return kept, dropped, json.loads((out / "funnel.json").read_text())


def test_keeps_exactly_the_mixed_items_hardest_first_capped_per_class(tmp_path):
    rng = random.Random(7)
    rows, n_correct, classes = [], {}, {}
    for index in range(40):
        item_id = f"q{index}"
        outcomes = [rng.random() < rng.random() for _ in range(4)]
        n_correct[item_id], classes[item_id] = sum(outcomes), rng.choice(["verifiable", "clinical"])
        # Rows are shuffled below, so samples of one item are not adjacent in the file.
        rows += sample_rows(item_id, outcomes, extra={"rl_class": classes[item_id]})
    rng.shuffle(rows)
    caps = {"verifiable": 6, "clinical": 4}
    kept, dropped, funnel = run_step(tmp_path, rows, caps=caps, seed=3)

    mixed = {i for i, n in n_correct.items() if 0 < n < 4}
    reasons = {record["id"]: record["reason"] for record in dropped}
    assert {i for i, r in reasons.items() if r == "all_correct"} == {i for i, n in n_correct.items() if n == 4}
    assert {i for i, r in reasons.items() if r == "none_correct"} == {i for i, n in n_correct.items() if n == 0}
    assert {row["id"] for row in kept} | {i for i, r in reasons.items() if r == "over_cap"} == mixed
    assert [row["n_correct"] for row in kept] == sorted(row["n_correct"] for row in kept)
    assert all(row["n_correct"] == n_correct[row["id"]] and row["n_samples"] == 4 for row in kept)
    for name, cap in caps.items():
        in_class = [row for row in kept if classes[row["id"]] == name]
        assert len(in_class) == min(cap, sum(classes[i] == name for i in mixed))
        # No item was cut by the cap while an easier one of its class was kept.
        cut = [n_correct[i] for i, r in reasons.items() if r == "over_cap" and classes[i] == name]
        assert not cut or min(cut) >= max(row["n_correct"] for row in in_class)
    assert funnel["in"] == 40 and funnel["out"] + sum(funnel["dropped"].values()) == 40
    assert funnel["details"]["samples"] == 160
    assert funnel["dropped"]["over_cap"] > 0 and funnel["dropped"]["all_correct"] > 0  # the fixture tests every rule
    # The tie order is seeded per item: the same seed selects the same items in the same order,
    # whatever the order of the file.
    again, _, _ = run_step(tmp_path / "again", rows[::-1], caps=caps, seed=3)
    assert [row["id"] for row in again] == [row["id"] for row in kept]


def test_output_is_a_grpo_prompt_file(tmp_path):
    rows = sample_rows("a", [True, False, False]) + sample_rows("b", [True, True, False])
    rows += [{**row, "rm_score": score} for row, score in zip(sample_rows("u", [True, True], verifiable=False), (0.5, 1.5))]
    kept, _, _ = run_step(tmp_path, rows, unverifiable="score", max_score=2.0)
    assert [row["id"] for row in kept] == ["a", "b", "u"]  # graded by n_correct, unverifiable after
    dataset = load_prompts(tmp_path / "out" / "data.jsonl", required_columns=("prompt", "item"))
    assert len(dataset) == 3 and set(dataset.column_names) == {"prompt", "item", "id", "n_correct", "n_samples",
                                                                "reference"}
    assert item_from_json(kept[0]["item"]) == pool_item(rows[0])
    assert kept[0]["prompt"] == rows[0]["train_prompt"]
    # The reference reaches the VRM reward without its chain of thought.
    assert "<think>" not in kept[0]["reference"] and kept[0]["reference"].startswith("\\boxed{")
    assert (kept[2]["item"], kept[2]["n_correct"]) == ("", None)


def test_unverifiable_items_drop_or_rank_by_mean_score(tmp_path):
    low = [{**row, "rm_score": 0.2} for row in sample_rows("low", [True, True], verifiable=False)]
    high = [{**row, "rm_score": 3.5} for row in sample_rows("high", [True, True], verifiable=False)]
    mid = [{**row, "rm_score": 1.0} for row in sample_rows("mid", [True, True], verifiable=False)]
    kept, dropped, _ = run_step(tmp_path, high + mid + low, unverifiable="score", max_score=3.0)
    assert [row["id"] for row in kept] == ["low", "mid"]
    assert dropped == [{"id": "high", "reason": "high_score", "detail": "mean rm_score 3.5"}]
    kept, dropped, _ = run_step(tmp_path / "d", sample_rows("m", [True, False]) + high)
    assert [row["id"] for row in kept] == ["m"] and dropped[0]["reason"] == "unverifiable"


def test_difficulty_filter_and_min_samples(tmp_path):
    rows = (sample_rows("adv", [True, False], extra={"difficulty": "Advanced"})
            + sample_rows("basic", [True, False], extra={"difficulty": "Basic"})
            + sample_rows("few", [True, False], extra={"difficulty": "Advanced"})[:1])
    kept, dropped, _ = run_step(tmp_path, rows, difficulty_filter=["Advanced"], min_samples=2)
    assert [row["id"] for row in kept] == ["adv"]
    assert {(r["id"], r["reason"]) for r in dropped} == {("basic", "not_in_difficulty"), ("few", "too_few_samples")}


def test_all_dropped_is_an_input_error_after_writing_the_reasons(tmp_path):
    with pytest.raises(InputError, match="all 1 rows were dropped \\(all_correct: 1\\)"):
        run_step(tmp_path, sample_rows("easy", [True, True]))
    assert json.loads((tmp_path / "out" / "dropped.jsonl").read_text())["reason"] == "all_correct"


def test_cli_end_to_end(tmp_path, capsys):
    rows = sample_rows("a", [True, False]) + sample_rows("b", [False, False]) + sample_rows("c", [True, False, False])
    path = write_jsonl(tmp_path / "samples.jsonl", rows)
    out = tmp_path / "rl"
    assert main(["data", "select_rl", f"input={path}", *CLI_SETTINGS, "caps.verifiable=1", "--output", str(out)]) == 0
    kept = [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]
    assert [row["id"] for row in kept] == ["c"]  # 1/3 correct beats 1/2 under a cap of 1
    funnel = json.loads((out / "funnel.json").read_text())
    assert funnel["dropped"] == {"none_correct": 1, "over_cap": 1}
    assert "select_rl" in capsys.readouterr().out


@pytest.mark.parametrize("mutate, args, message", [
    (lambda rows: rows[1].update(sample="two"), [], "samples.jsonl:2: field 'sample': expected the sample index"),
    (lambda rows: rows[1].update(sample=0), [], "samples.jsonl:2: field 'sample': sample 0 of id 'a' repeats line 1"),
    (lambda rows: rows[1].pop("train_prompt"), [], "samples.jsonl:2: field 'train_prompt'"),
    (lambda rows: rows[1].update(question="other"), [], "samples.jsonl:2: field 'question': differs from the first sample of id 'a' (line 1)"),
    (lambda rows: rows[0].update(rl_class="clinical"), ["caps.verifiable=3"], "field 'rl_class': class 'clinical' has no cap"),
    (lambda rows: None, ["min_samples=0"], "min_samples"),
    (lambda rows: None, ["caps.verifiable=-1"], "caps"),
    (lambda rows: None, ["top_k=3"], "top_k"),
])
def test_bad_rows_and_config_are_one_line_errors(tmp_path, capsys, mutate, args, message):
    rows = sample_rows("a", [True, False]) + sample_rows("b", [True, False])
    mutate(rows)
    path = write_jsonl(tmp_path / "samples.jsonl", rows)
    assert main(["data", "select_rl", f"input={path}", *CLI_SETTINGS, *args, "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
