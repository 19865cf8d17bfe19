"""The one endpoint client (eval, generate, judges) against small FastAPI test doubles on 127.0.0.1.

The doubles count every hit, so retry behaviour is checked by counts, not timers: 400/401 are sent
once, 503/garbage are retried within one attempt budget, and reasoning sent apart
(``reasoning_content`` / ``reasoning``) comes back inline and is graded as a local model's text.

Run: .venv/bin/python -m pytest tests/test_endpoint_client.py -q
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest
from eval_support import write_medqa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from medreasoner.eval.backends.openai_api import EndpointBackend, EndpointError
from medreasoner.eval.endpoint_client import Answer, EndpointFailure, EndpointSettings, run_requests
from medreasoner.eval.generation import GenerationSettings, Prompt
from medreasoner.eval.runner import EvalRequest, run_eval
from medreasoner.eval.server import BackgroundServer
from medreasoner.rewards.judges import endpoint_generate
from medreasoner.rewards.verifier_model import read_verdict

GREEDY = GenerationSettings(max_new_tokens=32, temperature=0.0, top_p=1.0, seed=0, thinking_budget=None, batch_size=2)


class Double:
    """An OpenAI-compatible chat server whose reply to a prompt is scripted by the prompt's first word.

    ``bad`` -> 400, ``key`` -> 401, ``busy`` -> 503 on the first hit, ``garbage`` -> an HTML 200 on the
    first hit, ``down`` -> 503 always, ``junk`` -> HTML always, ``mixed`` -> 503 then HTML then a
    reply, ``slow`` -> a reply after 1 s, ``nousage`` -> a reply without usage; anything else a reply
    with the reasoning in ``reasoning_field``.
    """

    def __init__(self, reasoning_field: str = "reasoning_content"):
        self.hits: Counter = Counter()
        self.headers: list[dict] = []
        self.reasoning_field = reasoning_field
        self.app = FastAPI()
        self.app.post("/v1/chat/completions")(self.chat)

    async def chat(self, request: Request):
        body = await request.json()
        prompt = body["messages"][-1]["content"]
        word = prompt.split()[0]
        self.hits[prompt] += 1
        self.headers.append(dict(request.headers))
        hit = self.hits[prompt]
        error = {"error": {"message": f"planted {word}", "type": "invalid_request_error"}}
        if word == "bad" or word == "key":
            return JSONResponse(error, status_code=400 if word == "bad" else 401)
        if word == "down" or (word == "busy" and hit == 1) or (word == "mixed" and hit == 1):
            return JSONResponse(error, status_code=503)
        if word == "junk" or (word == "garbage" and hit == 1) or (word == "mixed" and hit == 2):
            return PlainTextResponse("<html>proxy says hello</html>")
        if word == "slow":
            await asyncio.sleep(1.0)
        message = {"role": "assistant", "content": "Answer: A", self.reasoning_field: "Answer: D, or maybe not"}
        reply = {"id": "c1", "object": "chat.completion", "created": 0, "model": body["model"],
                 "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}
        if word != "nousage":
            reply["usage"] = {"prompt_tokens": len(prompt.split()), "completion_tokens": 9, "total_tokens": 0}
        return reply


@pytest.fixture
def double():
    made = []

    def start(**options) -> tuple[Double, str]:
        fake = Double(**options)
        made.append(BackgroundServer(fake.app, host="127.0.0.1", port=0).__enter__())
        return fake, made[-1].url

    yield start
    for server in made:
        server.__exit__(None, None, None)


def ask_all(url: str, prompts: list[str], *, max_retries: int, timeout_s: float = 10.0, api_key: str | None = None):
    results: dict[str, Answer | EndpointFailure] = {}

    async def send(client, prompt):
        return await client.chat([{"role": "user", "content": prompt}], need_usage=False, model="m", max_tokens=8)

    attempts = run_requests(EndpointSettings(base_url=url, api_key=api_key, timeout_s=timeout_s,
                                             max_retries=max_retries),
                            prompts, concurrency=3, send=send, on_done=results.__setitem__)
    return results, attempts


def test_judges_never_retry_400_or_401_and_retry_503_and_garbage_once(double):
    fake, url = double()
    prompts = ["bad request", "key missing", "busy server", "garbage proxy", "fine question"]
    outputs = endpoint_generate(prompts, endpoint=url, model="judge", api_key_env=None, max_tokens=16, temperature=0.0,
                                timeout_s=10.0, max_retries=3, max_concurrency=2)
    assert fake.hits == {"bad request": 1, "key missing": 1, "busy server": 2, "garbage proxy": 2, "fine question": 1}
    assert outputs[:2] == [None, None]
    # the judge's reasoning sent apart comes back inline; the verdict reader skips it
    assert outputs[2:] == ["<think>Answer: D, or maybe not</think>Answer: A"] * 3
    assert read_verdict(outputs[4].replace("Answer: A", "\\boxed{1}")) == 1.0


def test_one_attempt_budget_covers_http_errors_and_garbage(double):
    fake, url = double()
    results, attempts = ask_all(url, ["down always", "junk always", "mixed luck", "fine one"], max_retries=1)
    assert fake.hits == {"down always": 2, "junk always": 2, "mixed luck": 2, "fine one": 1} and attempts == 7
    assert results["down always"].reason == "endpoint_error"
    down = results["down always"].detail
    assert down.startswith("HTTP 503: ") and "gave up after 2 attempts" in down
    assert results["junk always"].reason == results["mixed luck"].reason == "bad_response"
    assert "not a chat completion" in results["junk always"].detail and "2 attempts" in results["mixed luck"].detail
    assert results["fine one"] == Answer(content="Answer: A", reasoning="Answer: D, or maybe not", prompt_tokens=2,
                                         completion_tokens=9, finish_reason="stop")


def test_timeouts_are_retried(double):
    _, url = double()
    results, attempts = ask_all(url, ["slow server"], max_retries=1, timeout_s=0.3)
    assert attempts == 2 and results["slow server"].reason == "endpoint_error"
    assert "Timeout" in results["slow server"].detail and "gave up after 2 attempts" in results["slow server"].detail


def test_authorization_header_only_with_a_key(double):
    fake, url = double()
    ask_all(url, ["fine without key"], max_retries=0)
    ask_all(url, ["fine with key"], max_retries=0, api_key="sekret")
    assert "authorization" not in fake.headers[0] and fake.headers[1]["authorization"] == "Bearer sekret"


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_eval_stores_and_grades_the_whole_response_of_a_reasoning_server(double, tmp_path, field):
    _, url = double(reasoning_field=field)
    data = write_medqa(tmp_path / "q.jsonl", 4)  # golds A, B, C, D
    request = EvalRequest(benchmark="medqa", data=data, mode="answer", limit=None, output=tmp_path / "out",
                          prompt_style="chat", igakuqa_prompts=None, grading="normalized", settings=GREEDY,
                          num_samples=1)
    backend = EndpointBackend(url, "m", api_key_env="MEDREASONER_TEST_NO_KEY", timeout_s=10.0, max_retries=0)
    results = run_eval(request, backend, show_progress=False)["answer"]
    predictions = tmp_path / "out" / "medqa_answer" / "predictions.jsonl"
    rows = [json.loads(line) for line in predictions.read_text().splitlines()]
    assert {row["response"] for row in rows} == {"<think>Answer: D, or maybe not</think>Answer: A"}
    # graded on the answer after </think> (A), not on the D inside the reasoning
    assert sorted(results["correct_by_id"].values()) == [False, False, False, True]
    assert all(row["extracted"] == ["A"] for row in rows), rows[0]["extracted"]
    assert results["tokens"]["completion"]["mean"] == 9


def test_eval_fails_fast_on_a_reply_without_usage(double):
    fake, url = double()
    backend = EndpointBackend(url, "m", api_key_env="MEDREASONER_TEST_NO_KEY", timeout_s=10.0, max_retries=1)
    prompt = Prompt(style="chat", messages=({"role": "user", "content": "nousage here"},))
    with pytest.raises(EndpointError, match=r"no token usage in the response \(gave up after 2 attempts\)"):
        backend.generate([prompt], GREEDY)
    assert fake.hits["nousage here"] == 2
    with pytest.raises(EndpointError, match="HTTP 400: .*planted bad"):
        backend.generate([Prompt(style="chat", messages=({"role": "user", "content": "bad one"},))], GREEDY)
    assert fake.hits["bad one"] == 1
