"""`vrm_data` (WiNGPT-3.0 verifier-reward-model data): labels, judge input parity, and a fake judge server.

Run: .venv/bin/python -m pytest tests/test_data_vrm.py -q
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from stage_testing import override_args

from medreasoner.cli import main
from medreasoner.data import select_rl, vrm_data
from medreasoner.data.pool import question_messages
from medreasoner.errors import InputError
from medreasoner.rewards.verifier_model import judge_rewards
from medreasoner.stages.context import StageContext

REFERENCE = "<think>\nfever with lobar crackles\n</think>\n\nPneumonia: \\boxed{pneumonia}"
# Every setting a vrm_data config must spell out; each test picks its label_source (and judge).
SETTINGS = {"mode": "normalized", "label_source": "verifier_then_judge", "judge": None, "prompt_field": "train_prompt",
            "keep_analysis": True, "max_positive_fraction": None, "seed": None}
CLI_SETTINGS = override_args(SETTINGS)
CLI_JUDGE = ["judge.endpoint=http://x", "judge.model=m", "judge.api_key_env=null", "judge.max_tokens=2048",
             "judge.temperature=0.0", "judge.timeout_s=120", "judge.max_retries=3", "judge.max_concurrency=8"]
# select_rl's settings for the GRPO rows of the same samples.
SELECT_RL = {"mode": "normalized", "min_samples": 2, "unverifiable": "drop", "score_field": "rm_score", "max_score": None,
             "class_field": "rl_class", "default_class": None, "caps": None, "difficulty_field": "difficulty",
             "difficulty_filter": None, "seed": None}


def pool_row(item_id: str, *, verifiable: bool = True, reference: str | None = REFERENCE) -> dict:
    return {"id": item_id, "domain": "medical", "language": "en", "question": f"Case {item_id}: fever. Diagnosis?",
            "reference": reference, "source": "test", "verifier": "diagnosis" if verifiable else None,
            "gold": {"text": "pneumonia"} if verifiable else None, "options": {}, "meta": {}}


def samples(pool: dict, responses: list[str], history: list[dict] | None = None) -> list[dict]:
    """Sample rows of ``pool``, one per response; ``history`` turns go before the question."""
    train_prompt = [*(history or []), *question_messages(pool, "answer")]
    return [{**pool, "sample": index, "prompt": question_messages(pool, "explain"), "train_prompt": train_prompt,
             "response": response, "reasoning_content": None, "content": response, "finish_reason": "stop",
             "prompt_tokens": 1, "completion_tokens": 1, "generator": "test"} for index, response in enumerate(responses)]


def write(tmp_path: Path, rows: list[dict]) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "samples.jsonl"
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def run_step(tmp_path: Path, rows: list[dict], **config) -> tuple[list[dict], list[dict], dict]:
    path = write(tmp_path, rows)
    out = tmp_path / "out"
    vrm_data.run(vrm_data.Config(input=str(path), **{**SETTINGS, **config}),
                 StageContext(tmp_path, out, 0, lambda m, s: None))
    kept = [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]
    dropped = [json.loads(line) for line in (out / "dropped.jsonl").read_text().splitlines()]
    return kept, dropped, json.loads((out / "funnel.json").read_text())


def test_verifier_labels_planted_correct_and_wrong_samples(tmp_path):
    rows = samples(pool_row("a"), ["<think>x</think>\\boxed{pneumonia}", "<think>y</think>\\boxed{asthma}",
                                   "The answer is pneumonia", "<think>cut off before answering"])
    rows += samples(pool_row("open", verifiable=False), ["Rest and fluids."])
    rows += samples(pool_row("noref", reference=None), ["\\boxed{pneumonia}"])
    kept, dropped, funnel = run_step(tmp_path, rows, label_source="verifier")
    assert [(row["sample"], row["label"], row["label_source"]) for row in kept] == [
        (0, 1, "verifier"), (1, 0, "verifier"), (2, 1, "verifier"), (3, 0, "empty_answer")]
    assert [row["messages"][1]["content"] for row in kept] == ["\\boxed{1}", "\\boxed{0}", "\\boxed{1}", "\\boxed{0}"]
    assert {(r["id"], r["reason"]) for r in dropped} == {("open", "unverifiable"), ("noref", "no_reference")}
    user = kept[0]["messages"][0]["content"]
    # CoT is removed from both reference and candidate; the judge sees the answers only.
    assert "lobar crackles" not in user and "<think>" not in user and "Pneumonia: \\boxed{pneumonia}" in user
    assert funnel["in"] == 6 and funnel["details"]["labels"] == {"1": 2, "0": 2}


def test_training_input_equals_what_the_vrm_reward_sends(tmp_path):
    history = [{"role": "system", "content": "You are a doctor."}, {"role": "user", "content": "I feel unwell."},
               {"role": "assistant", "content": "<think>ask more</think>Tell me your symptoms."}]
    responses = ["<think>hmm</think>\\boxed{pneumonia}", "<think>hmm</think>\\boxed{gout}"]
    rows = samples(pool_row("a"), responses, history=history)
    kept, _, _ = run_step(tmp_path / "vrm", rows, label_source="verifier")
    # The GRPO rows select_rl writes for the same samples, scored by the reward with a recording judge.
    select_rl.run(select_rl.Config(input=str(tmp_path / "vrm" / "samples.jsonl"), **SELECT_RL),
                  StageContext(tmp_path, tmp_path / "rl", 0, lambda m, s: None))
    (grpo_row,) = [json.loads(line) for line in (tmp_path / "rl" / "data.jsonl").read_text().splitlines()]
    sent: list[str] = []

    def judge(prompts: list[str]) -> list[str]:
        sent.extend(prompts)
        return ["\\boxed{1}"] * len(prompts)

    judge_rewards(responses, {"prompts": [grpo_row["prompt"]] * 2, "reference": [grpo_row["reference"]] * 2},
                  judge, "test")
    assert [row["messages"][0]["content"] for row in kept] == sent
    assert "Tell me your symptoms." in sent[0] and "ask more" not in sent[0] and "You are a doctor" not in sent[0]


class FakeJudge(BaseHTTPRequestHandler):
    """An OpenAI-compatible judge: verdict by a marker in the predicted answer; 500 on FAIL, garbage on GARBAGE."""

    requests: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][0]["content"]
        FakeJudge.requests.append(prompt)
        prediction = prompt.split("### Predicted Answer (Answer to Evaluate)")[1].split("### Evaluation Analysis")[0]
        if "FAIL" in prediction:
            self.send_response(500)
            self.end_headers()
            return
        if "GARBAGE" in prediction:
            text = "I cannot decide."
        else:
            score = 1 if "GOOD" in prediction else 0
            text = (f"<think>private reasoning</think>### Evaluation Analysis\nCompared point by point.\n\n"
                    f"### Predicted Answer Evaluation Score\n\\boxed{{{score}}}")
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def judge_url():
    FakeJudge.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeJudge)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def judge_config(url: str) -> dict:
    return {"endpoint": url, "model": "judge", "api_key_env": None, "max_tokens": 2048, "temperature": 0.0,
            "max_retries": 0, "timeout_s": 5, "max_concurrency": 2}


def test_judge_labels_unverifiable_items_and_records_failures(tmp_path, judge_url):
    rows = samples(pool_row("open", verifiable=False), ["GOOD: rest", "BAD: antibiotics", "GARBAGE", "FAIL", "GOOD: rest",
                                                        "<think>no answer"])
    rows += samples(pool_row("v"), ["\\boxed{pneumonia}"])
    kept, dropped, funnel = run_step(tmp_path, rows, label_source="verifier_then_judge", judge=judge_config(judge_url))
    assert [(row["id"], row["sample"], row["label"], row["label_source"]) for row in kept] == [
        ("open", 0, 1, "judge"), ("open", 1, 0, "judge"), ("open", 4, 1, "judge"), ("open", 5, 0, "empty_answer"),
        ("v", 0, 1, "verifier")]
    assert {(r["sample"], r["reason"]) for r in dropped} == {(2, "judge_unparsed"), (3, "judge_error")}
    # Samples 0 and 4 are the same judge prompt: asked once. Empty and verifier-labelled samples are not asked.
    assert len(FakeJudge.requests) == 4 and funnel["details"]["judge_requests"] == 4
    target = kept[0]["messages"][1]["content"]
    assert target.startswith("### Evaluation Analysis") and target.endswith("\\boxed{1}")
    assert "private reasoning" not in target
    assert kept[0]["messages"][0]["content"] in FakeJudge.requests  # what the judge was sent, byte for byte

    only_box, _, _ = run_step(tmp_path / "box", rows[:2], label_source="judge", judge=judge_config(judge_url),
                              keep_analysis=False)
    assert [row["messages"][1]["content"] for row in only_box] == ["\\boxed{1}", "\\boxed{0}"]


def test_unreachable_judge_drops_every_judged_row_as_judge_error(tmp_path, judge_url):
    rows = samples(pool_row("open", verifiable=False), ["FAIL one", "FAIL two"]) + samples(pool_row("v"), ["\\boxed{gout}"])
    kept, dropped, _ = run_step(tmp_path, rows, judge=judge_config(judge_url))
    assert [row["id"] for row in kept] == ["v"]
    assert [r["reason"] for r in dropped] == ["judge_error", "judge_error"]
    assert "answered none of 2 requests" in dropped[0]["detail"]


def test_max_positive_fraction_drops_surplus_positives(tmp_path):
    rows = samples(pool_row("a"), ["\\boxed{pneumonia}"] * 5 + ["\\boxed{gout}"] * 2)
    kept, dropped, _ = run_step(tmp_path, rows, label_source="verifier", max_positive_fraction=0.5, seed=1)
    assert sorted(row["label"] for row in kept) == [0, 0, 1, 1]
    assert [r["reason"] for r in dropped] == ["class_balance"] * 3


def test_bad_config_and_rows_are_one_line_errors(tmp_path, capsys, monkeypatch):
    path = write(tmp_path, samples(pool_row("a"), ["\\boxed{pneumonia}"]))
    for args, message in [(["label_source=judge"], "needs a judge"), (["max_positive_fraction=0"], "max_positive_fraction"),
                          ([*CLI_JUDGE, "judge.max_tokens=0"], "max_tokens")]:
        assert main(["data", "vrm_data", f"input={path}", *CLI_SETTINGS, *args, "--output", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and "Traceback" not in err
    monkeypatch.delenv("VRM_TEST_KEY", raising=False)
    assert main(["data", "vrm_data", f"input={path}", *CLI_SETTINGS, *CLI_JUDGE,
                 "judge.api_key_env=VRM_TEST_KEY", "--output", str(tmp_path / "o")]) == 2
    assert "VRM_TEST_KEY" in capsys.readouterr().err
    bad = samples(pool_row("a"), ["x"])[0]
    bad["response"] = 3
    path = write(tmp_path / "bad", [bad])
    with pytest.raises(InputError, match="samples.jsonl:1: field 'response'"):
        vrm_data.run(vrm_data.Config(input=str(path), **{**SETTINGS, "label_source": "verifier"}),
                     StageContext(tmp_path, tmp_path / "o", 0, lambda m, s: None))
