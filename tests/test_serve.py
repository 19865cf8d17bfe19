"""`medreasoner serve` over real HTTP with the real `openai` client (sync, async, streaming).

The server runs in a thread of this process on 127.0.0.1 (a free port) with the scrambled tiny model
of eval_support, whose greedy text varies per prompt, so agreement checks can fail. Replies are
compared with the HF eval backend on the same checkpoint.

Run: .venv/bin/python -m pytest tests/test_serve.py -q
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import re
import socket
import time

import httpx
import openai
import pytest
from eval_support import tiny_model

from medreasoner.eval import server as server_module
from medreasoner.eval.backends.hf import HFBackend
from medreasoner.eval.generation import GenerationSettings, Prompt
from medreasoner.eval.reasoning import ReasoningStream
from medreasoner.eval.server import BackgroundServer, make_app
from medreasoner.think import join_reasoning, split_reasoning

pytestmark = pytest.mark.slow
QUESTION = [{"role": "user", "content": "A 40-year-old presents with fever for 3 days. Which is the best next step?"}]


def start(model, **options) -> BackgroundServer:
    settings = {"model_name": "tiny", "api_key": None, "default_max_tokens": None, "max_batch_rows": 8,
                "batch_wait_s": 0.005, "split_reasoning": True}
    app = make_app(HFBackend(str(model), dtype="float32"), **{**settings, **options})
    return BackgroundServer(app, host="127.0.0.1", port=0)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_model(tmp_path_factory)


@pytest.fixture(scope="module")
def server(model):
    with start(model) as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0)


def local_text(model, messages, max_new_tokens: int) -> tuple[str, int, int]:
    """(text, prompt tokens, completion tokens) of the HF eval backend, greedy."""
    backend = HFBackend(str(model), dtype="float32")
    settings = GenerationSettings(max_new_tokens=max_new_tokens, temperature=0.0, top_p=1.0,
                                  seed=0, thinking_budget=None,
                                  batch_size=1)
    done = backend.generate([Prompt(style="chat", messages=tuple(messages))], settings)[0]
    return done.text, done.prompt_tokens, done.completion_tokens


def whole(message) -> str:
    return join_reasoning(getattr(message, "reasoning_content", None), message.content, "stop")


def test_health_models_and_model_names(server, client):
    health = httpx.get(server.url.removesuffix("/v1") + "/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert [m.id for m in client.models.list()] == ["tiny"]
    assert client.models.retrieve("tiny").id == "tiny"
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.models.retrieve("gpt-4o")
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=QUESTION, max_tokens=2)
    assert caught.value.body["code"] == "model_not_found"
    unknown_route = httpx.get(server.url + "/nothing")
    assert unknown_route.status_code == 404 and "error" in unknown_route.json()


def test_sync_greedy_reply_equals_the_hf_backend(model, client):
    reply = client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=12, temperature=0)
    text, prompt_tokens, completion_tokens = local_text(model, QUESTION, 12)
    assert whole(reply.choices[0].message) == text
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (prompt_tokens, completion_tokens)
    assert reply.choices[0].finish_reason == ("length" if completion_tokens == 12 else "stop")


def test_developer_role_is_the_system_role(client):
    def ask(role: str) -> str:
        messages = [{"role": role, "content": "You are a careful physician."}, *QUESTION]
        return whole(client.chat.completions.create(model="tiny", messages=messages, max_tokens=10,
                                                    temperature=0).choices[0].message)

    assert ask("developer") == ask("system") != whole(client.chat.completions.create(
        model="tiny", messages=QUESTION, max_tokens=10, temperature=0).choices[0].message)


def test_concurrent_async_requests_are_generated_in_one_batch(model):
    # The engine waits up to 30 s for a batch of 4 rows and starts as soon as it is full: four requests
    # sent together must be one batch (a timer-free check: the engine records each batch's rows).
    prompts = [[{"role": "user", "content": f"Patient {k} has a cough for {k + 2} days. Diagnosis?"}] for k in range(4)]
    with start(model, max_batch_rows=4, batch_wait_s=30.0) as running:
        async def ask_all():
            async with openai.AsyncOpenAI(base_url=running.url, api_key="unused", max_retries=0) as client:
                return await asyncio.gather(*(client.chat.completions.create(
                    model="tiny", messages=p, max_tokens=8, temperature=0) for p in prompts))

        replies = asyncio.run(ask_all())
        health = httpx.get(running.url.removesuffix("/v1") + "/health").json()
    assert health["batches"] == 1 and health["largest_batch_rows"] == 4
    # each row of the batch got its own prompt's reply
    assert [whole(r.choices[0].message) for r in replies] == [local_text(model, p, 8)[0] for p in prompts]


def test_streaming_adds_up_to_the_whole_reply(client):
    stream = client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=16, temperature=0,
                                            stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    reply = client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=16, temperature=0)
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert deltas[0].role == "assistant"
    content = "".join(d.content or "" for d in deltas)
    reasoning = "".join(getattr(d, "reasoning_content", None) or "" for d in deltas)
    assert content == reply.choices[0].message.content
    assert reasoning == (reply.choices[0].message.reasoning_content or "")
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == [reply.choices[0].finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == reply.usage.completion_tokens
    assert len(deltas) > 3  # token by token, not one chunk at the end


def test_raw_stream_is_server_sent_events_ending_in_done(server):
    body = {"model": "tiny", "messages": QUESTION, "max_tokens": 4, "temperature": 0, "stream": True}
    with httpx.stream("POST", server.url + "/chat/completions", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in events) and events[-1] == "data: [DONE]"
    assert json.loads(events[0][6:])["object"] == "chat.completion.chunk"


def test_async_streaming_of_text_completions(server):
    async def run():
        async with openai.AsyncOpenAI(base_url=server.url, api_key="unused", max_retries=0) as client:
            whole_reply = await client.completions.create(model="tiny", prompt="Fever and cough:", max_tokens=8,
                                                          temperature=0)
            streamed = [c async for c in await client.completions.create(
                model="tiny", prompt="Fever and cough:", max_tokens=8, temperature=0, stream=True)]
            return whole_reply, streamed

    whole_reply, streamed = asyncio.run(run())
    assert "".join(c.choices[0].text for c in streamed) == whole_reply.choices[0].text != ""


def test_a_completion_prompt_list_gives_one_choice_per_prompt_in_order(client):
    prompts = ["Fever and cough:", "Chest pain on exertion:"]
    alone = [client.completions.create(model="tiny", prompt=p, max_tokens=6, temperature=0) for p in prompts]
    both = client.completions.create(model="tiny", prompt=prompts, max_tokens=6, temperature=0)
    assert [c.text for c in both.choices] == [a.choices[0].text for a in alone]
    assert [c.index for c in both.choices] == [0, 1] and alone[0].choices[0].text != alone[1].choices[0].text
    assert both.usage.prompt_tokens == sum(a.usage.prompt_tokens for a in alone)


def test_n_choices_with_a_seed_are_reproducible_and_distinct(client):
    def ask():
        return client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=10, temperature=1.0,
                                              top_p=0.9, n=2, seed=7)

    first, again = ask(), ask()
    texts = [whole(c.message) for c in first.choices]
    assert [c.index for c in first.choices] == [0, 1]
    assert texts == [whole(c.message) for c in again.choices]
    assert texts[0] != texts[1]
    assert first.usage.completion_tokens == 20 or first.choices[0].finish_reason == "stop"
    greedy = whole(client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=10,
                                                  temperature=0).choices[0].message)
    assert greedy not in texts


def test_stop_strings_end_the_reply_before_them(client):
    full = whole(client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=16,
                                                temperature=0).choices[0].message)
    stop = full[5:8]
    assert len(stop) == 3 and full.find(stop) == 5  # the fixture text must allow the check
    reply = client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=16, temperature=0, stop=[stop])
    assert whole(reply.choices[0].message) == full[:5] and reply.choices[0].finish_reason == "stop"
    streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="tiny", messages=QUESTION, max_tokens=16, temperature=0, stop=stop, stream=True) if c.choices)
    assert streamed == reply.choices[0].message.content


def test_max_tokens_is_exact_zero_is_refused_and_the_context_clamps(client):
    reply = client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=1, temperature=0)
    assert reply.usage.completion_tokens == 1
    with pytest.raises(openai.BadRequestError, match="max_tokens"):
        client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=0)
    long = [{"role": "user", "content": "fever " * 100}]
    reply = client.chat.completions.create(model="tiny", messages=long, max_tokens=400, temperature=0)
    room = 512 - reply.usage.prompt_tokens
    assert 0 < room < 400 and reply.usage.completion_tokens <= room
    assert reply.usage.completion_tokens == room or reply.choices[0].finish_reason == "stop"
    with pytest.raises(openai.BadRequestError, match="context"):
        client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "fever " * 600}],
                                       max_tokens=4)


@pytest.mark.parametrize("changes,needle", [
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "'tools' is not supported"),
    ({"logprobs": True}, "'logprobs' is not supported"),
    ({"response_format": {"type": "json_object"}}, "'response_format' is not supported"),
    ({"messages": [{"role": "narrator", "content": "x"}]}, "messages.0.role"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}, "text parts"),
    ({"top_k": 5}, "Unrecognized request argument supplied: top_k"),
    ({"n": 99}, "more choices than one batch holds"),
    ({"temperature": "hot"}, "temperature"),
])
def test_unsupported_or_bad_parameters_are_400(server, changes, needle):
    body = {"model": "tiny", "messages": QUESTION, "max_tokens": 2, **changes}
    response = httpx.post(server.url + "/chat/completions", json=body)
    assert response.status_code == 400, response.text
    assert needle in response.json()["error"]["message"]


def test_no_op_values_of_unsupported_parameters_are_accepted(client):
    reply = client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=2, temperature=0, logprobs=False,
                                           response_format={"type": "text"}, frequency_penalty=0, user="u1")
    assert reply.usage.completion_tokens == 2


@pytest.mark.parametrize("raw,status", [
    (b"{not json", 400), (b"[1, 2]", 400), (b"[" * 100_000 + b"]" * 100_000, 400),
])
def test_malformed_bodies_are_400(server, raw, status):
    response = httpx.post(server.url + "/chat/completions", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == status and response.json()["error"]["type"] == "invalid_request_error"


def raw_request(url: str, head: str, body: bytes = b"") -> bytes:
    host, port = url.split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        # One recv may return the headers before the body: read until the declared body is complete.
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            headers, _, received = answer.partition(b"\r\n\r\n")
            length = re.search(rb"content-length: (\d+)", headers, re.IGNORECASE)
            if length and len(received) >= int(length.group(1)):
                break
        return answer


def test_malformed_or_unfulfilled_content_length_is_answered_quickly(server, monkeypatch):
    began = time.monotonic()
    answer = raw_request(server.url, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400") and time.monotonic() - began < 5
    monkeypatch.setattr(server_module, "BODY_TIMEOUT_S", 0.5)
    answer = raw_request(server.url, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n",
                         b'{"model": ')
    assert answer.startswith(b"HTTP/1.1 408") and b"did not arrive" in answer


def test_api_key_is_required_when_set(model):
    with start(model, api_key="sekret") as running:
        for key in ("wrong", "no-key"):
            headers = {"Authorization": openai.Omit()} if key == "no-key" else {}
            with pytest.raises(openai.AuthenticationError):
                openai.OpenAI(base_url=running.url, api_key=key, max_retries=0).chat.completions.create(
                    model="tiny", messages=QUESTION, max_tokens=2, extra_headers=headers)
        assert httpx.get(running.url + "/models").status_code == 401
        assert httpx.get(running.url.removesuffix("/v1") + "/health").status_code == 200
        good = openai.OpenAI(base_url=running.url, api_key="sekret", max_retries=0)
        assert good.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=2).usage.completion_tokens == 2


def test_one_access_log_line_per_request(client, caplog):
    with caplog.at_level(logging.INFO, logger="medreasoner.serve"):
        client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=2, temperature=0)
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model="other", messages=QUESTION, max_tokens=2)
    lines = [r.getMessage() for r in caplog.records if '"POST /v1/chat/completions"' in r.getMessage()]
    assert len(lines) == 2 and " 200 " in lines[0] and " 404 " in lines[1]


def test_reasoning_is_split_after_a_template_that_opens_the_think_block(model, tmp_path):
    # A copy of the tiny model whose chat template pre-opens <think> (as Qwen3-thinking templates do):
    # everything up to </think> is reasoning, the rest content, streamed or not.
    opened = tmp_path / "opened"
    shutil.copytree(model, opened)
    template = (opened / "chat_template.jinja").read_text(encoding="utf-8")
    marker = "'<|im_start|>assistant\\n' }}"
    assert template.count(marker) >= 1
    at = template.rfind(marker)
    (opened / "chat_template.jinja").write_text(template[:at] + "'<|im_start|>assistant\\n<think>\\n' }}"
                                                + template[at + len(marker):], encoding="utf-8")
    text = local_text(opened, QUESTION, 12)[0]
    with start(opened) as running:
        client = openai.OpenAI(base_url=running.url, api_key="unused", max_retries=0)
        message = client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=12,
                                                 temperature=0).choices[0].message
        chunks = [c.choices[0].delta for c in client.chat.completions.create(
            model="tiny", messages=QUESTION, max_tokens=12, temperature=0, stream=True) if c.choices]
    assert (message.reasoning_content, message.content) == split_reasoning(text, opened=True)
    assert message.reasoning_content  # the reply starts inside the think block
    assert "".join(getattr(d, "reasoning_content", None) or "" for d in chunks) == message.reasoning_content
    assert "".join(d.content or "" for d in chunks) == message.content


@pytest.mark.parametrize("text,opened", [
    ("<think>\nfever</think>\n\nPneumonia", False), ("<think>cut", False), ("no tags </think> here", False),
    ("pre-opened</think>answer <think>x</think>", True), ("<thin", False), ("", False),
])
def test_reasoning_stream_deltas_add_up_to_the_split_for_every_chunking(text, opened):
    expected = split_reasoning(text, opened=opened)
    for step in (1, 2, 3):
        stream, reasoning, content = ReasoningStream(opened=opened), "", ""
        ends = [*range(step, len(text), step), len(text)]
        for start, end in zip([0, *ends], ends):  # the stream gets each new piece once
            r, c = stream.feed(text[start:end], final=end == len(text))
            reasoning, content = reasoning + r, content + c
        assert (reasoning, content) == ((expected[0] or ""), expected[1])


def test_split_then_join_gives_the_reply_back():
    for text in ("<think>\nfever\n</think>\n\nPneumonia", "Pneumonia", "a <think>b</think> c", "<think></think>"):
        assert join_reasoning(*split_reasoning(text, opened=False), "stop") == text
    assert join_reasoning(*split_reasoning("<think>cut off", opened=False), "length") == "<think>cut off"
    assert split_reasoning("a <think>b</think> c", opened=False) == (None, "a <think>b</think> c")
