"""The OpenAI-compatible path: `medreasoner serve` as a real subprocess on 127.0.0.1, evaluated through
the endpoint backend over real HTTP; its greedy answers must equal the local HF backend's. Retries
are checked against a real local HTTP server that fails on purpose.

Run: .venv/bin/python -m pytest tests/test_eval_endpoint.py -q
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from eval_support import tiny_model, write_medcalc, write_medqa

from medreasoner.eval.backends.hf import HFBackend
from medreasoner.eval.backends.openai_api import EndpointBackend, EndpointError
from medreasoner.eval.generation import GenerationSettings, Prompt
from medreasoner.eval.runner import EvalRequest, run_eval

pytestmark = pytest.mark.slow
GREEDY = GenerationSettings(max_new_tokens=8, temperature=0.0, top_p=1.0, seed=0, thinking_budget=None, batch_size=3)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    model = tiny_model(tmp_path_factory)
    process = subprocess.Popen([sys.executable, "-m", "medreasoner.cli", "serve", "--model", str(model), "--port", "0",
                                "--model-name", "tiny"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = process.stdout.readline()  # "serving tiny on http://127.0.0.1:PORT/v1" once the model is loaded
        assert line.startswith("serving tiny on http://127.0.0.1:"), line
        yield model, line.split(" on ")[1].strip()
    finally:
        process.terminate()
        process.wait(timeout=30)


def endpoint(url: str, **changes) -> EndpointBackend:
    options = dict(api_key_env="MEDREASONER_TEST_KEY", timeout_s=60.0, max_retries=2)
    return EndpointBackend(url, "tiny", **{**options, **changes})


def responses(output, benchmark):
    path = output / f"{benchmark}_answer" / "predictions.jsonl"
    return {r["id"]: (r["response"], r["completion_tokens"]) for r in map(json.loads, path.read_text().splitlines())}


@pytest.mark.parametrize("benchmark,writer", [("medqa", lambda d: write_medqa(d / "q.jsonl", 4)),
                                              ("medcalc", lambda d: write_medcalc(d / "m.csv"))])
def test_endpoint_predictions_equal_local_greedy_predictions(server, tmp_path, benchmark, writer):
    model, url = server
    data = writer(tmp_path)
    make = lambda output: EvalRequest(benchmark=benchmark, data=data, mode="answer", limit=None, output=output,  # noqa: E731
                                      prompt_style="chat", igakuqa_prompts=None, grading="normalized", settings=GREEDY,
                                      num_samples=1)
    remote = run_eval(make(tmp_path / "remote"), endpoint(url), show_progress=False)
    local = run_eval(make(tmp_path / "local"), HFBackend(str(model), dtype="auto"), show_progress=False)
    assert responses(tmp_path / "remote", benchmark) == responses(tmp_path / "local", benchmark)
    assert len({text for text, _ in responses(tmp_path / "local", benchmark).values()}) > 1
    assert remote["answer"]["metrics"] == local["answer"]["metrics"]
    assert remote["answer"]["backend"]["endpoint"] == url
    assert remote["answer"]["tokens"]["prompt"] == local["answer"]["tokens"]["prompt"]


def test_official_openai_client_and_completions_route(server):
    from openai import OpenAI

    _, url = server
    client = OpenAI(base_url=url, api_key="unused")
    assert [m.id for m in client.models.list()] == ["tiny"]
    reply = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "fever?"}],
                                           max_tokens=5, temperature=0)
    assert reply.choices[0].finish_reason in {"stop", "length"} and reply.usage.completion_tokens <= 5
    text = endpoint(url).generate([Prompt(style="completion", text="Answer:")], GREEDY)[0]
    assert text.completion_tokens <= 8
    bad = httpx.post(f"{url}/chat/completions", json={"model": "tiny", "messages": "nope"})
    assert bad.status_code == 400 and "messages" in bad.json()["error"]["message"]


class FlakyHandler(BaseHTTPRequestHandler):
    """Answers 503, then 429, then a valid chat completion; 404 for any other path."""

    calls = 0

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        if self.path != "/v1/chat/completions":
            self.send_response(404)
            self.end_headers()
            return
        type(self).calls += 1
        if type(self).calls <= 2:
            self.send_response(503 if type(self).calls == 1 else 429)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps({"choices": [{"message": {"content": "Answer: B"}, "finish_reason": "stop"}],
                           "usage": {"prompt_tokens": 3, "completion_tokens": 2}}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_retries_on_503_and_429_then_fails_fast_on_404():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FlakyHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
        prompt = Prompt(style="chat", messages=({"role": "user", "content": "q"},))
        completion = endpoint(url).generate([prompt], GREEDY)[0]
        assert completion.text == "Answer: B" and FlakyHandler.calls == 3
        with pytest.raises(EndpointError, match="HTTP 404"):
            endpoint(url).generate([Prompt(style="completion", text="x")], GREEDY)
        FlakyHandler.calls = 0
        with pytest.raises(EndpointError, match="gave up after 2 attempts"):
            endpoint(url, max_retries=1).generate([prompt], GREEDY)
    finally:
        httpd.shutdown()
