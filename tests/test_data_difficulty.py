"""Data step ``difficulty``. Run: .venv/bin/python -m pytest tests/test_data_difficulty.py -q"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from medreasoner.cli import main
from medreasoner.data import difficulty
from medreasoner.data.difficulty import parse_label
from medreasoner.errors import InputError
from test_data_filter import answer, make_ctx, pool_row, read_jsonl, sample_row, write_jsonl

PASS_RATE = {"mode": "normalized", "basic_min": 0.75, "intermediate_min": 0.25, "unverifiable_class": None}


def rollouts(pool: dict, n_correct: int, n: int) -> list[dict]:
    """``n`` sample rows of one question, the first ``n_correct`` answering it correctly."""
    return [sample_row(pool, i, answer(r"\boxed{" + ("pneumonia" if i < n_correct else "gout") + "}"))
            for i in range(n)]


def pass_rate_file(tmp_path):
    rows = []
    for qid, n_correct in [("easy", 4), ("edge", 3), ("mid", 2), ("low", 1), ("hard", 0)]:
        rows += rollouts({**pool_row(qid), "tag": f"kept-{qid}"}, n_correct, 4)
    rows += rollouts(pool_row("open", verifiable=False), 0, 2)
    return write_jsonl(tmp_path / "rollouts.jsonl", rows)


def run_pass_rate(tmp_path, section: dict, name: str = "out"):
    config = difficulty.Config.model_validate({"input": str(pass_rate_file(tmp_path)), "method": "pass_rate",
                                               "pass_rate": section})
    metrics = difficulty.run(config, make_ctx(tmp_path / name, []))
    return metrics, {row["id"]: row for row in read_jsonl(tmp_path / name / "data.jsonl")}


def test_pass_rate_classes_one_row_per_question(tmp_path):
    metrics, rows = run_pass_rate(tmp_path, PASS_RATE)
    # p = 1.0, 0.75 (boundary: Basic), 0.5, 0.25 (boundary: Intermediate), 0.0
    assert {qid: row["difficulty"] for qid, row in rows.items()} == {
        "easy": "Basic", "edge": "Basic", "mid": "Intermediate", "low": "Intermediate", "hard": "Advanced"}
    assert (rows["mid"]["n_samples"], rows["mid"]["n_correct"], rows["mid"]["pass_rate"]) == (4, 2, 0.5)
    # Pool columns survive (extra ones too); the per-sample columns are gone.
    assert rows["mid"]["tag"] == "kept-mid" and rows["mid"]["gold"] == {"text": "pneumonia"}
    assert not {"sample", "response", "prompt", "train_prompt", "generator"} & set(rows["mid"])
    dropped = read_jsonl(tmp_path / "out" / "dropped.jsonl")
    assert dropped == [{"id": "open", "reason": "unverifiable", "detail": "no verifier: the pass rate is undefined"}]
    funnel = json.loads((tmp_path / "out" / "funnel.json").read_text())
    assert funnel["in"] == 6 and funnel["details"]["classes"] == {"Basic": 2, "Intermediate": 2, "Advanced": 1}
    assert metrics["class/Advanced"] == 1


def test_pass_rate_thresholds_and_unverifiable_default(tmp_path):
    section = {**PASS_RATE, "basic_min": 1.0, "intermediate_min": 0.5, "unverifiable_class": "Advanced"}
    _, rows = run_pass_rate(tmp_path, section)
    assert {qid: row["difficulty"] for qid, row in rows.items()} == {
        "easy": "Basic", "edge": "Intermediate", "mid": "Intermediate", "low": "Advanced", "hard": "Advanced",
        "open": "Advanced"}
    assert rows["open"]["difficulty_method"] == "default" and rows["open"]["pass_rate"] is None


def test_samples_of_one_id_must_agree(tmp_path):
    rows = rollouts(pool_row("q"), 1, 3)
    rows[2]["gold"] = {"text": "asthma"}
    path = write_jsonl(tmp_path / "r.jsonl", rows)
    config = difficulty.Config.model_validate({"input": str(path), "method": "pass_rate", "pass_rate": PASS_RATE})
    with pytest.raises(InputError, match=r"r\.jsonl:3: field 'gold': differs from the first sample"):
        difficulty.run(config, make_ctx(tmp_path / "o", []))


@pytest.mark.parametrize("output,label", [
    (r"Direct recall. \boxed{Basic}", "Basic"),
    (r"\boxed{\text{ADVANCED}}", "Advanced"),
    (r"<think>maybe \boxed{Basic}</think>Several steps: \boxed{intermediate}", "Intermediate"),
    (r"\boxed{Basic} at first, then \boxed{Expert}", None),
    ("Intermediate", None),  # no box: not parsed from prose
    (r"<think>\boxed{Basic}", None),  # the only box is inside an unfinished thought
])
def test_parse_label(output, label):
    assert parse_label(output) == label


class FakeJudge:
    """A local OpenAI-compatible /chat/completions server answering by a marker in the question."""

    def __init__(self, script: dict[str, tuple[int, str]]):
        self.script, self.prompts = script, []
        judge = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                prompt = body["messages"][0]["content"]
                judge.prompts.append(prompt)
                status, text = next(v for k, v in judge.script.items() if k in prompt)
                payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}]}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def judge_config(path, url: str, **overrides) -> difficulty.Config:
    section = {"endpoint": url, "model": "judge", "api_key_env": None, "prompt_file": None, "show_reference": True,
               "max_tokens": 64, "temperature": 0.0, "timeout_s": 5.0, "max_retries": 1, "max_concurrency": 2}
    section.update(overrides)
    return difficulty.Config.model_validate({"input": str(path), "method": "judge", "judge": section})


def test_judge_over_local_endpoint(tmp_path):
    fake = FakeJudge({
        "QBASIC": (200, r"A single fact. \boxed{Basic}"),
        "QMID": (200, r"<think>formula needed</think>\boxed{\text{Intermediate}}"),
        "QHARD": (200, r"Integrates pharmacology and renal physiology. \boxed{Advanced}"),
        "QGARBAGE": (200, "I would rather not say."),
        "QDOWN": (500, "internal error"),
    })
    try:
        rows = [pool_row(qid, question=f"{qid}: a question {{with braces}}") for qid in
                ["QBASIC", "QMID", "QHARD", "QGARBAGE", "QDOWN"]]
        rows[0]["reference"] = "REF-ANSWER-TEXT"
        path = write_jsonl(tmp_path / "pool.jsonl", rows)
        metrics = difficulty.run(judge_config(path, fake.url), make_ctx(tmp_path / "o", []))
    finally:
        fake.close()
    kept = {row["id"]: row for row in read_jsonl(tmp_path / "o" / "data.jsonl")}
    assert {qid: row["difficulty"] for qid, row in kept.items()} == {
        "QBASIC": "Basic", "QMID": "Intermediate", "QHARD": "Advanced"}
    assert kept["QHARD"]["judge_output"].startswith("Integrates") and kept["QHARD"]["difficulty_method"] == "judge"
    dropped = {d["id"]: d for d in read_jsonl(tmp_path / "o" / "dropped.jsonl")}
    assert dropped["QGARBAGE"]["reason"] == "judge_unparsed" and "rather not" in dropped["QGARBAGE"]["detail"]
    assert dropped["QDOWN"]["reason"] == "judge_error"
    assert metrics["dropped/judge_error"] == 1 and metrics["class/Basic"] == 1
    # One request per row, plus the one retry of the failing row: bounded.
    assert len(fake.prompts) == 6
    basic_prompt = next(p for p in fake.prompts if "QBASIC" in p)
    assert "{with braces}" in basic_prompt and "REF-ANSWER-TEXT" in basic_prompt
    assert all(word in basic_prompt for word in ("Basic:", "Intermediate:", "Advanced:", r"\boxed{"))


def test_judge_custom_prompt_and_dead_endpoint(tmp_path):
    path = write_jsonl(tmp_path / "pool.jsonl", [pool_row("Q1"), pool_row("Q2")])
    template = tmp_path / "judge.txt"
    template.write_text("Rate this: {question}{reference}", encoding="utf-8")
    fake = FakeJudge({"Rate this": (500, "down")})
    try:
        with pytest.raises(InputError, match=r"all 2 rows were dropped \(judge_error: 2\)"):
            difficulty.run(judge_config(path, fake.url, prompt_file=str(template), max_retries=0),
                           make_ctx(tmp_path / "o", []))
    finally:
        fake.close()
    assert fake.prompts[0].startswith("Rate this: Case Q") and len(fake.prompts) == 2
    reasons = {d["reason"] for d in read_jsonl(tmp_path / "o" / "dropped.jsonl")}
    assert reasons == {"judge_error"}
    template.write_text("no placeholder", encoding="utf-8")
    with pytest.raises(InputError, match="no {question} placeholder"):
        difficulty.run(judge_config(path, fake.url, prompt_file=str(template)), make_ctx(tmp_path / "p", []))


@pytest.mark.parametrize("overrides,needle", [
    ["pass_rate={mode: normalized, basic_min: 0.2, intermediate_min: 0.5, unverifiable_class: null}",
     "intermediate_min (0.5) exceeds basic_min (0.2)"],
    ["pass_rate={mode: normalized, basic_min: 0.7, intermediate_min: 0.2, unverifiable_class: Hard}",
     "(got 'Hard')"],
    ["pass_rate.basic_min=0.7", "missing required key"],
])
def test_cli_bad_config(tmp_path, capsys, overrides, needle):
    status = main(["data", "difficulty", f"input={pass_rate_file(tmp_path)}", "method=pass_rate", overrides,
                   "--output", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert status == 2 and err.startswith("error:") and "\n" not in err and needle in err


def test_cli_pass_rate(tmp_path, capsys):
    status = main(["data", "difficulty", f"input={pass_rate_file(tmp_path)}", "method=pass_rate",
                   "pass_rate={mode: normalized, basic_min: 0.75, intermediate_min: 0.25, unverifiable_class: Basic}",
                   "--output", str(tmp_path / "o")])
    assert status == 0 and "class/Basic" in capsys.readouterr().out
    assert len(read_jsonl(tmp_path / "o" / "data.jsonl")) == 6
