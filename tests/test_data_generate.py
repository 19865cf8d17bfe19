"""The `generate` step: local HF model in-process, the project's own `medreasoner serve` over HTTP with
the real openai client, local fake OpenAI-compatible servers that fail on purpose (retries, drops, the
CLI's one-line error), a kill -9 mid-run followed by a resume, Think-Tracing prompts, config errors.

Run: .venv/bin/python -m pytest tests/test_data_generate.py -q
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from eval_support import tiny_model

from medreasoner.cli import main as cli_main
from medreasoner.commands.data import load_step_config
from medreasoner.data import generate
from medreasoner.data.generate_partial import PARTIAL_FILE
from medreasoner.data.pool import question_messages
from medreasoner.errors import InputError
from medreasoner.stages.context import StageContext

MEDRE = [sys.executable, "-m", "medreasoner.cli"]

POOL = [
    {"id": "q-0", "domain": "medical", "language": "en", "question": "Fever, cough and crackles. Diagnosis?",
     "reference": "<think>crackles point to the lung</think>\\boxed{pneumonia}", "verifier": "diagnosis",
     "gold": {"text": "pneumonia"}, "source": "test"},
    {"id": "q-1", "domain": "medical", "language": "en", "question": "Which drug lowers uric acid?",
     "options": {"A": "allopurinol", "B": "aspirin", "C": "insulin"}, "reference": "Answer: A", "verifier": "mcq",
     "gold": {"letters": ["A"]}, "source": "test"},
    {"id": "q-2", "domain": "general", "language": "en", "question": "Describe a healthy breakfast.",
     "reference": None, "verifier": None, "source": "test"},
    {"id": "q-3", "domain": "medical", "language": "ja", "question": "発熱と咳。診断は？",
     "verifier": "diagnosis", "gold": {"text": "肺炎"}, "source": "test", "difficulty": "Basic"},
]


def write_pool(path: Path, rows: list[dict] = POOL) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def config(pool: Path, **changes) -> generate.Config:
    """An endpoint config for ``pool``; ``changes`` override top-level keys and ``endpoint``/``generation`` items."""
    data = {"input": str(pool), "num_samples": 2, "max_questions": None, "prompt": "answer", "backend": "endpoint", "model": "fake",
            "dtype": "auto", "progress": False,
            "generation": {"max_new_tokens": 16, "temperature": 0.0, "top_p": 1.0, "seed": 0, "batch_size": 4},
            "endpoint": {"base_url": "http://127.0.0.1:9/v1", "api_key_env": "MEDREASONER_TEST_KEY", "concurrency": 3,
                         "timeout_s": 10.0, "max_retries": 2}}
    for key, value in changes.items():
        if key in ("endpoint", "generation") and isinstance(value, dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return generate.Config.model_validate(data)


def run_step(cfg: generate.Config, out: Path) -> dict:
    return generate.run(cfg, StageContext(run_dir=out.parent, out_dir=out, seed=0, log=lambda m, s: None))


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


class FakeServer:
    """A local OpenAI-compatible chat server whose answer is a function of (messages, seed).

    ``fail(body, attempt)`` picks a failure for an attempt (1-based per distinct request): None (answer),
    an int HTTP status, ``"garbage"`` (a non-JSON 200) or ``"no_choices"``. ``reasoning_field`` sends the
    thought as ``reasoning_content`` instead of inline.
    """

    def __init__(self, *, fail=None, delay_s: float = 0.0, reasoning_field: bool = False):
        self.fail = fail or (lambda body, attempt: None)
        self.delay_s = delay_s
        self.reasoning_field = reasoning_field
        self.attempts: Counter = Counter()
        self.bodies: list[dict] = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @staticmethod
    def digest(body: dict) -> str:
        return hashlib.sha256(json.dumps([body["messages"], body.get("seed")], sort_keys=True).encode()).hexdigest()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall per response

            def _send(self, status: int, payload: bytes, kind: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                try:
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = server.digest(body)
                with server.lock:
                    server.attempts[key] += 1
                    server.bodies.append(body)
                    attempt = server.attempts[key]
                time.sleep(server.delay_s)
                failure = server.fail(body, attempt)
                if failure == "timeout":
                    time.sleep(1.0)  # past the client's timeout_s; the answer below goes to a closed socket
                    failure = None
                if isinstance(failure, int):
                    self._send(failure, json.dumps({"error": {"message": f"planted {failure}"}}).encode())
                elif failure == "garbage":
                    self._send(200, b"<html>proxy says hello", "text/html")
                elif failure == "no_choices":
                    self._send(200, json.dumps({"id": "x", "object": "chat.completion", "choices": []}).encode())
                else:
                    self._send(200, json.dumps(server.completion(body, key)).encode())

            def log_message(self, *args) -> None:
                pass

        return Handler

    def completion(self, body: dict, key: str) -> dict:
        thought, answer = f"thinking about {key[:8]}", f"Answer: {key[8:12]}"
        message = {"role": "assistant", "content": f"<think>\n{thought}\n</think>\n\n{answer}"}
        if self.reasoning_field:
            message = {"role": "assistant", "content": answer, "reasoning_content": thought}
        words = sum(len(m["content"].split()) for m in body["messages"])
        return {"id": "c", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": words, "completion_tokens": 7, "total_tokens": words + 7}}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake():
    servers = []

    def start(**options) -> FakeServer:
        servers.append(FakeServer(**options))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_split_reasoning():
    assert generate.split_reasoning("<think>\na\n</think>\n\nB") == ("a", "B")
    assert generate.split_reasoning("prefilled thought</think>B") == ("prefilled thought", "B")
    assert generate.split_reasoning("<think>cut short") == ("cut short", "")
    assert generate.split_reasoning("  plain  ") == (None, "plain")


@pytest.mark.slow
def test_hf_in_process_two_samples_per_prompt(tmp_path, tmp_path_factory):
    model = tiny_model(tmp_path_factory)
    pool = write_pool(tmp_path / "pool.jsonl")
    cfg = config(pool, backend="hf", model=str(model), dtype="float32", endpoint=None,
                 generation={"max_new_tokens": 6, "batch_size": 3})
    metrics = run_step(cfg, tmp_path / "out")
    rows = read_rows(tmp_path / "out" / "data.jsonl")
    assert [(r["id"], r["sample"]) for r in rows] == [(row["id"], s) for row in POOL for s in (0, 1)]
    assert metrics["in"] == metrics["out"] == 8 and metrics["generated"] == 8
    for row in rows:
        source = next(p for p in POOL if p["id"] == row["id"])
        assert {k: row[k] for k in source} == source  # pool fields pass through
        assert row["train_prompt"] == question_messages(source, "answer") == row["prompt"]
        assert row["prompt_tokens"] > 10 and 1 <= row["completion_tokens"] <= 6
        assert row["finish_reason"] in ("stop", "length") and row["response"]
        assert row["generator"] == {"backend": "hf", "model": str(model), "max_new_tokens": 6, "temperature": 0.0,
                                    "top_p": 1.0, "seed": 0}
    # greedy: both samples of a prompt agree; different prompts give different text (scrambled model)
    texts = {(r["id"], r["sample"]): r["response"] for r in rows}
    assert all(texts[(p["id"], 0)] == texts[(p["id"], 1)] for p in POOL)
    assert len({texts[(p["id"], 0)] for p in POOL}) > 1
    funnel = json.loads((tmp_path / "out" / "funnel.json").read_text())
    assert funnel["details"]["completion_tokens"] == sum(r["completion_tokens"] for r in rows)
    assert len(read_rows(tmp_path / "out" / PARTIAL_FILE)) == 8


@pytest.mark.slow
def test_endpoint_over_http_with_medreasoner_serve_matches_in_process(tmp_path, tmp_path_factory):
    # `medreasoner serve`'s own service and request handler on a real socket, in a thread of this
    # process (a subprocess would import torch a second time: ~10 s on 2 busy cores).
    from medreasoner.eval.backends.hf import HFBackend
    from medreasoner.eval.server import BackgroundServer, make_app

    model = tiny_model(tmp_path_factory)
    pool = write_pool(tmp_path / "pool.jsonl")
    app = make_app(HFBackend(str(model), dtype="float32"), model_name="tiny", api_key=None, default_max_tokens=64,
                   max_batch_rows=8, batch_wait_s=0.0, split_reasoning=False)
    with BackgroundServer(app, host="127.0.0.1", port=0) as server:
        cfg = config(pool, model="tiny", endpoint={"base_url": server.url}, generation={"max_new_tokens": 6})
        metrics = run_step(cfg, tmp_path / "remote")
    local = config(pool, backend="hf", model=str(model), dtype="float32", endpoint=None,
                   generation={"max_new_tokens": 6})
    run_step(local, tmp_path / "local")
    remote_rows = read_rows(tmp_path / "remote" / "data.jsonl")
    local_rows = read_rows(tmp_path / "local" / "data.jsonl")
    assert metrics["in"] == metrics["out"] == 8
    fields = ("id", "sample", "response", "content", "prompt_tokens", "completion_tokens", "finish_reason")
    assert [{k: r[k] for k in fields} for r in remote_rows] == [{k: r[k] for k in fields} for r in local_rows]
    funnel = json.loads((tmp_path / "remote" / "funnel.json").read_text())["details"]
    assert funnel["attempts"] == 8 and funnel["retries"] == 0
    assert funnel["prompt_tokens"] == sum(r["prompt_tokens"] for r in local_rows)


# The failure planted on the first attempt of each request, by question and sample seed; the
# breakfast question is a bad request (HTTP 400) on every attempt.
PLANTED = {("crackles", 0): 500, ("crackles", 1): "garbage", ("uric acid", 0): "no_choices", ("uric acid", 1): 429,
           ("発熱", 0): "timeout", ("発熱", 1): None}


def planted(body: dict):
    text = body["messages"][-1]["content"]
    if "breakfast" in text:
        return 400
    return next(kind for (marker, seed), kind in PLANTED.items() if marker in text and seed == body["seed"])


def test_flaky_server_retries_until_every_row_arrives(tmp_path, fake):
    def fail(body, attempt):
        kind = planted(body)
        return kind if kind == 400 or attempt == 1 else None

    server = fake(fail=fail, reasoning_field=True)
    pool = write_pool(tmp_path / "pool.jsonl")
    flaky = config(pool, endpoint={"base_url": server.url, "timeout_s": 0.5})
    metrics = run_step(flaky, tmp_path / "out")
    rows = read_rows(tmp_path / "out" / "data.jsonl")
    assert [(r["id"], r["sample"]) for r in rows] == [(i, s) for i in ("q-0", "q-1", "q-3") for s in (0, 1)]
    dropped = read_rows(tmp_path / "out" / "dropped.jsonl")
    assert [(d["id"], d["sample"], d["reason"]) for d in dropped] == [("q-2", 0, "endpoint_error"),
                                                                       ("q-2", 1, "endpoint_error")]
    assert "HTTP 400" in dropped[0]["detail"]
    attempts = Counter((planted(b), b["seed"]) for b in server.bodies)
    assert attempts == {(400, 0): 1, (400, 1): 1, (500, 0): 2, ("garbage", 1): 2, ("no_choices", 0): 2,
                        (429, 1): 2, ("timeout", 0): 2, (None, 1): 1}  # 400 once; each planted failure retried once
    funnel = json.loads((tmp_path / "out" / "funnel.json").read_text())["details"]
    assert funnel["retries"] == 5 and funnel["attempts"] == 13
    assert metrics["dropped/endpoint_error"] == 2
    # seed = base + sample: the two samples of a prompt are distinct requests
    assert rows[0]["response"] != rows[1]["response"]
    # reasoning_content kept apart and also inline in response
    assert rows[0]["reasoning_content"].startswith("thinking about")
    assert rows[0]["response"] == f"<think>\n{rows[0]['reasoning_content']}\n</think>\n\n{rows[0]['content']}"
    assert rows[0]["content"].startswith("Answer: ") and rows[0]["completion_tokens"] == 7
    # a re-run generates only the two dropped samples again (they fail again, identically)
    before = sum(server.attempts.values())
    run_step(flaky, tmp_path / "out")
    assert sum(server.attempts.values()) - before == 2
    assert read_rows(tmp_path / "out" / "data.jsonl") == rows


@pytest.mark.parametrize("failure,reason,detail", [(500, "endpoint_error", "HTTP 500"),
                                                   ("garbage", "bad_response", "not a chat completion")])
def test_server_that_always_fails_gives_one_error_line_and_drop_reasons(tmp_path, fake, capsys, failure, reason,
                                                                        detail):
    server = fake(fail=lambda body, attempt: failure)
    pool = write_pool(tmp_path / "pool.jsonl")
    out = tmp_path / "out"
    status = cli_main(["data", "generate", f"input={pool}", "num_samples=2", "max_questions=null", "prompt=question", "backend=endpoint",
                       "model=fake", "dtype=auto", "progress=false",
                       "generation={max_new_tokens: 8, temperature: 0.7, top_p: 0.9, seed: 3, batch_size: 2}",
                       f"endpoint={{base_url: '{server.url}', api_key_env: NO_SUCH_KEY_VAR, concurrency: 2, "
                       "timeout_s: 5, max_retries: 1}",
                       "--output", str(out)])
    err = capsys.readouterr().err
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")
    assert f"all 8 rows were dropped ({reason}: 8)" in err and "Traceback" not in err
    dropped = read_rows(out / "dropped.jsonl")
    assert len(dropped) == 8 and all(detail in d["detail"] and "2 attempt" in d["detail"] for d in dropped)
    assert sum(server.attempts.values()) == 16  # 8 requests x (1 + max_retries)
    assert {b["seed"] for b in server.bodies} == {3, 4} and {b["top_p"] for b in server.bodies} == {0.9}
    assert json.loads((out / "funnel.json").read_text())["dropped"] == {reason: 8}


def cli_args(pool: Path, url: str, out: Path) -> list[str]:
    return [*MEDRE, "data", "generate", f"input={pool}", "num_samples=3", "max_questions=null", "prompt=explain", "backend=endpoint",
            "model=fake", "dtype=auto", "progress=false",
            "generation={max_new_tokens: 8, temperature: 0.0, top_p: 1.0, seed: 0, batch_size: 1}",
            f"endpoint={{base_url: '{url}', api_key_env: NO_SUCH_KEY_VAR, concurrency: 2, timeout_s: 10, "
            "max_retries: 0}", "--output", str(out)]


@pytest.mark.slow
def test_kill_9_mid_run_then_resume_gives_the_uninterrupted_rows(tmp_path, fake):
    pool_rows = [{**POOL[2], "id": f"g-{k}", "question": f"Question number {k}?"} for k in range(10)]
    pool = write_pool(tmp_path / "pool.jsonl", pool_rows)
    server = fake(delay_s=0.08)
    whole = tmp_path / "whole"
    run_step(config(pool, num_samples=3, prompt="explain", generation={"max_new_tokens": 8, "batch_size": 1},
                    endpoint={"base_url": server.url, "concurrency": 2, "max_retries": 0}), whole)
    expected = (whole / "data.jsonl").read_text(encoding="utf-8")

    out = tmp_path / "killed"
    partial = out / PARTIAL_FILE
    process = subprocess.Popen(cli_args(pool, server.url, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not partial.exists() or partial.read_bytes().count(b"\n") < 6):
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    time.sleep(0.3)  # let the server count the requests the killed run had in flight
    written = partial.read_bytes().count(b"\n")
    assert 6 <= written < 30 and not (out / "data.jsonl").exists()
    with open(partial, "ab") as handle:  # what a kill in the middle of a write leaves behind
        handle.write(b'{"id": "g-9", "sample": 2, "resp')
    before = sum(server.attempts.values())
    resumed = subprocess.run(cli_args(pool, server.url, out), capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert sum(server.attempts.values()) - before == 30 - written  # only the missing samples were requested
    assert (out / "data.jsonl").read_text(encoding="utf-8") == expected
    keys = [(r["id"], r["sample"]) for r in read_rows(partial)]
    assert len(keys) == len(set(keys)) == 30


def test_think_trace_shows_the_reference_answer_and_drops_rows_without_one(tmp_path, fake):
    server = fake()
    pool = write_pool(tmp_path / "pool.jsonl")
    metrics = run_step(config(pool, prompt="think_trace", num_samples=1, progress=True,
                              endpoint={"base_url": server.url}), tmp_path / "out")
    rows = {r["id"]: r for r in read_rows(tmp_path / "out" / "data.jsonl")}
    assert sorted(rows) == ["q-0", "q-1"]
    trace = rows["q-0"]["prompt"][-1]["content"]
    assert "\\boxed{pneumonia}" in trace and "crackles point to the lung" not in trace  # reasoning stripped
    assert POOL[0]["question"] in trace and "reasoning" in trace
    assert "allopurinol" in rows["q-1"]["prompt"][-1]["content"] and "Answer: A" in rows["q-1"]["prompt"][-1]["content"]
    assert rows["q-0"]["train_prompt"] == question_messages(POOL[0], "answer")  # trained on the plain question
    sent = [b["messages"][-1]["content"] for b in server.bodies]
    assert sorted(sent) == sorted(r["prompt"][-1]["content"] for r in rows.values())
    dropped = read_rows(tmp_path / "out" / "dropped.jsonl")
    assert [(d["id"], d["reason"]) for d in dropped] == [("q-2", "no_reference"), ("q-3", "no_reference")]
    assert metrics["in"] == 4 and metrics["out"] == 2 and metrics["dropped/no_reference"] == 2


def test_a_question_holding_a_placeholder_is_substituted_once():
    row = {**POOL[2], "question": "What does {answer} mean here?", "reference": "Nothing."}
    text = generate.build_prompt(row, "think_trace")[0]["content"]
    assert "What does {answer} mean here?" in text and text.count("Nothing.") == 1


def test_resume_refuses_rows_from_another_generator(tmp_path, fake):
    server = fake()
    pool = write_pool(tmp_path / "pool.jsonl")
    run_step(config(pool, num_samples=1, endpoint={"base_url": server.url}), tmp_path / "out")
    with pytest.raises(InputError, match=r"samples.partial.jsonl:1: field 'generator'"):
        run_step(config(pool, num_samples=1, generation={"temperature": 0.5}, endpoint={"base_url": server.url}),
                 tmp_path / "out")


@pytest.mark.parametrize("overrides,message", [
    (["backend=endpoint"], r"<generate options>: field 'endpoint': missing required key 'endpoint'"),
    (["backend=endpoint", "endpoint=null"], r"field 'endpoint': .*backend 'endpoint' needs an endpoint section"),
    (["num_samples=0"], r"field 'num_samples': Input should be greater than or equal to 1 \(got 0\) "
                        r"\(set by the command-line override 'num_samples=0'\)"),
    (["generation.top_p=0"], r"field 'generation.top_p': Input should be greater than 0"),
    (["endpoint.concurrency=0"], r"field 'endpoint.concurrency': Input should be greater than or equal to 1"),
    (["endpoint.base_url=localhost:8000"], r"field 'endpoint.base_url': .*expected an http\(s\) URL"),
])
def test_config_errors_are_one_line_input_errors(overrides, message):
    base = ["input=pool.jsonl", "num_samples=2", "max_questions=null", "prompt=answer", "backend=endpoint", "model=m", "dtype=auto",
            "progress=false", "generation={max_new_tokens: 8, temperature: 0, top_p: 1, seed: 0, batch_size: 4}",
            "endpoint={base_url: 'http://127.0.0.1:1/v1', api_key_env: K, concurrency: 2, timeout_s: 5, "
            "max_retries: 1}"]
    if overrides == ["backend=endpoint"]:
        base = [o for o in base if not o.startswith("endpoint=")]
    with pytest.raises(InputError, match=message) as caught:
        load_step_config("generate", None, [*base, *overrides])
    assert "\n" not in str(caught.value)


def test_vllm_missing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(generate.importlib.util, "find_spec", lambda name: None)
    cfg = config(write_pool(tmp_path / "pool.jsonl"), backend="vllm", model="some/model", endpoint=None)
    with pytest.raises(InputError, match=r"pip install 'medreasoner\[vllm\]'"):
        run_step(cfg, tmp_path / "out")
